package core

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func endpointsKind() *registry.Kind {
	return &registry.Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Endpoints"),
		Resource:   "endpoints",
		Singular:   "endpoints",
		ShortNames: []string{"ep"},
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Endpoints{} },
		NewList:    func() runtime.Object { return &corev1.EndpointsList{} },
		// PUT creates missing endpoints, as upstream allows.
		CreateOnUpdate: true,
		Default: func(obj runtime.Object) {
			e := obj.(*corev1.Endpoints)
			for i := range e.Subsets {
				for j := range e.Subsets[i].Ports {
					if e.Subsets[i].Ports[j].Protocol == "" {
						e.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
					}
				}
			}
			e.Subsets = RepackEndpointSubsets(e.Subsets)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateEndpointSubsets(obj.(*corev1.Endpoints).Subsets, field.NewPath("subsets"))
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Endpoints", Type: "string", Description: "The set of all endpoints is the union of all subsets."},
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			e := obj.(*corev1.Endpoints)
			return []interface{}{formatEndpoints(e), age(&e.ObjectMeta)}
		},
	}
}

func validateEndpointSubsets(subsets []corev1.EndpointSubset, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range subsets {
		ss := &subsets[i]
		p := fldPath.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, validateEndpointPort(&ss.Ports[j], len(ss.Ports) > 1, p.Child("ports").Index(j))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, validateDNS1123Label(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, validateDNS1123Subdomain(*a.NodeName, p.Child("nodeName"))...)
	}
	return append(errs, validateNonSpecialIP(a.IP, p.Child("ip"))...)
}

func validateEndpointPort(port *corev1.EndpointPort, requireName bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && port.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if port.Name != "" {
		errs = append(errs, validateDNS1123Label(port.Name, p.Child("name"))...)
	}
	for _, msg := range validation.IsValidPortNum(int(port.Port)) {
		errs = append(errs, field.Invalid(p.Child("port"), port.Port, msg))
	}
	errs = append(errs, validateProtocol(port.Protocol, p.Child("protocol"))...)
	if port.AppProtocol != nil {
		errs = append(errs, validateQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// formatEndpoints prints up to three ip:port pairs and how many more there are.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more := false
	count := 0
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, a.IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

// RepackEndpointSubsets returns subsets in the canonical form the endpoints kind stores, as
// upstream canonicalizes them: addresses that serve the same set of ports share one subset,
// an address ready for a port in any subset is ready, and addresses and ports are sorted.
// (Upstream orders ports and subsets by a hash of their Go representation; here they are
// ordered by name, port and first address.) An endpoints controller compares its desired
// subsets in this form with the stored ones to avoid needless writes.
func RepackEndpointSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	if len(subsets) == 0 {
		return subsets
	}
	type addrKey struct {
		ip  string
		uid string
	}
	all := map[addrKey]*corev1.EndpointAddress{}
	// ready per port per address; a port of -1 stands for "no ports".
	byPort := map[corev1.EndpointPort]map[*corev1.EndpointAddress]bool{}
	var portOrder []corev1.EndpointPort
	add := func(a *corev1.EndpointAddress, port corev1.EndpointPort, ready bool) {
		k := addrKey{ip: a.IP}
		if a.TargetRef != nil {
			k.uid = string(a.TargetRef.UID)
		}
		ex := all[k]
		if ex == nil {
			c := *a
			ex = &c
			all[k] = ex
		}
		set, ok := byPort[port]
		if !ok {
			set = map[*corev1.EndpointAddress]bool{}
			byPort[port] = set
			portOrder = append(portOrder, port)
		}
		if r, found := set[ex]; !found || !r {
			set[ex] = ready
		}
	}
	for i := range subsets {
		ss := &subsets[i]
		ports := ss.Ports
		if len(ports) == 0 {
			ports = []corev1.EndpointPort{{Port: -1}}
		}
		for _, port := range ports {
			for j := range ss.Addresses {
				add(&ss.Addresses[j], port, true)
			}
			for j := range ss.NotReadyAddresses {
				add(&ss.NotReadyAddresses[j], port, false)
			}
		}
	}
	// Group ports by the exact set of (address, ready) they map to.
	setKey := func(set map[*corev1.EndpointAddress]bool) string {
		keys := make([]string, 0, len(set))
		for a, r := range set {
			uid := ""
			if a.TargetRef != nil {
				uid = string(a.TargetRef.UID)
			}
			keys = append(keys, fmt.Sprintf("%s/%s/%v", a.IP, uid, r))
		}
		sort.Strings(keys)
		return strings.Join(keys, ",")
	}
	groups := map[string]*corev1.EndpointSubset{}
	var order []string
	for _, port := range portOrder {
		set := byPort[port]
		k := setKey(set)
		g, ok := groups[k]
		if !ok {
			g = &corev1.EndpointSubset{}
			for a, ready := range set {
				if ready {
					g.Addresses = append(g.Addresses, *a)
				} else {
					g.NotReadyAddresses = append(g.NotReadyAddresses, *a)
				}
			}
			groups[k] = g
			order = append(order, k)
		}
		if port.Port > 0 {
			g.Ports = append(g.Ports, port)
		}
	}
	// Order subsets by their address sets, so that any input order gives the same result.
	sort.Strings(order)
	out := make([]corev1.EndpointSubset, 0, len(order))
	for _, k := range order {
		g := groups[k]
		sortAddresses(g.Addresses)
		sortAddresses(g.NotReadyAddresses)
		sort.Slice(g.Ports, func(i, j int) bool {
			a, b := g.Ports[i], g.Ports[j]
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			if a.Port != b.Port {
				return a.Port < b.Port
			}
			return a.Protocol < b.Protocol
		})
		out = append(out, *g)
	}
	return out
}

func sortAddresses(as []corev1.EndpointAddress) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].IP != as[j].IP {
			return as[i].IP < as[j].IP
		}
		var ui, uj string
		if as[i].TargetRef != nil {
			ui = string(as[i].TargetRef.UID)
		}
		if as[j].TargetRef != nil {
			uj = string(as[j].TargetRef.UID)
		}
		return ui < uj
	})
}
