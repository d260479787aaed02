package core

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// limitRangerAnnotation records which defaults the LimitRanger step set on a pod.
const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// ApplyLimitRangeDefaults does the mutating half of upstream's LimitRanger admission for a
// pod being created: containers and init containers get the default requests and limits of
// each Container-type limit range for the resources they do not set, and the pod is
// annotated with what was set.
func ApplyLimitRangeDefaults(p *corev1.Pod, ranges []corev1.LimitRange) {
	for _, lr := range ranges {
		def := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			for k, v := range it.DefaultRequest {
				def.Requests[k] = v.DeepCopy()
			}
			for k, v := range it.Default {
				def.Limits[k] = v.DeepCopy()
			}
		}
		var notes []string
		merge := func(c *corev1.Container, kind string) {
			if c.Resources.Limits == nil {
				c.Resources.Limits = corev1.ResourceList{}
			}
			if c.Resources.Requests == nil {
				c.Resources.Requests = corev1.ResourceList{}
			}
			var setReq, setLim []string
			for _, k := range sortedResourceNames(def.Limits) {
				if _, ok := c.Resources.Limits[k]; !ok {
					c.Resources.Limits[k] = def.Limits[k].DeepCopy()
					setLim = append(setLim, string(k))
				}
			}
			for _, k := range sortedResourceNames(def.Requests) {
				if _, ok := c.Resources.Requests[k]; !ok {
					c.Resources.Requests[k] = def.Requests[k].DeepCopy()
					setReq = append(setReq, string(k))
				}
			}
			if len(setReq) > 0 {
				notes = append(notes, strings.Join(setReq, ", ")+fmt.Sprintf(" request for %s %s", kind, c.Name))
			}
			if len(setLim) > 0 {
				notes = append(notes, strings.Join(setLim, ", ")+fmt.Sprintf(" limit for %s %s", kind, c.Name))
			}
		}
		for i := range p.Spec.Containers {
			merge(&p.Spec.Containers[i], "container")
		}
		for i := range p.Spec.InitContainers {
			merge(&p.Spec.InitContainers[i], "init container")
		}
		if len(notes) > 0 {
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			p.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
		}
	}
}

// ValidatePodLimitRanges does the validating half of upstream's LimitRanger admission for a
// pod: each container (and the pod as a whole, for Pod-type ranges) stays within min, max
// and maxLimitRequestRatio. The error reads as upstream's; the API server answers 403.
func ValidatePodLimitRanges(p *corev1.Pod, ranges []corev1.LimitRange) error {
	var errs []error
	check := func(typ corev1.LimitType, it corev1.LimitRangeItem, req, lim corev1.ResourceList) {
		for _, k := range sortedResourceNames(it.Min) {
			if err := minConstraint(string(typ), string(k), it.Min[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range sortedResourceNames(it.Max) {
			if err := maxConstraint(string(typ), string(k), it.Max[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range sortedResourceNames(it.MaxLimitRequestRatio) {
			if err := ratioConstraint(string(typ), string(k), it.MaxLimitRequestRatio[k], req, lim); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			switch it.Type {
			case corev1.LimitTypeContainer:
				for _, c := range p.Spec.Containers {
					check(it.Type, it, c.Resources.Requests, c.Resources.Limits)
				}
				for _, c := range p.Spec.InitContainers {
					check(it.Type, it, c.Resources.Requests, c.Resources.Limits)
				}
			case corev1.LimitTypePod:
				check(it.Type, it, podTotal(p, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests }),
					podTotal(p, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits }))
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// ValidatePVCLimitRanges checks a claim's storage request against PersistentVolumeClaim-type
// limit ranges, as upstream's LimitRanger does.
func ValidatePVCLimitRanges(c *corev1.PersistentVolumeClaim, ranges []corev1.LimitRange) error {
	var errs []error
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			for _, k := range sortedResourceNames(it.Min) {
				if err := minConstraint(string(it.Type), string(k), it.Min[k], c.Spec.Resources.Requests, corev1.ResourceList{}); err != nil {
					errs = append(errs, err)
				}
			}
			for _, k := range sortedResourceNames(it.Max) {
				if err := maxConstraint(string(it.Type), string(k), it.Max[k], c.Spec.Resources.Requests, c.Spec.Resources.Requests); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// podTotal is what a pod asks for of each resource: the sum over regular and sidecar
// containers, or the largest init container (with the sidecars started before it) when
// that is more.
func podTotal(p *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	sum := corev1.ResourceList{}
	add := func(dst corev1.ResourceList, l corev1.ResourceList) {
		for k, v := range l {
			q := dst[k]
			q.Add(v)
			dst[k] = q
		}
	}
	for i := range p.Spec.Containers {
		add(sum, of(&p.Spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if isRestartableInit(c) {
			add(sum, of(c))
			add(sidecars, of(c))
			continue
		}
		need := sidecars.DeepCopy()
		add(need, of(c))
		for k, v := range need {
			if cur, ok := sum[k]; !ok || v.Cmp(cur) > 0 {
				sum[k] = v
			}
		}
	}
	return sum
}

func enforcedValues(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(typ, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[corev1.ResourceName(name)]
	lim, limOK := limit[corev1.ResourceName(name)]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !reqOK:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, typ, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, typ, enforced.String(), req.String())
	case limOK && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, typ, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(typ, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[corev1.ResourceName(name)]
	lim, limOK := limit[corev1.ResourceName(name)]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !limOK:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, typ, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, typ, enforced.String(), lim.String())
	case reqOK && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, typ, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(typ, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqOK := request[corev1.ResourceName(name)]
	lim, limOK := limit[corev1.ResourceName(name)]
	r, l, _ := enforcedValues(req, lim, enforced)
	if !reqOK || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, typ, enforced.String())
	}
	if !limOK || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, typ, enforced.String())
	}
	observed := float64(l) / float64(r)
	shown := observed
	max := float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed *= 1000
		max = float64(enforced.MilliValue())
	}
	if observed > max {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, typ, enforced.String(), shown)
	}
	return nil
}
