package integration

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/manager"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

func TestLeaderElectionHandsOver(t *testing.T) {
	ts := testserver.Start(t)
	c := &cluster{ts: ts, client: ts.Client}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(id string) (context.CancelFunc, chan error) {
		m, err := manager.New(manager.Config{Client: ts.Client, RESTConfig: ts.RESTConfig, Logger: log, LeaderElect: true, Identity: id,
			Controllers: []string{"replicaset"}})
		if err != nil {
			t.Fatal(err)
		}
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(mctx) }()
		return cancel, done
	}
	holder := func() string {
		l, err := c.client.CoordinationV1().Leases(manager.LeaseNamespace).Get(ctx, manager.LeaseName, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	cancelA, doneA := run("a")
	eventually(t, "manager a to lead", func() (bool, error) { return holder() == "a", nil })
	cancelB, doneB := run("b")
	defer func() {
		cancelB()
		if err := <-doneB; err != nil {
			t.Errorf("manager b: %v", err)
		}
	}()
	time.Sleep(3 * time.Second)
	if h := holder(); h != "a" {
		t.Fatalf("lease holder changed to %q while a is running", h)
	}
	cancelA()
	if err := <-doneA; err != nil {
		t.Errorf("manager a: %v", err)
	}
	eventually(t, "manager b to take over", func() (bool, error) { return holder() == "b", nil })

	// b's controllers work.
	createNamespace(t, c, "le")
	one := int32(1)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "le"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}}}},
	}
	if _, err := c.client.AppsV1().ReplicaSets("le").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new leader to create the pod", func() (bool, error) {
		return len(activePods(t, c, "le", "a=b")) == 1, nil
	})
}
