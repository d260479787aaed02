package core

import (
	"bytes"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const isInvalidQuotaResource = "must be a standard resource type or fully qualified"

func standardQuotaResources() sets.Set[corev1.ResourceName] {
	return sets.New[corev1.ResourceName](
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourcePersistentVolumeClaims, corev1.ResourceConfigMaps,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
		corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage,
		corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
		corev1.ResourceLimitsEphemeralStorage,
	)
}

// integerQuotaResources are counted in whole objects.
func isIntegerQuotaResource(name corev1.ResourceName) bool {
	return sets.New[corev1.ResourceName](
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
	).Has(name)
}

func isStandardQuotaResource(name corev1.ResourceName) bool {
	return standardQuotaResources().Has(name) || isHugePageResource(name) ||
		strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix+corev1.ResourceHugePagesPrefix)
}

func validateQuotaResourceList(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedResourceNames(l) {
		rp := p.Key(string(name))
		errs = append(errs, validateResourceName(name, rp)...)
		if !strings.Contains(string(name), "/") && !isStandardQuotaResource(name) {
			errs = append(errs, field.Invalid(rp, name, isInvalidQuotaResource))
		}
		q := l[name]
		errs = append(errs, validateResourceQuantityValue(name, q, rp)...)
		if isIntegerQuotaResource(name) && q.MilliValue()%1000 != 0 {
			errs = append(errs, field.Invalid(rp, q.String(), isNotIntegerErrorMsg))
		}
	}
	return errs
}

func quotaScopes() []corev1.ResourceQuotaScope {
	return []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
		corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass,
		corev1.ResourceQuotaScopeTerminating}
}

func validateQuotaSpec(s *corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	errs := validateQuotaResourceList(s.Hard, p.Child("hard"))
	scopesPath := p.Child("scopes")
	seen := sets.New[corev1.ResourceQuotaScope]()
	for _, sc := range s.Scopes {
		ok := false
		for _, v := range quotaScopes() {
			ok = ok || v == sc
		}
		if !ok {
			errs = append(errs, field.Invalid(scopesPath, s.Scopes, "unsupported scope"))
		}
		for _, name := range sortedResourceNames(s.Hard) {
			if isStandardQuotaResource(name) && !scopeValidForResource(sc, name) {
				errs = append(errs, field.Invalid(scopesPath, s.Scopes, "unsupported scope applied to resource"))
			}
		}
		seen.Insert(sc)
	}
	if seen.HasAll(corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort) {
		errs = append(errs, field.Invalid(scopesPath, s.Scopes, "conflicting scopes"))
	}
	if seen.HasAll(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating) {
		errs = append(errs, field.Invalid(scopesPath, s.Scopes, "conflicting scopes"))
	}
	if s.ScopeSelector != nil {
		for i, r := range s.ScopeSelector.MatchExpressions {
			rp := p.Child("scopeSelector").Child("matchExpressions").Index(i)
			ok := false
			for _, v := range quotaScopes() {
				ok = ok || v == r.ScopeName
			}
			if !ok {
				errs = append(errs, field.Invalid(rp.Child("scopeName"), r.ScopeName, "unsupported scope"))
			}
			switch r.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(r.Values) == 0 {
					errs = append(errs, field.Required(rp.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(r.Values) != 0 {
					errs = append(errs, field.Invalid(rp.Child("values"), r.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				errs = append(errs, field.Invalid(rp.Child("operator"), r.Operator, "not a valid selector operator"))
			}
		}
	}
	return errs
}

func resourceQuotaKind() *registry.Kind {
	return &registry.Kind{
		GVK:                 corev1.SchemeGroupVersion.WithKind("ResourceQuota"),
		Resource:            "resourcequotas",
		ShortNames:          []string{"quota"},
		Namespaced:          true,
		New:                 func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList:             func() runtime.Object { return &corev1.ResourceQuotaList{} },
		Status:              true,
		ReturnDeletedObject: true,
		Default: func(obj runtime.Object) {
			q := obj.(*corev1.ResourceQuota)
			defaultResourceList(q.Spec.Hard)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateQuotaSpec(&obj.(*corev1.ResourceQuota).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			q, o := obj.(*corev1.ResourceQuota), old.(*corev1.ResourceQuota)
			var errs field.ErrorList
			if !sets.New(q.Spec.Scopes...).Equal(sets.New(o.Spec.Scopes...)) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "scopes"), q.Spec.Scopes, "field is immutable"))
			}
			return errs
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			q := obj.(*corev1.ResourceQuota)
			errs := validateQuotaResourceList(q.Status.Hard, field.NewPath("status", "hard"))
			return append(errs, validateQuotaResourceList(q.Status.Used, field.NewPath("status", "used"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			registry.AgeColumn,
			{Name: "Request", Type: "string", Description: "Request represents a minimum amount of cpu/memory that a container may consume."},
			{Name: "Limit", Type: "string", Description: "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."},
		},
		Row: func(obj runtime.Object) []interface{} {
			q := obj.(*corev1.ResourceQuota)
			var req, lim bytes.Buffer
			for _, name := range sortedResourceNames(q.Status.Hard) {
				w := &req
				if pieces := strings.Split(string(name), "."); len(pieces) > 1 && pieces[0] == "limits" {
					w = &lim
				}
				used := q.Status.Used[name]
				hard := q.Status.Hard[name]
				fmt.Fprintf(w, "%s: %s/%s, ", name, used.String(), hard.String())
			}
			return []interface{}{age(&q.ObjectMeta), strings.TrimSuffix(req.String(), ", "), strings.TrimSuffix(lim.String(), ", ")}
		},
	}
}

func limitRangeKind() *registry.Kind {
	return &registry.Kind{
		GVK:            corev1.SchemeGroupVersion.WithKind("LimitRange"),
		Resource:       "limitranges",
		ShortNames:     []string{"limits"},
		Namespaced:     true,
		New:            func() runtime.Object { return &corev1.LimitRange{} },
		NewList:        func() runtime.Object { return &corev1.LimitRangeList{} },
		CreateOnUpdate: true,
		Default:        func(obj runtime.Object) { defaultLimitRange(obj.(*corev1.LimitRange)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateLimitRange(obj.(*corev1.LimitRange))
		},
		// Upstream has no printer for limit ranges: its default table shows the creation time.
		Columns: []metav1.TableColumnDefinition{createdAtColumn()},
		Row: func(obj runtime.Object) []interface{} {
			return []interface{}{createdAt(&obj.(*corev1.LimitRange).ObjectMeta)}
		},
	}
}

func defaultLimitRange(l *corev1.LimitRange) {
	for i := range l.Spec.Limits {
		it := &l.Spec.Limits[i]
		for _, rl := range []corev1.ResourceList{it.Max, it.Min, it.Default, it.DefaultRequest, it.MaxLimitRequestRatio} {
			defaultResourceList(rl)
		}
		if it.Type != corev1.LimitTypeContainer {
			continue
		}
		if it.Default == nil {
			it.Default = corev1.ResourceList{}
		}
		if it.DefaultRequest == nil {
			it.DefaultRequest = corev1.ResourceList{}
		}
		for k, v := range it.Max {
			if _, ok := it.Default[k]; !ok {
				it.Default[k] = v.DeepCopy()
			}
		}
		for k, v := range it.Default {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v.DeepCopy()
			}
		}
		for k, v := range it.Min {
			if _, ok := it.DefaultRequest[k]; !ok {
				it.DefaultRequest[k] = v.DeepCopy()
			}
		}
	}
}

func validateLimitRange(l *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	fldPath := field.NewPath("spec", "limits")
	seenTypes := map[corev1.LimitType]bool{}
	for i := range l.Spec.Limits {
		p := fldPath.Index(i)
		it := &l.Spec.Limits[i]
		errs = append(errs, validateLimitTypeName(it.Type, p.Child("type"))...)
		if seenTypes[it.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), it.Type))
		}
		seenTypes[it.Type] = true

		keys := sets.New[string]()
		collect := func(list corev1.ResourceList, child string) map[string]resource.Quantity {
			out := map[string]resource.Quantity{}
			for _, k := range sortedResourceNames(list) {
				errs = append(errs, validateLimitRangeResourceName(it.Type, k, p.Child(child).Key(string(k)))...)
				keys.Insert(string(k))
				out[string(k)] = list[k]
			}
			return out
		}
		maxes := collect(it.Max, "max")
		mins := collect(it.Min, "min")
		defaults, defaultRequests := map[string]resource.Quantity{}, map[string]resource.Quantity{}
		if it.Type == corev1.LimitTypePod {
			if len(it.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			defaults = collect(it.Default, "default")
			defaultRequests = collect(it.DefaultRequest, "defaultRequest")
		}
		if it.Type == corev1.LimitTypePersistentVolumeClaim {
			_, minOK := it.Min[corev1.ResourceStorage]
			_, maxOK := it.Max[corev1.ResourceStorage]
			if !minOK && !maxOK {
				errs = append(errs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		ratios := collect(it.MaxLimitRequestRatio, "maxLimitRequestRatio")

		for _, k := range sets.List(keys) {
			minQ, minOK := mins[k]
			maxQ, maxOK := maxes[k]
			defQ, defOK := defaults[k]
			reqQ, reqOK := defaultRequests[k]
			ratio, ratioOK := ratios[k]
			if minOK && maxOK && minQ.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("min").Key(k), minQ, fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
			}
			if reqOK && minOK && minQ.Cmp(reqQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), reqQ.String())))
			}
			if reqOK && maxOK && reqQ.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default request value %s is greater than max value %s", reqQ.String(), maxQ.String())))
			}
			if reqOK && defOK && reqQ.Cmp(defQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default request value %s is greater than default limit value %s", reqQ.String(), defQ.String())))
			}
			if defOK && minOK && minQ.Cmp(defQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(k), minQ, fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), defQ.String())))
			}
			if defOK && maxOK && defQ.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(k), maxQ, fmt.Sprintf("default value %s is greater than max value %s", defQ.String(), maxQ.String())))
			}
			if ratioOK && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
			}
			if ratioOK && minOK && maxOK {
				r := float64(ratio.Value())
				lo, hi := minQ.Value(), maxQ.Value()
				if ratio.Value() < resource.MaxMilliValue && lo < resource.MaxMilliValue && hi < resource.MaxMilliValue {
					r = float64(ratio.MilliValue()) / 1000
					lo, hi = minQ.MilliValue(), maxQ.MilliValue()
				}
				if limit := float64(hi) / float64(lo); r > limit {
					errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
				}
			}
			if !isOvercommitAllowed(corev1.ResourceName(k)) && defOK && reqOK && defQ.Cmp(reqQ) != 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", defQ.String(), reqQ.String(), k)))
			}
		}
	}
	return errs
}

func validateLimitTypeName(t corev1.LimitType, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(t)) {
		errs = append(errs, field.Invalid(p, t, msg))
	}
	if len(errs) != 0 {
		return errs
	}
	if !strings.Contains(string(t), "/") {
		switch t {
		case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		default:
			errs = append(errs, field.Invalid(p, t, "must be a standard limit type or fully qualified"))
		}
	}
	return errs
}

func validateLimitRangeResourceName(t corev1.LimitType, name corev1.ResourceName, p *field.Path) field.ErrorList {
	switch t {
	case corev1.LimitTypePod, corev1.LimitTypeContainer:
		return validateContainerResourceName(name, p)
	}
	return validateResourceName(name, p)
}

// scopeValidForResource: pod scopes limit only pod counts and pod compute resources;
// BestEffort only pod counts.
func scopeValidForResource(sc corev1.ResourceQuotaScope, name corev1.ResourceName) bool {
	count := name == corev1.ResourcePods
	compute := false
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory:
		compute = true
	}
	switch sc {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return count || compute
	case corev1.ResourceQuotaScopeBestEffort:
		return count
	}
	return true
}
