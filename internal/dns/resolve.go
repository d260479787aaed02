package dns

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	if !s.allowed(w.RemoteAddr()) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		s.requests.WithLabelValues("refused", dns.RcodeToString[m.Rcode]).Inc()
		w.WriteMsg(m)
		return
	}
	source := "cluster"
	m := s.answer(r)
	if m == nil {
		source = "upstream"
		m = s.forward(r)
	}
	s.requests.WithLabelValues(source, dns.RcodeToString[m.Rcode]).Inc()
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		// Fit the client's buffer (512 bytes, or what EDNS0 announced);
		// a truncated answer tells it to ask again over TCP.
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(size, int(opt.UDPSize()))
			if m.IsEdns0() == nil {
				m.SetEdns0(opt.UDPSize(), false)
			}
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// allowed reports whether a query's source may be answered (Config.Clients).
func (s *Server) allowed(addr net.Addr) bool {
	if len(s.clients) == 0 {
		return true
	}
	var ip net.IP
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return false
	}
	src, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	src = src.Unmap()
	for _, p := range s.clients {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// answer answers r from the cluster, or returns nil when r is not the
// cluster's to answer.
func (s *Server) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		return m
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qclass != dns.ClassINET {
		return nil
	}
	if addr, ok := reverseAddr(name); ok {
		target := s.ptr(addr)
		if target == "" {
			return nil
		}
		m.Authoritative = true
		if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
			m.Answer = []dns.RR{&dns.PTR{Hdr: hdr(q.Name, dns.TypePTR), Ptr: target}}
		}
		return m
	}
	if !dns.IsSubDomain(s.domain, name) {
		return nil
	}
	m.Authoritative = true
	ans, extra, exists := s.lookup(q.Name, name, q.Qtype)
	switch {
	case !exists:
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{s.soa()}
	case len(ans) == 0:
		m.Ns = []dns.RR{s.soa()}
	default:
		m.Answer, m.Extra = ans, extra
	}
	return m
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr: hdr(s.domain, dns.TypeSOA), Ns: "ns.dns." + s.domain, Mbox: "hostmaster." + s.domain,
		Serial: uint32(time.Now().Unix()), Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL,
	}
}

// addrRR returns an A or AAAA record for a when it matches qtype.
func addrRR(owner string, a netip.Addr, qtype uint16) dns.RR {
	switch {
	case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		return &dns.A{Hdr: hdr(owner, dns.TypeA), A: a.AsSlice()}
	case a.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		return &dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA), AAAA: a.AsSlice()}
	}
	return nil
}

// lookup resolves a name under the cluster domain. exists is false for
// NXDOMAIN.
func (s *Server) lookup(owner, name string, qtype uint16) (ans, extra []dns.RR, exists bool) {
	if name == s.domain {
		if qtype == dns.TypeSOA {
			return []dns.RR{s.soa()}, nil, true
		}
		return nil, nil, true
	}
	rel := strings.TrimSuffix(name, "."+s.domain)
	labels := strings.Split(rel, ".")
	n := len(labels)
	switch labels[n-1] {
	case "svc":
		switch n {
		case 1, 2:
			return nil, nil, true // the svc zone, a namespace: no records
		case 3:
			return s.service(owner, labels[1], labels[0], qtype)
		case 4:
			return s.endpointHost(owner, labels[2], labels[1], labels[0], qtype)
		case 5:
			if strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_") {
				return s.srv(owner, labels[3], labels[2], labels[0][1:], labels[1][1:], qtype)
			}
		}
	case "pod":
		if n == 3 {
			a, ok := dashedAddr(labels[0])
			if !ok {
				return nil, nil, false
			}
			if rr := addrRR(owner, a, qtype); rr != nil {
				return []dns.RR{rr}, nil, true
			}
			return nil, nil, true
		}
		if n <= 2 {
			return nil, nil, true
		}
	}
	return nil, nil, false
}

func (s *Server) getService(ns, name string) *corev1.Service {
	obj, ok, err := s.services.GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips, _ := serviceIPs(svc)
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// readyEndpoint is a ready address of a headless service.
type readyEndpoint struct {
	addr  netip.Addr
	host  string // hostname, or the dashed address
	ports []discoveryv1.EndpointPort
}

// endpoints returns the ready addresses of a service from its slices.
func (s *Server) endpoints(ns, name string) []readyEndpoint {
	objs, err := s.slices.ByIndex(indexService, ns+"/"+name)
	if err != nil {
		return nil
	}
	seen := map[netip.Addr]bool{}
	var out []readyEndpoint
	for _, o := range objs {
		sl, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || seen[ip] {
					continue
				}
				seen[ip] = true
				host := dashed(ip)
				if e.Hostname != nil && *e.Hostname != "" {
					host = *e.Hostname
				}
				out = append(out, readyEndpoint{addr: ip, host: host, ports: sl.Ports})
			}
		}
	}
	return out
}

func (s *Server) service(owner, ns, name string, qtype uint16) (ans, extra []dns.RR, exists bool) {
	svc := s.getService(ns, name)
	if svc == nil {
		return nil, nil, false
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return []dns.RR{&dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME), Target: dns.Fqdn(svc.Spec.ExternalName)}}, nil, true
	}
	if qtype == dns.TypeSRV {
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			a, e, _ := s.srv(owner, ns, name, p.Name, strings.ToLower(string(protoOf(p.Protocol))), qtype)
			ans, extra = append(ans, a...), append(extra, e...)
		}
		return ans, extra, true
	}
	if isHeadless(svc) {
		for _, e := range s.endpoints(ns, name) {
			if rr := addrRR(owner, e.addr, qtype); rr != nil {
				ans = append(ans, rr)
			}
		}
		return ans, nil, true
	}
	for _, a := range clusterIPs(svc) {
		if rr := addrRR(owner, a, qtype); rr != nil {
			ans = append(ans, rr)
		}
	}
	return ans, nil, true
}

func (s *Server) endpointHost(owner, ns, name, host string, qtype uint16) (ans, extra []dns.RR, exists bool) {
	svc := s.getService(ns, name)
	if svc == nil || !isHeadless(svc) {
		return nil, nil, false
	}
	for _, e := range s.endpoints(ns, name) {
		if e.host == host {
			exists = true
			if rr := addrRR(owner, e.addr, qtype); rr != nil {
				ans = append(ans, rr)
			}
		}
	}
	return ans, nil, exists
}

func protoOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (s *Server) srv(owner, ns, name, port, proto string, qtype uint16) (ans, extra []dns.RR, exists bool) {
	svc := s.getService(ns, name)
	if svc == nil {
		return nil, nil, false
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Name == port && strings.EqualFold(string(protoOf(p.Protocol)), proto) {
			sp = p
		}
	}
	if sp == nil {
		return nil, nil, false
	}
	if qtype != dns.TypeSRV && qtype != dns.TypeANY {
		return nil, nil, true
	}
	svcName := name + "." + ns + ".svc." + s.domain
	if !isHeadless(svc) {
		ans = append(ans, &dns.SRV{Hdr: hdr(owner, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(sp.Port), Target: svcName})
		for _, a := range clusterIPs(svc) {
			extra = append(extra, addrRR(svcName, a, dns.TypeANY))
		}
		return ans, extra, true
	}
	eps := s.endpoints(ns, name)
	for _, e := range eps {
		for _, p := range e.ports {
			if p.Name == nil || *p.Name != port || p.Port == nil {
				continue
			}
			target := e.host + "." + svcName
			ans = append(ans, &dns.SRV{Hdr: hdr(owner, dns.TypeSRV), Priority: 0, Weight: uint16(100 / max(1, len(eps))), Port: uint16(*p.Port), Target: target})
			extra = append(extra, addrRR(target, e.addr, dns.TypeANY))
		}
	}
	return ans, extra, true
}

// ptr returns the name of a cluster address, or "".
func (s *Server) ptr(a netip.Addr) string {
	if objs, err := s.services.ByIndex(indexServiceIP, a.String()); err == nil {
		for _, o := range objs {
			if svc, ok := o.(*corev1.Service); ok {
				return svc.Name + "." + svc.Namespace + ".svc." + s.domain
			}
		}
	}
	if objs, err := s.slices.ByIndex(indexAddress, a.String()); err == nil {
		for _, o := range objs {
			sl, ok := o.(*discoveryv1.EndpointSlice)
			if !ok || sl.Labels[discoveryv1.LabelServiceName] == "" {
				continue
			}
			for _, e := range sl.Endpoints {
				for _, ea := range e.Addresses {
					if ip, err := netip.ParseAddr(ea); err == nil && ip == a {
						host := dashed(a)
						if e.Hostname != nil && *e.Hostname != "" {
							host = *e.Hostname
						}
						return host + "." + sl.Labels[discoveryv1.LabelServiceName] + "." + sl.Namespace + ".svc." + s.domain
					}
				}
			}
		}
	}
	return ""
}

// dashed writes an address as a DNS label: 10-42-0-5, fd00--1.
func dashed(a netip.Addr) string {
	return strings.ReplaceAll(strings.ReplaceAll(a.String(), ".", "-"), ":", "-")
}

func dashedAddr(label string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && a.Is4() {
		return a, true
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":")); err == nil && a.Is6() {
		return a, true
	}
	return netip.Addr{}, false
}

// reverseAddr parses an in-addr.arpa or ip6.arpa name.
func reverseAddr(name string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		parts := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, ".ip6.arpa."):
		parts := strings.Split(strings.TrimSuffix(name, ".ip6.arpa."), ".")
		if len(parts) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 16, 4)
			if err != nil || len(p) != 1 {
				return netip.Addr{}, false
			}
			j := 31 - i
			if j%2 == 0 {
				b[j/2] |= byte(v) << 4
			} else {
				b[j/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// forward asks the upstream resolvers.
func (s *Server) forward(r *dns.Msg) *dns.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, up := range s.upstreams {
		resp, _, err := s.client.ExchangeContext(ctx, r, up)
		if err == nil && resp.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: s.client.Timeout}
			resp, _, err = tcp.ExchangeContext(ctx, r, up)
		}
		if err == nil {
			return resp
		}
		s.log.Debug("dns upstream failed", "upstream", up, "err", err)
	}
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	return m
}
