package storage

import (
	"context"
	"encoding/base64"
	"k8s.io/apimachinery/pkg/fields"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestContinueToken(t *testing.T) {
	tok := encodeContinue("web-1\x00", 42)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":"meta.k8s.io/v1","rv":42,"start":"web-1\u0000"}`; string(raw) != want {
		t.Fatalf("token content %s, want %s (upstream's shape)", raw, want)
	}
	start, rv, err := decodeContinue(tok)
	if err != nil || start != "web-1\x00" || rv != 42 {
		t.Fatalf("decode: %q %d %v", start, rv, err)
	}

	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bad := []struct{ name, token string }{
		{"not base64", "!!!"},
		{"not json", enc("nope")},
		{"unknown version", enc(`{"v":"meta.k8s.io/v2","rv":1,"start":"a"}`)},
		{"no revision", enc(`{"v":"meta.k8s.io/v1","rv":0,"start":"a"}`)},
		{"no start", enc(`{"v":"meta.k8s.io/v1","rv":1,"start":""}`)},
		{"path escape", enc(`{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/x"}`)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeContinue(tt.token); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestMatcher(t *testing.T) {
	e := &Entry{Namespace: "ns", Name: "a", Labels: map[string]string{"app": "web"}, Fields: NewFieldSet(map[string]string{"metadata.name": "a", "spec.nodeName": "n1"})}
	tests := []struct {
		name string
		m    matcher
		want bool
	}{
		{"everything", newMatcher("", nil, nil), true},
		{"namespace", newMatcher("ns", nil, nil), true},
		{"other namespace", newMatcher("other", nil, nil), false},
		{"label", newMatcher("", mustSelector(t, "app=web"), nil), true},
		{"label mismatch", newMatcher("", mustSelector(t, "app=db"), nil), false},
		{"label absent", newMatcher("", mustSelector(t, "!tier"), nil), true},
		{"field", newMatcher("", nil, mustFieldSelector(t, "spec.nodeName=n1")), true},
		{"field mismatch", newMatcher("", nil, mustFieldSelector(t, "spec.nodeName!=n1")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.matches(e); got != tt.want {
				t.Fatalf("matches = %v, want %v", got, tt.want)
			}
		})
	}
	if newMatcher("", nil, nil).matches(nil) {
		t.Fatal("nil entry matched")
	}
}

// TestKeyLayout checks the etcd keys of namespaced, cluster-scoped and grouped resources.
func TestKeyLayout(t *testing.T) {
	ctx := context.Background()
	e := startEtcd(t, t.TempDir())
	s, err := New(Config{Client: e.Client(), Scheme: scheme.Scheme, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	nsRes, err := s.Register(ResourceConfig{
		GroupResource: schema.GroupResource{Resource: "namespaces"},
		GVK:           corev1.SchemeGroupVersion.WithKind("Namespace"),
		New:           func() runtime.Object { return &corev1.Namespace{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	deploys, err := s.Register(ResourceConfig{
		GroupResource: schema.GroupResource{Group: "apps", Resource: "deployments"},
		GVK:           appsv1.SchemeGroupVersion.WithKind("Deployment"),
		Namespaced:    true,
		New:           func() runtime.Object { return &appsv1.Deployment{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ResourceConfig{GroupResource: schema.GroupResource{Group: "apps", Resource: "deployments"},
		GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), New: func() runtime.Object { return &appsv1.Deployment{} }}); err == nil {
		t.Fatal("registering a resource twice: want error")
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-s.Ready()
	if _, err := s.Register(configMapConfig()); err == nil {
		t.Fatal("Register after Run: want error")
	}

	mustCreate(t, nsRes, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}})
	mustCreate(t, deploys, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"}})
	if _, err := deploys.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "no-namespace"}}); err == nil {
		t.Fatal("namespaced object without namespace: want error")
	}
	for _, key := range []string{"/registry/core/namespaces/team-a", "/registry/apps/deployments/team-a/web"} {
		resp, err := e.Client().Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("key %s: %v %v", key, err, resp)
		}
		if _, _, err := s.codec.proto.Decode(resp.Kvs[0].Value, nil, &runtime.Unknown{}); err != nil {
			t.Fatalf("key %s does not hold protobuf: %v", key, err)
		}
	}
	res, err := nsRes.List(ctx, ListOptions{Namespace: "ignored-for-cluster-scoped"})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Key != "team-a" || res.Entries[0].Namespace != "" {
		t.Fatalf("cluster-scoped list: %v %+v", err, res)
	}
	got, err := deploys.Get(ctx, "team-a", "web")
	if err != nil {
		t.Fatal(err)
	}
	if gvk := got.GetObjectKind().GroupVersionKind(); gvk != appsv1.SchemeGroupVersion.WithKind("Deployment") {
		t.Fatalf("get returned kind %v", gvk)
	}
}

func TestCallbackPanicIsAnError(t *testing.T) {
	s := &Store{codec: newCodec(scheme.Scheme)}
	rc := podConfig()
	rc.Row = func(runtime.Object) []interface{} { panic("boom") }
	r := newResource(s, rc, "/registry/core/pods/")
	data, err := r.encode(pod("ns", "a", nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.build("ns/a", data, 1); err == nil {
		t.Fatal("want an error from a panicking Row")
	}
}

func TestRing(t *testing.T) {
	var q ring
	var dropped []int64
	for rv := int64(1); rv <= 100; rv++ {
		if old := q.push(&event{rv: rv}, 40); old != nil {
			dropped = append(dropped, old.rv)
		}
	}
	if q.len() != 40 || len(dropped) != 60 || dropped[0] != 1 || dropped[59] != 60 {
		t.Fatalf("len %d, dropped %d (%v…)", q.len(), len(dropped), dropped[:3])
	}
	after := q.after(89)
	if len(after) != 11 || after[0].rv != 90 || after[10].rv != 100 {
		t.Fatalf("after(89): %d events from %d", len(after), after[0].rv)
	}
	if got := q.after(0); len(got) != 40 || got[0].rv != 61 {
		t.Fatalf("after(0): %d events from %d", len(got), got[0].rv)
	}
	if got := q.after(100); len(got) != 0 {
		t.Fatalf("after(100): %d events", len(got))
	}
	for q.len() > 1 {
		q.popFront()
	}
	if q.at(0).rv != 100 {
		t.Fatalf("last event %d, want 100", q.at(0).rv)
	}

	var big ring
	for rv := int64(1); rv <= 1000; rv++ {
		big.push(&event{rv: rv}, 1000)
	}
	for big.len() > 10 {
		big.popFront()
	}
	if len(big.buf) > 128 || big.at(0).rv != 991 {
		t.Fatalf("after trimming to 10 events the buffer holds %d slots, first %d", len(big.buf), big.at(0).rv)
	}
}

func TestFieldSetMatchesAsTheMap(t *testing.T) {
	set := map[string]string{"metadata.name": "a", "spec.nodeName": "", "status.phase": "Running", "metadata.namespace": "ns"}
	f := NewFieldSet(set)
	for _, sel := range []string{"status.phase=Running", "spec.nodeName=", "spec.nodeName!=n1", "metadata.name=a,metadata.namespace=ns",
		"status.phase!=Running", "spec.nodeName=n1", "status.podIP=", "metadata.name=b"} {
		s, err := fields.ParseSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Matches(f), s.Matches(fields.Set(set)); got != want {
			t.Errorf("%s: FieldSet %v, map %v", sel, got, want)
		}
	}
	if f.Has("status.podIP") || !f.Has("spec.nodeName") || f.Get("status.phase") != "Running" || f.Get("nope") != "" {
		t.Errorf("Has/Get on %v", f)
	}
}
