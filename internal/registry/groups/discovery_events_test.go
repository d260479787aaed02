package groups

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func TestEndpointSlice(t *testing.T) {
	k := kindFor(t, "discovery.k8s.io", "endpointslices")
	s := &discoveryv1.EndpointSlice{ObjectMeta: meta("hello-abc"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}}, {Addresses: []string{"10.42.0.6"}}, {Addresses: []string{"10.42.1.7"}}, {Addresses: []string{"10.42.1.8"}}},
		Ports:     []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo[int32](8080)}, {Port: ptrTo[int32](9090), Name: ptrTo("metrics")}},
	}
	if errs := create(k, s); len(errs) != 0 {
		t.Fatalf("valid slice rejected: %v", errs)
	}
	if *s.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol not defaulted")
	}
	want := []interface{}{"IPv4", "8080,9090", "10.42.0.5,10.42.0.6,10.42.1.7 + 1 more...", registry.Since(created.Time)}
	if got := k.Row(s); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	if got := k.Row(&discoveryv1.EndpointSlice{AddressType: "IPv6"}); got[1] != "<unset>" || got[2] != "<unset>" {
		t.Errorf("empty slice row = %#v", got)
	}

	bad := &discoveryv1.EndpointSlice{ObjectMeta: meta("x"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{}, {Addresses: []string{"fd00::1", "127.0.0.1", "nope"}}},
		Ports:     []discoveryv1.EndpointPort{{Name: ptrTo("a")}, {Name: ptrTo("a"), Protocol: ptrTo(corev1.Protocol("ICMP"))}},
	}
	wantErrs(t, create(k, bad),
		"endpoints[0].addresses: Required value: must contain at least 1 address",
		`endpoints[1].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address`,
		`endpoints[1].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`,
		`endpoints[1].addresses[2]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		`ports[1].name: Duplicate value: "a"`,
		`ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`)
	wantErrs(t, create(k, &discoveryv1.EndpointSlice{ObjectMeta: meta("y")}), "addressType: Required value")

	// the address type is fixed; endpoint changes are a new generation
	s.Generation = 1
	moved := s.DeepCopy()
	moved.Endpoints = moved.Endpoints[:1]
	if errs := update(k, moved, s); len(errs) != 0 {
		t.Errorf("endpoint change rejected: %v", errs)
	}
	if moved.Generation != 2 {
		t.Errorf("generation after endpoint change = %d", moved.Generation)
	}
	same := s.DeepCopy()
	same.Annotations = map[string]string{"a": "b"}
	update(k, same, s)
	if same.Generation != 1 {
		t.Errorf("generation after annotation change = %d", same.Generation)
	}
	v6 := s.DeepCopy()
	v6.AddressType = discoveryv1.AddressTypeFQDN
	v6.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"a.example.com"}}}
	wantErrs(t, update(k, v6, s), `addressType: Invalid value: "FQDN": field is immutable`)
}

func newEvent() *eventsv1.Event {
	return &eventsv1.Event{ObjectMeta: meta("web.1"), EventTime: metav1.NewMicroTime(created.Add(time.Minute)),
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", FieldPath: "spec.containers{web}"},
		Reason:              "Pulled",
		Note:                "Container image already present ",
		Type:                corev1.EventTypeNormal,
		Action:              "Pull",
		ReportingController: "bosun.dev/kubelet",
		ReportingInstance:   "node-1",
	}
}

func TestEventsEvent(t *testing.T) {
	k := kindFor(t, "events.k8s.io", "events")
	e := newEvent()
	if errs := create(k, e); len(errs) != 0 {
		t.Fatalf("valid event rejected: %v", errs)
	}
	at := registry.Since(e.EventTime.Time)
	want := []interface{}{at, "Normal", "Pulled", "pod/web", "spec.containers{web}", "bosun.dev/kubelet, node-1", "Container image already present", at, int64(1)}
	if got := k.Row(e); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
	series := e.DeepCopy()
	last := metav1.NewMicroTime(created.Add(time.Hour))
	series.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: last}
	if got := k.Row(series); got[0] != registry.Since(last.Time) || got[8] != int64(4) {
		t.Errorf("series row = %#v", got)
	}
	wantFields := fields.Set{"regarding.kind": "Pod", "regarding.namespace": "default", "regarding.name": "web", "regarding.uid": "",
		"regarding.apiVersion": "", "regarding.resourceVersion": "", "regarding.fieldPath": "spec.containers{web}",
		"reason": "Pulled", "reportingController": "bosun.dev/kubelet", "source": "bosun.dev/kubelet", "type": "Normal"}
	if got := k.Fields(e); !reflect.DeepEqual(got, wantFields) {
		t.Errorf("fields = %v", got)
	}

	bad := newEvent()
	bad.EventTime = metav1.MicroTime{}
	bad.Type = "Urgent"
	bad.DeprecatedCount = 3
	wantErrs(t, create(k, bad),
		"eventTime: Required value",
		`type: Invalid value: "": has invalid value: Urgent`,
		`count: Invalid value: "": needs to be unset`)
	noActor := newEvent()
	noActor.ReportingController, noActor.Action = "", ""
	noActor.Series = &eventsv1.EventSeries{Count: 1, LastObservedTime: last}
	wantErrs(t, create(k, noActor),
		// as upstream, an empty controller is also an invalid qualified name
		"reportingController: Required value",
		`reportingController: Invalid value: "": name part must be non-empty`,
		`reportingController: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		"action: Required value",
		`series.count: Invalid value: "": should be at least 2`)

	changed := e.DeepCopy()
	changed.Reason = "Failed"
	changed.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: last} // a series may grow
	wantErrs(t, update(k, changed, e), `reason: Invalid value: "Failed": field is immutable`)
}
