package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// These benchmarks measure the control plane's share of a rollout: the API
// server and controllers, with a stand-in kubelet that marks pods ready as
// soon as it sees them (every 5 ms). Real pod start-up comes on top.

func benchDeployment(ns string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: image}}},
			},
		},
	}
}

// waitRolledOut waits until the deployment is as kubectl rollout status
// calls "successfully rolled out".
func waitRolledOut(b *testing.B, c *cluster, ns string) {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 120*time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		r := *d.Spec.Replicas
		st := d.Status
		return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == r && st.Replicas == r && st.AvailableReplicas == r, nil
	})
	if err != nil {
		b.Fatalf("rollout did not finish: %v", err)
	}
}

// BenchmarkDeploymentUpdate3 measures a 3-replica rolling update from the
// image change to a finished rollout.
func BenchmarkDeploymentUpdate3(b *testing.B) {
	c := start(b)
	ctx := context.Background()
	ns := "bench-update"
	createNamespace(b, c, ns)
	c.runKubeletMode(b, ns, 5*time.Millisecond, true)
	if _, err := c.client.AppsV1().Deployments(ns).Create(ctx, benchDeployment(ns, 3, "bosun.local/hello:v1"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitRolledOut(b, c, ns)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		d.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("bosun.local/hello:v%d", i+2)
		if _, err := c.client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitRolledOut(b, c, ns)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/rollout")
}

// BenchmarkDeployment100Available measures a 100-replica deployment from
// creation to all replicas available.
func BenchmarkDeployment100Available(b *testing.B) {
	c := start(b)
	ctx := context.Background()
	ns := "bench-100"
	createNamespace(b, c, ns)
	c.runKubeletMode(b, ns, 5*time.Millisecond, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.client.AppsV1().Deployments(ns).Create(ctx, benchDeployment(ns, 100, "bosun.local/hello:v1"), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitRolledOut(b, c, ns)
		b.StopTimer()
		fg := metav1.DeletePropagationForeground
		if err := c.client.AppsV1().Deployments(ns).Delete(ctx, "hello", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
			b.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 120*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/deployment")
}
