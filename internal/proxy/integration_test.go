package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/endpoints"
	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestWithAPIServer runs the whole service path but the kubelet: the real
// API server allocates the cluster IP and node port, the endpoints
// controllers turn pod statuses into slices, and the proxy programs a
// harness namespace whose "pods" are namespaces with servers in them.
func TestWithAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	client := ts.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	node := netharness.New(t)
	if err := node.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	podNS := map[string]*netharness.NS{
		"web-a": node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5")),
		"web-b": node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6")),
	}
	serveName(t, podNS["web-a"], "10.42.0.5:8080", "web-a")
	serveName(t, podNS["web-b"], "10.42.0.6:8080", "web-b")

	svc, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("no cluster IP or node port allocated: %+v", svc.Spec)
	}
	setPod := func(name, ip string, ready bool) {
		t.Helper()
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			p, err = client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{
					Name: "web", Image: "bosun.local/hello:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}
		if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setPod("web-a", "10.42.0.5", true)
	setPod("web-b", "10.42.0.6", true)

	f, err := fence.New(fence.Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetNodeSubnets([]netip.Prefix{subnet}); err != nil {
		t.Fatal(err)
	}
	if err := f.Install(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.Remove()
	ec, err := endpoints.New(endpoints.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Client: client, NodeName: "node-a", NodeIPs: []netip.Addr{netharness.NodeIP}, ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- ec.Run(ctx) }()
	go func() { errs <- p.Run(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}()

	clusterAddr := svc.Spec.ClusterIP + ":80"
	nodeAddr := fmt.Sprintf("%s:%d", netharness.NodeIP, svc.Spec.Ports[0].NodePort)
	for _, addr := range []string{clusterAddr, nodeAddr} {
		eventually(t, "both pods via "+addr, func() error {
			got, err := seen(podNS["web-a"], addr, 30)
			if err != nil {
				return err
			}
			return wantExactly(got, "web-a", "web-b")
		})
	}
	// A pod turning unready leaves the rotation.
	setPod("web-b", "10.42.0.6", false)
	eventually(t, "only web-a", func() error {
		got, err := seen(node, clusterAddr, 30)
		if err != nil {
			return err
		}
		return wantExactly(got, "web-a")
	})
	// Deleting the service: refused at once.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused after delete", func() error {
		if _, err := ask(node, clusterAddr); !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("not refused: %v", err)
		}
		return nil
	})
	if n, err := node.Leaks(); err != nil || n != 0 {
		t.Errorf("%d packets reached the blackhole (%v)", n, err)
	}
}
