package groups

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extv1beta1 "k8s.io/api/extensions/v1beta1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// daemonSetTemplateGenerationAnnotation carries a daemon set's template generation, bumped
// by the server whenever spec.template changes (upstream stores its internal
// spec.templateGeneration there for apps/v1).
const daemonSetTemplateGenerationAnnotation = "deprecated.daemonset.template.generation"

func appsKinds() []*registry.Kind {
	return []*registry.Kind{deploymentKind(), replicaSetKind(), statefulSetKind(), daemonSetKind(), controllerRevisionKind()}
}

var appsGV = appsv1.SchemeGroupVersion

// --- deployments -----------------------------------------------------------------------

func deploymentKind() *registry.Kind {
	return &registry.Kind{
		GVK:        appsGV.WithKind("Deployment"),
		Resource:   "deployments",
		ShortNames: []string{"deploy"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.Deployment{} },
		NewList:    func() runtime.Object { return &appsv1.DeploymentList{} },
		Status:     true,
		Generation: true,
		Scale: &registry.ScaleRule{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return deref(d.Spec.Replicas, 1), d.Status.Replicas, scaleSelector(d.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			// Annotations are copied from deployments to their replica sets, so upstream
			// bumps the generation on annotation changes as well as spec changes.
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			defaultDeployment(d) // compare defaulted specs, as upstream does after decoding
			d.Generation = o.Generation
			if !apiequality.Semantic.DeepEqual(d.Spec, o.Spec) || !apiequality.Semantic.DeepEqual(d.Annotations, o.Annotations) {
				d.Generation = o.Generation + 1
			}
		},
		Default: func(obj runtime.Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateDeploymentSpec(&obj.(*appsv1.Deployment).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*appsv1.Deployment).Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, field.NewPath("spec", "selector"))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			p := field.NewPath("status")
			errs := validateDeploymentStatus(&d.Status, p)
			errs = append(errs, collisionCountDecrement(d.Status.CollisionCount, o.Status.CollisionCount, p.Child("collisionCount"))...)
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Ready", "string", "Number of the pod with ready state"),
			col("Up-to-date", "string", extv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
			col("Available", "string", extv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
			wideCol("Selector", "string", extv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*appsv1.Deployment)
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			return []interface{}{
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, deref(d.Spec.Replicas, 0)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(&d.ObjectMeta),
				names, images, selectorString(d.Spec.Selector),
			}
		},
	}
}

func defaultDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptrTo[int32](1)
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptrTo(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptrTo[int32](10)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptrTo[int32](600)
	}
	defaultPodTemplate(&d.Spec.Template)
}

func validateDeploymentSpec(s *appsv1.DeploymentSpec, p *field.Path) field.ErrorList {
	errs := nonNegative32(s.Replicas, p.Child("replicas"))
	errs = append(errs, validateWorkloadSelector(s.Selector, p.Child("selector"), "deployment")...)
	if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, "invalid label selector"))
	} else {
		errs = append(errs, validateTemplateForReplicaSet(&s.Template, sel, p.Child("template"), "ReplicaSet")...)
	}
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if s.ProgressDeadlineSeconds != nil {
		errs = append(errs, nonNegative32(s.ProgressDeadlineSeconds, p.Child("progressDeadlineSeconds"))...)
		if *s.ProgressDeadlineSeconds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), s.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			errs = append(errs, field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil"))
			break
		}
		rp := p.Child("rollingUpdate")
		mu := deref(s.RollingUpdate.MaxUnavailable, intstr.FromInt32(0))
		ms := deref(s.RollingUpdate.MaxSurge, intstr.FromInt32(0))
		errs = append(errs, validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
	default:
		errs = append(errs, field.NotSupported(p, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}

func validateDeploymentStatus(s *appsv1.DeploymentStatus, p *field.Path) field.ErrorList {
	errs := nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))
	errs = append(errs, nonNegative(int64(s.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.UpdatedReplicas), p.Child("updatedReplicas"))...)
	errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegative(int64(s.UnavailableReplicas), p.Child("unavailableReplicas"))...)
	errs = append(errs, nonNegative32(s.CollisionCount, p.Child("collisionCount"))...)
	const msg = "cannot be greater than status.replicas"
	if s.UpdatedReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("updatedReplicas"), s.UpdatedReplicas, msg))
	}
	if s.ReadyReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
	}
	if s.AvailableReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}

// --- replicasets -------------------------------------------------------------------------

func replicaSetKind() *registry.Kind {
	return &registry.Kind{
		GVK:        appsGV.WithKind("ReplicaSet"),
		Resource:   "replicasets",
		ShortNames: []string{"rs"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:    func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Status:     true,
		Generation: true,
		Scale: &registry.ScaleRule{
			Get: func(obj runtime.Object) (int32, int32, string) {
				r := obj.(*appsv1.ReplicaSet)
				return deref(r.Spec.Replicas, 1), r.Status.Replicas, scaleSelector(r.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
		Default: func(obj runtime.Object) {
			r := obj.(*appsv1.ReplicaSet)
			if r.Spec.Replicas == nil {
				r.Spec.Replicas = ptrTo[int32](1)
			}
			defaultPodTemplate(&r.Spec.Template)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			s := &obj.(*appsv1.ReplicaSet).Spec
			p := field.NewPath("spec")
			errs := nonNegative32(s.Replicas, p.Child("replicas"))
			errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
			// upstream words the empty-selector error for replica sets as for deployments
			errs = append(errs, validateWorkloadSelector(s.Selector, p.Child("selector"), "deployment")...)
			if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err != nil {
				errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, "invalid label selector"))
			} else {
				errs = append(errs, validateTemplateForReplicaSet(&s.Template, sel, p.Child("template"), "ReplicaSet")...)
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*appsv1.ReplicaSet).Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, field.NewPath("spec", "selector"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*appsv1.ReplicaSet).Status
			p := field.NewPath("status")
			errs := nonNegative(int64(s.Replicas), p.Child("replicas"))
			errs = append(errs, nonNegative(int64(s.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
			errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
			errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
			errs = append(errs, nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
			const msg = "cannot be greater than status.replicas"
			if s.FullyLabeledReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), s.FullyLabeledReplicas, msg))
			}
			if s.ReadyReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
			}
			if s.AvailableReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
			}
			if s.AvailableReplicas > s.ReadyReplicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Desired", "integer", extv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
			col("Current", "integer", extv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
			col("Ready", "integer", extv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
			wideCol("Selector", "string", extv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			r := obj.(*appsv1.ReplicaSet)
			names, images := containerCells(r.Spec.Template.Spec.Containers)
			return []interface{}{
				int64(deref(r.Spec.Replicas, 0)), int64(r.Status.Replicas), int64(r.Status.ReadyReplicas), age(&r.ObjectMeta),
				names, images, metav1.FormatLabelSelector(r.Spec.Selector),
			}
		},
	}
}

// --- statefulsets ------------------------------------------------------------------------

func statefulSetKind() *registry.Kind {
	return &registry.Kind{
		GVK:        appsGV.WithKind("StatefulSet"),
		Resource:   "statefulsets",
		ShortNames: []string{"sts"},
		// pods are named <set>-<ordinal> and use that as their hostname
		NameValidation: apimachineryvalidation.NameIsDNSLabel,
		Categories:     []string{"all"},
		Namespaced:     true,
		New:            func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:        func() runtime.Object { return &appsv1.StatefulSetList{} },
		Status:         true,
		Generation:     true,
		Scale: &registry.ScaleRule{
			Get: func(obj runtime.Object) (int32, int32, string) {
				s := obj.(*appsv1.StatefulSet)
				return deref(s.Spec.Replicas, 1), s.Status.Replicas, scaleSelector(s.Spec.Selector)
			},
			SetReplicas: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
		Default: func(obj runtime.Object) { defaultStatefulSet(obj.(*appsv1.StatefulSet)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateStatefulSetSpec(&obj.(*appsv1.StatefulSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet)
			c := s.Spec.DeepCopy()
			c.Replicas = o.Spec.Replicas
			c.Template = o.Spec.Template
			c.UpdateStrategy = o.Spec.UpdateStrategy
			c.MinReadySeconds = o.Spec.MinReadySeconds
			c.Ordinals = o.Spec.Ordinals
			c.PersistentVolumeClaimRetentionPolicy = o.Spec.PersistentVolumeClaimRetentionPolicy
			if !apiequality.Semantic.DeepEqual(*c, o.Spec) {
				return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
			}
			return nil
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*appsv1.StatefulSet).Status, &old.(*appsv1.StatefulSet).Status
			p := field.NewPath("status")
			errs := nonNegative(int64(s.Replicas), p.Child("replicas"))
			errs = append(errs, nonNegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
			errs = append(errs, nonNegative(int64(s.CurrentReplicas), p.Child("currentReplicas"))...)
			errs = append(errs, nonNegative(int64(s.UpdatedReplicas), p.Child("updatedReplicas"))...)
			errs = append(errs, nonNegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
			errs = append(errs, nonNegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
			errs = append(errs, nonNegative32(s.CollisionCount, p.Child("collisionCount"))...)
			const msg = "cannot be greater than status.replicas"
			if s.ReadyReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
			}
			if s.CurrentReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("currentReplicas"), s.CurrentReplicas, msg))
			}
			if s.UpdatedReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("updatedReplicas"), s.UpdatedReplicas, msg))
			}
			if s.AvailableReplicas > s.Replicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
			}
			if s.AvailableReplicas > s.ReadyReplicas {
				errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than status.readyReplicas"))
			}
			errs = append(errs, collisionCountDecrement(s.CollisionCount, o.CollisionCount, p.Child("collisionCount"))...)
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Ready", "string", "Number of the pod with ready state"),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
		},
		Row: func(obj runtime.Object) []interface{} {
			s := obj.(*appsv1.StatefulSet)
			names, images := containerCells(s.Spec.Template.Spec.Containers)
			return []interface{}{fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, deref(s.Spec.Replicas, 0)), age(&s.ObjectMeta), names, images}
		},
	}
}

func defaultStatefulSet(s *appsv1.StatefulSet) {
	if s.Spec.PodManagementPolicy == "" {
		s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.Spec.UpdateStrategy.Type == "" {
		s.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; s.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil && ru.Partition == nil {
		ru.Partition = ptrTo[int32](0)
	}
	if s.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if rp := s.Spec.PersistentVolumeClaimRetentionPolicy; rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp := s.Spec.PersistentVolumeClaimRetentionPolicy; rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Spec.Replicas == nil {
		s.Spec.Replicas = ptrTo[int32](1)
	}
	if s.Spec.RevisionHistoryLimit == nil {
		s.Spec.RevisionHistoryLimit = ptrTo[int32](10)
	}
	defaultPodTemplate(&s.Spec.Template)
	// Claim templates get the defaults of a persistent volume claim.
	for i := range s.Spec.VolumeClaimTemplates {
		c := &s.Spec.VolumeClaimTemplates[i]
		if c.Spec.VolumeMode == nil {
			c.Spec.VolumeMode = ptrTo(corev1.PersistentVolumeFilesystem)
		}
		if c.Status.Phase == "" {
			c.Status.Phase = corev1.ClaimPending
		}
	}
}

func validateStatefulSetSpec(s *appsv1.StatefulSetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), s.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}
	switch s.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(p.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(p.Child("updateStrategy", "rollingUpdate"), s.UpdateStrategy.RollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := p.Child("updateStrategy", "rollingUpdate")
			errs = append(errs, nonNegative(int64(deref(ru.Partition, 0)), rp.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				mp := rp.Child("maxUnavailable")
				errs = append(errs, validatePositiveIntOrPercent(*ru.MaxUnavailable, mp)...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(*ru.MaxUnavailable, mp)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(p.Child("updateStrategy"), s.UpdateStrategy, "must be 'RollingUpdate' or 'OnDelete'"))
	}
	if rp := s.PersistentVolumeClaimRetentionPolicy; rp != nil {
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", rp.WhenDeleted}, {"whenScaled", rp.WhenScaled}} {
			if f.v != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.v != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(p.Child("persistentVolumeClaimRetentionPolicy", f.name), f.v, []string{"Retain", "Delete"}))
			}
		}
	}
	errs = append(errs, nonNegative32(s.Replicas, p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if s.Ordinals != nil {
		errs = append(errs, nonNegative(int64(s.Ordinals.Start), p.Child("ordinals.start"))...)
	}
	errs = append(errs, validateWorkloadSelector(s.Selector, p.Child("selector"), "statefulset")...)
	sel, err := metav1.LabelSelectorAsSelector(s.Selector)
	if err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, ""))
	} else {
		// Upstream checks only the template's metadata for stateful sets: their volumes may
		// name claim templates, which a pod spec check would reject.
		tp := p.Child("template")
		if !sel.Empty() && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
		}
		errs = append(errs, metav1validation.ValidateLabels(s.Template.Labels, tp.Child("labels"))...)
		errs = append(errs, apimachineryvalidation.ValidateAnnotations(s.Template.Annotations, tp.Child("annotations"))...)
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), s.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if s.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("template", "spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	return errs
}

// --- daemonsets --------------------------------------------------------------------------

func daemonSetKind() *registry.Kind {
	return &registry.Kind{
		GVK:        appsGV.WithKind("DaemonSet"),
		Resource:   "daemonsets",
		ShortNames: []string{"ds"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:    func() runtime.Object { return &appsv1.DaemonSetList{} },
		Status:     true,
		Generation: true,
		PrepareForCreate: func(obj runtime.Object) {
			d := obj.(*appsv1.DaemonSet)
			tg := templateGeneration(d.Annotations)
			if tg < 1 {
				tg = 1
			}
			setTemplateGeneration(&d.ObjectMeta, tg)
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			d, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			defaultDaemonSet(d) // compare defaulted templates, as upstream does after decoding
			tg := templateGeneration(o.Annotations)
			if !apiequality.Semantic.DeepEqual(d.Spec.Template, o.Spec.Template) {
				tg++
			}
			setTemplateGeneration(&d.ObjectMeta, tg)
		},
		Default: func(obj runtime.Object) { defaultDaemonSet(obj.(*appsv1.DaemonSet)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateDaemonSetSpec(&obj.(*appsv1.DaemonSet).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*appsv1.DaemonSet).Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector, field.NewPath("spec", "selector"))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*appsv1.DaemonSet).Status, &old.(*appsv1.DaemonSet).Status
			p := field.NewPath("status")
			var errs field.ErrorList
			for _, f := range []struct {
				name string
				v    int64
			}{
				{"currentNumberScheduled", int64(s.CurrentNumberScheduled)}, {"numberMisscheduled", int64(s.NumberMisscheduled)},
				{"desiredNumberScheduled", int64(s.DesiredNumberScheduled)}, {"numberReady", int64(s.NumberReady)},
				{"observedGeneration", s.ObservedGeneration}, {"updatedNumberScheduled", int64(s.UpdatedNumberScheduled)},
				{"numberAvailable", int64(s.NumberAvailable)}, {"numberUnavailable", int64(s.NumberUnavailable)},
			} {
				errs = append(errs, nonNegative(f.v, p.Child(f.name))...)
			}
			errs = append(errs, nonNegative32(s.CollisionCount, p.Child("collisionCount"))...)
			errs = append(errs, collisionCountDecrement(s.CollisionCount, o.CollisionCount, p.Child("collisionCount"))...)
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Desired", "integer", extv1beta1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
			col("Current", "integer", extv1beta1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
			col("Ready", "integer", extv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
			col("Up-to-date", "integer", extv1beta1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
			col("Available", "integer", extv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
			col("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
			wideCol("Selector", "string", extv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*appsv1.DaemonSet)
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			s := d.Status
			return []interface{}{
				int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
				int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable),
				labels.FormatLabels(d.Spec.Template.Spec.NodeSelector), age(&d.ObjectMeta),
				names, images, metav1.FormatLabelSelector(d.Spec.Selector),
			}
		},
	}
}

func templateGeneration(annotations map[string]string) int64 {
	n, err := strconv.ParseInt(annotations[daemonSetTemplateGenerationAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func setTemplateGeneration(m *metav1.ObjectMeta, tg int64) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[daemonSetTemplateGenerationAnnotation] = strconv.FormatInt(tg, 10)
}

func defaultDaemonSet(d *appsv1.DaemonSet) {
	u := &d.Spec.UpdateStrategy
	if u.Type == "" {
		u.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if u.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if u.RollingUpdate == nil {
			u.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if u.RollingUpdate.MaxUnavailable == nil {
			u.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(1))
		}
		if u.RollingUpdate.MaxSurge == nil {
			u.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(0))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptrTo[int32](10)
	}
	defaultPodTemplate(&d.Spec.Template)
}

func validateDaemonSetSpec(s *appsv1.DaemonSetSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))
	if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	if s.Selector != nil && len(s.Selector.MatchLabels)+len(s.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, validatePodTemplate(&s.Template, p.Child("template"))...)
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("template", "spec", "restartPolicy"), s.Template.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if s.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("template", "spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in DaemonSet is not Supported"))
	}
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.UpdateStrategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(up.Child("rollingUpdate"), ""))
			break
		}
		rp := up.Child("rollingUpdate")
		mu := deref(ru.MaxUnavailable, intstr.FromInt32(0))
		ms := deref(ru.MaxSurge, intstr.FromInt32(0))
		errs = append(errs, validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ms, rp.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(up, s.UpdateStrategy, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	return errs
}

// --- controllerrevisions -----------------------------------------------------------------

func controllerRevisionKind() *registry.Kind {
	return &registry.Kind{
		GVK:        appsGV.WithKind("ControllerRevision"),
		Resource:   "controllerrevisions",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:    func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			r := obj.(*appsv1.ControllerRevision)
			var errs field.ErrorList
			if r.Data.Raw == nil && r.Data.Object == nil {
				errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
			}
			return append(errs, nonNegative(r.Revision, field.NewPath("revision"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return immutable(obj.(*appsv1.ControllerRevision).Data, old.(*appsv1.ControllerRevision).Data, field.NewPath("data"))
		},
		Columns: []metav1.TableColumnDefinition{
			col("Controller", "string", "Controller of the object"),
			col("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			r := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(r); ref != nil {
				gv, err := schema.ParseGroupVersion(ref.APIVersion)
				if err == nil {
					controller = resourceName(gv.WithKind(ref.Kind).GroupKind(), ref.Name)
				}
			}
			return []interface{}{controller, r.Revision, age(&r.ObjectMeta)}
		},
	}
}

// resourceName renders "kind.group/name" in lower case, as kubectl names resources.
func resourceName(gk schema.GroupKind, name string) string {
	if gk.Empty() {
		return name
	}
	return lowerASCII(gk.String()) + "/" + name
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// --- shared workload rules ---------------------------------------------------------------

// validateWorkloadSelector requires a non-empty, strictly valid selector.
func validateWorkloadSelector(s *metav1.LabelSelector, p *field.Path, what string) field.ErrorList {
	if s == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	errs := metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(p, s, "empty selector is invalid for "+what))
	}
	return errs
}

// validateTemplateForReplicaSet checks a template run by a replica set (directly or through a
// deployment): it must match the selector, be a valid pod template, restart Always and have
// no active deadline.
func validateTemplateForReplicaSet(t *corev1.PodTemplateSpec, sel labels.Selector, p *field.Path, what string) field.ErrorList {
	var errs field.ErrorList
	if !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(p.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validatePodTemplate(t, p)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+what+" is not Supported"))
	}
	return errs
}

// collisionCountDecrement rejects a status.collisionCount that went down or was removed.
func collisionCountDecrement(n, o *int32, p *field.Path) field.ErrorList {
	decremented := n == nil && o != nil || n != nil && o != nil && *n < *o
	if !decremented {
		return nil
	}
	return field.ErrorList{field.Invalid(p, deref(n, 0), "cannot be decremented")}
}

// scaleSelector is the selector string a /scale subresource reports.
func scaleSelector(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
