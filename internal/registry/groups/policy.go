package groups

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func policyKinds() []*registry.Kind { return []*registry.Kind{podDisruptionBudgetKind()} }

func podDisruptionBudgetKind() *registry.Kind {
	return &registry.Kind{
		GVK:        policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"),
		Resource:   "poddisruptionbudgets",
		ShortNames: []string{"pdb"},
		Namespaced: true,
		New:        func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList:    func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		Status:     true,
		Generation: true,
		Validate: func(obj runtime.Object) field.ErrorList {
			s := &obj.(*policyv1.PodDisruptionBudget).Spec
			p := field.NewPath("spec")
			var errs field.ErrorList
			if s.MinAvailable != nil && s.MaxUnavailable != nil {
				errs = append(errs, field.Invalid(p, s, "minAvailable and maxUnavailable cannot be both set"))
			}
			if s.MinAvailable != nil {
				errs = append(errs, validatePositiveIntOrPercent(*s.MinAvailable, p.Child("minAvailable"))...)
				errs = append(errs, notMoreThan100Percent(*s.MinAvailable, p.Child("minAvailable"))...)
			}
			if s.MaxUnavailable != nil {
				errs = append(errs, validatePositiveIntOrPercent(*s.MaxUnavailable, p.Child("maxUnavailable"))...)
				errs = append(errs, notMoreThan100Percent(*s.MaxUnavailable, p.Child("maxUnavailable"))...)
			}
			errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
			if up := s.UnhealthyPodEvictionPolicy; up != nil && *up != policyv1.IfHealthyBudget && *up != policyv1.AlwaysAllow {
				errs = append(errs, field.NotSupported(p.Child("unhealthyPodEvictionPolicy"), *up, []string{"AlwaysAllow", "IfHealthyBudget"}))
			}
			return errs
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*policyv1.PodDisruptionBudget).Status
			p := field.NewPath("status")
			errs := nonNegative(int64(s.DisruptionsAllowed), p.Child("disruptionsAllowed"))
			errs = append(errs, nonNegative(int64(s.CurrentHealthy), p.Child("currentHealthy"))...)
			errs = append(errs, nonNegative(int64(s.DesiredHealthy), p.Child("desiredHealthy"))...)
			errs = append(errs, nonNegative(int64(s.ExpectedPods), p.Child("expectedPods"))...)
			return append(errs, metav1validation.ValidateConditions(s.Conditions, p.Child("conditions"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			col("Min Available", "string", "The minimum number of pods that must be available."),
			col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
			col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			b := obj.(*policyv1.PodDisruptionBudget)
			minA, maxU := "N/A", "N/A"
			if b.Spec.MinAvailable != nil {
				minA = b.Spec.MinAvailable.String()
			}
			if b.Spec.MaxUnavailable != nil {
				maxU = b.Spec.MaxUnavailable.String()
			}
			return []interface{}{minA, maxU, int64(b.Status.DisruptionsAllowed), age(&b.ObjectMeta)}
		},
	}
}
