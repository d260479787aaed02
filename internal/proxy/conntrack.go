package proxy

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// staleUDP is what conntrack entries must go after a sync: UDP has no
// connection end, so an entry DNATed to an endpoint that is gone would keep
// a client's datagrams flowing there, and one created while a service had
// no endpoint would keep them from being DNATed, until the entry times out
// (and a client sending steadily keeps it alive forever).
type staleUDP struct {
	endpoints map[netip.AddrPort]bool // reply source of DNATed entries
	services  map[netip.AddrPort]bool // original destination (service IP:port)
	nodePorts map[uint16]bool         // original destination port on a local address
}

func (s *staleUDP) empty() bool {
	return len(s.endpoints) == 0 && len(s.services) == 0 && len(s.nodePorts) == 0
}

// staleUDPBetween finds what changed for UDP from old to new.
func staleUDPBetween(old, new *state) *staleUDP {
	s := &staleUDP{endpoints: map[netip.AddrPort]bool{}, services: map[netip.AddrPort]bool{}, nodePorts: map[uint16]bool{}}
	if old == nil {
		return s
	}
	for name, ap := range old.UDPEndpoints {
		if _, ok := new.UDPEndpoints[name]; !ok {
			s.endpoints[ap] = true
		}
	}
	for k, e := range new.ServiceIPs {
		if _, ok := old.ServiceIPs[k]; !ok && len(e.Key) == 12 && e.Key[4] == unix.IPPROTO_UDP {
			a, _ := netip.AddrFromSlice(e.Key[:4])
			s.services[netip.AddrPortFrom(a, uint16(e.Key[8])<<8|uint16(e.Key[9]))] = true
		}
	}
	for k, e := range new.NodePorts {
		if _, ok := old.NodePorts[k]; !ok && len(e.Key) == 8 && e.Key[0] == unix.IPPROTO_UDP {
			s.nodePorts[uint16(e.Key[4])<<8|uint16(e.Key[5])] = true
		}
	}
	return s
}

// MatchConntrackFlow implements netlink.CustomConntrackFilter.
func (s *staleUDP) MatchConntrackFlow(f *netlink.ConntrackFlow) bool {
	if f.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	origDst, ok1 := netip.AddrFromSlice(f.Forward.DstIP)
	replySrc, ok2 := netip.AddrFromSlice(f.Reverse.SrcIP)
	if !ok1 || !ok2 {
		return false
	}
	origDst, replySrc = origDst.Unmap(), replySrc.Unmap()
	if origDst != replySrc && s.endpoints[netip.AddrPortFrom(replySrc, f.Reverse.SrcPort)] {
		return true
	}
	if s.services[netip.AddrPortFrom(origDst, f.Forward.DstPort)] {
		return true
	}
	return s.nodePorts[f.Forward.DstPort]
}

// clearConntrack deletes the stale UDP entries in the proxy's namespace.
func (p *Proxy) clearConntrack(s *staleUDP) error {
	h := &netlink.Handle{}
	if p.cfg.NetNSPath != "" {
		ns, err := netns.GetFromPath(p.cfg.NetNSPath)
		if err != nil {
			return fmt.Errorf("proxy: conntrack netns: %w", err)
		}
		defer ns.Close()
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
		if err != nil {
			return fmt.Errorf("proxy: conntrack handle: %w", err)
		}
		defer h.Close()
	}
	if _, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, s); err != nil {
		return fmt.Errorf("proxy: clear conntrack: %w", err)
	}
	return nil
}
