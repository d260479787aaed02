package nftx

import (
	"net/netip"
	"testing"
)

func TestEqual(t *testing.T) {
	a := Rule{AddrIn{Field: Daddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}, NumgenVmap{Chains: []string{"x", "y"}}}
	same := Rule{AddrIn{Field: Daddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}, NumgenVmap{Chains: []string{"x", "y"}}}
	for _, tt := range []struct {
		b    Rule
		want bool
	}{
		{same, true},
		{Rule{AddrIn{Field: Daddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}, NumgenVmap{Chains: []string{"x"}}}, false},
		{Rule{AddrIn{Field: Saddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}, NumgenVmap{Chains: []string{"x", "y"}}}, false},
		{Rule{AddrIn{Field: Daddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}, Goto{Chain: "x"}}, false},
		{Rule{AddrIn{Field: Daddr, Prefix: netip.MustParsePrefix("10.43.0.0/16")}}, false},
	} {
		if got := Equal(a, tt.b); got != tt.want || Equal(tt.b, a) != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", a, tt.b, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	k := ServiceMapKey(netip.MustParseAddr("10.43.0.10"), 17, 53)
	want := []byte{10, 43, 0, 10, 17, 0, 0, 0, 0, 53, 0, 0}
	if string(k) != string(want) {
		t.Errorf("ServiceMapKey = %v, want %v", k, want)
	}
	if k := PortMapKey(6, 30080); string(k) != string([]byte{6, 0, 0, 0, 0x75, 0x80, 0, 0}) {
		t.Errorf("PortMapKey = %v", k)
	}
}

func TestRender(t *testing.T) {
	for _, tt := range []struct {
		r    Rule
		want string
	}{
		{Rule{MarkTest{Bit: 0x4000, Not: true}, Return{}}, "meta mark & 0x4000 == 0 return"},
		{Rule{L4Proto{Proto: 6}, DNAT{Addr: netip.MustParseAddr("10.42.0.5"), Port: 8080}}, "meta l4proto tcp dnat ip to 10.42.0.5:8080"},
		{Rule{AddrIn{Field: Saddr, Prefix: netip.MustParsePrefix("10.42.0.5/32")}, Jump{Chain: "m"}}, "ip saddr 10.42.0.5 jump m"},
		{Rule{FibDaddrLocal{}, ServiceKey{Map: "np", PortOnly: true}}, "fib daddr type local meta l4proto . th dport vmap @np"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
		if n := len(tt.r.Exprs(&Builder{})); n < 2 {
			t.Errorf("%s: %d expressions", tt.r, n)
		}
	}
}

func TestRenderCt(t *testing.T) {
	if got := (Rule{CtStateInvalid{}, Drop{}}).String(); got != "ct state invalid drop" {
		t.Errorf("%q", got)
	}
	if got := (Rule{CtStatusDNATSet{Not: true}, RejectPortUnreachable{}}).String(); got != "ct status ! dnat reject" {
		t.Errorf("%q", got)
	}
}
