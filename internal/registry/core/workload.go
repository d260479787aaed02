package core

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func podTemplateKind() *registry.Kind {
	return &registry.Kind{
		GVK:                 corev1.SchemeGroupVersion.WithKind("PodTemplate"),
		Resource:            "podtemplates",
		Namespaced:          true,
		New:                 func() runtime.Object { return &corev1.PodTemplate{} },
		NewList:             func() runtime.Object { return &corev1.PodTemplateList{} },
		ReturnDeletedObject: true,
		// The generation follows .template (the server's own rule looks only at .spec).
		PrepareForCreate: func(obj runtime.Object) { obj.(*corev1.PodTemplate).Generation = 1 },
		PrepareForUpdate: func(obj, old runtime.Object) {
			t, o := obj.(*corev1.PodTemplate), old.(*corev1.PodTemplate)
			DefaultPodTemplateSpec(&t.Template)
			if !equality.Semantic.DeepEqual(t.Template, o.Template) {
				t.Generation = o.Generation + 1
			}
		},
		Default: func(obj runtime.Object) { DefaultPodTemplateSpec(&obj.(*corev1.PodTemplate).Template) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return ValidatePodTemplateSpec(&obj.(*corev1.PodTemplate).Template, field.NewPath("template"))
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Containers", Type: "string", Description: "Names of each container in the template."},
			{Name: "Images", Type: "string", Description: "Images referenced by each container in the template."},
			{Name: "Pod Labels", Type: "string", Description: "The labels for the pod template."},
		},
		Row: func(obj runtime.Object) []interface{} {
			t := obj.(*corev1.PodTemplate)
			names, images := containerCells(t.Template.Spec.Containers)
			return []interface{}{names, images, labels.FormatLabels(t.Template.Labels)}
		},
	}
}

// containerCells lays out container names and images, comma separated.
func containerCells(cs []corev1.Container) (string, string) {
	names := make([]string, len(cs))
	images := make([]string, len(cs))
	for i, c := range cs {
		names[i], images[i] = c.Name, c.Image
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func replicationControllerKind() *registry.Kind {
	return &registry.Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("ReplicationController"),
		Resource:   "replicationcontrollers",
		ShortNames: []string{"rc"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.ReplicationController{} },
		NewList:    func() runtime.Object { return &corev1.ReplicationControllerList{} },
		Status:     true,
		Generation: true,
		Scale: &registry.ScaleRule{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rc := obj.(*corev1.ReplicationController)
				var spec int32 = 1
				if rc.Spec.Replicas != nil {
					spec = *rc.Spec.Replicas
				}
				return spec, rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
			},
			SetReplicas: func(obj runtime.Object, n int32) {
				obj.(*corev1.ReplicationController).Spec.Replicas = &n
			},
		},
		Default: func(obj runtime.Object) { defaultReplicationController(obj.(*corev1.ReplicationController)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateReplicationController(obj.(*corev1.ReplicationController))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			rc := obj.(*corev1.ReplicationController)
			p := field.NewPath("status")
			var errs field.ErrorList
			errs = append(errs, validateNonnegative(int64(rc.Status.Replicas), p.Child("replicas"))...)
			errs = append(errs, validateNonnegative(int64(rc.Status.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
			errs = append(errs, validateNonnegative(int64(rc.Status.ReadyReplicas), p.Child("readyReplicas"))...)
			errs = append(errs, validateNonnegative(int64(rc.Status.AvailableReplicas), p.Child("availableReplicas"))...)
			errs = append(errs, validateNonnegative(rc.Status.ObservedGeneration, p.Child("observedGeneration"))...)
			msg := "cannot be greater than status.replicas"
			if rc.Status.FullyLabeledReplicas > rc.Status.Replicas {
				errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), rc.Status.FullyLabeledReplicas, msg))
			}
			if rc.Status.ReadyReplicas > rc.Status.Replicas {
				errs = append(errs, field.Invalid(p.Child("readyReplicas"), rc.Status.ReadyReplicas, msg))
			}
			if rc.Status.AvailableReplicas > rc.Status.Replicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), rc.Status.AvailableReplicas, msg))
			}
			if rc.Status.AvailableReplicas > rc.Status.ReadyReplicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), rc.Status.AvailableReplicas, "cannot be greater than readyReplicas"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Desired", Type: "integer", Description: "Replicas is the number of desired replicas."},
			{Name: "Current", Type: "integer", Description: "Replicas is the most recently observed number of replicas."},
			{Name: "Ready", Type: "integer", Description: "The number of ready replicas for this replication controller."},
			registry.AgeColumn,
			{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."},
			{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."},
			{Name: "Selector", Type: "string", Priority: 1, Description: "Selector is a label query over pods that should match the Replicas count."},
		},
		Row: func(obj runtime.Object) []interface{} {
			rc := obj.(*corev1.ReplicationController)
			var desired int64 = 1
			if rc.Spec.Replicas != nil {
				desired = int64(*rc.Spec.Replicas)
			}
			var cs []corev1.Container
			if rc.Spec.Template != nil {
				cs = rc.Spec.Template.Spec.Containers
			}
			names, images := containerCells(cs)
			return []interface{}{desired, int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas), age(&rc.ObjectMeta),
				names, images, labels.FormatLabels(rc.Spec.Selector)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			rc := obj.(*corev1.ReplicationController)
			return fields.Set{"status.replicas": itoa(rc.Status.Replicas)}
		},
	}
}

func defaultReplicationController(rc *corev1.ReplicationController) {
	if rc.Spec.Template != nil {
		if l := rc.Spec.Template.Labels; l != nil {
			if len(rc.Spec.Selector) == 0 {
				rc.Spec.Selector = l
			}
			if len(rc.Labels) == 0 {
				rc.Labels = l
			}
		}
		DefaultPodTemplateSpec(rc.Spec.Template)
	}
	if rc.Spec.Replicas == nil {
		n := int32(1)
		rc.Spec.Replicas = &n
	}
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if rc.Spec.Replicas != nil {
		errs = append(errs, validateNonnegative(int64(*rc.Spec.Replicas), sp.Child("replicas"))...)
	}
	errs = append(errs, validateNonnegative(int64(rc.Spec.MinReadySeconds), sp.Child("minReadySeconds"))...)
	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(sp.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabels(rc.Spec.Selector, sp.Child("selector"))...)
	}
	tp := sp.Child("template")
	if rc.Spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if len(rc.Spec.Selector) > 0 {
		sel := labels.Set(rc.Spec.Selector).AsSelector()
		if !sel.Matches(labels.Set(rc.Spec.Template.Labels)) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), rc.Spec.Template.Labels, "`selector` does not match template `labels`"))
		}
	}
	errs = append(errs, ValidatePodTemplateSpec(rc.Spec.Template, tp)...)
	if rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rc.Spec.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if rc.Spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}
