package endpoints

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestAgainstAPIServer runs the controllers against the real API server:
// pods become endpoints as their status changes, and the slices the
// controller writes pass the server's validation.
func TestAgainstAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	client := ts.Client
	ctx := context.Background()
	ns := "it"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The serviceaccount controller's part: pods are admitted only with their service account.
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// Before any pod: an empty Endpoints and a placeholder slice, as
	// upstream keeps.
	eventually(t, "placeholder", func() error {
		return check(ctx, client, ns, "", "IPv4  ")
	})

	for i, ip := range []string{"10.42.0.9", "10.42.0.10"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{
				Name: "c", Image: "bosun.local/hello:v1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			}}},
		}
		created, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		if i == 1 {
			created.Status.Conditions[0].Status = corev1.ConditionFalse
		}
		if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "endpoints and slices", func() error {
		return check(ctx, client, ns,
			"[http:8080/TCP] ready=10.42.0.9(web-0@node-a) notready=10.42.0.10(web-1)",
			"IPv4 http/TCP/8080; 10.42.0.9(web-0 r=true s=true t=false),10.42.0.10(web-1 r=false s=false t=false)")
	})

	// Pod deletion removes it.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "after delete", func() error {
		return check(ctx, client, ns,
			"[http:8080/TCP] ready= notready=10.42.0.10(web-1)",
			"IPv4 http/TCP/8080; 10.42.0.10(web-1 r=false s=false t=false)")
	})
}

func check(ctx context.Context, client kubernetes.Interface, ns, wantEp, wantSlices string) error {
	ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got := renderSubsets(ep.Subsets); got != wantEp {
		return fmt.Errorf("endpoints %q, want %q", got, wantEp)
	}
	sls, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		return err
	}
	var groups []sliceGroup
	for _, sl := range sls.Items {
		groups = append(groups, sliceGroup{AddressType: sl.AddressType, Ports: sl.Ports, Endpoints: sl.Endpoints})
	}
	if got := renderGroups(groups); got != wantSlices {
		return fmt.Errorf("slices %q, want %q", got, wantSlices)
	}
	return nil
}
