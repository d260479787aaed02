package scheduler

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func popNow(t *testing.T, q *Queue) (*v1.Pod, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, cycle, ok := q.Pop(ctx)
	if !ok {
		t.Fatal("Pop: nothing active")
	}
	return p, cycle
}

func mustBeEmpty(t *testing.T, q *Queue) {
	t.Helper()
	if a, _, _ := q.Lengths(); a != 0 {
		t.Fatalf("%d pods active, want none", a)
	}
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	hi := int32(1000)
	q.Add(mkPod("old"))
	clk.Step(time.Second)
	q.Add(mkPod("young"))
	q.Add(mkPod("important", func(p *v1.Pod) { p.Spec.Priority = &hi }))
	for _, want := range []string{"important", "old", "young"} {
		if p, _ := popNow(t, q); p.Name != want {
			t.Fatalf("popped %s, want %s", p.Name, want)
		}
	}
}

func TestUnschedulablePodWaitsForAMove(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	pod := mkPod("big")
	q.Add(pod)
	_, cycle := popNow(t, q)
	q.Unschedulable(pod.UID, cycle)

	// Nothing happens by itself, even after the backoff and a flush.
	clk.Step(20 * time.Second)
	q.flush(true)
	mustBeEmpty(t, q)
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatalf("%d unschedulable, want 1", u)
	}

	// A status-only update (our own condition) does not retry it...
	updated := pod.DeepCopy()
	updated.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse}}
	q.Update(updated)
	mustBeEmpty(t, q)

	// ...a node event does.
	q.MoveAll(nil)
	if p, _ := popNow(t, q); p.UID != pod.UID {
		t.Fatalf("popped %s", p.Name)
	}
}

func TestMovedPodStillInBackoffWaits(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	pod := mkPod("big")
	q.Add(pod)
	_, cycle := popNow(t, q)
	q.Unschedulable(pod.UID, cycle)
	q.MoveAll(nil) // within the 1 s backoff
	mustBeEmpty(t, q)
	if _, b, _ := q.Lengths(); b != 1 {
		t.Fatalf("%d backing off, want 1", b)
	}
	clk.Step(initialBackoff)
	q.flush(false)
	if p, _ := popNow(t, q); p.UID != pod.UID {
		t.Fatalf("popped %s", p.Name)
	}
}

func TestMoveDuringAttemptIsNotLost(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	pod := mkPod("big")
	q.Add(pod)
	_, cycle := popNow(t, q)
	q.MoveAll(nil) // a node appeared while the pod was being tried
	q.Unschedulable(pod.UID, cycle)
	if _, b, u := q.Lengths(); b != 1 || u != 0 {
		t.Fatalf("backoff %d, unschedulable %d; want the pod backing off", b, u)
	}
}

func TestBackoffDoubles(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	pod := mkPod("flaky")
	q.Add(pod)
	for attempt, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		popNow(t, q)
		q.Backoff(pod.UID)
		clk.Step(want*time.Second - time.Millisecond)
		q.flush(false)
		mustBeEmpty(t, q)
		clk.Step(time.Millisecond)
		q.flush(false)
		if a, _, _ := q.Lengths(); a != 1 {
			t.Fatalf("attempt %d: not active after %ds", attempt+1, want)
		}
	}
}

func TestUnschedulableRetriedAfterFiveMinutes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := NewQueue(clk)
	pod := mkPod("big")
	q.Add(pod)
	_, cycle := popNow(t, q)
	q.Unschedulable(pod.UID, cycle)
	clk.Step(maxInUnschedulable)
	q.flush(true)
	if a, _, _ := q.Lengths(); a != 1 {
		t.Fatal("unschedulable pod not retried after 5 minutes")
	}
}

func TestDeletedPodLeavesQueue(t *testing.T) {
	q := NewQueue(clocktesting.NewFakeClock(time.Now()))
	a, b := mkPod("a"), mkPod("b")
	q.Add(a)
	q.Add(b)
	q.Delete(a.UID)
	if p, _ := popNow(t, q); p.UID != b.UID {
		t.Fatalf("popped %s, want b", p.Name)
	}
	// A pod deleted while in flight is not put back.
	q.Delete(b.UID)
	q.Unschedulable(b.UID, 0)
	q.MoveAll(nil)
	mustBeEmpty(t, q)
}

func TestPopReturnsWhenContextEnds(t *testing.T) {
	q := NewQueue(clocktesting.NewFakeClock(time.Now()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() {
		_, _, ok := q.Pop(ctx)
		done <- ok
	}()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Pop returned a pod from an empty queue")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Pop did not return after cancel")
	}
}
