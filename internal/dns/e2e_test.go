package dns

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/endpoints"
	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/proxy"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestServiceDiscovery runs everything of service discovery but the
// kubelet against the real API server, in a harness namespace: a "pod"
// asks 10.43.0.10 for web.default.svc.cluster.local, connects to the
// answer and is served by the other "pod" behind the service.
func TestServiceDiscovery(t *testing.T) {
	ts := testserver.Start(t)
	client := ts.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	node := netharness.New(t)
	if err := node.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	clientPod := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))
	webPod := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6"))
	var web net.Listener
	if err := webPod.Do(func() (err error) {
		web, err = net.Listen("tcp", "10.42.0.6:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	go func() {
		for {
			c, err := web.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from web")
			c.Close()
		}
	}()

	// The control plane's objects: the web Service and its pod, the DNS
	// service pointing at the DNS server on the node.
	if _, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "web", Image: "bosun.local/hello:v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.6", PodIPs: []corev1.PodIP{{IP: "10.42.0.6"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pc net.PacketConn
	var ln net.Listener
	if err := node.Do(func() (err error) {
		pc, ln, err = listen(netharness.NodeIP.String() + ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	server := netip.AddrPortFrom(netharness.NodeIP, uint16(pc.LocalAddr().(*net.UDPAddr).Port))
	if err := EnsureKubeDNS(ctx, client, netip.MustParseAddr("10.43.0.10"), []netip.AddrPort{server}); err != nil {
		t.Fatal(err)
	}

	// The components: fence, proxy, endpoints controllers, DNS.
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
	px, err := proxy.New(proxy.Config{Client: client, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	ec, err := endpoints.New(endpoints.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := New(Config{Client: client, PacketConn: pc, Listener: ln, Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	go func() { errs <- px.Run(ctx) }()
	go func() { errs <- ec.Run(ctx) }()
	go func() { errs <- ds.Run(ctx) }()
	defer func() {
		cancel()
		for range 3 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := fetchByName(clientPod, "web.default.svc.cluster.local.")
		if err == nil && got == "hello from web" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("from the pod, by name: %q %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := node.Leaks(); err != nil || n != 0 {
		t.Errorf("%d packets reached the blackhole (%v)", n, err)
	}
}

// fetchByName resolves name through 10.43.0.10 from inside ns and reads
// what the first address answers on port 80.
func fetchByName(ns *netharness.NS, name string) (string, error) {
	ip, err := askFrom(ns, "udp", name)
	if err != nil || ip == "" {
		return "", err
	}
	var out []byte
	err = ns.Do(func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "80"), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		out, err = io.ReadAll(c)
		return err
	})
	return string(out), err
}
