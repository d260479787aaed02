package loadbalancer

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func lbService(name string, mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.9", Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func run(t *testing.T, client kubernetes.Interface, pool ...string) {
	t.Helper()
	var ps []netip.Prefix
	for _, p := range pool {
		ps = append(ps, netip.MustParsePrefix(p))
	}
	c, err := New(Config{Client: client, Pool: ps})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func ingressOf(client kubernetes.Interface, name string) string {
	return ingressIn(client, "ns", name)
}

func ingressIn(client kubernetes.Interface, ns, name string) string {
	s, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "error: " + err.Error()
	}
	var ips []string
	for _, i := range s.Status.LoadBalancer.Ingress {
		ips = append(ips, i.IP)
	}
	return strings.Join(ips, ",")
}

func waitIngress(t *testing.T, client kubernetes.Interface, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var bad []string
		for name, w := range want {
			if got := ingressOf(client, name); got != w {
				bad = append(bad, fmt.Sprintf("%s=%q want %q", name, got, w))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(bad, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPool(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(
		lbService("a"),
		lbService("b", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "192.0.2.21" }),
		lbService("c"),
		lbService("other", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/lb") }),
		lbService("plain", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
	)
	// Two addresses (a /31 has no network or broadcast address to skip).
	run(t, client, "192.0.2.20/31")
	// b asked for .21; one of a and c gets .20, the other waits.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, b, c := ingressOf(client, "a"), ingressOf(client, "b"), ingressOf(client, "c")
		if b == "192.0.2.21" && ((a == "192.0.2.20" && c == "") || (c == "192.0.2.20" && a == "")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a=%q b=%q c=%q", a, b, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := ingressOf(client, "other") + ingressOf(client, "plain"); got != "" {
		t.Errorf("services not ours got addresses: %q", got)
	}
	holder, waiter := "a", "c"
	if ingressOf(client, "c") != "" {
		holder, waiter = "c", "a"
	}
	// Deleting the holder hands its address to the waiting service.
	if err := client.CoreV1().Services("ns").Delete(ctx, holder, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, client, map[string]string{waiter: "192.0.2.20", "b": "192.0.2.21"})

	// Turning b into a ClusterIP service clears its status and frees .21.
	b, _ := client.CoreV1().Services("ns").Get(ctx, "b", metav1.GetOptions{})
	b.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := client.CoreV1().Services("ns").Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services("ns").Create(ctx, lbService("d"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, client, map[string]string{"b": "", "d": "192.0.2.21", waiter: "192.0.2.20"})
}

// TestRestartKeepsAssignments starts a controller on services whose
// statuses already hold pool addresses: they keep them, and a new service
// gets a free one.
func TestRestartKeepsAssignments(t *testing.T) {
	withIP := func(ip string) func(*corev1.Service) {
		return func(s *corev1.Service) { s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}} }
	}
	client := fake.NewClientset(lbService("a", withIP("192.0.2.2")), lbService("b", withIP("192.0.2.1")), lbService("c"))
	run(t, client, "192.0.2.0/29")
	waitIngress(t, client, map[string]string{"a": "192.0.2.2", "b": "192.0.2.1", "c": "192.0.2.3"})
}

func TestNodeAddresses(t *testing.T) {
	node := func(name string, addrs ...corev1.NodeAddress) runtime.Object {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	client := fake.NewClientset(
		lbService("a"),
		node("n1", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}),
		node("n2", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.3"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.3"}),
	)
	run(t, client)
	waitIngress(t, client, map[string]string{"a": "10.0.0.2,203.0.113.3"})
	// A new node adds its address.
	if _, err := client.CoreV1().Nodes().Create(context.Background(), node("n3", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}).(*corev1.Node), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, client, map[string]string{"a": "10.0.0.1,10.0.0.2,203.0.113.3"})
}

func waitIngressIn(t *testing.T, client kubernetes.Interface, ns, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := ingressIn(client, ns, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s ingress %q, want %q", ns, name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }
