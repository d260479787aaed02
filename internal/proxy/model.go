package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// servicePort is one port of a Service as the proxy programs it.
type servicePort struct {
	Namespace, Name, PortName string
	Proto                     byte
	ClusterIPs                []netip.Addr
	Port                      uint16
	NodePort                  uint16
	ExternalIPs               []netip.Addr // spec.externalIPs and status.loadBalancer.ingress
	// LBIPs are the load-balancer addresses among ExternalIPs, which
	// SourceRanges (spec.loadBalancerSourceRanges) restrict.
	LBIPs           []netip.Addr
	SourceRanges    []netip.Prefix
	AffinityTimeout time.Duration
	ExternalLocal   bool // externalTrafficPolicy: Local
	InternalLocal   bool // internalTrafficPolicy: Local
}

// id names the port in chain names: ns/name/proto/port.
func (s *servicePort) id() string {
	port := s.PortName
	if port == "" {
		port = fmt.Sprint(s.Port)
	}
	return fmt.Sprintf("%s/%s/%s/%s", s.Namespace, s.Name, protoName(s.Proto), port)
}

// endpoint is one backend of a service port.
type endpoint struct {
	Addr        netip.Addr
	Port        uint16
	Ready       bool
	Serving     bool
	Terminating bool
	Local       bool
}

func (e endpoint) String() string { return netip.AddrPortFrom(e.Addr, e.Port).String() }

func protoName(p byte) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_SCTP:
		return "sctp"
	}
	return fmt.Sprint(p)
}

func protoNumber(p corev1.Protocol) (byte, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return unix.IPPROTO_TCP, true
	case corev1.ProtocolUDP:
		return unix.IPPROTO_UDP, true
	case corev1.ProtocolSCTP:
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

// Label that hands a service to another proxy, as upstream's.
const labelServiceProxyName = "service.kubernetes.io/service-proxy-name"

// servicePorts turns a Service into the ports the proxy serves (IPv4 only).
// Headless, ExternalName and foreign-proxy services have none.
func servicePorts(svc *corev1.Service) []servicePort {
	if _, foreign := svc.Labels[labelServiceProxyName]; foreign {
		return nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var cips []netip.Addr
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			cips = append(cips, a)
		}
	}
	if len(cips) == 0 {
		return nil // headless or not yet allocated
	}
	var ext []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			ext = append(ext, a)
		}
	}
	var lbIPs []netip.Addr
	var ranges []netip.Prefix
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && a.Is4() {
				ext = append(ext, a)
				lbIPs = append(lbIPs, a)
			}
		}
		for _, r := range svc.Spec.LoadBalancerSourceRanges {
			if p, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil && p.Addr().Is4() {
				ranges = append(ranges, p.Masked())
			}
		}
	}
	var affinity time.Duration
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = 10800 * time.Second
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	external := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	var out []servicePort
	for _, p := range svc.Spec.Ports {
		proto, ok := protoNumber(p.Protocol)
		if !ok {
			continue
		}
		sp := servicePort{
			Namespace: svc.Namespace, Name: svc.Name, PortName: p.Name, Proto: proto,
			ClusterIPs: cips, Port: uint16(p.Port), ExternalIPs: ext, LBIPs: lbIPs, SourceRanges: ranges, AffinityTimeout: affinity,
			ExternalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && (external || len(ext) > 0),
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		}
		if external {
			sp.NodePort = uint16(p.NodePort)
		}
		out = append(out, sp)
	}
	return out
}

// endpointsFor collects the endpoints of a service port from the service's
// EndpointSlices, deduplicated and sorted.
func endpointsFor(sp *servicePort, slices_ []*discoveryv1.EndpointSlice, nodeName string) []endpoint {
	seen := map[netip.AddrPort]bool{}
	var out []endpoint
	for _, sl := range slices_ {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port uint16
		found := false
		for _, p := range sl.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			pn, _ := protoNumber(proto)
			if name == sp.PortName && pn == sp.Proto && p.Port != nil {
				port, found = uint16(*p.Port), true
				break
			}
		}
		if !found {
			continue
		}
		for _, ep := range sl.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || !a.Is4() {
				continue
			}
			ap := netip.AddrPortFrom(a, port)
			if seen[ap] {
				continue
			}
			seen[ap] = true
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := ready
			if ep.Conditions.Serving != nil {
				serving = *ep.Conditions.Serving
			}
			terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			if terminating && ep.Conditions.Ready == nil {
				ready = false
			}
			out = append(out, endpoint{
				Addr: a, Port: port, Ready: ready && !terminating, Serving: serving, Terminating: terminating,
				Local: ep.NodeName != nil && *ep.NodeName == nodeName,
			})
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// pick returns the endpoints traffic should go to among eps, restricted to
// local ones when local is set: the ready ones, or, when none is ready, the
// ones still serving while terminating (so connections drain rather than
// fail during a rollout).
func pick(eps []endpoint, local bool) []endpoint {
	var ready, draining []endpoint
	for _, e := range eps {
		if local && !e.Local {
			continue
		}
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			draining = append(draining, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return draining
}

func epChainName(sp *servicePort, e endpoint) string {
	return "endpoint-" + sp.id() + "/" + strings.ReplaceAll(e.String(), ":", "/")
}
