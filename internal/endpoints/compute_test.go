package endpoints

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type podOpt func(*corev1.Pod)

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: "uid-" + "name", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod)    { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }
func httpOn(port int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = port }
}

func service(mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.43.0.20",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

// render prints subsets compactly: "[ports] ready=... notready=...".
func renderSubsets(ss []corev1.EndpointSubset) string {
	var out []string
	for _, s := range ss {
		var ports, ready, nr []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		for _, a := range s.Addresses {
			ready = append(ready, fmt.Sprintf("%s(%s@%s%s)", a.IP, a.TargetRef.Name, *a.NodeName, host(a.Hostname)))
		}
		for _, a := range s.NotReadyAddresses {
			nr = append(nr, fmt.Sprintf("%s(%s)", a.IP, a.TargetRef.Name))
		}
		out = append(out, fmt.Sprintf("[%s] ready=%s notready=%s", strings.Join(ports, ","), strings.Join(ready, ","), strings.Join(nr, ",")))
	}
	return strings.Join(out, "\n")
}

func host(h string) string {
	if h == "" {
		return ""
	}
	return " host=" + h
}

func TestDesiredSubsets(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{
			name: "ready and not ready, sorted by IP",
			svc:  service(),
			pods: []*corev1.Pod{pod("b", "10.42.0.10"), pod("a", "10.42.0.9"), pod("c", "10.42.0.11", notReady)},
			want: "[http:8080/TCP] ready=10.42.0.9(a@node-a),10.42.0.10(b@node-a) notready=10.42.0.11(c)",
		},
		{
			name: "named port resolved per pod: two subsets",
			svc:  service(),
			pods: []*corev1.Pod{pod("a", "10.42.0.9"), pod("b", "10.42.0.10", httpOn(9090))},
			want: "[http:8080/TCP] ready=10.42.0.9(a@node-a) notready=\n[http:9090/TCP] ready=10.42.0.10(b@node-a) notready=",
		},
		{
			name: "pod without the named port, without IP, finished or terminating is left out",
			svc:  service(),
			pods: []*corev1.Pod{
				pod("a", "10.42.0.9"),
				pod("noport", "10.42.0.12", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }),
				pod("noip", ""),
				pod("done", "10.42.0.13", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				pod("going", "10.42.0.14", terminating),
			},
			want: "[http:8080/TCP] ready=10.42.0.9(a@node-a) notready=",
		},
		{
			name: "publishNotReadyAddresses lists everyone as ready, terminating too",
			svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pods: []*corev1.Pod{pod("a", "10.42.0.9", notReady), pod("b", "10.42.0.10", terminating)},
			want: "[http:8080/TCP] ready=10.42.0.9(a@node-a),10.42.0.10(b@node-a) notready=",
		},
		{
			name: "numeric target port, UDP, and a hostname for a headless subdomain",
			svc: service(func(s *corev1.Service) {
				s.Spec.ClusterIP = "None"
				s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)}}
			}),
			pods: []*corev1.Pod{pod("a", "10.42.0.9", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a0", "web" })},
			want: "[dns:5353/UDP] ready=10.42.0.9(a@node-a host=a0) notready=",
		},
		{
			name: "headless without ports",
			svc:  service(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Ports = nil }),
			pods: []*corev1.Pod{pod("a", "10.42.0.9")},
			want: "[] ready=10.42.0.9(a@node-a) notready=",
		},
		{
			name: "no pods",
			svc:  service(),
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderSubsets(desiredSubsets(tt.svc, tt.pods)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func renderGroups(gs []sliceGroup) string {
	var out []string
	for _, g := range gs {
		var eps []string
		for _, e := range g.Endpoints {
			eps = append(eps, fmt.Sprintf("%s(%s r=%v s=%v t=%v)", e.Addresses[0], e.TargetRef.Name, *e.Conditions.Ready, *e.Conditions.Serving, *e.Conditions.Terminating))
		}
		out = append(out, fmt.Sprintf("%s %s %s", g.AddressType, slicePortsKey(g.Ports), strings.Join(eps, ",")))
	}
	return strings.Join(out, "\n")
}

func TestDesiredSlices(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{
			name: "ready, not ready and terminating conditions",
			svc:  service(),
			pods: []*corev1.Pod{pod("a", "10.42.0.9"), pod("b", "10.42.0.10", notReady), pod("c", "10.42.0.11", terminating), pod("d", "10.42.0.12", terminating, notReady)},
			want: "IPv4 http/TCP/8080; 10.42.0.9(a r=true s=true t=false),10.42.0.10(b r=false s=false t=false),10.42.0.11(c r=false s=true t=true),10.42.0.12(d r=false s=false t=true)",
		},
		{
			name: "publishNotReadyAddresses",
			svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pods: []*corev1.Pod{pod("b", "10.42.0.10", notReady), pod("c", "10.42.0.11", terminating)},
			want: "IPv4 http/TCP/8080; 10.42.0.10(b r=true s=true t=false),10.42.0.11(c r=true s=true t=true)",
		},
		{
			name: "per-pod named ports and families",
			svc:  service(),
			pods: []*corev1.Pod{
				pod("a", "10.42.0.9"), pod("b", "10.42.0.10", httpOn(9090)),
				pod("v6", "fd00::9"), // IPv6 pod of an IPv4 service: left out
			},
			want: "IPv4 http/TCP/8080; 10.42.0.9(a r=true s=true t=false)\nIPv4 http/TCP/9090; 10.42.0.10(b r=true s=true t=false)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderGroups(desiredSlices(tt.svc, tt.pods)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestChunk(t *testing.T) {
	eps := make([]discoveryv1.Endpoint, 250)
	c := chunk(eps, MaxEndpointsPerSlice)
	if len(c) != 3 || len(c[0]) != 100 || len(c[2]) != 50 {
		t.Errorf("chunks %d", len(c))
	}
	if c := chunk(nil, 100); len(c) != 1 || len(c[0]) != 0 {
		t.Errorf("empty: %v", c)
	}
}

func TestMirroredGroups(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "192.0.2.1"}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "192.0.2.2"}},
		Ports:             []corev1.EndpointPort{{Name: "https", Port: 6443}},
	}}}
	var eps []string
	gs := mirroredGroups(ep)
	for _, e := range gs[0].Endpoints {
		eps = append(eps, fmt.Sprintf("%s r=%v", e.Addresses[0], *e.Conditions.Ready))
	}
	if len(gs) != 1 || slicePortsKey(gs[0].Ports) != "https/TCP/6443;" || strings.Join(eps, ",") != "192.0.2.1 r=true,192.0.2.2 r=false" {
		t.Errorf("mirrored: %s %v", slicePortsKey(gs[0].Ports), eps)
	}
}

func TestTruncate(t *testing.T) {
	addrs := func(n int) []corev1.EndpointAddress { return make([]corev1.EndpointAddress, n) }
	in := []corev1.EndpointSubset{
		{Addresses: addrs(600), NotReadyAddresses: addrs(200)},
		{Addresses: addrs(300), NotReadyAddresses: addrs(100)},
	}
	out, cut := truncate(in, 1000)
	if !cut {
		t.Fatal("not truncated")
	}
	total := 0
	for _, s := range out {
		total += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	if total != 1000 || len(out[0].Addresses) != 600 || len(out[0].NotReadyAddresses) != 66 || len(out[1].Addresses) != 300 {
		t.Errorf("truncated to %d: %d+%d, %d+%d", total, len(out[0].Addresses), len(out[0].NotReadyAddresses), len(out[1].Addresses), len(out[1].NotReadyAddresses))
	}
	if _, cut := truncate(in[:1], 1000); cut {
		t.Error("800 addresses truncated")
	}
}

func TestEndpointRelevantChange(t *testing.T) {
	base := pod("a", "10.42.0.9")
	for _, tt := range []struct {
		name string
		mut  func(*corev1.Pod)
		want bool
	}{
		{"restart count", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 3}}
		}, false},
		{"annotation", func(p *corev1.Pod) { p.Annotations = map[string]string{"x": "y"} }, false},
		{"readiness", notReady, true},
		{"ip", func(p *corev1.Pod) { p.Status.PodIP = "10.42.0.10" }, true},
		{"labels", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other"} }, true},
		{"terminating", terminating, true},
		{"named port moves", httpOn(9090), true},
		{"phase", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
	} {
		n := base.DeepCopy()
		tt.mut(n)
		if got := endpointRelevantChange(base, n); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
