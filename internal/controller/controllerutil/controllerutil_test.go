package controllerutil

import (
	"errors"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestComputeHash(t *testing.T) {
	tmpl := func(image string) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: image}}},
		}
	}
	a, b := ComputeHash(tmpl("v1"), nil), ComputeHash(tmpl("v1"), nil)
	if a != b {
		t.Fatalf("hash not stable: %s vs %s", a, b)
	}
	if ComputeHash(tmpl("v2"), nil) == a {
		t.Error("different templates hash alike")
	}
	one := int32(1)
	if ComputeHash(tmpl("v1"), &one) == a {
		t.Error("collision count does not change the hash")
	}
	if errs := validation.IsValidLabelValue(a); len(errs) > 0 || len(a) > 10 {
		t.Errorf("hash %q is not a short label value: %v", a, errs)
	}
}

func TestActivePodsWithRanksOrder(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ready := func(since time.Duration) []corev1.PodCondition {
		return []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-since))}}
	}
	pod := func(name, node string, phase corev1.PodPhase, conds []corev1.PodCondition, age time.Duration, restarts int32, cost string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "x", CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase, Conditions: conds,
				ContainerStatuses: []corev1.ContainerStatus{{RestartCount: restarts}}}}
		if cost != "" {
			p.Annotations = map[string]string{PodDeletionCostAnnotation: cost}
		}
		return p
	}
	pods := []*corev1.Pod{
		pod("old-ready", "n1", corev1.PodRunning, ready(100*time.Hour), 200*time.Hour, 0, ""),
		pod("expensive", "n1", corev1.PodRunning, ready(time.Second), time.Second, 0, "100"),
		pod("new-ready", "n1", corev1.PodRunning, ready(time.Second), 2*time.Second, 0, ""),
		pod("crashy", "n1", corev1.PodRunning, ready(100*time.Hour), 200*time.Hour, 5, ""),
		pod("notready", "n1", corev1.PodRunning, nil, time.Hour, 0, ""),
		pod("pending", "n1", corev1.PodPending, nil, time.Hour, 0, ""),
		pod("unscheduled", "", corev1.PodPending, nil, time.Hour, 0, ""),
	}
	want := []string{"unscheduled", "pending", "notready", "new-ready", "crashy", "old-ready", "expensive"}
	sort.Sort(ActivePodsWithRanks{Pods: pods, Rank: make([]int, len(pods)), Now: metav1.NewTime(now)})
	for i, p := range pods {
		if p.Name != want[i] {
			var got []string
			for _, p := range pods {
				got = append(got, p.Name)
			}
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
}

func TestSlowStartBatchStopsOnFailure(t *testing.T) {
	tests := []struct {
		count, failAt   int
		wantOK, wantCal int
	}{
		{count: 10, failAt: -1, wantOK: 10, wantCal: 10},
		{count: 10, failAt: 0, wantOK: 0, wantCal: 1},
		// batches 1, 2, 4: the 4th call fails, so the batch of 4 runs and
		// no batch of 3 follows.
		{count: 10, failAt: 3, wantOK: 6, wantCal: 7},
	}
	for _, tc := range tests {
		var calls atomic.Int32
		ok, err := SlowStartBatch(tc.count, 1, func() error {
			if int(calls.Add(1)-1) == tc.failAt {
				return errors.New("boom")
			}
			return nil
		})
		if ok != tc.wantOK || int(calls.Load()) != tc.wantCal || (err != nil) != (tc.failAt >= 0) {
			t.Errorf("count %d failAt %d: ok %d calls %d err %v; want ok %d calls %d", tc.count, tc.failAt, ok, calls.Load(), err, tc.wantOK, tc.wantCal)
		}
	}
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := NewExpectations(clk)
	if !e.Satisfied("k") {
		t.Fatal("unknown key should be satisfied")
	}
	e.ExpectCreations("k", 2)
	e.CreationObserved("k")
	if e.Satisfied("k") {
		t.Fatal("satisfied with one creation outstanding")
	}
	e.CreationObserved("k")
	if !e.Satisfied("k") {
		t.Fatal("not satisfied after both creations")
	}
	e.ExpectDeletions("k", []string{"ns/a", "ns/b"})
	e.DeletionObserved("k", "ns/a")
	e.DeletionObserved("k", "ns/a") // a repeat must not count twice
	e.DeletionObserved("k", "ns/other")
	if e.Satisfied("k") {
		t.Fatal("satisfied with a deletion outstanding")
	}
	clk.Step(ExpectationsTTL + time.Second)
	if !e.Satisfied("k") {
		t.Fatal("expired expectations should be satisfied")
	}
}

func TestRefManagerClaim(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "rs", Namespace: "ns", UID: "owner"}
	other := &metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "other"}
	sel := labels.SelectorFromSet(labels.Set{"app": "a"})
	mk := func(l map[string]string, ctrl *metav1.ObjectMeta) *metav1.ObjectMeta {
		o := &metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "p", Labels: l}
		if ctrl != nil {
			o.OwnerReferences = []metav1.OwnerReference{*NewControllerRef(ctrl, corev1.SchemeGroupVersion.WithKind("X"))}
		}
		return o
	}
	tests := []struct {
		name      string
		obj       *metav1.ObjectMeta
		wantOwned bool
		wantPatch bool
	}{
		{"ours and matching", mk(map[string]string{"app": "a"}, owner), true, false},
		{"ours, no longer matching: released", mk(map[string]string{"app": "b"}, owner), false, true},
		{"orphan matching: adopted", mk(map[string]string{"app": "a"}, nil), true, true},
		{"orphan not matching", mk(map[string]string{"app": "b"}, nil), false, false},
		{"someone else's", mk(map[string]string{"app": "a"}, other), false, false},
	}
	for _, tc := range tests {
		patched := false
		m := &RefManager{Controller: owner, ControllerGVK: corev1.SchemeGroupVersion.WithKind("X"), Selector: sel,
			Patch: func(string, string, []byte) error { patched = true; return nil }}
		owned, err := m.Claim(tc.obj)
		if err != nil || owned != tc.wantOwned || patched != tc.wantPatch {
			t.Errorf("%s: owned %v patched %v err %v; want owned %v patched %v", tc.name, owned, patched, err, tc.wantOwned, tc.wantPatch)
		}
	}
}
