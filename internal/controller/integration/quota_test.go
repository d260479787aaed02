package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResourceQuotaUsage(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "quota")
	c.runKubelet(t, "quota", 20*time.Millisecond)
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "quota"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceConfigMaps: resource.MustParse("10"),
			"count/deployments.apps": resource.MustParse("2")}}}
	if _, err := c.client.CoreV1().ResourceQuotas("quota").Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, c, manifest("quota", "bosun.local/hello:v1"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "quota", "rollout", "status", "deployment/hello", "--timeout=60s")
	eventually(t, "quota usage", func() (bool, error) {
		got, err := c.client.CoreV1().ResourceQuotas("quota").Get(ctx, "q", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pods, deploys := got.Status.Used[corev1.ResourcePods], got.Status.Used["count/deployments.apps"]
		_, hasCM := got.Status.Used[corev1.ResourceConfigMaps]
		return pods.Value() == 3 && deploys.Value() == 1 && hasCM, nil
	})
	out := mustKubectl(t, c, "", "-n", "quota", "describe", "quota", "q")
	if !strings.Contains(out, "count/deployments.apps") || !strings.Contains(out, "pods") {
		t.Errorf("kubectl describe quota:\n%s", out)
	}
}
