package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

func ptr[T any](v T) *T { return &v }

func objects() []runtime.Object {
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", ClusterIPs: []string{"10.43.0.20"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		}},
	}
	dual := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dual"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.43.0.21", ClusterIPs: []string{"10.43.0.21", "fd00:43::21"}},
	}
	db := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "db"},
		Spec:       corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	}
	ext := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.test"},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "data", Name: "db-1", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5433)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.5"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.42.1.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.42.1.7"}, Hostname: ptr("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}
	return []runtime.Object{web, dual, db, ext, slice}
}

func start(t *testing.T, upstreams []string) string {
	t.Helper()
	addr, _ := startServer(t, upstreams)
	return addr
}

func startServer(t *testing.T, upstreams []string) (string, *Server) {
	t.Helper()
	client := fake.NewClientset(objects()...)
	s, err := New(Config{Client: client, Listen: "127.0.0.1:0", Upstreams: upstreams})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready")
	}
	return s.Addr(), s
}

func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 30 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// render prints the answer section's data, sorted, and the rcode.
func render(r *dns.Msg) string {
	var rrs []string
	for _, rr := range r.Answer {
		f := strings.Fields(rr.String())
		rrs = append(rrs, f[3]+" "+strings.Join(f[4:], " "))
	}
	slices.Sort(rrs)
	return dns.RcodeToString[r.Rcode] + ": " + strings.Join(rrs, "; ")
}

func TestAnswers(t *testing.T) {
	addr := start(t, []string{})
	tests := []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"web.default.svc.cluster.local.", dns.TypeA, "NOERROR: A 10.43.0.20"},
		{"WEB.Default.svc.cluster.local.", dns.TypeA, "NOERROR: A 10.43.0.20"},
		{"web.default.svc.cluster.local.", dns.TypeAAAA, "NOERROR: "},
		{"dual.default.svc.cluster.local.", dns.TypeAAAA, "NOERROR: AAAA fd00:43::21"},
		{"nope.default.svc.cluster.local.", dns.TypeA, "NXDOMAIN: "},
		{"db.data.svc.cluster.local.", dns.TypeA, "NOERROR: A 10.42.0.5; A 10.42.1.6"},
		{"db-0.db.data.svc.cluster.local.", dns.TypeA, "NOERROR: A 10.42.0.5"},
		{"10-42-1-6.db.data.svc.cluster.local.", dns.TypeA, "NOERROR: A 10.42.1.6"},
		{"db-2.db.data.svc.cluster.local.", dns.TypeA, "NXDOMAIN: "},
		{"ext.default.svc.cluster.local.", dns.TypeA, "NOERROR: CNAME example.test."},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, "NOERROR: SRV 0 100 80 web.default.svc.cluster.local."},
		{"_dns._udp.web.default.svc.cluster.local.", dns.TypeSRV, "NOERROR: SRV 0 100 53 web.default.svc.cluster.local."},
		{"_dns._tcp.web.default.svc.cluster.local.", dns.TypeSRV, "NXDOMAIN: "},
		{"web.default.svc.cluster.local.", dns.TypeSRV, "NOERROR: SRV 0 100 53 web.default.svc.cluster.local.; SRV 0 100 80 web.default.svc.cluster.local."},
		{"_pg._tcp.db.data.svc.cluster.local.", dns.TypeSRV, "NOERROR: SRV 0 50 5433 10-42-1-6.db.data.svc.cluster.local.; SRV 0 50 5433 db-0.db.data.svc.cluster.local."},
		{"10-42-0-9.default.pod.cluster.local.", dns.TypeA, "NOERROR: A 10.42.0.9"},
		{"bogus.default.pod.cluster.local.", dns.TypeA, "NXDOMAIN: "},
		{"20.0.43.10.in-addr.arpa.", dns.TypePTR, "NOERROR: PTR web.default.svc.cluster.local."},
		{"5.0.42.10.in-addr.arpa.", dns.TypePTR, "NOERROR: PTR db-0.db.data.svc.cluster.local."},
		{"1.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, "NOERROR: PTR dual.default.svc.cluster.local."},
		{"default.svc.cluster.local.", dns.TypeA, "NOERROR: "},
		{"cluster.local.", dns.TypeSOA, "NOERROR: SOA ns.dns.cluster.local. hostmaster.cluster.local."},
		// Not the cluster's, and no upstream in this test: a failure,
		// never a packet elsewhere.
		{"example.test.", dns.TypeA, "SERVFAIL: "},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			r := query(t, addr, network, tt.name, tt.qtype)
			got := render(r)
			if tt.qtype == dns.TypeSOA {
				got = strings.Join(strings.Fields(got)[:4], " ")
			}
			if got != tt.want {
				t.Errorf("%s %s %s = %q, want %q", network, tt.name, dns.TypeToString[tt.qtype], got, tt.want)
			}
			if strings.HasPrefix(tt.want, "NXDOMAIN") && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("%s: NXDOMAIN without SOA", tt.name)
			}
		}
	}
	// The headless SRV answer carries the addresses.
	r := query(t, addr, "udp", "_pg._tcp.db.data.svc.cluster.local.", dns.TypeSRV)
	if len(r.Extra) != 2 {
		t.Errorf("SRV additional section: %v", r.Extra)
	}
}

// TestForward checks that other names go to the configured upstream (a
// local test server standing in for the host's resolver).
func TestForward(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 80)}}
		w.WriteMsg(m)
	})}
	go up.ActivateAndServe()
	t.Cleanup(func() { up.Shutdown() })
	addr, s := startServer(t, []string{pc.LocalAddr().String()})
	if got := render(query(t, addr, "udp", "example.test.", dns.TypeA)); got != "NOERROR: A 192.0.2.80" {
		t.Errorf("forwarded answer %q", got)
	}
	if got := render(query(t, addr, "udp", "web.default.svc.cluster.local.", dns.TypeA)); got != "NOERROR: A 10.43.0.20" {
		t.Errorf("cluster answer %q", got)
	}
	if got := render(query(t, addr, "udp", "nope.default.svc.cluster.local.", dns.TypeA)); got != "NXDOMAIN: " {
		t.Errorf("cluster miss %q", got)
	}
	for _, c := range []struct {
		source, rcode string
	}{{"upstream", "NOERROR"}, {"cluster", "NOERROR"}, {"cluster", "NXDOMAIN"}} {
		m := &dto.Metric{}
		if err := s.requests.WithLabelValues(c.source, c.rcode).Write(m); err != nil {
			t.Fatal(err)
		}
		if m.GetCounter().GetValue() != 1 {
			t.Errorf("requests{%s,%s} = %v, want 1", c.source, c.rcode, m.GetCounter().GetValue())
		}
	}
}

func TestReverseAddr(t *testing.T) {
	for name, want := range map[string]string{
		"20.0.43.10.in-addr.arpa.": "10.43.0.20",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "fd00::1",
		"1.2.3.in-addr.arpa.":     "",
		"x.0.43.10.in-addr.arpa.": "",
	} {
		a, ok := reverseAddr(name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("reverseAddr(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestLargeAnswers checks that a headless service with many endpoints
// answers UDP within the client's buffer (truncated, so the client retries
// over TCP) and TCP in full.
func TestLargeAnswers(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "big"},
		Spec:       corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}},
	}
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "big-1", Labels: map[string]string{discoveryv1.LabelServiceName: "big"}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i := 0; i < 60; i++ {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.1.%d", i+1)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	}
	client := fake.NewClientset(svc, sl)
	s, err := New(Config{Client: client, Listen: "127.0.0.1:0", Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-s.Ready()
	name := "big.default.svc.cluster.local."
	udp := query(t, s.Addr(), "udp", name, dns.TypeA)
	udp.Compress = true // as it was sent
	if !udp.Truncated || udp.Len() > dns.MinMsgSize {
		t.Errorf("UDP answer: truncated=%v, %d bytes", udp.Truncated, udp.Len())
	}
	if tcp := query(t, s.Addr(), "tcp", name, dns.TypeA); tcp.Truncated || len(tcp.Answer) != 60 {
		t.Errorf("TCP answer: truncated=%v, %d records", tcp.Truncated, len(tcp.Answer))
	}
	// With EDNS0 and a 4096-byte buffer, all of it over UDP.
	c := &dns.Client{Timeout: 30 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(4096, false)
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil || r.Truncated || len(r.Answer) != 60 {
		t.Errorf("EDNS0 answer: %v truncated=%v records=%d", err, r != nil && r.Truncated, len(r.Answer))
	}
}

// TestClientsRestrictSources: with Clients set, only those sources are answered; the rest get
// REFUSED, so the node address never serves as an open resolver.
func TestClientsRestrictSources(t *testing.T) {
	for _, tc := range []struct {
		clients []netip.Prefix
		want    int
	}{
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, dns.RcodeSuccess},
		{[]netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}, dns.RcodeRefused},
	} {
		s, err := New(Config{Client: fake.NewClientset(objects()...), Listen: "127.0.0.1:0", Upstreams: []string{}, Clients: tc.clients})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case <-s.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("server not ready")
		}
		for _, network := range []string{"udp", "tcp"} {
			if r := query(t, s.Addr(), network, "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != tc.want {
				t.Errorf("clients %v over %s: rcode %s, want %s", tc.clients, network, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.want])
			}
		}
		cancel()
		<-done
	}
}
