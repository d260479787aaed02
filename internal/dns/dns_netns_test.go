package dns

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/proxy"
)

// TestThroughServiceIP runs the DNS server on the node of a harness
// namespace and reaches it from a pod at the kube-dns service IP, through
// the service proxy, over UDP and TCP.
func TestThroughServiceIP(t *testing.T) {
	node := netharness.New(t)
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	pod := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))

	var pc net.PacketConn
	var ln net.Listener
	if err := node.Do(func() (err error) {
		pc, ln, err = listen(netharness.NodeIP.String() + ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	port := int32(pc.LocalAddr().(*net.UDPAddr).Port)

	kubeDNS := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"}, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
		}},
	}
	dnsSlice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns-1", Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("dns"), Port: ptr(port), Protocol: ptr(corev1.ProtocolUDP)},
			{Name: ptr("dns-tcp"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)},
		},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{netharness.NodeIP.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
	}
	client := fake.NewClientset(append(objects(), kubeDNS, dnsSlice)...)

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
	p, err := proxy.New(proxy.Config{Client: client, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Client: client, PacketConn: pc, Listener: ln, Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- p.Run(ctx) }()
	go func() { errs <- s.Run(ctx) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}()

	for _, network := range []string{"udp", "tcp"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := askFrom(pod, network, "web.default.svc.cluster.local.")
			if err == nil && got == "10.43.0.20" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s from a pod via 10.43.0.10: %q %v", network, got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func askFrom(ns *netharness.NS, network, name string) (string, error) {
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout(network, net.JoinHostPort("10.43.0.10", strconv.Itoa(53)), 5*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	cl := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := cl.ExchangeWithConn(m, &dns.Conn{Conn: c})
	if err != nil {
		return "", err
	}
	if len(r.Answer) != 1 {
		return "", nil
	}
	a, _ := r.Answer[0].(*dns.A)
	if a == nil {
		return "", nil
	}
	return a.A.String(), nil
}
