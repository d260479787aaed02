package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestStaleUDP(t *testing.T) {
	mk := func(eps ...string) *state {
		in := ruleInput{PodCIDR: netip.MustParsePrefix("10.42.0.0/16")}
		sp := servicePort{Namespace: "ns", Name: "dns", PortName: "dns", Proto: 17, ClusterIPs: []netip.Addr{netip.MustParseAddr("10.43.0.10")}, Port: 53, NodePort: 30053}
		var list []endpoint
		for _, e := range eps {
			list = append(list, endpoint{Addr: netip.MustParseAddr(e), Port: 5353, Ready: true, Serving: true})
		}
		in.Ports = []portEndpoints{{Port: sp, Endpoints: list}}
		return build(in)
	}
	flow := func(origDst string, dport uint16, replySrc string, rport uint16) *netlink.ConntrackFlow {
		return &netlink.ConntrackFlow{
			Forward: netlink.IPTuple{Protocol: 17, SrcIP: net.ParseIP("10.42.0.9"), DstIP: net.ParseIP(origDst), DstPort: dport},
			Reverse: netlink.IPTuple{Protocol: 17, SrcIP: net.ParseIP(replySrc), SrcPort: rport, DstIP: net.ParseIP("10.42.0.9")},
		}
	}
	// An endpoint goes away: entries DNATed to it match, others do not.
	s := staleUDPBetween(mk("10.42.0.5", "10.42.0.6"), mk("10.42.0.6"))
	for _, c := range []struct {
		f    *netlink.ConntrackFlow
		want bool
	}{
		{flow("10.43.0.10", 53, "10.42.0.5", 5353), true},
		{flow("10.43.0.10", 53, "10.42.0.6", 5353), false},
		{flow("10.42.0.5", 5353, "10.42.0.5", 5353), false}, // direct, not DNATed
	} {
		if got := s.MatchConntrackFlow(c.f); got != c.want {
			t.Errorf("gone endpoint: match %v = %v, want %v", c.f.Forward.DstIP, got, c.want)
		}
	}
	// The service gains its first endpoint: entries for the service IP
	// and node port that were never DNATed go.
	s = staleUDPBetween(mk(), mk("10.42.0.5"))
	if !s.MatchConntrackFlow(flow("10.43.0.10", 53, "10.43.0.10", 53)) {
		t.Error("service gaining endpoints: un-DNATed entry kept")
	}
	if !s.MatchConntrackFlow(flow("192.0.2.1", 30053, "192.0.2.1", 30053)) {
		t.Error("node port gaining endpoints: entry kept")
	}
	if s.MatchConntrackFlow(flow("10.43.0.11", 53, "10.43.0.11", 53)) {
		t.Error("another service's entry matched")
	}
	// Nothing changes: nothing to clear.
	if s := staleUDPBetween(mk("10.42.0.5"), mk("10.42.0.5")); !s.empty() {
		t.Errorf("no change but stale %+v", s)
	}
}
