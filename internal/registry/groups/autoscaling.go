package groups

import (
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	autoscalingv2beta1 "k8s.io/api/autoscaling/v2beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Upstream's autoscaling defaults and limits.
const (
	defaultCPUUtilization               = 80
	scaleUpStabilizationSeconds         = 0
	scaleDownStabilizationSeconds       = 300
	scaleUpLimitPercent                 = 100
	scaleUpLimitMinimumPods             = 4
	scalingPeriodSeconds                = 15
	scaleDownLimitPercent               = 100
	maxPeriodSeconds                    = 1800
	maxStabilizationWindowSeconds       = 3600
	hpaMetricsShownBeforeMore           = 2
	hpaMinReplicasLowerBound      int32 = 1
)

func autoscalingKinds() []*registry.Kind { return []*registry.Kind{hpaKind()} }

// hpaKind is autoscaling/v2 HorizontalPodAutoscaler. Upstream also serves the same objects as
// autoscaling/v1 (one storage, converted per request); that version is not served here.
func hpaKind() *registry.Kind {
	return &registry.Kind{
		GVK:        autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"),
		Resource:   "horizontalpodautoscalers",
		ShortNames: []string{"hpa"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList:    func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		Status:     true, // upstream keeps metadata.generation at 0 for autoscalers
		Default:    func(obj runtime.Object) { defaultHPA(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateHPASpec(&obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec, field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*autoscalingv2.HorizontalPodAutoscaler).Status
			p := field.NewPath("status")
			errs := nonNegative(int64(s.CurrentReplicas), p.Child("currentReplicas"))
			return append(errs, nonNegative(int64(s.DesiredReplicas), p.Child("desiredReplicas"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			col("Reference", "string", autoscalingv2beta1.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["scaleTargetRef"]),
			col("Targets", "string", autoscalingv2beta1.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["metrics"]),
			col("MinPods", "string", autoscalingv2beta1.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["minReplicas"]),
			col("MaxPods", "string", autoscalingv2beta1.HorizontalPodAutoscalerSpec{}.SwaggerDoc()["maxReplicas"]),
			col("Replicas", "string", autoscalingv2beta1.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			minPods := "<unset>"
			if h.Spec.MinReplicas != nil {
				minPods = fmt.Sprintf("%d", *h.Spec.MinReplicas)
			}
			ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
			return []interface{}{ref, hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics), minPods,
				int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), age(&h.ObjectMeta)}
		},
	}
}

func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptrTo[int32](1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrTo[int32](defaultCPUUtilization)},
			},
		}}
	}
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = fillScalingRules(b.ScaleUp, autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: ptrTo[int32](scaleUpStabilizationSeconds),
			SelectPolicy:               ptrTo(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: scaleUpLimitMinimumPods, PeriodSeconds: scalingPeriodSeconds},
				{Type: autoscalingv2.PercentScalingPolicy, Value: scaleUpLimitPercent, PeriodSeconds: scalingPeriodSeconds},
			},
		})
		b.ScaleDown = fillScalingRules(b.ScaleDown, autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: ptrTo[int32](scaleDownStabilizationSeconds),
			SelectPolicy:               ptrTo(autoscalingv2.MaxChangePolicySelect),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: scaleDownLimitPercent, PeriodSeconds: scalingPeriodSeconds},
			},
		})
	}
}

// validateObjectReference checks a CrossVersionObjectReference: kind and name are required
// path segments.
func validateObjectReference(kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, v string }{{"kind", kind}, {"name", name}} {
		if f.v == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.v) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.v, msg))
		}
	}
	return errs
}

// fillScalingRules keeps what the user set and takes the rest from the defaults.
func fillScalingRules(from *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if from == nil {
		return &def
	}
	if from.SelectPolicy != nil {
		def.SelectPolicy = from.SelectPolicy
	}
	if from.StabilizationWindowSeconds != nil {
		def.StabilizationWindowSeconds = from.StabilizationWindowSeconds
	}
	if from.Policies != nil {
		def.Policies = from.Policies
	}
	def.Tolerance = from.Tolerance
	return &def
}

func validateHPASpec(s *autoscalingv2.HorizontalPodAutoscalerSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.MinReplicas != nil && *s.MinReplicas < hpaMinReplicasLowerBound {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *s.MinReplicas, fmt.Sprintf("must be greater than or equal to %d", hpaMinReplicasLowerBound)))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	if refErrs := validateObjectReference(s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name, p.Child("scaleTargetRef")); len(refErrs) > 0 {
		return append(errs, refErrs...)
	}
	mErrs := validateHPAMetrics(s.Metrics, p.Child("metrics"))
	if s.MinReplicas != nil && *s.MinReplicas == 0 {
		scaleToZero := false
		for _, m := range s.Metrics {
			scaleToZero = scaleToZero || m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType
		}
		if !scaleToZero {
			mErrs = append(mErrs, field.Forbidden(p.Child("metrics"), "must specify at least one Object or External metric to support scaling to zero replicas"))
		}
	}
	if len(mErrs) > 0 {
		return append(errs, mErrs...)
	}
	if b := s.Behavior; b != nil {
		bp := p.Child("behavior")
		errs = append(errs, validateScalingRules(b.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

var hpaMetricTypes = []string{"ContainerResource", "External", "Object", "Pods", "Resource"}

// validateHPAMetrics checks each metric as upstream does: its type is known, the source of
// that type is set (and only it), and the first source present is valid.
func validateHPAMetrics(metrics []autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, m := range metrics {
		ip := p.Index(i)
		if m.Type == "" {
			errs = append(errs, field.Required(ip.Child("type"), "must specify a metric source type"))
		}
		if !isHPAMetricType(m.Type) {
			errs = append(errs, field.NotSupported(ip.Child("type"), m.Type, hpaMetricTypes))
		}
		var present []string
		validateFirst := func(name string, validate func() field.ErrorList) {
			present = append(present, name)
			if len(present) == 1 {
				errs = append(errs, validate()...)
			}
		}
		if m.Object != nil {
			validateFirst("object", func() field.ErrorList { return validateObjectMetric(m.Object, ip.Child("object")) })
		}
		if m.External != nil {
			validateFirst("external", func() field.ErrorList { return validateExternalMetric(m.External, ip.Child("external")) })
		}
		if m.Pods != nil {
			validateFirst("pods", func() field.ErrorList { return validatePodsMetric(m.Pods, ip.Child("pods")) })
		}
		if m.Resource != nil {
			validateFirst("resource", func() field.ErrorList {
				return validateResourceMetric(string(m.Resource.Name), m.Resource.Target, ip.Child("resource"))
			})
		}
		if m.ContainerResource != nil {
			validateFirst("containerResource", func() field.ErrorList {
				cp := ip.Child("containerResource")
				errs := validateResourceMetric(string(m.ContainerResource.Name), m.ContainerResource.Target, cp)
				if m.ContainerResource.Container == "" {
					errs = append(errs, field.Required(cp.Child("container"), "must specify a container"))
				}
				return errs
			})
		}
		expected := ""
		if isHPAMetricType(m.Type) {
			expected = hpaSourceField(m.Type)
			found := false
			for _, name := range present {
				found = found || name == expected
			}
			if !found {
				errs = append(errs, field.Required(ip.Child(expected), "must populate information for the given metric source"))
			}
		} else {
			errs = append(errs, field.NotSupported(ip.Child("type"), m.Type, hpaMetricTypes))
		}
		if len(present) != 1 {
			for _, name := range present {
				if name != expected {
					errs = append(errs, field.Forbidden(ip.Child(name), "must populate the given metric source only"))
				}
			}
		}
	}
	return errs
}

func isHPAMetricType(t autoscalingv2.MetricSourceType) bool {
	for _, v := range hpaMetricTypes {
		if string(t) == v {
			return true
		}
	}
	return false
}

func hpaSourceField(t autoscalingv2.MetricSourceType) string {
	s := string(t)
	return strings.ToLower(s[:1]) + s[1:]
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, p *field.Path) field.ErrorList {
	if id.Name == "" {
		return field.ErrorList{field.Required(p.Child("name"), "must specify a metric name")}
	}
	var errs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(id.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), id.Name, msg))
	}
	return errs
}

func validateObjectMetric(src *autoscalingv2.ObjectMetricSource, p *field.Path) field.ErrorList {
	errs := validateObjectReference(src.DescribedObject.Kind, src.DescribedObject.Name, p.Child("describedObject"))
	errs = append(errs, validateMetricIdentifier(src.Metric, p.Child("metric"))...)
	errs = append(errs, validateMetricTarget(src.Target, p.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value or averageValue"))
	}
	return errs
}

func validateExternalMetric(src *autoscalingv2.ExternalMetricSource, p *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(src.Metric, p.Child("metric"))
	errs = append(errs, validateMetricTarget(src.Target, p.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if src.Target.Value != nil && src.Target.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
	}
	return errs
}

func validatePodsMetric(src *autoscalingv2.PodsMetricSource, p *field.Path) field.ErrorList {
	errs := validateMetricIdentifier(src.Metric, p.Child("metric"))
	errs = append(errs, validateMetricTarget(src.Target, p.Child("target"))...)
	if src.Target.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageValue"), "must specify a positive target averageValue"))
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, tp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(tp.Child("type"), "must specify a metric target type"))
	}
	if t.Type != autoscalingv2.UtilizationMetricType && t.Type != autoscalingv2.ValueMetricType && t.Type != autoscalingv2.AverageValueMetricType {
		errs = append(errs, field.Invalid(tp.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(tp.Child("value"), t.Value, "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(tp.Child("averageValue"), t.AverageValue, "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(tp.Child("averageUtilization"), t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateResourceMetric(name string, t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	tp := p.Child("target")
	errs = append(errs, validateMetricTarget(t, tp)...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(tp.Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(tp.Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		}
		if *w > maxStabilizationWindowSeconds {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
		}
	}
	if sp := r.SelectPolicy; sp != nil && *sp != autoscalingv2.MaxChangePolicySelect && *sp != autoscalingv2.MinChangePolicySelect && *sp != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *sp, []string{"Disabled", "Max", "Min"}))
	}
	pp := p.Child("policies")
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(pp, "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		ip := pp.Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(ip.Child("type"), pol.Type, []string{"Percent", "Pods"}))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		}
		if pol.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", maxPeriodSeconds)))
		}
	}
	return errs
}

// hpaTargets renders the TARGETS cell as upstream's printer does: "cpu: 40%/80%" and the like,
// two metrics at most, then " + N more...".
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	var list []string
	for i, s := range specs {
		var st *autoscalingv2.MetricStatus
		if len(statuses) > i {
			st = &statuses[i]
		}
		current := "<unknown>"
		// a stored object passed validation, so the source of its type is set; a missing
		// one (an object written around the API) renders as an unknown type, never a panic
		switch t := s.Type; {
		case t == autoscalingv2.ExternalMetricSourceType && s.External == nil,
			t == autoscalingv2.PodsMetricSourceType && s.Pods == nil,
			t == autoscalingv2.ObjectMetricSourceType && s.Object == nil,
			t == autoscalingv2.ResourceMetricSourceType && s.Resource == nil,
			t == autoscalingv2.ContainerResourceMetricSourceType && s.ContainerResource == nil:
			list = append(list, "<unknown type>")
			continue
		}
		switch s.Type {
		case autoscalingv2.ExternalMetricSourceType:
			if s.External.Target.AverageValue != nil {
				if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
					current = st.External.Current.AverageValue.String()
				}
				list = append(list, fmt.Sprintf("%s/%s (avg)", current, s.External.Target.AverageValue.String()))
			} else {
				if st != nil && st.External != nil {
					current = st.External.Current.Value.String()
				}
				list = append(list, fmt.Sprintf("%s/%s", current, s.External.Target.Value.String()))
			}
		case autoscalingv2.PodsMetricSourceType:
			if st != nil && st.Pods != nil {
				current = st.Pods.Current.AverageValue.String()
			}
			list = append(list, fmt.Sprintf("%s/%s", current, s.Pods.Target.AverageValue.String()))
		case autoscalingv2.ObjectMetricSourceType:
			if s.Object.Target.AverageValue != nil {
				if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
					current = st.Object.Current.AverageValue.String()
				}
				list = append(list, fmt.Sprintf("%s/%s (avg)", current, s.Object.Target.AverageValue.String()))
			} else {
				if st != nil && st.Object != nil {
					current = st.Object.Current.Value.String()
				}
				list = append(list, fmt.Sprintf("%s/%s", current, s.Object.Target.Value.String()))
			}
		case autoscalingv2.ResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Resource != nil {
				cur = &st.Resource.Current
			}
			list = append(list, resourceTarget(s.Resource.Name.String(), s.Resource.Target, cur))
		case autoscalingv2.ContainerResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.ContainerResource != nil {
				cur = &st.ContainerResource.Current
			}
			list = append(list, resourceTarget(s.ContainerResource.Name.String(), s.ContainerResource.Target, cur))
		default:
			list = append(list, "<unknown type>")
		}
	}
	count := len(list)
	if count > hpaMetricsShownBeforeMore {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:hpaMetricsShownBeforeMore], ", "), count-hpaMetricsShownBeforeMore)
	}
	return strings.Join(list, ", ")
}

func resourceTarget(name string, t autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := "<unknown>"
	if t.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, current, t.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	target := "<auto>"
	if t.AverageUtilization != nil {
		target = fmt.Sprintf("%d%%", *t.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, current, target)
}
