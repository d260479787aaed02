package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
)

func serveUDPName(t *testing.T, ns *netharness.NS, addr, name string) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(name), from)
		}
	}()
}

// TestProxyUDPConntrack checks that a UDP client sending steadily from one
// socket follows an endpoint change: the conntrack entry that pinned it to
// the old endpoint is cleared.
func TestProxyUDPConntrack(t *testing.T) {
	node := netharness.New(t)
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	client := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))
	podB := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6"))
	podC := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.7"))
	serveUDPName(t, podB, "10.42.0.6:5353", "b")
	serveUDPName(t, podC, "10.42.0.7:5353", "c")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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

	s := svc("u", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.30", []string{"10.43.0.30"}
		s.Spec.Ports[0].Protocol, s.Spec.Ports[0].Port = corev1.ProtocolUDP, 53
	})
	udpSlice := func(ip string) *discoveryv1.EndpointSlice {
		sl := slice("u", 5353, epSpec{ip: ip, ready: true, serving: true, node: "node-a"})
		sl.Ports[0].Protocol = ptr(corev1.ProtocolUDP)
		return sl
	}
	kc := fake.NewClientset(s, udpSlice("10.42.0.6"))
	p, err := New(Config{Logger: testLogger(t), Client: kc, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	var conn net.Conn
	if err := client.Do(func() (err error) {
		conn, err = net.Dial("udp", "10.43.0.30:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// askUntil sends from the one socket every few dozen milliseconds
	// until the answer is want.
	askUntil := func(want string) error {
		deadline := time.Now().Add(30 * time.Second)
		buf := make([]byte, 16)
		last := ""
		for time.Now().Before(deadline) {
			conn.Write([]byte("?"))
			conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := conn.Read(buf)
			if err == nil {
				last = string(buf[:n])
				if last == want {
					return nil
				}
			}
		}
		return errors.New("still answered by " + last)
	}
	if err := askUntil("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.DiscoveryV1().EndpointSlices("ns").Update(ctx, udpSlice("10.42.0.7"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := askUntil("c"); err != nil {
		t.Fatalf("after the endpoint moved to c: %v", err)
	}
}
