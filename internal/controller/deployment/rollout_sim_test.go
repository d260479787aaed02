package deployment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
	"github.com/bosun-k8s/bosun/internal/controller/replicaset"
)

// rsSyncer is the part of the ReplicaSet controller the simulation drives.
type rsSyncer interface {
	SyncForTest(ctx context.Context, key string) error
}

// simulate runs the Deployment and ReplicaSet controllers against the fake
// API, with a stand-in kubelet that makes at most one pod ready per step,
// and calls check after every step. It returns when the rollout completes.
func simulate(t *testing.T, f *fixture, rsc rsSyncer, check func(step int, pods []corev1.Pod)) {
	t.Helper()
	ctx := context.Background()
	for step := 0; step < 300; step++ {
		f.refresh(t)
		if err := f.ctrl.sync(ctx, "default/hello"); err != nil {
			t.Logf("step %d: deployment sync: %v", step, err)
		}
		f.refresh(t)
		for name := range f.replicaSets(t) {
			if err := rsc.SyncForTest(ctx, "default/"+name); err != nil {
				t.Fatalf("step %d: replicaset sync: %v", step, err)
			}
		}
		f.refresh(t)
		if err := f.ctrl.sync(ctx, "default/hello"); err != nil {
			t.Logf("step %d: deployment sync: %v", step, err)
		}
		pods, err := f.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		check(step, pods.Items)
		// The kubelet: one pending pod becomes ready.
		for i := range pods.Items {
			p := &pods.Items[i]
			if controllerutil.IsPodReady(p) {
				continue
			}
			p.Spec.NodeName = "node-1"
			if _, err := f.client.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(f.clock.Now())}}
			if _, err := f.client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			break
		}
		f.clock.Step(time.Second)
		d := f.deployment(t)
		if c := getCondition(d.Status, appsv1.DeploymentProgressing); c != nil && c.Reason == ReasonNewRSAvailable &&
			deploymentComplete(d, &d.Status) && len(pods.Items) == int(replicas(d)) {
			return
		}
	}
	t.Fatalf("rollout did not complete: status %+v", f.deployment(t).Status)
}

func TestRollingUpdateStaysWithinBounds(t *testing.T) {
	tests := []struct {
		replicas           int32
		surge, unavailable string
	}{
		{3, "1", "0"},
		{3, "0", "1"},
		{10, "25%", "25%"},
		{5, "2", "2"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-replicas-surge-%s-unavailable-%s", tc.replicas, tc.surge, tc.unavailable), func(t *testing.T) {
			d := newDeployment(tc.replicas, "bosun.local/hello:v1", tc.surge, tc.unavailable)
			f := newFixture(t, d)
			rsc, err := replicaset.New(replicaset.Config{Client: f.client, Informers: f.factory, Recorder: f.recorder,
				Clock: f.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			simulate(t, f, rsc, func(int, []corev1.Pod) {})
			go func() {
				for range f.recorder.Events {
				}
			}()

			// Roll out v2 and watch every step.
			d = f.deployment(t)
			d.Spec.Template.Spec.Containers[0].Image = "bosun.local/hello:v2"
			d.Generation++
			if _, err := f.client.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			s, u := intstr.Parse(tc.surge), intstr.Parse(tc.unavailable)
			maxS, maxU := resolveFenceposts(&s, &u, tc.replicas)
			sawNew := false
			simulate(t, f, rsc, func(step int, pods []corev1.Pod) {
				ready := 0
				for i := range pods {
					if controllerutil.IsPodReady(&pods[i]) {
						ready++
					}
					if pods[i].Spec.Containers[0].Image == "bosun.local/hello:v2" {
						sawNew = true
					}
				}
				if len(pods) > int(tc.replicas+maxS) {
					t.Errorf("step %d: %d pods, more than replicas+maxSurge = %d", step, len(pods), tc.replicas+maxS)
				}
				if ready < int(tc.replicas-maxU) {
					t.Errorf("step %d: %d ready pods, fewer than replicas-maxUnavailable = %d", step, ready, tc.replicas-maxU)
				}
			})
			if !sawNew {
				t.Fatal("no v2 pod was ever created")
			}
			pods, _ := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			for _, p := range pods.Items {
				if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
					t.Errorf("pod %s still runs %s after the rollout", p.Name, p.Spec.Containers[0].Image)
				}
			}
			if got := f.deployment(t).Annotations[RevisionAnnotation]; got != "2" {
				t.Errorf("revision = %q, want 2", got)
			}
		})
	}
}
