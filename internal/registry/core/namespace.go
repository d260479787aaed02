package core

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func namespaceKind() *registry.Kind {
	return &registry.Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Namespace"),
		Resource:   "namespaces",
		ShortNames: []string{"ns"},
		New:        func() runtime.Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		Status:     true,
		// Namespace names are DNS labels; deleting one answers with the namespace.
		NameValidation:      apivalidation.NameIsDNSLabel,
		ReturnDeletedObject: true,
		PrepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
			for _, f := range ns.Spec.Finalizers {
				if f == corev1.FinalizerKubernetes {
					return
				}
			}
			ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			// Finalizers change only through the finalize subresource.
			ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			ns.Spec.Finalizers = o.Spec.Finalizers
		},
		Default: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			setNamespaceNameLabel(ns)
			if ns.Status.Phase == "" {
				ns.Status.Phase = corev1.NamespaceActive
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			// Upstream canonicalizes the name label after a generated name is chosen; Validate
			// is the first hook that sees the final name.
			setNamespaceNameLabel(ns)
			return validateFinalizerNames(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			var errs field.ErrorList
			if ns.DeletionTimestamp.IsZero() {
				if ns.Status.Phase != corev1.NamespaceActive {
					errs = append(errs, field.Invalid(field.NewPath("status", "Phase"), ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
				}
			} else if ns.Status.Phase != corev1.NamespaceTerminating {
				errs = append(errs, field.Invalid(field.NewPath("status", "Phase"), ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Status", Type: "string", Description: "The status of the namespace"},
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			ns := obj.(*corev1.Namespace)
			return []interface{}{string(ns.Status.Phase), age(&ns.ObjectMeta)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			ns := obj.(*corev1.Namespace)
			// "name" is a legacy field upstream still serves.
			return fields.Set{"status.phase": string(ns.Status.Phase), "name": ns.Name}
		},
	}
}

// validateFinalizerNames checks spec.finalizers of a namespace: qualified names, with the
// domain required unless it is a standard (kubernetes) one.
// Upstream reports these under "spec.finalizers" without the index.
func validateFinalizerNames(fs []corev1.FinalizerName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range fs {
		errs = append(errs, validateFinalizerName(string(f), p)...)
	}
	return errs
}

func validateFinalizerName(f string, p *field.Path) field.ErrorList {
	errs := apivalidation.ValidateFinalizerName(f, p)
	if f == string(corev1.FinalizerKubernetes) || f == metav1.FinalizerOrphanDependents || f == metav1.FinalizerDeleteDependents {
		return errs
	}
	if !containsSlash(f) {
		errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// setNamespaceNameLabel keeps the kubernetes.io/metadata.name label equal to the name.
func setNamespaceNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}
