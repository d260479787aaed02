package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PrepareResize keeps, of an update through the pods/resize subresource, only the changes to
// the resources and resize policies of containers (and restartable init containers); the
// rest of the pod comes from old. Added, removed, reordered or renamed containers are left
// for ValidateResize to refuse.
func PrepareResize(p, old *corev1.Pod) {
	if len(p.Spec.Containers) != len(old.Spec.Containers) || len(p.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return
	}
	keep := func(newC, oldC []corev1.Container) ([]corev1.Container, bool) {
		out := make([]corev1.Container, len(oldC))
		copy(out, oldC)
		for i := range newC {
			if newC[i].Name != oldC[i].Name {
				return nil, false
			}
			out[i].Resources = newC[i].Resources
			out[i].ResizePolicy = newC[i].ResizePolicy
		}
		return out, true
	}
	cs, ok1 := keep(p.Spec.Containers, old.Spec.Containers)
	ics, ok2 := keep(p.Spec.InitContainers, old.Spec.InitContainers)
	if !ok1 || !ok2 {
		return
	}
	meta := p.ObjectMeta
	*p = *old.DeepCopy()
	// Metadata as for a status write: labels, annotations, owners and finalizers stay.
	metav1.ResetObjectMetaForStatus(&meta, &old.ObjectMeta)
	p.ObjectMeta = meta
	p.Spec.Containers = cs
	p.Spec.InitContainers = ics
}

// ValidateResize checks a pods/resize update (after PrepareResize), as upstream: only cpu and
// memory of regular and sidecar containers change, nothing is removed, memory limits only
// grow unless the container restarts for them, the QoS class stays, and static and Windows
// pods are not resized.
func ValidateResize(p, old *corev1.Pod) field.ErrorList {
	if _, ok := old.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if old.Spec.OS != nil && old.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	specPath := field.NewPath("spec")
	errs := validatePodSpec(&p.Spec, specPath, podOpts{isPod: true})
	if podQOS(&old.Spec) != podQOS(&p.Spec) {
		errs = append(errs, field.Invalid(specPath, p.Status.QOSClass, "Pod QOS Class may not change as a result of resizing"))
	}
	for _, cs := range old.Status.ContainerStatuses {
		if cs.State.Running != nil {
			if cs.Resources == nil {
				errs = append(errs, field.Forbidden(specPath, "Pod running on node without support for resize"))
			}
			break
		}
	}
	if len(p.Spec.Containers) != len(old.Spec.Containers) || len(p.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
	}
	for i, c := range old.Spec.InitContainers {
		if isRestartableInit(&c) {
			errs = append(errs, validateContainerResize(&p.Spec.InitContainers[i].Resources, &c.Resources, c.ResizePolicy,
				specPath.Child("initContainers").Index(i).Child("resources"))...)
		}
	}
	for i, c := range old.Spec.Containers {
		errs = append(errs, validateContainerResize(&p.Spec.Containers[i].Resources, &c.Resources, c.ResizePolicy,
			specPath.Child("containers").Index(i).Child("resources"))...)
	}
	// Only cpu and memory may differ.
	munged := p.Spec.DeepCopy()
	for i := range munged.Containers {
		keepCPUMemory(&munged.Containers[i], &old.Spec.Containers[i])
		if !equality.Semantic.DeepEqual(munged.Containers[i], old.Spec.Containers[i]) {
			errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
		}
	}
	for i := range munged.InitContainers {
		if isRestartableInit(&old.Spec.InitContainers[i]) {
			keepCPUMemory(&munged.InitContainers[i], &old.Spec.InitContainers[i])
		}
	}
	if !equality.Semantic.DeepEqual(*munged, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources for sidecar containers are mutable"))
	}
	return errs
}

// keepCPUMemory replaces c's cpu and memory requests and limits with old's.
func keepCPUMemory(c, old *corev1.Container) {
	swap := func(l, oldL corev1.ResourceList) corev1.ResourceList {
		if oldL == nil {
			return nil
		}
		out := l.DeepCopy()
		if out == nil {
			out = corev1.ResourceList{}
		}
		delete(out, corev1.ResourceCPU)
		delete(out, corev1.ResourceMemory)
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := oldL[n]; ok {
				out[n] = q
			}
		}
		return out
	}
	c.Resources = corev1.ResourceRequirements{
		Limits:   swap(c.Resources.Limits, old.Resources.Limits),
		Requests: swap(c.Resources.Requests, old.Resources.Requests),
		Claims:   c.Resources.Claims,
	}
}

func validateContainerResize(n, o *corev1.ResourceRequirements, policies []corev1.ContainerResizePolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	removed := func(nl, ol corev1.ResourceList) bool {
		for name := range ol {
			if _, ok := nl[name]; !ok {
				return true
			}
		}
		return false
	}
	if removed(n.Requests, o.Requests) {
		errs = append(errs, field.Forbidden(p.Child("requests"), "resource requests cannot be removed"))
	}
	if removed(n.Limits, o.Limits) {
		errs = append(errs, field.Forbidden(p.Child("limits"), "resource limits cannot be removed"))
	}
	var memPolicy corev1.ResourceResizeRestartPolicy
	for _, rp := range policies {
		if rp.ResourceName == corev1.ResourceMemory {
			memPolicy = rp.RestartPolicy
			break
		}
	}
	if memPolicy == corev1.NotRequired || memPolicy == "" {
		newLim, hasNew := n.Limits[corev1.ResourceMemory]
		oldLim, hasOld := o.Limits[corev1.ResourceMemory]
		switch {
		case hasNew && hasOld && newLim.Cmp(oldLim) < 0:
			errs = append(errs, field.Forbidden(p.Child("limits").Key(string(corev1.ResourceMemory)),
				"memory limits cannot be decreased unless resizePolicy is RestartContainer"))
		case hasNew && !hasOld:
			errs = append(errs, field.Forbidden(p.Child("limits").Key(string(corev1.ResourceMemory)),
				"memory limits cannot be added unless resizePolicy is RestartContainer"))
		}
	}
	return errs
}
