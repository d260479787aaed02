package kubelet

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// backoff is upstream's container restart back-off: for each key the first
// restart is free, later ones wait initial, doubling to max; an entry idle
// for 2*max is forgotten (the container ran long enough).
type backoff struct {
	clock   clock.Clock
	initial time.Duration
	max     time.Duration

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time // when the delay was last extended
}

func newBackoff(c clock.Clock, initial, max time.Duration) *backoff {
	return &backoff{clock: c, initial: initial, max: max, entries: map[string]*backoffEntry{}}
}

// wait returns how long key must still wait, counted from since (the time
// the container last finished). Zero means go ahead.
func (b *backoff) wait(key string, since time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil {
		return 0
	}
	now := b.clock.Now()
	if now.Sub(e.last) > 2*b.max {
		delete(b.entries, key)
		return 0
	}
	if d := since.Add(e.delay).Sub(now); d > 0 {
		return d
	}
	return 0
}

// next records a restart of key: the following one waits longer.
func (b *backoff) next(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	e := b.entries[key]
	switch {
	case e == nil || now.Sub(e.last) > 2*b.max:
		b.entries[key] = &backoffEntry{delay: b.initial, last: now}
	default:
		e.delay = min(e.delay*2, b.max)
		e.last = now
	}
}

// reset forgets key (its container ran long enough, or the pod is gone).
func (b *backoff) reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// forgetPrefix forgets every key of a pod.
func (b *backoff) forgetPrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}

// delay is key's current back-off delay (0 when none).
func (b *backoff) delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entries[key]; e != nil {
		return e.delay
	}
	return 0
}
