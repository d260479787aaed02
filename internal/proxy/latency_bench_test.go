package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
)

// BenchmarkProgrammingLatency measures, in a harness namespace, the time
// from creating a Service and its EndpointSlice (through a fake client) to
// the first answer through its ClusterIP: the proxy's share of service
// programming latency. It reports p50 and p99 over b.N services.
func BenchmarkProgrammingLatency(b *testing.B) {
	node := netharness.New(b)
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	pod := node.AddPod(b, subnet, netip.MustParseAddr("10.42.0.5"))
	serveName(b, pod, "10.42.0.5:8080", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := fence.New(fence.Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.SetNodeSubnets([]netip.Prefix{subnet}); err != nil {
		b.Fatal(err)
	}
	if err := f.Install(ctx); err != nil {
		b.Fatal(err)
	}
	defer f.Remove()
	kc := fake.NewClientset()
	p, err := New(Config{Client: kc, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// The first sync creates the table: wait for it, then let the
	// adaptive interval settle.
	for p.Syncs() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("s%d", i)
		ip := fmt.Sprintf("10.43.1.%d", i%250+1)
		if i >= 250 {
			b.Fatal("at most 250 services")
		}
		i++
		s := svc(name, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip} })
		start := time.Now()
		if _, err := kc.CoreV1().Services("ns").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := kc.DiscoveryV1().EndpointSlices("ns").Create(ctx, slice(name, 8080, epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"}), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		deadline := start.Add(30 * time.Second)
		for {
			if s, err := ask(node, ip+":80"); err == nil && s == "a" {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s never answered", ip)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkServiceOverhead compares requests (a new TCP connection each,
// answered and closed by the server) sent from the node to a pod directly
// and through its cluster IP, in a harness namespace: the proxy's cost per
// connection. It reports requests per second and p99 latency.
func BenchmarkServiceOverhead(b *testing.B) {
	node := netharness.New(b)
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	pod := node.AddPod(b, subnet, netip.MustParseAddr("10.42.0.5"))
	serveName(b, pod, "10.42.0.5:8080", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := fence.New(fence.Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.SetNodeSubnets([]netip.Prefix{subnet}); err != nil {
		b.Fatal(err)
	}
	if err := f.Install(ctx); err != nil {
		b.Fatal(err)
	}
	defer f.Remove()
	kc := fake.NewClientset(svc("web", nil), slice("web", 8080, epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"}))
	p, err := New(Config{Client: kc, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-p.Ready()
	for _, c := range []struct{ name, addr string }{{"direct", "10.42.0.5:8080"}, {"clusterip", "10.43.0.20:80"}} {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				if s, err := ask(node, c.addr); err != nil || s != "a" {
					b.Fatalf("%s: %q %v", c.addr, s, err)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
