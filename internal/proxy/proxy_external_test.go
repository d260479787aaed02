package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
)

// serveWho answers every connection with "name from <client IP>".
func serveWho(t *testing.T, ns *netharness.NS, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "%s from %s", name, host)
			c.Close()
		}
	}()
}

// TestExternalTraffic sends traffic from a machine outside the cluster: a
// node port with the Cluster policy reaches every endpoint, masqueraded; a
// load-balancer IP and a node port with the Local policy reach only this
// node's endpoint, with the client's address preserved.
func TestExternalTraffic(t *testing.T) {
	node := netharness.New(t)
	if err := node.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n, err := node.Leaks(); err != nil || n != 0 {
			t.Errorf("%d packets reached the blackhole (%v)", n, err)
		}
	})
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	local := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))
	remote := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6")) // listed as on node-b
	outside := node.AddOutside(t, netip.MustParsePrefix("198.51.100.0/24"), netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"))
	serveWho(t, local, "10.42.0.5:8080", "local")
	serveWho(t, remote, "10.42.0.6:8080", "remote")

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

	eps := func() []epSpec {
		return []epSpec{
			{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"},
			{ip: "10.42.0.6", ready: true, serving: true, node: "node-b"},
		}
	}
	cluster := svc("np", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30090
	})
	localNP := svc("lnp", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.31", []string{"10.43.0.31"}
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = 30091
	})
	lb := svc("lb", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.32", []string{"10.43.0.32"}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.Ports[0].NodePort = 30092
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	})
	// A load-balancer address whose service has no endpoint: refused at
	// the node, not routed on.
	empty := svc("empty", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.33", []string{"10.43.0.33"}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30093
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.11"}}
	})
	// Source ranges: the outside client (198.51.100.2) is let in to one
	// load-balancer address and kept out of the other.
	open := svc("open", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.34", []string{"10.43.0.34"}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30094
		s.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/30"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.12"}}
	})
	closed := svc("closed", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.35", []string{"10.43.0.35"}
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30095
		s.Spec.LoadBalancerSourceRanges = []string{"192.0.2.0/24"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.13"}}
	})
	kc := fake.NewClientset(cluster, localNP, lb, empty, open, closed,
		slice("open", 8080, eps()...), slice("closed", 8080, eps()...),
		slice("np", 8080, eps()...), slice("lnp", 8080, eps()...), slice("lb", 8080, eps()...))
	p, err := New(Config{Logger: testLogger(t), Client: kc, NodeName: "node-a", NodeIPs: []netip.Addr{netharness.NodeIP}, ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	for _, c := range []struct {
		addr string
		want []string
	}{
		{"192.0.2.1:30090", []string{"local from 10.42.0.1", "remote from 10.42.0.1"}},
		{"192.0.2.1:30091", []string{"local from 198.51.100.2"}},
		{"203.0.113.10:80", []string{"local from 198.51.100.2"}},
	} {
		eventually(t, "from outside to "+c.addr, func() error {
			got, err := seen(outside, c.addr, 30)
			if err != nil {
				return err
			}
			return wantExactly(got, c.want...)
		})
	}
	for _, addr := range []string{"203.0.113.11:80", "192.0.2.1:30093"} {
		eventually(t, "refused from outside: "+addr, func() error {
			if _, err := ask(outside, addr); !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("not refused: %v", err)
			}
			return nil
		})
	}
	eventually(t, "allowed source range", func() error {
		got, err := seen(outside, "203.0.113.12:80", 10)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return errors.New("no answer")
		}
		return nil
	})
	var dropErr error
	outside.Do(func() error {
		_, dropErr = net.DialTimeout("tcp", "203.0.113.13:80", time.Second)
		return nil
	})
	var ne net.Error
	if !errors.As(dropErr, &ne) || !ne.Timeout() {
		t.Errorf("outside a source range: %v, want a timeout (dropped)", dropErr)
	}
	// From a pod, the Local policy does not apply: both endpoints.
	eventually(t, "from a pod to the local-policy node port", func() error {
		got, err := seen(local, "192.0.2.1:30091", 30)
		if err != nil {
			return err
		}
		var names []string
		for k := range got {
			names = append(names, strings.Fields(k)[0])
		}
		if len(names) != 2 {
			return fmt.Errorf("answers %v", got)
		}
		return nil
	})
}
