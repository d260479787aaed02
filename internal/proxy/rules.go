package proxy

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

// Names of the proxy's fixed nftables objects.
const (
	TableName          = "bosun-proxy"
	chainServices      = "services"
	chainMarkMasq      = "mark-for-masquerade"
	chainMasquerading  = "masquerading"
	mapServiceIPs      = "service-ips"
	mapServiceNodePort = "service-nodeports"
	mapNoEndpoints     = "no-endpoint-services"
	mapNoEndpointPorts = "no-endpoint-nodeports"
	chainReject        = "reject-chain"
	setNodePortIPs     = "nodeport-ips"
	masqBit            = 0x4000
)

var loopback = netip.MustParseAddr("127.0.0.1")

// mapElem is one element of a verdict map: key → goto chain.
type mapElem struct {
	Key   []byte
	Chain string
}

// state is everything the proxy programs that changes with Services and
// endpoints: the non-base chains with their rules, the verdict map elements
// and the session-affinity sets. Two states are diffed to update the kernel
// incrementally.
type state struct {
	Chains     map[string][]nftx.Rule
	ServiceIPs map[string]mapElem // keyed by "ip proto port"
	NodePorts  map[string]mapElem // keyed by "proto port"
	Affinity   map[string]time.Duration
	// NoEndpoints and NoEndpointPorts send traffic for service ports
	// without endpoints to the reject chain (keyed as ServiceIPs and
	// NodePorts).
	NoEndpoints     map[string]mapElem
	NoEndpointPorts map[string]mapElem
	// UDP endpoints by chain name, for clearing stale conntrack entries.
	UDPEndpoints map[string]netip.AddrPort
}

// ruleInput is what the rules are computed from.
type ruleInput struct {
	PodCIDR netip.Prefix
	// UseNodeIPSet makes node ports match the nodeport-ips set (node IPs
	// and 127.0.0.1) rather than every local address.
	UseNodeIPSet bool
	Ports        []portEndpoints
}

type portEndpoints struct {
	Port      servicePort
	Endpoints []endpoint
}

// fixedChains are the chains every sync keeps as they are.
func fixedChains(useNodeIPSet bool) map[string][]nftx.Rule {
	nodePorts := nftx.Rule{nftx.FibDaddrLocal{}, nftx.ServiceKey{Map: mapServiceNodePort, PortOnly: true}}
	if useNodeIPSet {
		nodePorts = nftx.Rule{nftx.AddrInSet{Field: nftx.Daddr, Set: setNodePortIPs}, nftx.ServiceKey{Map: mapServiceNodePort, PortOnly: true}}
	}
	return map[string][]nftx.Rule{
		chainServices: {
			{nftx.ServiceKey{Map: mapServiceIPs}},
			nodePorts,
		},
		chainMarkMasq: {{nftx.MarkOr{Bit: masqBit}}},
		chainReject:   {{nftx.RejectPortUnreachable{}}},
		chainMasquerading: {
			{nftx.MarkTest{Bit: masqBit, Not: true}, nftx.Return{}},
			{nftx.MarkXor{Bit: masqBit}},
			{nftx.Masquerade{FullyRandom: true}},
		},
	}
}

// localnetGuard drops packets from elsewhere for 127.0.0.0/8 that were not
// DNATed: route_localnet (needed for node ports on 127.0.0.1) would
// otherwise let them reach local services.
func localnetGuard() nftx.Rule {
	lo := netip.MustParsePrefix("127.0.0.0/8")
	return nftx.Rule{nftx.IifNotLoopback{}, nftx.AddrIn{Field: nftx.Daddr, Prefix: lo}, nftx.AddrIn{Field: nftx.Saddr, Prefix: lo, Not: true}, nftx.CtStatusDNATSet{Not: true}, nftx.Drop{}}
}

func affinitySetName(sp *servicePort, e endpoint) string {
	return "affinity-" + sp.id() + "/" + e.String()
}

// build computes the desired state.
func build(in ruleInput) *state {
	st := &state{
		Chains:     map[string][]nftx.Rule{},
		ServiceIPs: map[string]mapElem{},
		NodePorts:  map[string]mapElem{},
		Affinity:   map[string]time.Duration{},

		NoEndpoints:     map[string]mapElem{},
		NoEndpointPorts: map[string]mapElem{},
		UDPEndpoints:    map[string]netip.AddrPort{},
	}
	type pendingElem struct {
		name string
		elem mapElem
	}
	var external, noEndpoints []pendingElem
	for i := range in.Ports {
		pe := &in.Ports[i]
		sp := &pe.Port
		cluster := pick(pe.Endpoints, sp.InternalLocal)
		svcChain := "service-" + sp.id()
		epChains := func(eps []endpoint) []string {
			names := make([]string, len(eps))
			for i, e := range eps {
				names[i] = epChainName(sp, e)
				st.Chains[names[i]] = endpointRules(sp, e)
				if sp.Proto == unix.IPPROTO_UDP {
					st.UDPEndpoints[names[i]] = netip.AddrPortFrom(e.Addr, e.Port)
				}
				if sp.AffinityTimeout > 0 {
					st.Affinity[affinitySetName(sp, e)] = sp.AffinityTimeout
				}
			}
			return names
		}
		if len(cluster) > 0 {
			var rules []nftx.Rule
			for _, cip := range sp.ClusterIPs {
				rules = append(rules, nftx.Rule{
					nftx.AddrIn{Field: nftx.Daddr, Prefix: netip.PrefixFrom(cip, 32)}, nftx.L4Proto{Proto: sp.Proto}, nftx.Dport{Port: sp.Port},
					nftx.AddrIn{Field: nftx.Saddr, Prefix: in.PodCIDR, Not: true}, nftx.Jump{Chain: chainMarkMasq},
				})
			}
			names := epChains(cluster)
			if sp.AffinityTimeout > 0 {
				for i, e := range cluster {
					rules = append(rules, nftx.Rule{nftx.AddrInSet{Field: nftx.Saddr, Set: affinitySetName(sp, e)}, nftx.Goto{Chain: names[i]}})
				}
			}
			rules = append(rules, nftx.Rule{nftx.NumgenVmap{Chains: names}})
			st.Chains[svcChain] = rules
			for _, cip := range sp.ClusterIPs {
				st.ServiceIPs[elemName(cip, sp.Proto, sp.Port)] = mapElem{Key: nftx.ServiceMapKey(cip, sp.Proto, sp.Port), Chain: svcChain}
			}
		} else {
			for _, cip := range sp.ClusterIPs {
				st.NoEndpoints[elemName(cip, sp.Proto, sp.Port)] = mapElem{Key: nftx.ServiceMapKey(cip, sp.Proto, sp.Port), Chain: chainReject}
			}
		}
		if sp.NodePort == 0 && len(sp.ExternalIPs) == 0 {
			continue
		}
		extChain := "external-" + sp.id()
		var ext []nftx.Rule
		if !sp.ExternalLocal {
			if len(cluster) > 0 {
				ext = []nftx.Rule{{nftx.Jump{Chain: chainMarkMasq}}, {nftx.Goto{Chain: svcChain}}}
			}
		} else {
			if len(cluster) > 0 {
				// Pods and the node itself get the cluster-wide behaviour;
				// only traffic from outside is kept on local endpoints,
				// with its source address preserved.
				ext = append(ext,
					nftx.Rule{nftx.AddrIn{Field: nftx.Saddr, Prefix: in.PodCIDR}, nftx.Goto{Chain: svcChain}},
					nftx.Rule{nftx.FibSaddrLocal{}, nftx.Jump{Chain: chainMarkMasq}},
					nftx.Rule{nftx.FibSaddrLocal{}, nftx.Goto{Chain: svcChain}},
				)
			}
			if local := pick(pe.Endpoints, true); len(local) > 0 {
				ext = append(ext, nftx.Rule{nftx.NumgenVmap{Chains: epChains(local)}})
			} else if len(ext) > 0 {
				// No local endpoint: traffic from outside is dropped
				// here rather than routed on.
				ext = append(ext, nftx.Rule{nftx.Drop{}})
			}
		}
		if len(ext) == 0 {
			// Refused, not routed on (a load-balancer address need not
			// be local).
			for _, a := range sp.ExternalIPs {
				noEndpoints = append(noEndpoints, pendingElem{elemName(a, sp.Proto, sp.Port), mapElem{Key: nftx.ServiceMapKey(a, sp.Proto, sp.Port), Chain: chainReject}})
			}
			if sp.NodePort != 0 {
				st.NoEndpointPorts[protoName(sp.Proto)+" "+itoa(sp.NodePort)] = mapElem{Key: nftx.PortMapKey(sp.Proto, sp.NodePort), Chain: chainReject}
			}
			continue
		}
		st.Chains[extChain] = ext
		fwChain := ""
		if len(sp.SourceRanges) > 0 && len(sp.LBIPs) > 0 {
			// loadBalancerSourceRanges: only those sources reach the
			// load-balancer addresses; the rest is dropped.
			fwChain = "firewall-" + sp.id()
			var fw []nftx.Rule
			for _, r := range sp.SourceRanges {
				fw = append(fw, nftx.Rule{nftx.AddrIn{Field: nftx.Saddr, Prefix: r}, nftx.Goto{Chain: extChain}})
			}
			st.Chains[fwChain] = append(fw, nftx.Rule{nftx.Drop{}})
		}
		for _, a := range sp.ExternalIPs {
			target := extChain
			if fwChain != "" && slices.Contains(sp.LBIPs, a) {
				target = fwChain
			}
			external = append(external, pendingElem{elemName(a, sp.Proto, sp.Port), mapElem{Key: nftx.ServiceMapKey(a, sp.Proto, sp.Port), Chain: target}})
		}
		if sp.NodePort != 0 {
			st.NodePorts[protoName(sp.Proto)+" "+itoa(sp.NodePort)] = mapElem{Key: nftx.PortMapKey(sp.Proto, sp.NodePort), Chain: extChain}
		}
	}
	// An external address never takes over a cluster IP, and between
	// services claiming the same one the first (in input order) keeps it.
	for _, p := range external {
		if _, taken := st.ServiceIPs[p.name]; !taken {
			st.ServiceIPs[p.name] = p.elem
		}
	}
	for _, p := range noEndpoints {
		if _, served := st.ServiceIPs[p.name]; !served {
			st.NoEndpoints[p.name] = p.elem
		}
	}
	return st
}

func endpointRules(sp *servicePort, e endpoint) []nftx.Rule {
	rules := []nftx.Rule{
		// Hairpin: a pod reaching itself through the service must be
		// masqueraded or its reply would never be un-NATed.
		{nftx.AddrIn{Field: nftx.Saddr, Prefix: netip.PrefixFrom(e.Addr, 32)}, nftx.Jump{Chain: chainMarkMasq}},
	}
	if sp.AffinityTimeout > 0 {
		rules = append(rules, nftx.Rule{nftx.DynsetUpdateSaddr{Set: affinitySetName(sp, e), Timeout: sp.AffinityTimeout}})
	}
	return append(rules, nftx.Rule{nftx.L4Proto{Proto: sp.Proto}, nftx.DNAT{Addr: e.Addr, Port: e.Port}})
}

func elemName(a netip.Addr, proto byte, port uint16) string {
	return a.String() + " " + protoName(proto) + " " + itoa(port)
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
