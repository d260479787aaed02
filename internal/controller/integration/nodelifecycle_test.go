package integration

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/manager"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

func TestSilentNodeIsTaintedAndEvicted(t *testing.T) {
	ts := testserver.Start(t)
	ctx := context.Background()
	c := &cluster{ts: ts, client: ts.Client}
	m, err := manager.New(manager.Config{Client: ts.Client, RESTConfig: ts.RESTConfig, Controllers: []string{"nodelifecycle"},
		NodeMonitorPeriod: 200 * time.Millisecond, NodeMonitorGracePeriod: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	n, err := c.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "silent"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNamespace(t, c, "nl")
	one := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "nl"},
		Spec: corev1.PodSpec{NodeName: "silent", Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}},
			Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &one}}},
	}
	if _, err := c.client.CoreV1().Pods("nl").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the silent node to be Unknown and tainted unreachable", func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, "silent", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready := false
		for _, cond := range n.Status.Conditions {
			ready = ready || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown)
		}
		tainted := 0
		for _, tt := range n.Spec.Taints {
			if tt.Key == corev1.TaintNodeUnreachable {
				tainted++
			}
		}
		return ready && tainted == 2, nil
	})
	eventually(t, "the pod to be evicted after its 1s toleration", func() (bool, error) {
		p, err := c.client.CoreV1().Pods("nl").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && p.DeletionTimestamp != nil), nil
	})
}
