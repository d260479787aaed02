package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The kube-dns Service, named and labelled as upstream's so that tools
// (kubectl cluster-info, conformance tests) find it.
const (
	ServiceNamespace = "kube-system"
	ServiceName      = "kube-dns"
)

// KubeDNSObjects returns the kube-dns Service at clusterIP and the
// Endpoints pointing at the servers (each serving UDP and TCP on its
// port). The Service has no selector: its Endpoints are these, and the
// EndpointSlice mirroring controller turns them into the slices the proxy
// reads.
func KubeDNSObjects(clusterIP netip.Addr, servers []netip.AddrPort) (*corev1.Service, *corev1.Endpoints, error) {
	if len(servers) == 0 {
		return nil, nil, errors.New("dns: no server address")
	}
	port := servers[0].Port()
	var addrs []corev1.EndpointAddress
	for _, s := range servers {
		if s.Port() != port {
			return nil, nil, errors.New("dns: servers must share one port")
		}
		addrs = append(addrs, corev1.EndpointAddress{IP: s.Addr().String()})
	}
	labels := map[string]string{
		"k8s-app":                       "kube-dns",
		"kubernetes.io/cluster-service": "true",
		"kubernetes.io/name":            "CoreDNS",
	}
	family := corev1.IPv4Protocol
	if clusterIP.Is6() {
		family = corev1.IPv6Protocol
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ServiceNamespace, Name: ServiceName, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  clusterIP.String(),
			ClusterIPs: []string{clusterIP.String()},
			IPFamilies: []corev1.IPFamily{family},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(int32(port))},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port))},
			},
		},
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: ServiceNamespace, Name: ServiceName, Labels: labels},
		Subsets: []corev1.EndpointSubset{{
			Addresses: addrs,
			Ports: []corev1.EndpointPort{
				{Name: "dns", Port: int32(port), Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: int32(port), Protocol: corev1.ProtocolTCP},
			},
		}},
	}
	return svc, ep, nil
}

// EnsureKubeDNS creates the kube-dns Service and Endpoints, or updates
// them to point at servers.
func EnsureKubeDNS(ctx context.Context, client kubernetes.Interface, clusterIP netip.Addr, servers []netip.AddrPort) error {
	svc, ep, err := KubeDNSObjects(clusterIP, servers)
	if err != nil {
		return err
	}
	svcs := client.CoreV1().Services(ServiceNamespace)
	cur, err := svcs.Get(ctx, ServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := svcs.Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("dns: create service: %w", err)
		}
	case err != nil:
		return fmt.Errorf("dns: get service: %w", err)
	default:
		if cur.Spec.ClusterIP != svc.Spec.ClusterIP {
			return fmt.Errorf("dns: service %s/%s has cluster IP %s, want %s", ServiceNamespace, ServiceName, cur.Spec.ClusterIP, svc.Spec.ClusterIP)
		}
		if !equality.Semantic.DeepEqual(cur.Spec.Ports, svc.Spec.Ports) || cur.Spec.Selector != nil || !equality.Semantic.DeepEqual(cur.Labels, svc.Labels) {
			upd := cur.DeepCopy()
			upd.Spec.Ports, upd.Spec.Selector, upd.Labels = svc.Spec.Ports, nil, svc.Labels
			if _, err := svcs.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("dns: update service: %w", err)
			}
		}
	}
	eps := client.CoreV1().Endpoints(ServiceNamespace)
	curEp, err := eps.Get(ctx, ServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := eps.Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("dns: create endpoints: %w", err)
		}
	case err != nil:
		return fmt.Errorf("dns: get endpoints: %w", err)
	case !equality.Semantic.DeepEqual(curEp.Subsets, ep.Subsets) || !equality.Semantic.DeepEqual(curEp.Labels, ep.Labels):
		upd := curEp.DeepCopy()
		upd.Subsets, upd.Labels = ep.Subsets, ep.Labels
		if _, err := eps.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("dns: update endpoints: %w", err)
		}
	}
	return nil
}
