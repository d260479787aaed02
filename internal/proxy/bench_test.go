package proxy

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/bosun-k8s/bosun/internal/netharness"
)

func benchInput(services, endpoints int, extra int) ruleInput {
	in := ruleInput{PodCIDR: netip.MustParsePrefix("10.42.0.0/16")}
	for i := 0; i < services; i++ {
		sp := servicePort{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), PortName: "http", Proto: 6,
			ClusterIPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)})}, Port: 80, NodePort: uint16(30000 + i)}
		var eps []endpoint
		n := endpoints
		if i == 0 {
			n += extra
		}
		for j := 0; j < n; j++ {
			eps = append(eps, endpoint{Addr: netip.AddrFrom4([4]byte{10, 42, byte(j), byte(i%250 + 1)}), Port: 8080, Ready: true, Serving: true})
		}
		in.Ports = append(in.Ports, portEndpoints{Port: sp, Endpoints: eps})
	}
	return in
}

// BenchmarkBuild measures computing the desired state of 1000 services
// with 3 endpoints each (no kernel).
func BenchmarkBuild(b *testing.B) {
	in := benchInput(1000, 3, 0)
	b.ReportAllocs()
	for b.Loop() {
		build(in)
	}
}

// BenchmarkWriteFull measures replacing the whole table for 1000 services
// with 3 endpoints each, in a harness namespace.
func BenchmarkWriteFull(b *testing.B) {
	ns := netharness.New(b)
	p, err := New(Config{Client: nil, NodeName: "n", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path})
	if err == nil || p != nil {
		b.Fatal("New without a client must fail")
	}
	prog := &programmer{conn: (&Proxy{cfg: Config{NetNSPath: ns.Path}}).conn}
	st := build(benchInput(1000, 3, 0))
	for b.Loop() {
		prog.applied = nil
		if _, err := prog.write(st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteIncremental measures one endpoint added to one service out
// of 1000, as the proxy writes it after a full table.
func BenchmarkWriteIncremental(b *testing.B) {
	ns := netharness.New(b)
	prog := &programmer{conn: (&Proxy{cfg: Config{NetNSPath: ns.Path}}).conn}
	a, c := build(benchInput(1000, 3, 0)), build(benchInput(1000, 3, 1))
	if _, err := prog.write(a); err != nil {
		b.Fatal(err)
	}
	next := c
	for b.Loop() {
		if _, err := prog.write(next); err != nil {
			b.Fatal(err)
		}
		if next == c {
			next = a
		} else {
			next = c
		}
	}
}
