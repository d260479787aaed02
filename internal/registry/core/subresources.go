package core

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Checks the API server's generic and subresource paths can use for the core kinds, worded as
// upstream words them.

// ValidateBinding checks a pods/binding request: the target is a Node (or has no kind) and
// is named.
func ValidateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// ValidateNamespaceFinalize checks a namespaces/finalize update: every spec.finalizers entry
// is a qualified name, and one without a domain is a standard finalizer ("kubernetes").
func ValidateNamespaceFinalize(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}

// ValidateKubeFinalizerNames is the check upstream adds to object metadata of its built-in
// kinds: a metadata.finalizers entry without a domain must be a standard finalizer
// ("kubernetes", "orphan", "foregroundDeletion").
func ValidateKubeFinalizerNames(m metav1.Object) field.ErrorList {
	var errs field.ErrorList
	for i, f := range m.GetFinalizers() {
		if containsSlash(f) {
			continue
		}
		switch f {
		case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
			continue
		}
		errs = append(errs, field.Invalid(field.NewPath("metadata", "finalizers").Index(i), f,
			"name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}
