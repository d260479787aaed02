package groups

import (
	"fmt"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	extv1beta1 "k8s.io/api/extensions/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const (
	ingressClassAnnotation     = "kubernetes.io/ingress.class"
	maxIngressClassController  = 250
	ingressLoadBalancerWidth   = 16
	ingressClassScopeNamespace = "Namespace"
	ingressClassScopeCluster   = "Cluster"
)

func networkingKinds() []*registry.Kind {
	return []*registry.Kind{ingressKind(), ingressClassKind(), networkPolicyKind()}
}

var networkingGV = networkingv1.SchemeGroupVersion

// --- ingresses ---------------------------------------------------------------------------

func ingressKind() *registry.Kind {
	return &registry.Kind{
		GVK:        networkingGV.WithKind("Ingress"),
		Resource:   "ingresses",
		ShortNames: []string{"ing"},
		Namespaced: true,
		New:        func() runtime.Object { return &networkingv1.Ingress{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressList{} },
		Status:     true,
		Generation: true,
		Validate: func(obj runtime.Object) field.ErrorList {
			ing := obj.(*networkingv1.Ingress)
			errs := validateIngressSpec(&ing.Spec, field.NewPath("spec"))
			// upstream checks this on create only; annotations rarely change afterwards
			if v, ok := ing.Annotations[ingressClassAnnotation]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
				errs = append(errs, field.Invalid(field.NewPath("annotations").Child(ingressClassAnnotation), v, "must match `ingressClassName` when both are specified"))
			}
			return errs
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			var errs field.ErrorList
			p := field.NewPath("status", "loadBalancer", "ingress")
			for i, in := range obj.(*networkingv1.Ingress).Status.LoadBalancer.Ingress {
				ip := p.Index(i)
				if in.IP != "" {
					errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), in.IP, false, nil)...)
				}
				if in.Hostname != "" {
					for _, msg := range validation.IsDNS1123Subdomain(in.Hostname) {
						errs = append(errs, field.Invalid(ip.Child("hostname"), in.Hostname, msg))
					}
					if net.ParseIP(in.Hostname) != nil {
						errs = append(errs, field.Invalid(ip.Child("hostname"), in.Hostname, "must be a DNS name, not an IP address"))
					}
				}
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
			col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
			col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
			col("Ports", "string", "Ports of TLS configurations that open"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			ing := obj.(*networkingv1.Ingress)
			class := "<none>"
			if ing.Spec.IngressClassName != nil {
				class = *ing.Spec.IngressClassName
			}
			ports := "80"
			if len(ing.Spec.TLS) != 0 {
				ports = "80, 443"
			}
			return []interface{}{class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer), ports, age(&ing.ObjectMeta)}
		},
	}
}

func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var list []string
	more := false
	for _, r := range rules {
		if len(list) == max {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, len(rules)-max)
	}
	return ret
}

// ingressAddress lists the load balancer's addresses, clipped to 16 bytes as upstream's
// default (not wide) output clips them.
func ingressAddress(s networkingv1.IngressLoadBalancerStatus) string {
	set := sets.New[string]()
	for _, in := range s.Ingress {
		if in.IP != "" {
			set.Insert(in.IP)
		} else if in.Hostname != "" {
			set.Insert(in.Hostname)
		}
	}
	list := sets.List(set)
	sort.Strings(list)
	r := strings.Join(list, ",")
	if len(r) > ingressLoadBalancerWidth {
		r = r[:ingressLoadBalancerWidth-3] + "..."
	}
	return r
}

func validateIngressSpec(s *networkingv1.IngressSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(s.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, r := range s.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			errs = append(errs, validateIngressHost(r.Host, rp.Child("host"))...)
		}
		if r.HTTP == nil {
			continue
		}
		hp := rp.Child("http")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(hp.Child("paths"), ""))
		}
		for k := range r.HTTP.Paths {
			errs = append(errs, validateHTTPIngressPath(&r.HTTP.Paths[k], hp.Child("paths").Index(k))...)
		}
	}
	for i, t := range s.TLS {
		tp := p.Child("tls").Index(i)
		for k, h := range t.Hosts {
			hp := tp.Child("hosts").Index(k)
			if strings.Contains(h, "*") {
				for _, msg := range validation.IsWildcardDNS1123Subdomain(h) {
					errs = append(errs, field.Invalid(hp, h, msg))
				}
				continue
			}
			for _, msg := range validation.IsDNS1123Subdomain(h) {
				errs = append(errs, field.Invalid(hp, h, msg))
			}
		}
		if t.SecretName != "" {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(t.SecretName, false) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), t.SecretName, msg))
			}
		}
	}
	if s.IngressClassName != nil {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(*s.IngressClassName, false) {
			errs = append(errs, field.Invalid(p.Child("ingressClassName"), *s.IngressClassName, msg))
		}
	}
	return errs
}

func validateIngressHost(h string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if net.ParseIP(h) != nil {
		errs = append(errs, field.Invalid(p, h, "must be a DNS name, not an IP address"))
	}
	if strings.Contains(h, "*") {
		for _, msg := range validation.IsWildcardDNS1123Subdomain(h) {
			errs = append(errs, field.Invalid(p, h, msg))
		}
		return errs
	}
	for _, msg := range validation.IsDNS1123Subdomain(h) {
		errs = append(errs, field.Invalid(p, h, msg))
	}
	return errs
}

// Path fragments upstream refuses in Exact and Prefix paths.
var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

func validateHTTPIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	pp := p.Child("path")
	if path.PathType == nil {
		return append(errs, field.Required(p.Child("pathType"), "pathType must be specified"))
	}
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
		if len(path.Path) > 0 {
			for _, seq := range invalidPathSequences {
				if strings.Contains(path.Path, seq) {
					errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suf := range invalidPathSuffixes {
				if strings.HasSuffix(path.Path, suf) {
					errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("cannot end with '%s'", suf)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if len(path.Path) > 0 && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *path.PathType, []string{"Exact", "ImplementationSpecific", "Prefix"}))
	}
	return append(errs, validateIngressBackend(&path.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	hasResource, hasService := b.Resource != nil, b.Service != nil
	switch {
	case hasResource && hasService:
		return append(errs, field.Invalid(p, "", "cannot set both resource and service backends"))
	case hasResource:
		errs = append(errs, validateTypedReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"))...)
	case hasService:
		sp := p.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			for _, msg := range apimachineryvalidation.NameIsDNS1035Label(b.Service.Name, false) {
				errs = append(errs, field.Invalid(sp.Child("name"), b.Service.Name, msg))
			}
		}
		hasName, hasNumber := b.Service.Port.Name != "", b.Service.Port.Number != 0
		switch {
		case hasName && hasNumber:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case hasName:
			for _, msg := range validation.IsValidPortName(b.Service.Port.Name) {
				errs = append(errs, field.Invalid(sp.Child("port", "name"), b.Service.Port.Name, msg))
			}
		case hasNumber:
			for _, msg := range validation.IsValidPortNum(int(b.Service.Port.Number)) {
				errs = append(errs, field.Invalid(sp.Child("port", "number"), b.Service.Port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
	default:
		errs = append(errs, field.Invalid(p, "", "resource or service backend is required"))
	}
	return errs
}

// --- ingressclasses ----------------------------------------------------------------------

func ingressClassKind() *registry.Kind {
	return &registry.Kind{
		GVK:        networkingGV.WithKind("IngressClass"),
		Resource:   "ingressclasses",
		New:        func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList:    func() runtime.Object { return &networkingv1.IngressClassList{} },
		Generation: true,
		Default: func(obj runtime.Object) {
			// a parameters reference without a scope is cluster-scoped
			if ps := obj.(*networkingv1.IngressClass).Spec.Parameters; ps != nil && ps.Scope == nil {
				ps.Scope = ptrTo(ingressClassScopeCluster)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateIngressClassSpec(&obj.(*networkingv1.IngressClass).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*networkingv1.IngressClass).Spec.Controller, old.(*networkingv1.IngressClass).Spec.Controller, field.NewPath("spec", "controller"))
		},
		Columns: []metav1.TableColumnDefinition{
			col("Controller", "string", "Controller that is responsible for handling this class"),
			col("Parameters", "string", "A reference to a resource with additional parameters"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			c := obj.(*networkingv1.IngressClass)
			params := "<none>"
			if ps := c.Spec.Parameters; ps != nil {
				params = ps.Kind
				if ps.APIGroup != nil {
					params += "." + *ps.APIGroup
				}
				params += "/" + ps.Name
			}
			return []interface{}{c.Spec.Controller, params, age(&c.ObjectMeta)}
		},
	}
}

func validateIngressClassSpec(s *networkingv1.IngressClassSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := p.Child("controller")
	if len(s.Controller) > maxIngressClassController {
		errs = append(errs, field.TooLong(cp, "", maxIngressClassController))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(cp, s.Controller)...)
	ps := s.Parameters
	if ps == nil {
		return errs
	}
	pp := p.Child("parameters")
	errs = append(errs, validateTypedReference(ps.APIGroup, ps.Kind, ps.Name, pp)...)
	if ps.Scope == nil {
		return append(errs, field.Required(pp.Child("scope"), ""))
	}
	switch *ps.Scope {
	case ingressClassScopeCluster:
		if ps.Namespace != nil {
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	case ingressClassScopeNamespace:
		if ps.Namespace == nil {
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(*ps.Namespace, false) {
				errs = append(errs, field.Invalid(pp.Child("namespace"), *ps.Namespace, msg))
			}
		}
	default:
		errs = append(errs, field.NotSupported(pp.Child("scope"), *ps.Scope, []string{ingressClassScopeCluster, ingressClassScopeNamespace}))
	}
	return errs
}

// validateTypedReference checks a reference to an object of another API: an optional API
// group, and a kind and name that must be path segments.
func validateTypedReference(group *string, kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if group != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*group) {
			errs = append(errs, field.Invalid(p.Child("apiGroup"), *group, msg))
		}
	}
	for _, f := range []struct{ name, v string }{{"kind", kind}, {"name", name}} {
		if f.v == "" {
			errs = append(errs, field.Required(p.Child(f.name), f.name+" is required"))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.v) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.v, msg))
		}
	}
	return errs
}

// --- networkpolicies ---------------------------------------------------------------------

func networkPolicyKind() *registry.Kind {
	return &registry.Kind{
		GVK:        networkingGV.WithKind("NetworkPolicy"),
		Resource:   "networkpolicies",
		ShortNames: []string{"netpol"},
		Namespaced: true,
		New:        func() runtime.Object { return &networkingv1.NetworkPolicy{} },
		NewList:    func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		Generation: true,
		Default:    func(obj runtime.Object) { defaultNetworkPolicy(obj.(*networkingv1.NetworkPolicy)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateNetworkPolicySpec(&obj.(*networkingv1.NetworkPolicy).Spec, field.NewPath("spec"))
		},
		Columns: []metav1.TableColumnDefinition{
			col("Pod-Selector", "string", extv1beta1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			n := obj.(*networkingv1.NetworkPolicy)
			return []interface{}{metav1.FormatLabelSelector(&n.Spec.PodSelector), age(&n.ObjectMeta)}
		},
	}
}

func defaultNetworkPolicy(n *networkingv1.NetworkPolicy) {
	if len(n.Spec.PolicyTypes) == 0 {
		// a policy naming no types is at least an ingress policy
		n.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(n.Spec.Egress) != 0 {
			n.Spec.PolicyTypes = append(n.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	defaultPorts := func(ports []networkingv1.NetworkPolicyPort) {
		for i := range ports {
			if ports[i].Protocol == nil {
				ports[i].Protocol = ptrTo(corev1.ProtocolTCP)
			}
		}
	}
	for i := range n.Spec.Ingress {
		defaultPorts(n.Spec.Ingress[i].Ports)
	}
	for i := range n.Spec.Egress {
		defaultPorts(n.Spec.Egress[i].Ports)
	}
}

func validateNetworkPolicySpec(s *networkingv1.NetworkPolicySpec, p *field.Path) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&s.PodSelector, opts, p.Child("podSelector"))
	for i, r := range s.Ingress {
		rp := p.Child("ingress").Index(i)
		for k := range r.Ports {
			errs = append(errs, validateNetworkPolicyPort(&r.Ports[k], rp.Child("ports").Index(k))...)
		}
		for k := range r.From {
			errs = append(errs, validateNetworkPolicyPeer(&r.From[k], rp.Child("from").Index(k))...)
		}
	}
	for i, r := range s.Egress {
		rp := p.Child("egress").Index(i)
		for k := range r.Ports {
			errs = append(errs, validateNetworkPolicyPort(&r.Ports[k], rp.Child("ports").Index(k))...)
		}
		for k := range r.To {
			errs = append(errs, validateNetworkPolicyPeer(&r.To[k], rp.Child("to").Index(k))...)
		}
	}
	allowed := []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
	if len(s.PolicyTypes) > len(allowed) {
		errs = append(errs, field.Invalid(p.Child("policyTypes"), s.PolicyTypes, "may not specify more than two policyTypes"))
		return errs
	}
	for i, t := range s.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p.Child("policyTypes").Index(i), t, allowed))
		}
	}
	return errs
}

func validateNetworkPolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil && *port.Protocol != corev1.ProtocolTCP && *port.Protocol != corev1.ProtocolUDP && *port.Protocol != corev1.ProtocolSCTP {
		errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, []string{"SCTP", "TCP", "UDP"}))
	}
	if port.Port == nil {
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
		return errs
	}
	if port.Port.Type == intstr.Int {
		for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(p.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
			}
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, msg))
			}
		}
		return errs
	}
	if port.EndPort != nil {
		errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
	}
	for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
		errs = append(errs, field.Invalid(p.Child("port"), port.Port.StrVal, msg))
	}
	return errs
}

func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, validateIPBlock(peer.IPBlock, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDRForLegacyField(p.Child("cidr"), b.CIDR, false, nil)
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil {
		return errs
	}
	for i, ex := range b.Except {
		ep := p.Child("except").Index(i)
		exErrs := validation.IsValidCIDRForLegacyField(ep, ex, false, nil)
		errs = append(errs, exErrs...)
		if len(exErrs) > 0 {
			continue
		}
		_, exNet, err := net.ParseCIDR(ex)
		if err != nil {
			continue
		}
		cidrOnes, _ := cidr.Mask.Size()
		exOnes, _ := exNet.Mask.Size()
		if !cidr.Contains(exNet.IP) || cidrOnes >= exOnes {
			errs = append(errs, field.Invalid(ep, ex, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
