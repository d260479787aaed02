package agent_test

import (
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/vishvananda/netlink"
)

// freeCIDR picks a 10.42.X.0/24 in [lo, hi) that no route on this machine
// overlaps (other tests may run bridges of their own meanwhile).
func freeCIDR(lo, hi int) string {
	routes, _ := netlink.RouteList(nil, netlink.FAMILY_V4)
	for tries := 0; ; tries++ {
		cidr := fmt.Sprintf("10.42.%d.0/24", lo+rand.IntN(hi-lo))
		_, cand, _ := net.ParseCIDR(cidr)
		clash := false
		for _, r := range routes {
			if r.Dst != nil && (r.Dst.Contains(cand.IP) || cand.Contains(r.Dst.IP)) {
				clash = true
			}
		}
		if !clash || tries > 100 {
			return cidr
		}
	}
}
