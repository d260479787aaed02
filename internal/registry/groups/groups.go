package groups

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Kinds returns every kind of the non-core groups, each a fresh value the caller may keep.
func Kinds() []*registry.Kind {
	var out []*registry.Kind
	out = append(out, appsKinds()...)
	out = append(out, batchKinds()...)
	out = append(out, coordinationKinds()...)
	out = append(out, discoveryKinds()...)
	out = append(out, eventsKinds()...)
	out = append(out, networkingKinds()...)
	out = append(out, storageKinds()...)
	out = append(out, rbacKinds()...)
	out = append(out, policyKinds()...)
	out = append(out, schedulingKinds()...)
	out = append(out, autoscalingKinds()...)
	out = append(out, nodeKinds()...)
	out = append(out, flowcontrolKinds()...)
	return out
}

// --- table helpers -------------------------------------------------------------------

// Column descriptions shared by several printers.
const (
	descContainers = "Names of each container in the template."
	descImages     = "Images referenced by each container in the template."
)

func col(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc}
}

func wideCol(name, typ, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: 1}
}

func age(m *metav1.ObjectMeta) registry.Since { return registry.Since(m.CreationTimestamp.Time) }

// containerCells lays out the names and images of containers on one line each, comma
// separated, as upstream's wide output does.
func containerCells(containers []corev1.Container) (names, images string) {
	var n, i strings.Builder
	for k, c := range containers {
		if k > 0 {
			n.WriteByte(',')
			i.WriteByte(',')
		}
		n.WriteString(c.Name)
		i.WriteString(c.Image)
	}
	return n.String(), i.String()
}

// selectorString renders a label selector the way labels.Selector.String() does, or
// "<invalid>" when it cannot be converted.
func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}

// listWithMore joins up to max items, appending " + N more..." as upstream does, and
// "<unset>" when empty.
func listWithMore(list []string, more bool, count, max int) string {
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		ret = "<unset>"
	}
	return ret
}

// --- validation helpers --------------------------------------------------------------

func nonNegative(v int64, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(v, p)
}

func nonNegative32(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apimachineryvalidation.ValidateNonnegativeField(int64(*v), p)
}

func immutable(newVal, oldVal interface{}, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, p)
}

// validatePositiveIntOrPercent accepts a non-negative integer or a percentage like "25%".
func validatePositiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
	case intstr.Int:
		errs = append(errs, nonNegative(int64(v.IntValue()), p)...)
	default:
		errs = append(errs, field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')"))
	}
	return errs
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	n, ok := percentValue(v)
	if !ok || n <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
}

func ptrTo[T any](v T) *T { return &v }

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
