package groups

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func coordinationKinds() []*registry.Kind { return []*registry.Kind{leaseKind()} }

func leaseKind() *registry.Kind {
	return &registry.Kind{
		GVK:        coordinationv1.SchemeGroupVersion.WithKind("Lease"),
		Resource:   "leases",
		Namespaced: true,
		New:        func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:    func() runtime.Object { return &coordinationv1.LeaseList{} },
		// strategy and preferredHolder belong to coordinated leader election, an alpha feature
		// upstream 1.33 leaves off: they are dropped, as upstream drops them.
		PrepareForCreate: func(obj runtime.Object) {
			l := obj.(*coordinationv1.Lease)
			l.Spec.Strategy, l.Spec.PreferredHolder = nil, nil
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			l, o := obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease)
			if o.Spec.Strategy == nil {
				l.Spec.Strategy = nil
			}
			if o.Spec.PreferredHolder == nil {
				l.Spec.PreferredHolder = nil
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateLeaseSpec(&obj.(*coordinationv1.Lease).Spec, field.NewPath("spec"))
		},
		Columns: []metav1.TableColumnDefinition{
			col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			l := obj.(*coordinationv1.Lease)
			return []interface{}{deref(l.Spec.HolderIdentity, ""), age(&l.ObjectMeta)}
		},
	}
}

func validateLeaseSpec(s *coordinationv1.LeaseSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.LeaseDurationSeconds != nil && *s.LeaseDurationSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("leaseDurationSeconds"), s.LeaseDurationSeconds, "must be greater than 0"))
	}
	if s.LeaseTransitions != nil && *s.LeaseTransitions < 0 {
		errs = append(errs, field.Invalid(p.Child("leaseTransitions"), s.LeaseTransitions, "must be greater than or equal to 0"))
	}
	return errs
}
