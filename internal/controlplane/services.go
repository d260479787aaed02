package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/bosun-k8s/bosun/internal/apiserver"
	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/servicealloc"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// serviceAdmission connects the ClusterIP/NodePort allocator to the API server's writes.
type serviceAdmission struct {
	alloc *servicealloc.Allocator
}

func isServices(k *registry.Kind) bool { return k.GVK.Group == "" && k.Resource == "services" }

func (sa *serviceAdmission) admit(_ context.Context, a *apiserver.Attributes) error {
	if !isServices(a.Kind) || (a.Verb != "create" && a.Verb != "update") {
		return nil
	}
	svc, ok := a.Object.(*corev1.Service)
	if !ok {
		return nil
	}
	old, _ := a.Old.(*corev1.Service)
	if errs := sa.alloc.Allocate(svc, old, a.DryRun); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, errs)
	}
	return nil
}

func (sa *serviceAdmission) released(_ context.Context, k *registry.Kind, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok && isServices(k) {
		sa.alloc.Release(svc)
	}
}

// storedServices decodes every stored Service from the cache.
func storedServices(ctx context.Context, res *storage.Resource) ([]*corev1.Service, error) {
	list, err := res.List(ctx, storage.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Service, 0, len(list.Entries))
	for _, e := range list.Entries {
		svc := &corev1.Service{}
		if err := json.Unmarshal(e.JSON, svc); err != nil {
			return nil, fmt.Errorf("decode stored service %s/%s: %w", e.Namespace, e.Name, err)
		}
		out = append(out, svc)
	}
	return out, nil
}

// repairLoop frees allocations no stored Service holds, once a minute.
func (sa *serviceAdmission) repairLoop(ctx context.Context, res *storage.Resource) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if svcs, err := storedServices(ctx, res); err == nil {
				sa.alloc.Repair(svcs, time.Minute)
			}
		}
	}
}

// ensureKubernetesService keeps default/kubernetes (the first service IP, port 443) pointing
// at this API server, with its Endpoints and EndpointSlice, as upstream's endpoint reconciler.
func ensureKubernetesService(ctx context.Context, client kubernetes.Interface, clusterIP string, addr netip.Addr, port int32) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}},
		},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes service: %w", err)
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if cur, err := client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		ep.ResourceVersion = cur.ResourceVersion
		if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update kubernetes endpoints: %w", err)
		}
	} else if _, err := client.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes endpoints: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "bosun-apiserver"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	slices := client.DiscoveryV1().EndpointSlices("default")
	if cur, err := slices.Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		slice.ResourceVersion = cur.ResourceVersion
		if _, err := slices.Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update kubernetes endpointslice: %w", err)
		}
	} else if _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes endpointslice: %w", err)
	}
	return nil
}

// storageGetter reads pods and nodes from the API server's storage for the kubelet proxy.
type storageGetter struct {
	pods, nodes *storage.Resource
}

func (g storageGetter) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	obj, err := g.pods.Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

func (g storageGetter) Node(ctx context.Context, name string) (*corev1.Node, error) {
	obj, err := g.nodes.Get(ctx, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Node), nil
}

// lazyGetter reaches the storage that exists once the API server is built.
type lazyGetter struct{ s *Server }

func (l *lazyGetter) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	l.s.mu.Lock()
	g := l.s.getter
	l.s.mu.Unlock()
	return g.Pod(ctx, namespace, name)
}

func (l *lazyGetter) Node(ctx context.Context, name string) (*corev1.Node, error) {
	l.s.mu.Lock()
	g := l.s.getter
	l.s.mu.Unlock()
	return g.Node(ctx, name)
}

// servedSubresources are the subresources beyond status and scale that the API server serves,
// advertised in discovery and OpenAPI.
func servedSubresources() []discovery.Subresource {
	served := map[string]bool{"pods/binding": true, "pods/log": true, "pods/exec": true, "pods/attach": true,
		"pods/portforward": true, "namespaces/finalize": true, "serviceaccounts/token": true}
	var out []discovery.Subresource
	for _, sr := range discovery.StandardSubresources() {
		if sr.Parent.Group == "" && served[sr.Parent.Resource+"/"+sr.Name] {
			out = append(out, sr)
		}
	}
	return out
}
