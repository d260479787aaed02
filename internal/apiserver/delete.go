package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"

	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// Finalizers the API server adds for propagation policies (the garbage collector removes them).
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// deleteOptions reads DeleteOptions from the body (JSON, YAML or protobuf, if any) and the query.
func (s *Server) deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		var derr error
		switch patchContentType(r) {
		case "application/vnd.kubernetes.protobuf":
			_, _, derr = s.protoSer.Decode(body, nil, opts)
		case "application/yaml":
			derr = yaml.Unmarshal(body, opts)
		default:
			derr = json.Unmarshal(body, opts)
		}
		if derr != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid DeleteOptions: %v", derr))
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds: Invalid value: %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	if vals := q["dryRun"]; len(vals) > 0 {
		opts.DryRun = vals
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", v))
		}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"", *p))
		}
		if opts.OrphanDependents != nil {
			return nil, apierrors.NewBadRequest("orphanDependents: Invalid value: \"true\": orphanDependents and deletionPropagation cannot be both set")
		}
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	return opts, nil
}

// delete handles DELETE of one object.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	obj, deleted, err := s.deleteObject(r.Context(), k, ri.Namespace, ri.Name, opts)
	if err != nil {
		WriteError(w, err)
		return
	}
	s.writeDeleted(w, out, k, obj, deleted)
}

func (s *Server) writeDeleted(w http.ResponseWriter, out output, k *registry.Kind, obj runtime.Object, deleted bool) {
	if deleted && !k.ReturnDeletedObject {
		m, _ := meta.Accessor(obj)
		writeJSON(w, out, http.StatusOK, statusSuccess(schema.GroupKind{Group: k.GVK.Group, Kind: k.GVK.Kind}, k.Resource, m.GetName(), string(m.GetUID())))
		return
	}
	s.writeObject(w, out, http.StatusOK, k, obj)
}

// deleteObject deletes one object honouring preconditions, grace periods, finalizers and the
// propagation policy. deleted reports whether it is gone from storage (else it now carries a
// deletionTimestamp and waits for finalizers or its grace period).
func (s *Server) deleteObject(ctx context.Context, k *registry.Kind, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	gr := schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
	dryRun := len(opts.DryRun) > 0
	res := s.res[k]
	cur, err := res.Get(ctx, namespace, name)
	if err != nil {
		return nil, false, err
	}
	if err := checkPreconditions(gr, name, cur, opts.Preconditions); err != nil {
		return nil, false, err
	}
	if k == s.nsKind {
		return s.deleteNamespace(ctx, k, cur, dryRun)
	}
	cm, _ := meta.Accessor(cur)
	finalizers := sets.New(cm.GetFinalizers()...)
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.OrphanDependents != nil && *opts.OrphanDependents:
		finalizers.Insert(finalizerOrphan)
		finalizers.Delete(finalizerForeground)
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground:
		finalizers.Insert(finalizerForeground)
		finalizers.Delete(finalizerOrphan)
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationBackground,
		opts.OrphanDependents != nil && !*opts.OrphanDependents:
		finalizers.Delete(finalizerOrphan, finalizerForeground)
	}
	// Orphan and foreground finalizers only matter when the object has dependents; the
	// garbage collector removes them. They are added only to objects that are not yet deleting
	// or when the policy changes.
	grace, graceful := int64(0), false
	if k.GracefulDelete != nil {
		grace, graceful = k.GracefulDelete(cur, opts.GracePeriodSeconds)
	}
	pending := finalizers.Len() > 0 || (graceful && grace > 0)
	if !pending {
		if dryRun {
			return cur, true, nil
		}
		deleted, err := res.Delete(ctx, namespace, name, func(now runtime.Object) error {
			return checkPreconditions(gr, name, now, opts.Preconditions)
		})
		if err != nil {
			return nil, false, err
		}
		if s.cfg.Released != nil {
			s.cfg.Released(ctx, k, deleted)
		}
		return deleted, true, nil
	}
	mark := func(now runtime.Object) (runtime.Object, error) {
		if err := checkPreconditions(gr, name, now, opts.Preconditions); err != nil {
			return nil, err
		}
		obj := now.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion("")
		fs := sets.New(m.GetFinalizers()...)
		if m.GetDeletionTimestamp() == nil {
			fs = fs.Union(finalizers)
		} else {
			// Already deleting: only the propagation finalizers may change.
			fs.Delete(finalizerOrphan, finalizerForeground)
			fs = fs.Union(finalizers.Intersection(sets.New(finalizerOrphan, finalizerForeground)))
		}
		m.SetFinalizers(orderedFinalizers(m.GetFinalizers(), fs))
		when := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		if dt := m.GetDeletionTimestamp(); dt == nil || (graceful && when.Before(dt)) {
			m.SetDeletionTimestamp(&when)
			g := grace
			m.SetDeletionGracePeriodSeconds(&g)
		}
		return obj, nil
	}
	if dryRun {
		obj, err := mark(cur)
		return obj, false, err
	}
	updated, err := res.Update(ctx, namespace, name, mark)
	if err != nil {
		return nil, false, err
	}
	final, err := s.finishIfFinalized(ctx, k, updated)
	if err != nil {
		return nil, false, err
	}
	return final, final != updated, nil
}

// orderedFinalizers keeps the existing order of finalizers and appends new ones sorted.
func orderedFinalizers(existing []string, want sets.Set[string]) []string {
	var out []string
	seen := sets.New[string]()
	for _, f := range existing {
		if want.Has(f) && !seen.Has(f) {
			out = append(out, f)
			seen.Insert(f)
		}
	}
	for _, f := range sets.List(want) {
		if !seen.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

func checkPreconditions(gr schema.GroupResource, name string, obj runtime.Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	m, _ := meta.Accessor(obj)
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// protectedNamespaces may never be deleted, as upstream's NamespaceLifecycle admission says.
var protectedNamespaces = sets.New("default", "kube-system", "kube-public")

// deleteNamespace marks a namespace Terminating; the namespace controller empties it and
// finalizes it, after which the server removes it.
func (s *Server) deleteNamespace(ctx context.Context, k *registry.Kind, cur runtime.Object, dryRun bool) (runtime.Object, bool, error) {
	ns := cur.(*corev1.Namespace)
	if protectedNamespaces.Has(ns.Name) {
		return nil, false, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns.Name,
			fmt.Errorf("this namespace may not be deleted"))
	}
	if ns.DeletionTimestamp != nil {
		return ns, false, nil
	}
	if len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		if dryRun {
			return ns, true, nil
		}
		deleted, err := s.res[k].Delete(ctx, "", ns.Name, func(runtime.Object) error { return nil })
		return deleted, err == nil, err
	}
	mark := func(now runtime.Object) (runtime.Object, error) {
		n := now.DeepCopyObject().(*corev1.Namespace)
		n.ResourceVersion = ""
		if n.DeletionTimestamp == nil {
			t := metav1.Now()
			n.DeletionTimestamp = &t
			zero := int64(0)
			n.DeletionGracePeriodSeconds = &zero
		}
		n.Status.Phase = corev1.NamespaceTerminating
		return n, nil
	}
	if dryRun {
		obj, err := mark(cur)
		return obj, false, err
	}
	updated, err := s.res[k].Update(ctx, "", ns.Name, mark)
	return updated, false, err
}

func namespaceFinalizers(obj runtime.Object) []corev1.FinalizerName {
	if ns, ok := obj.(*corev1.Namespace); ok {
		return ns.Spec.Finalizers
	}
	return nil
}

// deleteCollection deletes every object a list with the same selectors would return, and
// answers with the list of what it deleted or marked for deletion.
func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	p, err := s.parseListParams(r, k, ri)
	if err != nil {
		WriteError(w, err)
		return
	}
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	res, err := s.res[k].List(r.Context(), storage.ListOptions{Namespace: ri.Namespace, Label: p.label, Field: p.field})
	if err != nil {
		WriteError(w, err)
		return
	}
	// Delete up to 16 at a time: etcd commits concurrent writes in one batch.
	items := make([]json.RawMessage, len(res.Entries))
	g, gctx := errgroup.WithContext(r.Context())
	g.SetLimit(16)
	for i, e := range res.Entries {
		g.Go(func() error {
			obj, _, err := s.deleteObject(gctx, k, e.Namespace, e.Name, opts)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			b, err := encodeObject(obj, k.GVK)
			if err != nil {
				return apierrors.NewInternalError(err)
			}
			items[i] = b
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		WriteError(w, err)
		return
	}
	kept := items[:0]
	for _, b := range items {
		if b != nil {
			kept = append(kept, b)
		}
	}
	items = kept
	list := map[string]any{
		"kind": k.GVK.Kind + "List", "apiVersion": k.GVK.GroupVersion().String(),
		"metadata": metav1.ListMeta{ResourceVersion: strconv.FormatInt(res.ResourceVersion, 10)},
		"items":    items,
	}
	writeJSON(w, out, http.StatusOK, list)
}
