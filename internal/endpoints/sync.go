package endpoints

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

func isHeadless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

func endpointsLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	if isHeadless(svc) {
		l[LabelHeadless] = ""
	} else {
		delete(l, LabelHeadless)
	}
	return l
}

func sameLabels(a, b map[string]string) bool {
	return len(a) == len(b) && labels.Equals(a, b)
}

// syncEndpoints writes the Endpoints object of one Service.
func (c *Controller) syncEndpoints(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil {
		return nil // endpoints of selector-less services belong to their writers
	}
	pods, err := c.selectedPods(svc)
	if err != nil {
		return err
	}
	subsets, truncated := truncate(desiredSubsets(svc, pods), MaxEndpointsAddresses)
	lbls := endpointsLabels(svc)
	var ann map[string]string
	if truncated {
		ann = map[string]string{AnnotationOverCapacity: "truncated"}
	}
	cur, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls, Annotations: ann}, Subsets: subsets}
		if _, err := c.client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	overCapacity := cur.Annotations[AnnotationOverCapacity] != ""
	if sameSubsets(cur.Subsets, subsets) && sameLabels(cur.Labels, lbls) && overCapacity == truncated {
		return nil
	}
	ep := cur.DeepCopy()
	ep.Subsets, ep.Labels = subsets, lbls
	if truncated {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[AnnotationOverCapacity] = "truncated"
	} else {
		delete(ep.Annotations, AnnotationOverCapacity)
	}
	if _, err := c.client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	return nil
}

// MaxEndpointsAddresses caps the addresses of one Endpoints object, as
// upstream: beyond it the object is truncated and annotated; the
// EndpointSlices carry every endpoint.
const MaxEndpointsAddresses = 1000

// AnnotationOverCapacity marks a truncated Endpoints object.
const AnnotationOverCapacity = "endpoints.kubernetes.io/over-capacity"

// truncate keeps at most max addresses over all subsets, ready ones first,
// taking from each subset in proportion to its size.
func truncate(subsets []corev1.EndpointSubset, max int) ([]corev1.EndpointSubset, bool) {
	total := 0
	for _, s := range subsets {
		total += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	if total <= max {
		return subsets, false
	}
	out := make([]corev1.EndpointSubset, len(subsets))
	left := max
	for i, s := range subsets {
		n := len(s.Addresses) + len(s.NotReadyAddresses)
		keep := n * max / total
		if i == len(subsets)-1 || keep > left {
			keep = min(n, left)
		}
		left -= keep
		out[i] = corev1.EndpointSubset{Ports: s.Ports}
		r := min(keep, len(s.Addresses))
		out[i].Addresses = s.Addresses[:r]
		if nr := keep - r; nr > 0 {
			out[i].NotReadyAddresses = s.NotReadyAddresses[:nr]
		}
	}
	return out, true
}

func sameSubsets(a, b []corev1.EndpointSubset) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return equality.Semantic.DeepEqual(a, b)
}

// syncSlices writes the EndpointSlices of one Service with a selector.
func (c *Controller) syncSlices(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.reconcileSlices(ctx, ns, name, nil, nil)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil {
		return nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		// A name, not addresses: no slices (ours are removed).
		return c.reconcileSlices(ctx, ns, name, nil, nil)
	}
	pods, err := c.selectedPods(svc)
	if err != nil {
		return err
	}
	groups := desiredSlices(svc, pods)
	if len(groups) == 0 {
		// A placeholder slice, as upstream keeps for a service without
		// endpoints.
		at := discoveryv1.AddressTypeIPv4
		if f := serviceFamilies(svc); !f[discoveryv1.AddressTypeIPv4] {
			at = discoveryv1.AddressTypeIPv6
		}
		groups = []sliceGroup{{AddressType: at}}
	}
	lbls := endpointsLabels(svc)
	lbls[discoveryv1.LabelServiceName] = name
	lbls[discoveryv1.LabelManagedBy] = ManagedBySlices
	return c.reconcileSlices(ctx, ns, name, &sliceMeta{
		managedBy: ManagedBySlices,
		labels:    lbls,
		owner:     []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))},
	}, groups)
}

// sliceMeta is what the slices of one service carry besides endpoints.
type sliceMeta struct {
	managedBy   string
	labels      map[string]string
	annotations map[string]string
	owner       []metav1.OwnerReference
}

// reconcileSlices makes the slices of service ns/name managed by
// meta.managedBy hold groups, or deletes them all when meta is nil (then
// managedBy says whose): existing slices of a group are reused in name
// order, missing ones created, surplus ones deleted.
func (c *Controller) reconcileSlices(ctx context.Context, ns, name string, meta *sliceMeta, groups []sliceGroup, managedBy ...string) error {
	owner := ManagedBySlices
	if meta != nil {
		owner = meta.managedBy
	} else if len(managedBy) > 0 {
		owner = managedBy[0]
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: owner})
	existing, err := c.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return fmt.Errorf("list endpointslices: %w", err)
	}
	byKey := map[string][]*discoveryv1.EndpointSlice{}
	for _, sl := range existing {
		g := sliceGroup{AddressType: sl.AddressType, Ports: sl.Ports}
		byKey[g.key()] = append(byKey[g.key()], sl)
	}
	for _, list := range byKey {
		slices.SortFunc(list, func(a, b *discoveryv1.EndpointSlice) int {
			if a.Name < b.Name {
				return -1
			}
			if a.Name > b.Name {
				return 1
			}
			return 0
		})
	}
	if meta == nil {
		meta = &sliceMeta{}
	}
	client := c.client.DiscoveryV1().EndpointSlices(ns)
	for _, g := range groups {
		have := byKey[g.key()]
		delete(byKey, g.key())
		chunks := chunk(g.Endpoints, MaxEndpointsPerSlice)
		for i, eps := range chunks {
			if i < len(have) {
				cur := have[i]
				if equality.Semantic.DeepEqual(cur.Endpoints, eps) && sameLabels(cur.Labels, meta.labels) && sameLabels(cur.Annotations, meta.annotations) {
					continue
				}
				sl := cur.DeepCopy()
				sl.Endpoints, sl.Labels, sl.Annotations, sl.OwnerReferences = eps, meta.labels, meta.annotations, meta.owner
				if _, err := client.Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("update endpointslice %s/%s: %w", ns, sl.Name, err)
				}
				continue
			}
			sl := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{GenerateName: name + "-", Namespace: ns, Labels: meta.labels, Annotations: meta.annotations, OwnerReferences: meta.owner},
				AddressType: g.AddressType, Ports: g.Ports, Endpoints: eps,
			}
			if _, err := client.Create(ctx, sl, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create endpointslice for %s/%s: %w", ns, name, err)
			}
		}
		if len(have) > len(chunks) {
			byKey["surplus|"+g.key()] = have[len(chunks):]
		}
	}
	for _, list := range byKey {
		for _, sl := range list {
			if err := client.Delete(ctx, sl.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete endpointslice %s/%s: %w", ns, sl.Name, err)
			}
		}
	}
	return nil
}

// chunk splits eps into slices of at most n (one empty chunk for none).
func chunk(eps []discoveryv1.Endpoint, n int) [][]discoveryv1.Endpoint {
	if len(eps) == 0 {
		return [][]discoveryv1.Endpoint{{}}
	}
	var out [][]discoveryv1.Endpoint
	for len(eps) > n {
		out = append(out, eps[:n])
		eps = eps[n:]
	}
	return append(out, eps)
}

// syncMirror mirrors the Endpoints of a Service without a selector into
// EndpointSlices.
func (c *Controller) syncMirror(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var ep *corev1.Endpoints
	if svc != nil && svc.Spec.Selector == nil {
		ep, err = c.endpoints.Endpoints(ns).Get(name)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if ep != nil && (ep.Labels[LabelSkipMirror] == "true" || ep.Annotations[annotationLeader] != "") {
			ep = nil
		}
	}
	if ep == nil {
		return c.reconcileSlices(ctx, ns, name, nil, nil, ManagedByMirroring)
	}
	// As upstream: the Endpoints' labels and annotations (less two),
	// owned by the Endpoints.
	lbls := maps.Clone(ep.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[discoveryv1.LabelServiceName] = name
	lbls[discoveryv1.LabelManagedBy] = ManagedByMirroring
	ann := maps.Clone(ep.Annotations)
	delete(ann, corev1.EndpointsLastChangeTriggerTime)
	delete(ann, corev1.LastAppliedConfigAnnotation)
	if len(ann) == 0 {
		ann = nil
	}
	return c.reconcileSlices(ctx, ns, name, &sliceMeta{
		managedBy:   ManagedByMirroring,
		labels:      lbls,
		annotations: ann,
		owner:       []metav1.OwnerReference{*metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))},
	}, mirroredGroups(ep))
}

// annotationLeader marks Endpoints used as leader-election locks, which
// are not mirrored.
const annotationLeader = "control-plane.alpha.kubernetes.io/leader"

// mirroredGroups turns Endpoints subsets into slice groups.
func mirroredGroups(ep *corev1.Endpoints) []sliceGroup {
	groups := map[string]*sliceGroup{}
	for _, ss := range ep.Subsets {
		ports := make([]discoveryv1.EndpointPort, len(ss.Ports))
		for i, p := range ss.Ports {
			ports[i] = discoveryv1.EndpointPort{Name: ptr(p.Name), Port: ptr(p.Port), Protocol: ptr(protoOf(p.Protocol)), AppProtocol: p.AppProtocol}
		}
		add := func(a corev1.EndpointAddress, ready bool) {
			at, ok := addressTypeOf(a.IP)
			if !ok {
				return
			}
			g := &sliceGroup{AddressType: at, Ports: ports}
			if have := groups[g.key()]; have != nil {
				g = have
			} else {
				groups[g.key()] = g
			}
			e := discoveryv1.Endpoint{
				Addresses:  []string{a.IP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(ready)},
				NodeName:   a.NodeName,
				TargetRef:  a.TargetRef,
			}
			if a.Hostname != "" {
				e.Hostname = ptr(a.Hostname)
			}
			g.Endpoints = append(g.Endpoints, e)
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	out := make([]sliceGroup, 0, len(groups))
	for _, k := range sortedKeys(groups) {
		out = append(out, *groups[k])
	}
	return out
}
