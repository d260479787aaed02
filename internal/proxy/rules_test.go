package proxy

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ptr[T any](v T) *T { return &v }

func svc(name string, mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.43.0.20",
			ClusterIPs: []string{"10.43.0.20"},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

type epSpec struct {
	ip                          string
	ready, serving, terminating bool
	node                        string
}

func slice(svcName string, port int32, eps ...epSpec) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: svcName + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(e.ready), Serving: ptr(e.serving), Terminating: ptr(e.terminating)},
			NodeName:   ptr(e.node),
		})
	}
	return sl
}

func buildFor(t *testing.T, useSet bool, svcs []*corev1.Service, sls []*discoveryv1.EndpointSlice) string {
	t.Helper()
	in := ruleInput{PodCIDR: netip.MustParsePrefix("10.42.0.0/16"), UseNodeIPSet: useSet}
	for _, s := range svcs {
		ports := servicePorts(s)
		for i := range ports {
			var mine []*discoveryv1.EndpointSlice
			for _, sl := range sls {
				if sl.Labels[discoveryv1.LabelServiceName] == s.Name {
					mine = append(mine, sl)
				}
			}
			in.Ports = append(in.Ports, portEndpoints{Port: ports[i], Endpoints: endpointsFor(&ports[i], mine, "node-a")})
		}
	}
	return describe(build(in))
}

func TestBuild(t *testing.T) {
	ready := func(ip, node string) epSpec { return epSpec{ip: ip, ready: true, serving: true, node: node} }
	tests := []struct {
		name string
		svcs []*corev1.Service
		sls  []*discoveryv1.EndpointSlice
		want string
	}{
		{
			name: "cluster IP over two ready endpoints, a not-ready one left out",
			svcs: []*corev1.Service{svc("web", nil)},
			sls:  []*discoveryv1.EndpointSlice{slice("web", 8080, ready("10.42.1.6", "node-b"), ready("10.42.0.5", "node-a"), epSpec{ip: "10.42.0.9", node: "node-a"})},
			want: `
chain endpoint-ns/web/tcp/http/10.42.0.5/8080
  ip saddr 10.42.0.5 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.0.5:8080
chain endpoint-ns/web/tcp/http/10.42.1.6/8080
  ip saddr 10.42.1.6 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.1.6:8080
chain service-ns/web/tcp/http
  ip daddr 10.43.0.20 meta l4proto tcp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http/10.42.0.5/8080, 1 : goto endpoint-ns/web/tcp/http/10.42.1.6/8080 }
service-ips 10.43.0.20 tcp 80 : goto service-ns/web/tcp/http
`,
		},
		{
			name: "no ready endpoint: no DNAT, refused (by the fence too)",
			svcs: []*corev1.Service{svc("web", nil)},
			sls:  []*discoveryv1.EndpointSlice{slice("web", 8080, epSpec{ip: "10.42.0.9", node: "node-a"})},
			want: "\nno-endpoint-services 10.43.0.20 tcp 80 : goto reject-chain\n",
		},
		{
			name: "only terminating but serving endpoints: they drain",
			svcs: []*corev1.Service{svc("web", nil)},
			sls:  []*discoveryv1.EndpointSlice{slice("web", 8080, epSpec{ip: "10.42.0.9", serving: true, terminating: true, node: "node-a"}, epSpec{ip: "10.42.0.10", terminating: true, node: "node-a"})},
			want: `
chain endpoint-ns/web/tcp/http/10.42.0.9/8080
  ip saddr 10.42.0.9 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.0.9:8080
chain service-ns/web/tcp/http
  ip daddr 10.43.0.20 meta l4proto tcp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http/10.42.0.9/8080 }
service-ips 10.43.0.20 tcp 80 : goto service-ns/web/tcp/http
`,
		},
		{
			name: "headless, ExternalName and foreign-proxy services are skipped",
			svcs: []*corev1.Service{
				svc("headless", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
				svc("ext", func(s *corev1.Service) {
					s.Spec.Type = corev1.ServiceTypeExternalName
					s.Spec.ExternalName = "example.test"
				}),
				svc("other", func(s *corev1.Service) { s.Labels = map[string]string{labelServiceProxyName: "x"} }),
			},
			sls:  []*discoveryv1.EndpointSlice{slice("headless", 8080, ready("10.42.0.5", "node-a")), slice("ext", 8080, ready("10.42.0.5", "node-a")), slice("other", 8080, ready("10.42.0.5", "node-a"))},
			want: "\n",
		},
		{
			name: "session affinity",
			svcs: []*corev1.Service{svc("web", func(s *corev1.Service) {
				s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
			})},
			sls: []*discoveryv1.EndpointSlice{slice("web", 8080, ready("10.42.0.5", "node-a"))},
			want: `
chain endpoint-ns/web/tcp/http/10.42.0.5/8080
  ip saddr 10.42.0.5 jump mark-for-masquerade
  update @affinity-ns/web/tcp/http/10.42.0.5:8080 { ip saddr timeout 1m0s }
  meta l4proto tcp dnat ip to 10.42.0.5:8080
chain service-ns/web/tcp/http
  ip daddr 10.43.0.20 meta l4proto tcp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  ip saddr @affinity-ns/web/tcp/http/10.42.0.5:8080 goto endpoint-ns/web/tcp/http/10.42.0.5/8080
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http/10.42.0.5/8080 }
service-ips 10.43.0.20 tcp 80 : goto service-ns/web/tcp/http
set affinity-ns/web/tcp/http/10.42.0.5:8080 timeout 1m0s
`,
		},
		{
			name: "load balancer with cluster policy",
			svcs: []*corev1.Service{svc("lb", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeLoadBalancer
				s.Spec.Ports[0].NodePort = 30080
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
			})},
			sls: []*discoveryv1.EndpointSlice{slice("lb", 8080, ready("10.42.0.5", "node-a"))},
			want: `
chain endpoint-ns/lb/tcp/http/10.42.0.5/8080
  ip saddr 10.42.0.5 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.0.5:8080
chain external-ns/lb/tcp/http
  jump mark-for-masquerade
  goto service-ns/lb/tcp/http
chain service-ns/lb/tcp/http
  ip daddr 10.43.0.20 meta l4proto tcp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/lb/tcp/http/10.42.0.5/8080 }
service-ips 10.43.0.20 tcp 80 : goto service-ns/lb/tcp/http
service-ips 192.0.2.1 tcp 80 : goto external-ns/lb/tcp/http
service-nodeports tcp 30080 : goto external-ns/lb/tcp/http
`,
		},
		{
			name: "node port with local policy keeps outside traffic on local endpoints",
			svcs: []*corev1.Service{svc("np", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.Ports[0].NodePort = 30081
			})},
			sls: []*discoveryv1.EndpointSlice{slice("np", 8080, ready("10.42.0.5", "node-a"), ready("10.42.1.6", "node-b"))},
			want: `
chain endpoint-ns/np/tcp/http/10.42.0.5/8080
  ip saddr 10.42.0.5 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.0.5:8080
chain endpoint-ns/np/tcp/http/10.42.1.6/8080
  ip saddr 10.42.1.6 jump mark-for-masquerade
  meta l4proto tcp dnat ip to 10.42.1.6:8080
chain external-ns/np/tcp/http
  ip saddr 10.42.0.0/16 goto service-ns/np/tcp/http
  fib saddr type local jump mark-for-masquerade
  fib saddr type local goto service-ns/np/tcp/http
  numgen random mod 1 vmap { 0 : goto endpoint-ns/np/tcp/http/10.42.0.5/8080 }
chain service-ns/np/tcp/http
  ip daddr 10.43.0.20 meta l4proto tcp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/np/tcp/http/10.42.0.5/8080, 1 : goto endpoint-ns/np/tcp/http/10.42.1.6/8080 }
service-ips 10.43.0.20 tcp 80 : goto service-ns/np/tcp/http
service-nodeports tcp 30081 : goto external-ns/np/tcp/http
`,
		},
		{
			name: "internal traffic policy local, UDP port",
			svcs: []*corev1.Service{svc("dns", func(s *corev1.Service) {
				s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
				s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
			})},
			sls: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
				sl := slice("dns", 53, ready("10.42.0.5", "node-a"), ready("10.42.1.6", "node-b"))
				sl.Ports[0].Protocol = ptr(corev1.ProtocolUDP)
				return sl
			}()},
			want: `
chain endpoint-ns/dns/udp/http/10.42.0.5/53
  ip saddr 10.42.0.5 jump mark-for-masquerade
  meta l4proto udp dnat ip to 10.42.0.5:53
chain service-ns/dns/udp/http
  ip daddr 10.43.0.20 meta l4proto udp th dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/dns/udp/http/10.42.0.5/53 }
service-ips 10.43.0.20 udp 80 : goto service-ns/dns/udp/http
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := "\n" + buildFor(t, false, tt.svcs, tt.sls)
			if got != tt.want {
				t.Errorf("got:%s\nwant:%s", got, tt.want)
			}
		})
	}
}

func TestNoEndpointsExternal(t *testing.T) {
	lb := svc("lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30080
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	})
	got := buildFor(t, false, []*corev1.Service{lb}, nil)
	want := `no-endpoint-services 10.43.0.20 tcp 80 : goto reject-chain
no-endpoint-services 203.0.113.10 tcp 80 : goto reject-chain
no-endpoint-nodeports tcp 30080 : goto reject-chain
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Local policy with endpoints elsewhere only: pods and the node still
	// reach them, outside traffic is dropped in the external chain.
	lb.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	got = buildFor(t, false, []*corev1.Service{lb}, []*discoveryv1.EndpointSlice{slice("lb", 8080, epSpec{ip: "10.42.1.6", ready: true, serving: true, node: "node-b"})})
	if !strings.Contains(got, "chain external-ns/lb/tcp/http\n  ip saddr 10.42.0.0/16 goto service-ns/lb/tcp/http\n  fib saddr type local jump mark-for-masquerade\n  fib saddr type local goto service-ns/lb/tcp/http\n  drop\n") {
		t.Errorf("local policy without local endpoints:\n%s", got)
	}
}

func TestFixedChains(t *testing.T) {
	var lines []string
	for _, useSet := range []bool{false, true} {
		for _, r := range fixedChains(useSet)[chainServices] {
			lines = append(lines, r.String())
		}
	}
	want := []string{
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"fib daddr type local meta l4proto . th dport vmap @service-nodeports",
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("services chain:\n%s", strings.Join(lines, "\n"))
	}
	if got := localnetGuard().String(); got != `iif != "lo" ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status ! dnat drop` {
		t.Errorf("guard = %s", got)
	}
}

func TestMapDiff(t *testing.T) {
	old := map[string]mapElem{"a": {Chain: "x"}, "b": {Chain: "y"}, "c": {Chain: "z"}}
	new := map[string]mapElem{"a": {Chain: "x"}, "b": {Chain: "y2"}, "d": {Chain: "w"}}
	del, add := mapDiff(old, new)
	if strings.Join(del, ",") != "b,c" || strings.Join(add, ",") != "b,d" {
		t.Errorf("del %v add %v", del, add)
	}
}

func TestExternalAddressConflicts(t *testing.T) {
	ep := epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"}
	// b claims a's cluster IP as an external IP; c and d share one.
	a := svc("a", nil)
	b := svc("b", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.21", []string{"10.43.0.21"}
		s.Spec.ExternalIPs = []string{"10.43.0.20", "192.0.2.50"}
	})
	c := svc("c", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.22", []string{"10.43.0.22"}
		s.Spec.ExternalIPs = []string{"192.0.2.50"}
	})
	got := buildFor(t, false, []*corev1.Service{b, a, c}, []*discoveryv1.EndpointSlice{slice("a", 8080, ep), slice("b", 8080, ep), slice("c", 8080, ep)})
	var elems []string
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "service-ips") {
			elems = append(elems, l)
		}
	}
	want := []string{
		"service-ips 10.43.0.20 tcp 80 : goto service-ns/a/tcp/http",
		"service-ips 10.43.0.21 tcp 80 : goto service-ns/b/tcp/http",
		"service-ips 10.43.0.22 tcp 80 : goto service-ns/c/tcp/http",
		"service-ips 192.0.2.50 tcp 80 : goto external-ns/b/tcp/http",
	}
	if strings.Join(elems, "\n") != strings.Join(want, "\n") {
		t.Errorf("elements:\n%s\nwant\n%s", strings.Join(elems, "\n"), strings.Join(want, "\n"))
	}
}

func TestSourceRanges(t *testing.T) {
	lb := svc("lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.ExternalIPs = []string{"192.0.2.99"}
		s.Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24", " 203.0.113.7/32"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	})
	got := buildFor(t, false, []*corev1.Service{lb}, []*discoveryv1.EndpointSlice{slice("lb", 8080, epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"})})
	for _, want := range []string{
		"chain firewall-ns/lb/tcp/http\n  ip saddr 198.51.100.0/24 goto external-ns/lb/tcp/http\n  ip saddr 203.0.113.7 goto external-ns/lb/tcp/http\n  drop\n",
		"service-ips 203.0.113.10 tcp 80 : goto firewall-ns/lb/tcp/http\n",
		// External IPs and node ports are not restricted, as upstream.
		"service-ips 192.0.2.99 tcp 80 : goto external-ns/lb/tcp/http\n",
		"service-nodeports tcp 30080 : goto external-ns/lb/tcp/http\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
