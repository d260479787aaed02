package groups

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func nodeKinds() []*registry.Kind { return []*registry.Kind{runtimeClassKind()} }

// runtimeClassKind is node.k8s.io/v1 RuntimeClass: a named container runtime handler.
func runtimeClassKind() *registry.Kind {
	return &registry.Kind{
		GVK:      nodev1.SchemeGroupVersion.WithKind("RuntimeClass"),
		Resource: "runtimeclasses",
		New:      func() runtime.Object { return &nodev1.RuntimeClass{} },
		NewList:  func() runtime.Object { return &nodev1.RuntimeClassList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return validateRuntimeClass(obj.(*nodev1.RuntimeClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*nodev1.RuntimeClass).Handler, old.(*nodev1.RuntimeClass).Handler, field.NewPath("handler"))
		},
		Columns: []metav1.TableColumnDefinition{
			// upstream takes this description from a key ObjectMeta does not have: empty
			col("Handler", "string", ""),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			rc := obj.(*nodev1.RuntimeClass)
			return []interface{}{rc.Handler, age(&rc.ObjectMeta)}
		},
	}
}

func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNSLabel(rc.Handler, false) {
		errs = append(errs, field.Invalid(field.NewPath("handler"), rc.Handler, msg))
	}
	if rc.Overhead != nil {
		// upstream checks the overhead as container limits, under overhead.limits
		lp := field.NewPath("overhead", "limits")
		names := make([]string, 0, len(rc.Overhead.PodFixed))
		for n := range rc.Overhead.PodFixed {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := rc.Overhead.PodFixed[corev1.ResourceName(n)]
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(lp.Key(n), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		for i, tol := range s.Tolerations {
			tp := sp.Child("tolerations").Index(i)
			if tol.Key != "" {
				errs = append(errs, metav1validation.ValidateLabelName(tol.Key, tp.Child("key"))...)
			}
			if tol.Key == "" && tol.Operator != corev1.TolerationOpExists {
				errs = append(errs, field.Invalid(tp.Child("operator"), tol.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			if tol.Operator == corev1.TolerationOpExists && tol.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), tol, "value must be empty when `operator` is 'Exists'"))
			}
		}
	}
	return errs
}
