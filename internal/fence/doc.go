// Package fence keeps every packet for the cluster's pod and service ranges
// on the machine.
//
// The pod range (10.42.0.0/16) and service range (10.43.0.0/16) are private
// addresses and the machine's default route leads off it: without a fence a
// packet to a service IP nobody has programmed yet, or to an unassigned pod
// IP, would be routed out of the host. The fence is an nftables table of its
// own, `inet bosun-fence`, hooked on forward and output (so it sees both what
// pods send and what the host itself sends):
//
//	table inet bosun-fence {
//		counter svc-rejected {}
//		counter pod-rejected {}
//		set node-subnets { type ipv4_addr; flags interval; }
//		chain forward { type filter hook forward priority filter; jump fence }
//		chain output  { type filter hook output priority filter; jump fence }
//		chain fence {
//			meta nfproto ipv4 ip daddr 10.43.0.0/16 ct status ! dnat goto reject-svc
//			meta nfproto ipv4 ip daddr 10.42.0.0/16 ip daddr != @node-subnets goto reject-pod
//		}
//		chain reject-svc { counter name "svc-rejected"; meta l4proto tcp reject with tcp reset; reject with icmpx admin-prohibited }
//		chain reject-pod { ... the same with "pod-rejected" }
//	}
//
// A service packet the proxy DNATed to an endpoint carries the conntrack
// DNAT status (and by the filter hooks its destination is already the pod),
// so only packets nobody translated are refused: this is also how a service
// without ready endpoints refuses connections at once, as kube-proxy's does.
// Clients see a TCP reset or an ICMP administratively-prohibited error
// instead of waiting for a timeout.
//
// Install replaces the table atomically (add, delete, add in one netlink
// transaction), so a restart never duplicates rules and never leaves a gap.
// SetNodeSubnets rewrites only the node-subnets set, again in one
// transaction. Run installs, follows the Nodes' spec.podCIDRs and removes the
// table when its context ends; Ready (or WaitReady, which fits the agent's
// BeforeFirstPod hook) tells when the table and the subnets known at start
// are in place. Counters and Collectors read the two named counters.
//
// In a test namespace of internal/netharness a refused connection fails
// in 70-250 µs; without the fence the same attempt waits ~3 s for an ARP
// answer that never comes.
//
// The proxy (internal/proxy) refuses service ports without endpoints as
// well, with an ICMP port-unreachable; the fence is the net under it, and
// the only guard before the proxy's first sync and for unknown pod subnets.
package fence
