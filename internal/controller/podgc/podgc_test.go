package podgc

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func pod(name, node string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "x", CreationTimestamp: metav1.NewTime(now.Add(-age))},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func TestGC(t *testing.T) {
	terminating := pod("unscheduled-terminating", "", corev1.PodPending, time.Hour)
	ts := metav1.NewTime(now)
	terminating.DeletionTimestamp = &ts
	tests := []struct {
		name      string
		pods      []*corev1.Pod
		threshold int
		passes    []time.Duration // clock steps before each pass
		want      []string
	}{
		{
			name:   "pods of a node gone past the quarantine are failed and deleted",
			pods:   []*corev1.Pod{pod("orphan", "gone", corev1.PodRunning, time.Hour), pod("fine", "n1", corev1.PodRunning, time.Hour)},
			passes: []time.Duration{0, 41 * time.Second},
			want:   []string{"get nodes gone", "update pods/status default/orphan", "delete pods default/orphan"},
		},
		{
			name:   "a node missing for less than the quarantine is left alone",
			pods:   []*corev1.Pod{pod("orphan", "gone", corev1.PodRunning, time.Hour)},
			passes: []time.Duration{0, 10 * time.Second},
		},
		{
			name:      "oldest finished pods beyond the threshold go",
			pods:      []*corev1.Pod{pod("old", "n1", corev1.PodSucceeded, 3*time.Hour), pod("mid", "n1", corev1.PodFailed, 2*time.Hour), pod("new", "n1", corev1.PodSucceeded, time.Hour)},
			threshold: 1,
			passes:    []time.Duration{0},
			want:      []string{"delete pods default/old", "delete pods default/mid"},
		},
		{
			name:   "unscheduled terminating pods are force-deleted",
			pods:   []*corev1.Pod{terminating},
			passes: []time.Duration{0},
			want:   []string{"delete pods default/unscheduled-terminating"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}
			for _, p := range tc.pods {
				objs = append(objs, p)
			}
			client := fake.NewSimpleClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			clk := clocktesting.NewFakeClock(now)
			c, err := New(Config{Client: client, Informers: factory, Clock: clk, Threshold: tc.threshold,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				switch x := o.(type) {
				case *corev1.Pod:
					_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(x)
				case *corev1.Node:
					_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(x)
				}
			}
			for _, step := range tc.passes {
				clk.Step(step)
				if err := c.gc(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := controllertest.FilterActions(client.Actions()); !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}
