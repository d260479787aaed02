package loadbalancer

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestAgainstAPIServer checks that the real API server accepts the status
// the controller writes.
func TestAgainstAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "lb"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "x"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	if _, err := ts.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run(t, ts.Client, "198.51.100.8/30")
	waitIngressIn(t, ts.Client, "default", "lb", "198.51.100.9")
}
