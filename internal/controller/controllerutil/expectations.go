package controllerutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// ExpectationsTTL is how long an expectation is trusted before the controller
// syncs anyway, in case a watch event was lost.
const ExpectationsTTL = 5 * time.Minute

type expectation struct {
	add     int64
	del     int64
	delKeys sets.Set[string]
	stamp   time.Time
}

// Expectations remembers, per controller key, how many creations and which
// deletions the controller has asked for and not yet seen in its informers.
// A controller only manages replicas while its expectations are satisfied.
type Expectations struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	m     map[string]*expectation
}

// NewExpectations returns empty expectations using clk for expiry.
func NewExpectations(clk clock.PassiveClock) *Expectations {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Expectations{clock: clk, m: map[string]*expectation{}}
}

// Satisfied reports whether key has no outstanding creations or deletions,
// or its expectations are older than ExpectationsTTL, or it has none at all.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.add <= 0 && x.del <= 0 {
		return true
	}
	return e.clock.Since(x.stamp) > ExpectationsTTL
}

// ExpectCreations records that n creations were just requested for key.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{add: int64(n), delKeys: sets.New[string](), stamp: e.clock.Now()}
}

// ExpectDeletions records that the objects named by keys are being deleted.
func (e *Expectations) ExpectDeletions(key string, keys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{del: int64(len(keys)), delKeys: sets.New(keys...), stamp: e.clock.Now()}
}

// CreationObserved lowers the outstanding creations for key by one.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.add--
	}
}

// DeletionObserved lowers the outstanding deletions for key if objKey was one
// of the expected deletions.
func (e *Expectations) DeletionObserved(key, objKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.delKeys.Has(objKey) {
		x.delKeys.Delete(objKey)
		x.del--
	}
}

// Delete forgets key.
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
