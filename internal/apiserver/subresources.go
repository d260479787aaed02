package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// SubresourceHandler serves a streaming subresource (pods/log, pods/exec, …) for the named
// object; the server wires the kubelet proxy here.
type SubresourceHandler func(w http.ResponseWriter, r *http.Request, namespace, name string)

// serveSubresource dispatches /status, /scale, pods/binding and namespaces/finalize.
func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	gr := schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
	key := k.Resource + "/" + ri.Subresource
	if h, ok := s.subresources[key]; ok && k.GVK.Group == "" {
		h(w, r, ri.Namespace, ri.Name)
		return
	}
	switch {
	case ri.Subresource == "status" && k.Status:
		switch ri.Verb {
		case "get":
			s.get(w, r, ri, k, out)
		case "update", "patch":
			s.updateStatus(w, r, ri, k, out)
		default:
			WriteError(w, apierrors.NewMethodNotSupported(gr, ri.Verb))
		}
	case ri.Subresource == "scale" && k.Scale != nil:
		switch ri.Verb {
		case "get":
			obj, err := s.res[k].Get(r.Context(), ri.Namespace, ri.Name)
			if err != nil {
				WriteError(w, err)
				return
			}
			writeJSON(w, out, http.StatusOK, scaleOf(k, obj))
		case "update", "patch":
			s.updateScale(w, r, ri, k, out)
		default:
			WriteError(w, apierrors.NewMethodNotSupported(gr, ri.Verb))
		}
	case key == "pods/binding" && k.GVK.Group == "" && ri.Verb == "create":
		s.bind(w, r, ri, k)
	case key == "namespaces/finalize" && k.GVK.Group == "" && ri.Verb == "update":
		s.finalizeNamespace(w, r, ri, k, out)
	default:
		WriteError(w, notFoundResource())
	}
}

// updateStatus handles PUT and PATCH of /status: only status changes, the rest of the stored
// object is kept.
func (s *Server) updateStatus(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	body, mode, dryRun, err := readWrite(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	var newObj runtime.Object
	var warnings []string
	if ri.Verb == "update" {
		newObj = k.New()
		if warnings, err = s.decode(body, r.Header.Get("Content-Type"), mode, k.GVK, newObj); err != nil {
			WriteError(w, err)
			return
		}
		nm, _ := meta.Accessor(newObj)
		if nm.GetName() != ri.Name {
			WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), ri.Name)))
			return
		}
	}
	pt := patchContentType(r)
	updated, err := s.guaranteedUpdate(r.Context(), k, ri.Namespace, ri.Name, dryRun, func(cur runtime.Object) (runtime.Object, error) {
		var src runtime.Object
		if newObj != nil {
			src = newObj
		} else {
			p, warn, err := s.patchedObject(k, cur, pt, body, mode)
			if err != nil {
				return nil, err
			}
			warnings, src = warn, p
		}
		sm, _ := meta.Accessor(src)
		cm, _ := meta.Accessor(cur)
		if sm.GetUID() != "" && sm.GetUID() != cm.GetUID() {
			return nil, apierrors.NewConflict(schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}, ri.Name,
				fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", sm.GetUID(), cm.GetUID()))
		}
		// A status write changes status and may change annotations (as upstream's status
		// strategies of the built-in kinds allow); spec and the rest of metadata stay.
		obj := cur.DeepCopyObject()
		copyStatus(obj, src)
		om, _ := meta.Accessor(obj)
		om.SetResourceVersion(sm.GetResourceVersion())
		om.SetAnnotations(sm.GetAnnotations())
		if k.ValidateStatusUpdate != nil {
			if errs := k.ValidateStatusUpdate(obj, cur); len(errs) > 0 {
				return nil, invalid(k, ri.Name, errs)
			}
		}
		return obj, nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings)
	s.writeObject(w, out, http.StatusOK, k, updated)
}

// scaleOf builds the autoscaling/v1 Scale of a scalable object.
func scaleOf(k *registry.Kind, obj runtime.Object) *autoscalingv1.Scale {
	m, _ := meta.Accessor(obj)
	spec, status, sel := k.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}
}

// updateScale handles PUT and PATCH of /scale.
func (s *Server) updateScale(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	body, mode, dryRun, err := readWrite(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	pt := patchContentType(r)
	var result *autoscalingv1.Scale
	updated, err := s.guaranteedUpdate(r.Context(), k, ri.Namespace, ri.Name, dryRun, func(cur runtime.Object) (runtime.Object, error) {
		scale := &autoscalingv1.Scale{}
		if ri.Verb == "update" {
			if _, err := s.decode(body, r.Header.Get("Content-Type"), mode, scaleGVK, scale); err != nil {
				return nil, err
			}
		} else {
			orig, _ := json.Marshal(scaleOf(k, cur))
			patched, err := applyPatch(pt, orig, body, &autoscalingv1.Scale{})
			if err != nil {
				return nil, err
			}
			if _, err := s.decode(patched, "application/json", mode, scaleGVK, scale); err != nil {
				return nil, err
			}
		}
		if scale.Name != "" && scale.Name != ri.Name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", scale.Name, ri.Name))
		}
		if scale.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, ri.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, apimachineryvalidation.IsNegativeErrorMsg)})
		}
		obj := cur.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(scale.ResourceVersion)
		k.Scale.SetReplicas(obj, scale.Spec.Replicas)
		if err := s.mutateForUpdate(r.Context(), k, obj, cur, dryRun); err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	result = scaleOf(k, updated)
	writeJSON(w, out, http.StatusOK, result)
}

// bind handles POST pods/{name}/binding: the scheduler's assignment of a pod to a node.
func (s *Server) bind(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind) {
	body, err := readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	binding := &corev1.Binding{}
	if _, err := s.decode(body, r.Header.Get("Content-Type"), validationIgnore, corev1.SchemeGroupVersion.WithKind("Binding"), binding); err != nil {
		WriteError(w, err)
		return
	}
	if binding.Name != "" && binding.Name != ri.Name {
		WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", binding.Name, ri.Name)))
		return
	}
	if binding.Target.Name == "" {
		WriteError(w, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, ri.Name, field.ErrorList{
			field.Required(field.NewPath("target", "name"), "")}))
		return
	}
	gr := schema.GroupResource{Resource: "pods/binding"}
	_, err = s.res[k].Update(r.Context(), ri.Namespace, ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.DeepCopyObject().(*corev1.Pod)
		if binding.UID != "" && binding.UID != pod.UID {
			return nil, apierrors.NewConflict(gr, ri.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", binding.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(gr, ri.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", ri.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(gr, ri.Name, fmt.Errorf("pod %s is already assigned to node %q", ri.Name, pod.Spec.NodeName))
		}
		pod.ResourceVersion = ""
		pod.Spec.NodeName = binding.Target.Name
		for k, v := range binding.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.Now()})
		return pod, nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, output{}, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// finalizeNamespace handles PUT namespaces/{name}/finalize: only spec.finalizers change; a
// terminating namespace with none left is removed.
func (s *Server) finalizeNamespace(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	body, err := readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	in := &corev1.Namespace{}
	if _, err := s.decode(body, r.Header.Get("Content-Type"), validationIgnore, k.GVK, in); err != nil {
		WriteError(w, err)
		return
	}
	updated, err := s.guaranteedUpdate(r.Context(), k, "", ri.Name, false, func(cur runtime.Object) (runtime.Object, error) {
		ns := cur.DeepCopyObject().(*corev1.Namespace)
		ns.ResourceVersion = in.ResourceVersion
		ns.Spec.Finalizers = in.Spec.Finalizers
		return ns, nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	s.writeObject(w, out, http.StatusOK, k, updated)
}

var _ = context.Background
