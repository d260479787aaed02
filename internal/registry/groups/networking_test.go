package groups

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func serviceBackend(name string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

func newIngress() *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{ObjectMeta: meta("web"), Spec: networkingv1.IngressSpec{
		IngressClassName: ptrTo("bosun"),
		Rules: []networkingv1.IngressRule{{Host: "hello.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: serviceBackend("hello", 80)}},
		}}}},
	}}
}

func TestIngressValidation(t *testing.T) {
	k := kindFor(t, "networking.k8s.io", "ingresses")
	exact := networkingv1.PathTypeExact
	for _, tc := range []struct {
		name   string
		modify func(*networkingv1.Ingress)
		want   []string
	}{
		{"valid", func(*networkingv1.Ingress) {}, nil},
		{"nothing to route", func(i *networkingv1.Ingress) { i.Spec.Rules = nil },
			[]string{"spec: Invalid value: []v1.IngressRule(nil): either `defaultBackend` or `rules` must be specified"}},
		{"path type missing", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil },
			[]string{"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"}},
		{"relative exact path", func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].PathType = &exact
			i.Spec.Rules[0].HTTP.Paths[0].Path = "api//v1"
		}, []string{
			`spec.rules[0].http.paths[0].path: Invalid value: "api//v1": must be an absolute path`,
			`spec.rules[0].http.paths[0].path: Invalid value: "api//v1": must not contain '//'`,
		}},
		{"IP host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" },
			[]string{`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`}},
		{"backend without port", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend = serviceBackend("hello", 0) },
			[]string{"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"}},
		{"backend both", func(i *networkingv1.Ingress) {
			b := &i.Spec.Rules[0].HTTP.Paths[0].Backend
			b.Resource = &corev1.TypedLocalObjectReference{APIGroup: ptrTo("x.io"), Kind: "Bucket", Name: "b"}
		}, []string{`spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends`}},
		{"bad service name", func(i *networkingv1.Ingress) { i.Spec.DefaultBackend = ptrTo(serviceBackend("Hello", 80)) },
			[]string{`spec.defaultBackend.service.name: Invalid value: "Hello": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"class twice", func(i *networkingv1.Ingress) {
			i.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
		}, []string{"annotations.kubernetes.io/ingress.class: Invalid value: \"nginx\": must match `ingressClassName` when both are specified"}},
		{"same class twice", func(i *networkingv1.Ingress) {
			i.Annotations = map[string]string{"kubernetes.io/ingress.class": "bosun"}
		}, nil},
		{"resource backend", func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket"}}
		}, []string{"spec.rules[0].http.paths[0].backend.resource.name: Required value: name is required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := newIngress()
			tc.modify(i)
			wantErrs(t, create(k, i), tc.want...)
		})
	}
	// pathType is not defaulted in networking.k8s.io/v1
	i := newIngress()
	i.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	create(k, i)
	if i.Spec.Rules[0].HTTP.Paths[0].PathType != nil {
		t.Errorf("pathType defaulted")
	}
}

func TestIngressRow(t *testing.T) {
	k := kindFor(t, "networking.k8s.io", "ingresses")
	i := newIngress()
	i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"hello.example.com"}}}
	i.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.10.20"}, {IP: "192.168.10.3"}}
	want := []interface{}{"bosun", "hello.example.com", "192.168.10.20...", "80, 443", registry.Since(created.Time)}
	if got := k.Row(i); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
	bare := &networkingv1.Ingress{ObjectMeta: meta("x"), Spec: networkingv1.IngressSpec{DefaultBackend: ptrTo(serviceBackend("a", 80)),
		Rules: []networkingv1.IngressRule{{Host: "a"}, {Host: "b"}, {Host: "c"}, {Host: "d"}, {Host: "e"}}}}
	want = []interface{}{"<none>", "a,b,c + 2 more...", "", "80", registry.Since(created.Time)}
	if got := k.Row(bare); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
}

func TestIngressClass(t *testing.T) {
	k := kindFor(t, "networking.k8s.io", "ingressclasses")
	c := &networkingv1.IngressClass{ObjectMeta: meta("bosun"), Spec: networkingv1.IngressClassSpec{
		Controller: "bosun.dev/ingress",
		Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptrTo("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
	}}
	if errs := create(k, c); len(errs) != 0 {
		t.Fatalf("valid class rejected: %v", errs)
	}
	if *c.Spec.Parameters.Scope != "Cluster" {
		t.Errorf("parameters scope = %q, want Cluster", *c.Spec.Parameters.Scope)
	}
	want := []interface{}{"bosun.dev/ingress", "IngressParameters.k8s.example.com/external-lb", registry.Since(created.Time)}
	if got := k.Row(c); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	up := c.DeepCopy()
	up.Spec.Controller = "other.dev/x"
	wantErrs(t, update(k, up, c), `spec.controller: Invalid value: "other.dev/x": field is immutable`)
	wantErrs(t, create(k, &networkingv1.IngressClass{ObjectMeta: meta("x"), Spec: networkingv1.IngressClassSpec{Controller: "nope"}}),
		`spec.controller: Invalid value: "nope": must be a domain-prefixed path (such as "acme.io/foo")`)
	wantErrs(t, create(k, &networkingv1.IngressClass{ObjectMeta: meta("y"), Spec: networkingv1.IngressClassSpec{Controller: "a.io/b",
		Parameters: &networkingv1.IngressClassParametersReference{Kind: "P", Name: "p", Scope: ptrTo("Namespace")}}}),
		"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'")
}

func TestNetworkPolicy(t *testing.T) {
	k := kindFor(t, "networking.k8s.io", "networkpolicies")
	np := &networkingv1.NetworkPolicy{ObjectMeta: meta("allow"), Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptrTo(intstr.FromInt32(80))}},
			From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16", Except: []string{"10.42.1.0/24"}}}},
		}},
		Egress: []networkingv1.NetworkPolicyEgressRule{{}},
	}}
	if errs := create(k, np); len(errs) != 0 {
		t.Fatalf("valid policy rejected: %v", errs)
	}
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	if *np.Spec.Ingress[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol not defaulted")
	}
	ingressOnly := &networkingv1.NetworkPolicy{ObjectMeta: meta("deny")}
	create(k, ingressOnly)
	if !reflect.DeepEqual(ingressOnly.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}) {
		t.Errorf("policyTypes = %v", ingressOnly.Spec.PolicyTypes)
	}
	want := []interface{}{"app=web", registry.Since(created.Time)}
	if got := k.Row(np); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	if got := k.Row(ingressOnly)[0]; got != "<none>" {
		t.Errorf("pod selector of an empty selector = %v", got)
	}

	bad := np.DeepCopy()
	bad.Spec.Ingress[0].From = []networkingv1.NetworkPolicyPeer{{}, {PodSelector: &metav1.LabelSelector{}, IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"192.168.0.0/24"}}}}
	bad.Spec.Ingress[0].Ports = []networkingv1.NetworkPolicyPort{{Port: ptrTo(intstr.FromInt32(80)), EndPort: ptrTo[int32](70)}, {EndPort: ptrTo[int32](90)}}
	wantErrs(t, create(k, bad),
		"spec.ingress[0].from[0]: Required value: must specify a peer",
		"spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
		`spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `+"`cidr`",
		"spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`",
		"spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is not specified")
}
