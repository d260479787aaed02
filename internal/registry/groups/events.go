package groups

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Length limits upstream puts on events.
const (
	eventReportingInstanceLimit = 128
	eventActionLimit            = 128
	eventReasonLimit            = 128
	eventNoteLimit              = 1024
)

func eventsKinds() []*registry.Kind { return []*registry.Kind{eventsEventKind()} }

// eventsEventKind is events.k8s.io/v1 Event. Upstream serves it from the same storage as
// core/v1 events (one object, two versions); served on its own here, its objects are
// separate from core events until the API server converts between them.
//
// Validation reports the internal (core) field names where upstream does
// ("involvedObject.namespace", "message", "count", "source"), as it validates the converted
// object. Upstream runs the strict rules (eventTime set, deprecated fields unset) on create
// only; here they run on updates too, where they can only repeat what the immutable-field
// checks already report.
func eventsEventKind() *registry.Kind {
	return &registry.Kind{
		GVK:        eventsv1.SchemeGroupVersion.WithKind("Event"),
		Resource:   "events",
		ShortNames: []string{"ev"},
		Namespaced: true,
		New:        func() runtime.Object { return &eventsv1.Event{} },
		NewList:    func() runtime.Object { return &eventsv1.EventList{} },
		Validate:   func(obj runtime.Object) field.ErrorList { return validateEventsEvent(obj.(*eventsv1.Event)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			e, o := obj.(*eventsv1.Event), old.(*eventsv1.Event)
			var errs field.ErrorList
			for _, f := range []struct {
				path     string
				new, old interface{}
			}{
				{"involvedObject", e.Regarding, o.Regarding},
				{"reason", e.Reason, o.Reason},
				{"message", e.Note, o.Note},
				{"source", e.DeprecatedSource, o.DeprecatedSource},
				{"firstTimestamp", e.DeprecatedFirstTimestamp, o.DeprecatedFirstTimestamp},
				{"lastTimestamp", e.DeprecatedLastTimestamp, o.DeprecatedLastTimestamp},
				{"count", e.DeprecatedCount, o.DeprecatedCount},
				{"type", e.Type, o.Type},
				{"action", e.Action, o.Action},
				{"related", e.Related, o.Related},
				{"reportingController", e.ReportingController, o.ReportingController},
				{"reportingInstance", e.ReportingInstance, o.ReportingInstance},
			} {
				errs = append(errs, immutable(f.new, f.old, field.NewPath(f.path))...)
			}
			if !e.EventTime.Time.Truncate(1000).Equal(o.EventTime.Time.Truncate(1000)) {
				errs = append(errs, field.Invalid(field.NewPath("eventTime"), e.EventTime, "field is immutable"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
			col("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
			col("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
			col("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
			wideCol("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
			wideCol("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
			col("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
			wideCol("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
			wideCol("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
		},
		Row: func(obj runtime.Object) []interface{} { return eventsEventRow(obj.(*eventsv1.Event)) },
		Fields: func(obj runtime.Object) fields.Set {
			e := obj.(*eventsv1.Event)
			source := e.DeprecatedSource.Component
			if source == "" {
				source = e.ReportingController
			}
			return fields.Set{
				"regarding.kind":            e.Regarding.Kind,
				"regarding.namespace":       e.Regarding.Namespace,
				"regarding.name":            e.Regarding.Name,
				"regarding.uid":             string(e.Regarding.UID),
				"regarding.apiVersion":      e.Regarding.APIVersion,
				"regarding.resourceVersion": e.Regarding.ResourceVersion,
				"regarding.fieldPath":       e.Regarding.FieldPath,
				"reason":                    e.Reason,
				"reportingController":       e.ReportingController,
				"source":                    source,
				"type":                      e.Type,
			}
		},
	}
}

func validateEventsEvent(e *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
		// the rules of old-style events: the namespaces must agree
		if e.Regarding.Namespace == "" && e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault ||
			e.Regarding.Namespace != "" && e.Namespace != e.Regarding.Namespace {
			errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
		}
	} else {
		if e.Regarding.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
		}
		rc := field.NewPath("reportingController")
		if e.ReportingController == "" {
			errs = append(errs, field.Required(rc, ""))
		}
		for _, msg := range validation.IsQualifiedName(e.ReportingController) {
			errs = append(errs, field.Invalid(rc, e.ReportingController, msg))
		}
		errs = append(errs, requiredAtMost(e.ReportingInstance, "reportingInstance", eventReportingInstanceLimit)...)
		errs = append(errs, requiredAtMost(e.Action, "action", eventActionLimit)...)
		errs = append(errs, requiredAtMost(e.Reason, "reason", eventReasonLimit)...)
		if len(e.Note) > eventNoteLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLimit)))
		}
	}
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
		}
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.DeprecatedFirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.DeprecatedLastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.DeprecatedCount != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.DeprecatedSource.Component != "" || e.DeprecatedSource.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}

func requiredAtMost(v, path string, limit int) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(field.NewPath(path), "")}
	}
	if len(v) > limit {
		return field.ErrorList{field.Invalid(field.NewPath(path), "", fmt.Sprintf("can have at most %v characters", limit))}
	}
	return nil
}

// eventsEventRow renders an event as upstream's event printer does (wide order; the server
// drops the priority-1 cells for the default view).
func eventsEventRow(e *eventsv1.Event) []interface{} {
	var first interface{} = registry.Since(e.DeprecatedFirstTimestamp.Time)
	if e.DeprecatedFirstTimestamp.IsZero() {
		first = registry.Since(e.EventTime.Time)
	}
	last := first
	if !e.DeprecatedLastTimestamp.IsZero() {
		last = registry.Since(e.DeprecatedLastTimestamp.Time)
	}
	count := e.DeprecatedCount
	if e.Series != nil {
		last = registry.Since(e.Series.LastObservedTime.Time)
		count = e.Series.Count
	} else if count == 0 {
		count = 1 // singleton events carry no count in this API
	}
	target := lowerASCII(e.Regarding.Kind)
	if e.Regarding.Name != "" {
		target += "/" + e.Regarding.Name
	}
	component, instance := e.DeprecatedSource.Component, e.DeprecatedSource.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	source := component
	if instance != "" {
		source += ", " + instance
	}
	return []interface{}{last, e.Type, e.Reason, target, e.Regarding.FieldPath, source, strings.TrimSpace(e.Note), first, int64(count)}
}
