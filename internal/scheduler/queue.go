package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Backoff of a pod that failed, and how long an unschedulable pod waits at most before it
// is tried again even if nothing that could help it was seen (upstream's values).
const (
	initialBackoff          = 1 * time.Second
	maxBackoff              = 10 * time.Second
	maxInUnschedulable      = 5 * time.Minute
	queueFlushInterval      = 1 * time.Second
	unschedulableFlushEvery = 30 * time.Second
)

// queuedPod is a pending pod known to the queue.
type queuedPod struct {
	pod       *v1.Pod
	attempts  int
	added     time.Time // when the pod first entered the queue (ordering among equals)
	failedAt  time.Time // last failure (start of backoff and of the unschedulable wait)
	where     int       // one of the where* constants
	heapIndex int
}

const (
	whereActive = iota
	whereBackoff
	whereUnschedulable
	whereInFlight
)

// Queue holds the pods waiting for a node, like upstream's scheduling queue:
//
//   - active: ready to be tried, highest priority first, then oldest first;
//   - backoff: failed recently and waiting out their backoff (1 s doubling to 10 s);
//   - unschedulable: no node fitted; they stay until something that could make them fit
//     happens (MoveAll: a node added or changed, a pod deleted), or 5 minutes pass;
//   - in flight: popped and being scheduled or bound.
//
// A pod that fails while a MoveAll happened during its attempt goes to backoff instead of
// unschedulable, so the change it may have missed is not lost.
type Queue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	clock clock.WithTicker

	pods          map[types.UID]*queuedPod
	active        podHeap
	backoff       podHeap
	unschedulable map[types.UID]*queuedPod
	moveCycle     int64
	closed        bool
}

// NewQueue returns an empty queue using clk for backoff.
func NewQueue(clk clock.WithTicker) *Queue {
	q := &Queue{
		clock:         clk,
		pods:          map[types.UID]*queuedPod{},
		unschedulable: map[types.UID]*queuedPod{},
	}
	q.active.less = func(a, b *queuedPod) bool {
		pa, pb := priority(a.pod), priority(b.pod)
		if pa != pb {
			return pa > pb
		}
		return a.added.Before(b.added)
	}
	q.backoff.less = func(a, b *queuedPod) bool { return q.backoffUntil(a).Before(q.backoffUntil(b)) }
	q.cond = sync.NewCond(&q.mu)
	return q
}

func priority(p *v1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

func (q *Queue) backoffUntil(qp *queuedPod) time.Time {
	d := initialBackoff
	for i := 1; i < qp.attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return qp.failedAt.Add(min(d, maxBackoff))
}

// Add records a new pending pod, or refreshes one already known (see Update).
func (q *Queue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addOrUpdateLocked(pod)
}

// Update refreshes a pending pod. If it waits as unschedulable and its spec or labels
// changed, it is tried again.
func (q *Queue) Update(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addOrUpdateLocked(pod)
}

func (q *Queue) addOrUpdateLocked(pod *v1.Pod) {
	if q.closed {
		return
	}
	qp, ok := q.pods[pod.UID]
	if !ok {
		qp = &queuedPod{pod: pod, added: q.clock.Now()}
		q.pods[pod.UID] = qp
		q.pushActive(qp)
		return
	}
	old := qp.pod
	qp.pod = pod
	switch qp.where {
	case whereActive:
		heap.Fix(&q.active, qp.heapIndex)
	case whereUnschedulable:
		if !equality.Semantic.DeepEqual(old.Spec, pod.Spec) || !equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
			delete(q.unschedulable, pod.UID)
			q.moveLocked(qp)
		}
	}
}

// Delete forgets a pod (deleted, bound, or no longer ours).
func (q *Queue) Delete(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok {
		return
	}
	delete(q.pods, uid)
	switch qp.where {
	case whereActive:
		heap.Remove(&q.active, qp.heapIndex)
	case whereBackoff:
		heap.Remove(&q.backoff, qp.heapIndex)
	case whereUnschedulable:
		delete(q.unschedulable, uid)
	}
}

// Pop blocks until a pod is active (or ctx ends / the queue closes, then ok is false) and
// returns it in flight with the move cycle at which it was taken.
func (q *Queue) Pop(ctx context.Context) (pod *v1.Pod, cycle int64, ok bool) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active.items) == 0 && !q.closed && ctx.Err() == nil {
		q.cond.Wait()
	}
	if q.closed || ctx.Err() != nil {
		return nil, 0, false
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	qp.where = whereInFlight
	return qp.pod, q.moveCycle, true
}

// Done forgets a pod that was bound.
func (q *Queue) Done(uid types.UID) { q.Delete(uid) }

// Unschedulable puts back an in-flight pod no node could take. cycle is what Pop returned.
func (q *Queue) Unschedulable(uid types.UID, cycle int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok || qp.where != whereInFlight {
		return
	}
	qp.attempts++
	qp.failedAt = q.clock.Now()
	if q.moveCycle > cycle {
		q.pushBackoff(qp)
		return
	}
	qp.where = whereUnschedulable
	q.unschedulable[uid] = qp
}

// Backoff puts back an in-flight pod that failed for another reason (an error).
func (q *Queue) Backoff(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok || qp.where != whereInFlight {
		return
	}
	qp.attempts++
	qp.failedAt = q.clock.Now()
	q.pushBackoff(qp)
}

// MoveAll sends the unschedulable pods that match (all when match is nil) back to be
// tried: to active, or to backoff if their backoff has not ended.
func (q *Queue) MoveAll(match func(*v1.Pod) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle++
	for uid, qp := range q.unschedulable {
		if match != nil && !match(qp.pod) {
			continue
		}
		delete(q.unschedulable, uid)
		q.moveLocked(qp)
	}
}

func (q *Queue) moveLocked(qp *queuedPod) {
	if qp.attempts > 0 && q.clock.Now().Before(q.backoffUntil(qp)) {
		q.pushBackoff(qp)
		return
	}
	q.pushActive(qp)
}

func (q *Queue) pushActive(qp *queuedPod) {
	qp.where = whereActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

func (q *Queue) pushBackoff(qp *queuedPod) {
	qp.where = whereBackoff
	heap.Push(&q.backoff, qp)
}

// flush moves pods whose backoff ended to active, and pods unschedulable for too long
// back to be tried.
func (q *Queue) flush(flushUnschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for len(q.backoff.items) > 0 {
		qp := q.backoff.items[0]
		if now.Before(q.backoffUntil(qp)) {
			break
		}
		heap.Pop(&q.backoff)
		q.pushActive(qp)
	}
	if !flushUnschedulable {
		return
	}
	for uid, qp := range q.unschedulable {
		if now.Sub(qp.failedAt) >= maxInUnschedulable {
			delete(q.unschedulable, uid)
			q.moveLocked(qp)
		}
	}
}

// Run flushes backoff every second until ctx ends, then closes the queue.
func (q *Queue) Run(ctx context.Context) {
	t := q.clock.NewTicker(queueFlushInterval)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			q.Close()
			return
		case <-t.C():
			n++
			q.flush(n%int(unschedulableFlushEvery/queueFlushInterval) == 0)
		}
	}
}

// Close wakes every Pop; they return false.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Lengths reports how many pods are active, backing off, and unschedulable.
func (q *Queue) Lengths() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.active.items), len(q.backoff.items), len(q.unschedulable)
}

// podHeap is a heap of queued pods ordered by less.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	qp := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return qp
}
