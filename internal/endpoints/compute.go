package endpoints

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func isPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIncluded reports whether pod belongs in a service's endpoints at all.
func podIncluded(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.PodIP == "" {
		return false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && !includeTerminating {
		return false
	}
	return true
}

func protoOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// findPort resolves a service port's target port on pod.
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.String && tp.StrVal != "" {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == tp.StrVal && protoOf(p.Protocol) == protoOf(sp.Protocol) {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if tp.Type == intstr.Int && tp.IntVal != 0 {
		return tp.IntVal, true
	}
	return sp.Port, true
}

func hostnameFor(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

func targetRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.Name)
		b.WriteByte('/')
		b.WriteString(string(p.Protocol))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(p.Port)))
		b.WriteByte(';')
	}
	return b.String()
}

// resolvedPorts returns the endpoint ports of svc on pod, in service order;
// ok is false when the service has ports and none resolves on the pod.
func resolvedPorts(svc *corev1.Service, pod *corev1.Pod) ([]corev1.EndpointPort, bool) {
	var ports []corev1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		n, ok := findPort(pod, sp)
		if !ok {
			continue
		}
		ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: protoOf(sp.Protocol), AppProtocol: sp.AppProtocol})
	}
	return ports, len(ports) > 0 || len(svc.Spec.Ports) == 0
}

// desiredSubsets computes the Endpoints subsets of svc from pods (already
// selected by the service's selector, in its namespace).
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	publish := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if !podIncluded(pod, publish) {
			continue
		}
		ports, ok := resolvedPorts(svc, pod)
		if !ok {
			continue
		}
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		nodeName := pod.Spec.NodeName
		addr := corev1.EndpointAddress{IP: pod.Status.PodIP, Hostname: hostnameFor(pod, svc), TargetRef: targetRef(pod)}
		if nodeName != "" {
			addr.NodeName = &nodeName
		}
		if publish || isPodReady(pod) {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	var out []corev1.EndpointSubset
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		sortAddrs(g.ready)
		sortAddrs(g.notReady)
		ports := slices.Clone(g.ports)
		slices.SortFunc(ports, func(a, b corev1.EndpointPort) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
		})
		if len(ports) == 0 {
			ports = nil
		}
		out = append(out, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: ports})
	}
	return out
}

func sortAddrs(a []corev1.EndpointAddress) {
	sortByIP(a, func(e *corev1.EndpointAddress) (string, string) { return e.IP, e.TargetRef.Name })
}

// sortByIP sorts items by address (parsed once each), then name.
func sortByIP[T any](items []T, key func(*T) (ip, name string)) {
	type keyed struct {
		addr netip.Addr
		ip   string
		name string
		item T
	}
	ks := make([]keyed, len(items))
	for i := range items {
		ip, name := key(&items[i])
		a, _ := netip.ParseAddr(ip)
		ks[i] = keyed{addr: a, ip: ip, name: name, item: items[i]}
	}
	slices.SortFunc(ks, func(x, y keyed) int {
		c := x.addr.Compare(y.addr)
		if !x.addr.IsValid() || !y.addr.IsValid() {
			c = cmp.Compare(x.ip, y.ip)
		}
		return cmp.Or(c, cmp.Compare(x.name, y.name))
	})
	for i := range ks {
		items[i] = ks[i].item
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxEndpointsPerSlice caps a slice's endpoints, as upstream's default.
const MaxEndpointsPerSlice = 100

// sliceGroup is the desired content of the slices sharing an address type
// and a port list.
type sliceGroup struct {
	AddressType discoveryv1.AddressType
	Ports       []discoveryv1.EndpointPort
	Endpoints   []discoveryv1.Endpoint
}

func (g *sliceGroup) key() string { return string(g.AddressType) + "|" + slicePortsKey(g.Ports) }

func slicePortsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		name, proto, port := "", corev1.ProtocolTCP, int32(0)
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port != nil {
			port = *p.Port
		}
		b.WriteString(name)
		b.WriteByte('/')
		b.WriteString(string(proto))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(port)))
		b.WriteByte(';')
	}
	return b.String()
}

func addressTypeOf(ip string) (discoveryv1.AddressType, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	if a.Is4() {
		return discoveryv1.AddressTypeIPv4, true
	}
	return discoveryv1.AddressTypeIPv6, true
}

// serviceFamilies returns the address types svc serves.
func serviceFamilies(svc *corev1.Service) map[discoveryv1.AddressType]bool {
	out := map[discoveryv1.AddressType]bool{}
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			out[discoveryv1.AddressTypeIPv6] = true
		} else {
			out[discoveryv1.AddressTypeIPv4] = true
		}
	}
	if len(out) == 0 {
		if t, ok := addressTypeOf(svc.Spec.ClusterIP); ok {
			out[t] = true
		} else {
			// Headless without families: every pod IP family.
			out[discoveryv1.AddressTypeIPv4] = true
			out[discoveryv1.AddressTypeIPv6] = true
		}
	}
	return out
}

// desiredSlices computes the slice groups of svc from pods, sorted by key,
// each group's endpoints sorted by address.
func desiredSlices(svc *corev1.Service, pods []*corev1.Pod) []sliceGroup {
	groups := map[string]*sliceGroup{}
	families := serviceFamilies(svc)
	publish := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if !podIncluded(pod, true) {
			continue
		}
		ports, ok := resolvedPorts(svc, pod)
		if !ok {
			continue
		}
		terminating := pod.DeletionTimestamp != nil
		podReady := isPodReady(pod)
		ready := publish || (podReady && !terminating)
		serving := publish || podReady
		ips := pod.Status.PodIPs
		if len(ips) == 0 {
			ips = []corev1.PodIP{{IP: pod.Status.PodIP}}
		}
		for _, ip := range ips {
			at, ok := addressTypeOf(ip.IP)
			if !ok || !families[at] {
				continue
			}
			sp := make([]discoveryv1.EndpointPort, len(ports))
			for i, p := range ports {
				sp[i] = discoveryv1.EndpointPort{Name: ptr(p.Name), Port: ptr(p.Port), Protocol: ptr(p.Protocol), AppProtocol: p.AppProtocol}
			}
			g := &sliceGroup{AddressType: at, Ports: sp}
			if have := groups[g.key()]; have != nil {
				g = have
			} else {
				groups[g.key()] = g
			}
			ep := discoveryv1.Endpoint{
				Addresses:  []string{ip.IP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready), Serving: ptr(serving), Terminating: ptr(terminating)},
				TargetRef:  targetRef(pod),
			}
			if h := hostnameFor(pod, svc); h != "" {
				ep.Hostname = ptr(h)
			}
			if pod.Spec.NodeName != "" {
				ep.NodeName = ptr(pod.Spec.NodeName)
			}
			g.Endpoints = append(g.Endpoints, ep)
		}
	}
	out := make([]sliceGroup, 0, len(groups))
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		sortByIP(g.Endpoints, func(e *discoveryv1.Endpoint) (string, string) { return e.Addresses[0], e.TargetRef.Name })
		out = append(out, *g)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
