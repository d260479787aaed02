package groups

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/sets"
)

func TestEventConversionRoundTrip(t *testing.T) {
	e := newEvent()
	e.Labels = map[string]string{"a": "b"}
	e.Series = &eventsv1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(created.Add(time.Hour))}
	e.Related = &corev1.ObjectReference{Kind: "Node", Name: "node-1"}
	e.DeprecatedSource = corev1.EventSource{Component: "kubelet", Host: "node-1"}
	e.DeprecatedFirstTimestamp, e.DeprecatedLastTimestamp, e.DeprecatedCount = created, created, 2

	c := EventToCore(e)
	if c.InvolvedObject.Name != "web" || c.Message != e.Note || c.Series.Count != 3 || c.Count != 2 || c.Source.Host != "node-1" ||
		c.ReportingController != e.ReportingController || c.Related.Name != "node-1" || c.Labels["a"] != "b" {
		t.Errorf("core event = %+v", c)
	}
	back := EventFromCore(c)
	back.TypeMeta = e.TypeMeta
	if !apiequality.Semantic.DeepEqual(back, e) {
		t.Errorf("round trip changed the event:\n%+v\n%+v", back, e)
	}
	// every field of both types is carried: the JSON forms have as many set fields
	for _, obj := range []interface{}{e, c} {
		raw, _ := json.Marshal(obj)
		var m map[string]interface{}
		_ = json.Unmarshal(raw, &m)
		keys := sets.KeySet(m)
		keys.Delete("apiVersion", "kind", "metadata")
		if keys.Len() != 14 {
			t.Errorf("%T has %d fields set: %v", obj, keys.Len(), sets.List(keys))
		}
	}
}
