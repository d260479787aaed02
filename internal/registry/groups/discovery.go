package groups

import (
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const (
	maxSliceEndpoints   = 1000
	maxSliceAddresses   = 100
	maxSlicePorts       = 20000
	maxTopologyLabels   = 16
	maxSliceZoneHints   = 8
	maxSliceNodeHints   = 8
	endpointZoneTopoKey = corev1.LabelTopologyZone
)

func discoveryKinds() []*registry.Kind { return []*registry.Kind{endpointSliceKind()} }

func endpointSliceKind() *registry.Kind {
	return &registry.Kind{
		GVK:        discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"),
		Resource:   "endpointslices",
		Namespaced: true,
		New:        func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:    func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Generation: true,
		PrepareForUpdate: func(obj, old runtime.Object) {
			// a slice has no spec: any change of its endpoints, ports or labels is a new
			// generation, as upstream counts it
			s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			defaultEndpointSlice(s)
			oc := o.DeepCopy()
			oc.TypeMeta, oc.ObjectMeta = s.TypeMeta, s.ObjectMeta
			oc.Labels = o.Labels
			if !apiequality.Semantic.DeepEqual(s, oc) {
				s.Generation = o.Generation + 1
			}
		},
		Default: func(obj runtime.Object) { defaultEndpointSlice(obj.(*discoveryv1.EndpointSlice)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*discoveryv1.EndpointSlice).AddressType, old.(*discoveryv1.EndpointSlice).AddressType, field.NewPath("addressType"))
		},
		Columns: []metav1.TableColumnDefinition{
			col("AddressType", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]),
			col("Ports", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]),
			col("Endpoints", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*discoveryv1.EndpointSlice)
			return []interface{}{string(s.AddressType), slicePorts(s.Ports), sliceEndpoints(s.Endpoints), age(&s.ObjectMeta)}
		},
	}
}

func defaultEndpointSlice(s *discoveryv1.EndpointSlice) {
	for i := range s.Ports {
		if s.Ports[i].Name == nil {
			s.Ports[i].Name = ptrTo("")
		}
		if s.Ports[i].Protocol == nil {
			s.Ports[i].Protocol = ptrTo(corev1.ProtocolTCP)
		}
	}
}

func slicePorts(ports []discoveryv1.EndpointPort) string {
	const max = 3
	var list []string
	for _, p := range ports {
		if len(list) == max {
			break
		}
		n := "*"
		if p.Port != nil {
			n = strconv.Itoa(int(*p.Port))
		} else if p.Name != nil {
			n = *p.Name
		}
		list = append(list, n)
	}
	return listWithMore(list, len(ports) > max, len(ports), max)
}

func sliceEndpoints(endpoints []discoveryv1.Endpoint) string {
	const max = 3
	var list []string
	count := 0
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			if len(list) < max {
				list = append(list, a)
			}
			count++
		}
	}
	return listWithMore(list, count > max, count, max)
}

func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	ap := field.NewPath("addressType")
	switch s.AddressType {
	case "":
		errs = append(errs, field.Required(ap, ""))
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	default:
		errs = append(errs, field.NotSupported(ap, s.AddressType, []string{"FQDN", "IPv4", "IPv6"}))
	}

	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxSliceEndpoints))
	} else {
		for i := range s.Endpoints {
			errs = append(errs, validateSliceEndpoint(&s.Endpoints[i], s.AddressType, ep.Index(i))...)
		}
	}

	pp := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		return append(errs, field.TooMany(pp, len(s.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range s.Ports {
		ip := pp.Index(i)
		name := deref(port.Name, "")
		if name != "" {
			for _, msg := range validation.IsDNS1123Label(name) {
				errs = append(errs, field.Invalid(ip.Child("name"), name, msg))
			}
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
		} else {
			names.Insert(name)
		}
		switch {
		case port.Protocol == nil:
			errs = append(errs, field.Required(ip.Child("protocol"), ""))
		case *port.Protocol != corev1.ProtocolTCP && *port.Protocol != corev1.ProtocolUDP && *port.Protocol != corev1.ProtocolSCTP:
			errs = append(errs, field.NotSupported(ip.Child("protocol"), *port.Protocol, []string{"SCTP", "TCP", "UDP"}))
		}
		if port.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*port.AppProtocol) {
				errs = append(errs, field.Invalid(ip.Child("appProtocol"), *port.AppProtocol, msg))
			}
		}
	}
	return errs
}

func validateSliceEndpoint(e *discoveryv1.Endpoint, t discoveryv1.AddressType, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ap := p.Child("addresses")
	if len(e.Addresses) == 0 {
		errs = append(errs, field.Required(ap, "must contain at least 1 address"))
	} else if len(e.Addresses) > maxSliceAddresses {
		errs = append(errs, field.TooMany(ap, len(e.Addresses), maxSliceAddresses))
	}
	for i, a := range e.Addresses {
		errs = append(errs, validateSliceAddress(a, t, ap.Index(i))...)
	}
	if e.NodeName != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*e.NodeName) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), *e.NodeName, msg))
		}
	}
	tp := p.Child("deprecatedTopology")
	if len(e.DeprecatedTopology) > maxTopologyLabels {
		errs = append(errs, field.TooMany(tp, len(e.DeprecatedTopology), maxTopologyLabels))
	}
	errs = append(errs, metav1validation.ValidateLabels(e.DeprecatedTopology, tp)...)
	if e.Hostname != nil {
		for _, msg := range validation.IsDNS1123Label(*e.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), *e.Hostname, msg))
		}
	}
	if e.Hints != nil {
		hp := p.Child("hints")
		zp := hp.Child("forZones")
		if len(e.Hints.ForZones) > maxSliceZoneHints {
			errs = append(errs, field.TooMany(zp, len(e.Hints.ForZones), maxSliceZoneHints))
		}
		zones := sets.New[string]()
		for i, z := range e.Hints.ForZones {
			if zones.Has(z.Name) {
				errs = append(errs, field.Duplicate(zp.Index(i), z.Name))
			}
			zones.Insert(z.Name)
			for _, msg := range validation.IsValidLabelValue(z.Name) {
				errs = append(errs, field.Invalid(zp.Index(i).Child("name"), z.Name, msg))
			}
		}
		np := hp.Child("forNodes")
		if len(e.Hints.ForNodes) > maxSliceNodeHints {
			errs = append(errs, field.TooMany(np, len(e.Hints.ForNodes), maxSliceNodeHints))
		}
	}
	return errs
}

// validateSliceAddress checks an endpoint address against the slice's address type.
func validateSliceAddress(a string, t discoveryv1.AddressType, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIPForLegacyField(p, a, false, nil); len(errs) > 0 {
			return errs
		}
		ip := net.ParseIP(a)
		if ip == nil {
			return nil
		}
		if t == discoveryv1.AddressTypeIPv4 && ip.To4() == nil {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv4 address")}
		}
		if t == discoveryv1.AddressTypeIPv6 && ip.To4() != nil {
			return field.ErrorList{field.Invalid(p, a, "must be an IPv6 address")}
		}
		return validateEndpointIP(ip, a, p)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

// validateEndpointIP refuses the addresses upstream never lets an endpoint point at.
func validateEndpointIP(ip net.IP, a string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(p, a, "may not be unspecified (0.0.0.0, ::)"))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(p, a, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(p, a, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(p, a, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}
