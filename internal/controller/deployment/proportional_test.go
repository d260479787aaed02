package deployment

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
	"github.com/bosun-k8s/bosun/internal/controller/replicaset"
)

// The scenario of upstream's "deployment should support proportional
// scaling" conformance test: 10 replicas, maxSurge 3, maxUnavailable 2,
// a rollout stuck on an image that never becomes ready, then a scale to
// 30: the old ReplicaSet must end at 20 and the new one at 13.
func TestProportionalScalingMidRollout(t *testing.T) {
	d := newDeployment(10, "bosun.local/hello:v1", "3", "2")
	f := newFixture(t, d)
	rsc, err := replicaset.New(replicaset.Config{Client: f.client, Informers: f.factory, Recorder: f.recorder,
		Clock: f.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range f.recorder.Events {
		}
	}()
	ctx := context.Background()
	readyAll := func(skipImage string) {
		pods, _ := f.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		for i := range pods.Items {
			p := &pods.Items[i]
			if controllerutil.IsPodReady(p) || p.Spec.Containers[0].Image == skipImage {
				continue
			}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(f.clock.Now())}}
			if _, err := f.client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	step := func(skipImage string) {
		for i := 0; i < 30; i++ {
			f.refresh(t)
			_ = f.ctrl.sync(ctx, "default/hello")
			f.refresh(t)
			for name := range f.replicaSets(t) {
				if err := rsc.SyncForTest(ctx, "default/"+name); err != nil {
					t.Fatal(err)
				}
			}
			readyAll(skipImage)
		}
	}
	step("")
	d = f.deployment(t)
	d.Spec.Template.Spec.Containers[0].Image = "bosun.local/does-not-exist:v1"
	d.Generation++
	if _, err := f.client.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	step("bosun.local/does-not-exist:v1")
	sizes := func() (old, cur int32) {
		for _, rs := range f.replicaSets(t) {
			if rs.Spec.Template.Spec.Containers[0].Image == "bosun.local/hello:v1" {
				old = *rs.Spec.Replicas
			} else {
				cur = *rs.Spec.Replicas
			}
		}
		return old, cur
	}
	if old, cur := sizes(); old != 8 || cur != 5 {
		t.Fatalf("stuck rollout: old %d new %d, want 8 and 5", old, cur)
	}
	d = f.deployment(t)
	thirty := int32(30)
	d.Spec.Replicas = &thirty
	d.Generation++
	if _, err := f.client.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	step("bosun.local/does-not-exist:v1")
	if old, cur := sizes(); old != 20 || cur != 13 {
		t.Errorf("after scaling to 30: old %d new %d, want 20 and 13", old, cur)
	}
}
