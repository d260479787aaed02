package discovery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// testRegistry serves a few kinds of three groups, one of them cluster-scoped.
func testRegistry() *registry.Registry {
	scale := &registry.ScaleRule{
		Get:         func(runtime.Object) (int32, int32, string) { return 0, 0, "" },
		SetReplicas: func(runtime.Object, int32) {},
	}
	return registry.New(
		&registry.Kind{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", ShortNames: []string{"po"},
			Categories: []string{"all"}, Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		&registry.Kind{GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Resource: "namespaces", ShortNames: []string{"ns"},
			Status: true, Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		&registry.Kind{GVK: batchv1.SchemeGroupVersion.WithKind("Job"), Resource: "jobs", Categories: []string{"all"},
			Namespaced: true, Status: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }},
		&registry.Kind{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments", ShortNames: []string{"deploy"},
			Categories: []string{"all"}, Namespaced: true, Status: true, Scale: scale,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
	)
}

// recorder serves the discovery handler and records the paths asked for.
type recorder struct {
	h     http.Handler
	mu    sync.Mutex
	paths []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func startServer(t *testing.T) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{h: New(testRegistry(), WithSubresources(StandardSubresources()...))}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func client(t *testing.T, url string, legacy bool) *clientdiscovery.DiscoveryClient {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(&rest.Config{Host: url})
	if err != nil {
		t.Fatal(err)
	}
	dc.UseLegacyDiscovery = legacy
	return dc
}

func find(list []*metav1.APIResourceList, gv, name string) *metav1.APIResource {
	for _, l := range list {
		if l.GroupVersion != gv {
			continue
		}
		for i := range l.APIResources {
			if l.APIResources[i].Name == name {
				return &l.APIResources[i]
			}
		}
	}
	return nil
}

// TestClientGoDiscovery reads the documents with client-go's discovery client, in the
// aggregated form it asks for first and in the legacy per-group-version form, and checks
// both give the same, upstream-shaped answer.
func TestClientGoDiscovery(t *testing.T) {
	rec, srv := startServer(t)
	for _, legacy := range []bool{false, true} {
		rec.mu.Lock()
		rec.paths = nil
		rec.mu.Unlock()
		groups, resources, err := client(t, srv.URL, legacy).ServerGroupsAndResources()
		if err != nil {
			t.Fatalf("legacy=%v: %v", legacy, err)
		}
		var names []string
		for _, g := range groups {
			names = append(names, g.Name+"="+g.PreferredVersion.GroupVersion)
		}
		if want := []string{"=v1", "apps=apps/v1", "batch=batch/v1"}; !reflect.DeepEqual(names, want) {
			t.Errorf("legacy=%v: groups %v, want %v (core first, upstream priority order)", legacy, names, want)
		}
		rec.mu.Lock()
		asked := append([]string(nil), rec.paths...)
		rec.mu.Unlock()
		sort.Strings(asked)
		wantAsked := []string{"/api", "/apis"}
		if legacy {
			wantAsked = []string{"/api", "/api/v1", "/apis", "/apis/apps/v1", "/apis/batch/v1"}
		}
		if !reflect.DeepEqual(asked, wantAsked) {
			t.Errorf("legacy=%v: client asked for %v, want %v", legacy, asked, wantAsked)
		}

		checks := []struct {
			gv, name string
			want     metav1.APIResource
		}{
			{"v1", "pods", metav1.APIResource{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod",
				Verbs:      []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
				ShortNames: []string{"po"}, Categories: []string{"all"}}},
			{"v1", "pods/status", metav1.APIResource{Name: "pods/status", Namespaced: true, Kind: "Pod",
				Verbs: []string{"get", "patch", "update"}}},
			{"v1", "pods/binding", metav1.APIResource{Name: "pods/binding", Namespaced: true, Kind: "Binding",
				Verbs: []string{"create"}}},
			{"v1", "pods/eviction", metav1.APIResource{Name: "pods/eviction", Namespaced: true, Group: "policy",
				Version: "v1", Kind: "Eviction", Verbs: []string{"create"}}},
			{"v1", "pods/exec", metav1.APIResource{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions",
				Verbs: []string{"create", "get"}}},
			{"v1", "namespaces", metav1.APIResource{Name: "namespaces", SingularName: "namespace", Kind: "Namespace",
				Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, ShortNames: []string{"ns"}}},
			{"v1", "namespaces/finalize", metav1.APIResource{Name: "namespaces/finalize", Kind: "Namespace",
				Verbs: []string{"update"}}},
			{"apps/v1", "deployments/scale", metav1.APIResource{Name: "deployments/scale", Namespaced: true,
				Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "patch", "update"}}},
			{"batch/v1", "jobs", metav1.APIResource{Name: "jobs", SingularName: "job", Namespaced: true, Kind: "Job",
				Verbs:      []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
				Categories: []string{"all"}}},
		}
		for _, c := range checks {
			got := find(resources, c.gv, c.name)
			if got == nil {
				t.Errorf("legacy=%v: %s %s missing", legacy, c.gv, c.name)
				continue
			}
			got = got.DeepCopy()
			if legacy && !strings.Contains(c.name, "/") && got.StorageVersionHash == "" {
				t.Errorf("legacy=%v: %s has no storageVersionHash", legacy, c.name)
			}
			got.StorageVersionHash = ""
			if !legacy && strings.Contains(c.name, "/") {
				// client-go gives aggregated subresources their parent's singular name.
				got.SingularName = ""
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("legacy=%v: %s %s =\n%+v\nwant\n%+v", legacy, c.gv, c.name, *got, c.want)
			}
		}
		if find(resources, "v1", "services/proxy") != nil {
			t.Errorf("legacy=%v: services/proxy listed though services are not served", legacy)
		}
	}
}

// TestStorageVersionHash checks the hash upstream publishes for core pods, and that a
// resource served at two versions has one hash, its preferred version's.
func TestStorageVersionHash(t *testing.T) {
	kind := func(gvk schema.GroupVersionKind) *registry.Kind {
		return &registry.Kind{GVK: gvk, Resource: "horizontalpodautoscalers", Namespaced: true}
	}
	reg := testRegistry()
	reg.Add(kind(schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}))
	reg.Add(kind(schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}))
	d := New(reg)
	hash := func(gv schema.GroupVersion, name string) string {
		rs, ok := d.ResourcesFor(gv)
		if !ok {
			t.Fatalf("%v not served", gv)
		}
		for _, r := range rs {
			if r.Name == name {
				return r.StorageVersionHash
			}
		}
		t.Fatalf("%v %s not served", gv, name)
		return ""
	}
	// Value published by every upstream cluster for core/v1 pods.
	if h := hash(schema.GroupVersion{Version: "v1"}, "pods"); h != "xPOwRZ+Yhw8=" {
		t.Errorf("pods storageVersionHash = %q, want xPOwRZ+Yhw8=", h)
	}
	v1 := hash(schema.GroupVersion{Group: "autoscaling", Version: "v1"}, "horizontalpodautoscalers")
	v2 := hash(schema.GroupVersion{Group: "autoscaling", Version: "v2"}, "horizontalpodautoscalers")
	if v1 != v2 || v1 != storageVersionHash(schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}) {
		t.Errorf("hpa hashes v1 %q v2 %q, want both of autoscaling/v2", v1, v2)
	}
}

// TestRESTMapper resolves what kubectl resolves from discovery: short names, kinds, scope.
func TestRESTMapper(t *testing.T) {
	_, srv := startServer(t)
	dc := client(t, srv.URL, false)
	grs, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(grs), dc, nil)
	tests := []struct {
		in         string
		want       schema.GroupVersionKind
		namespaced bool
	}{
		{"deploy", appsv1.SchemeGroupVersion.WithKind("Deployment"), true},
		{"po", corev1.SchemeGroupVersion.WithKind("Pod"), true},
		{"ns", corev1.SchemeGroupVersion.WithKind("Namespace"), false},
		{"jobs.batch", batchv1.SchemeGroupVersion.WithKind("Job"), true},
	}
	for _, tt := range tests {
		gvr, err := mapper.ResourceFor(schema.ParseGroupResource(tt.in).WithVersion(""))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		gvk, err := mapper.KindFor(gvr)
		if err != nil || gvk != tt.want {
			t.Errorf("%s: kind %v, %v; want %v", tt.in, gvk, err, tt.want)
			continue
		}
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := m.Scope.Name() == "namespace"; got != tt.namespaced {
			t.Errorf("%s: namespaced %v, want %v", tt.in, got, tt.namespaced)
		}
	}
}

// TestAggregatedHTTP checks the wire details clients depend on: Content-Type parameters,
// Vary, ETag and 304, the v2beta1 form, and a fallback to the legacy form.
func TestAggregatedHTTP(t *testing.T) {
	_, srv := startServer(t)
	get := func(path, accept, inm string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	accept := clientdiscovery.AcceptV2 + "," + clientdiscovery.AcceptV2Beta1 + "," + clientdiscovery.AcceptV1
	resp := get("/apis", accept, "")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
		t.Errorf("Content-Type %q", ct)
	}
	if v := resp.Header.Get("Vary"); v != "Accept" {
		t.Errorf("Vary %q", v)
	}
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "APIGroupDiscoveryList" || list.APIVersion != "apidiscovery.k8s.io/v2" || len(list.Items) != 2 ||
		list.Items[0].Name != "apps" || list.Items[0].Versions[0].Freshness != apidiscoveryv2.DiscoveryFreshnessCurrent {
		t.Errorf("unexpected list %+v", list)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r := get("/apis", accept, etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", r.StatusCode)
	}
	pb := get("/apis", "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", "")
	if ct := pb.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
		t.Errorf("protobuf Content-Type %q", ct)
	}
	pbBody, err := io.ReadAll(pb.Body)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(apidiscoveryv2.SchemeGroupVersion, &apidiscoveryv2.APIGroupDiscoveryList{})
	obj, _, err := protobuf.NewSerializer(scheme, scheme).Decode(pbBody, nil, nil)
	if got, ok := obj.(*apidiscoveryv2.APIGroupDiscoveryList); err != nil || !ok || !reflect.DeepEqual(got.Items, list.Items) {
		t.Errorf("protobuf aggregated list decodes to %v (%v), want the JSON one", obj, err)
	}
	if r := get("/api", clientdiscovery.AcceptV2Beta1+","+clientdiscovery.AcceptV1, ""); r.Header.Get("Content-Type") !=
		"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList" {
		t.Errorf("v2beta1 Content-Type %q", r.Header.Get("Content-Type"))
	}
	r := get("/api", "application/json", "")
	var versions metav1.APIVersions
	if err := json.NewDecoder(r.Body).Decode(&versions); err != nil {
		t.Fatal(err)
	}
	if versions.Kind != "APIVersions" || !reflect.DeepEqual(versions.Versions, []string{"v1"}) ||
		len(versions.ServerAddressByClientCIDRs) != 1 || versions.ServerAddressByClientCIDRs[0].ServerAddress == "" {
		t.Errorf("/api = %+v", versions)
	}
	if r := get("/apis/apps", "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("/apis/apps: %d", r.StatusCode)
	} else {
		var g metav1.APIGroup
		if err := json.NewDecoder(r.Body).Decode(&g); err != nil || g.Kind != "APIGroup" || g.PreferredVersion.Version != "v1" {
			t.Errorf("/apis/apps = %+v, %v", g, err)
		}
	}
	if r := get("/apis/apps/v2", "", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("/apis/apps/v2: %d, want 404", r.StatusCode)
	}
	if r := get("/api/v1", "application/vnd.kubernetes.protobuf", ""); r.StatusCode != http.StatusOK ||
		r.Header.Get("Content-Type") != "application/vnd.kubernetes.protobuf" {
		t.Errorf("protobuf /api/v1: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := get("/api/v1", "text/html", ""); r.StatusCode != http.StatusNotAcceptable {
		t.Errorf("text/html: %d, want 406", r.StatusCode)
	}
}

// TestEncodings: the protobuf and YAML forms of a document decode to the JSON one.
func TestEncodings(t *testing.T) {
	_, srv := startServer(t)
	body := func(accept string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/apis/apps/v1", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %v", accept, resp.StatusCode, err)
		}
		return b
	}
	var want metav1.APIResourceList
	if err := json.Unmarshal(body("application/json"), &want); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	obj, _, err := protobuf.NewSerializer(scheme, scheme).Decode(body("application/vnd.kubernetes.protobuf"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := obj.(*metav1.APIResourceList); !ok || !reflect.DeepEqual(*got, want) {
		t.Errorf("protobuf decodes to %#v, want %#v", obj, want)
	}
	var fromYAML metav1.APIResourceList
	if err := yaml.Unmarshal(body("application/yaml"), &fromYAML); err != nil || !reflect.DeepEqual(fromYAML, want) {
		t.Errorf("yaml decodes to %#v (%v), want %#v", fromYAML, err, want)
	}
	if len(want.APIResources) == 0 || want.GroupVersion != "apps/v1" || want.Kind != "APIResourceList" {
		t.Errorf("unexpected document %#v", want)
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		agg    bool
		want   mediaType
		ok     bool
	}{
		{"", true, mediaType{format: formatJSON}, true},
		{"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", true, mediaType{formatJSON, "v2"}, true},
		{"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", false, mediaType{format: formatJSON}, true},
		{"application/json;as=Table;v=v1;g=meta.k8s.io", true, mediaType{}, false},
		{"application/yaml;q=0.5, application/vnd.kubernetes.protobuf", true, mediaType{format: formatProtobuf}, true},
		{"application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList", true, mediaType{formatProtobuf, "v2beta1"}, true},
		{"*/*", true, mediaType{format: formatJSON}, true},
	}
	for _, tt := range tests {
		got, ok := negotiate(tt.accept, tt.agg)
		if ok != tt.ok || got != tt.want {
			t.Errorf("negotiate(%q, %v) = %+v, %v; want %+v, %v", tt.accept, tt.agg, got, ok, tt.want, tt.ok)
		}
	}
}

// BenchmarkServeAggregated measures answering kubectl's first discovery request.
func BenchmarkServeAggregated(b *testing.B) {
	d := New(testRegistry(), WithSubresources(StandardSubresources()...))
	req := httptest.NewRequest(http.MethodGet, "/apis", nil)
	req.Header.Set("Accept", clientdiscovery.AcceptV2+","+clientdiscovery.AcceptV2Beta1+","+clientdiscovery.AcceptV1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func TestHandlesAndMethods(t *testing.T) {
	d := New(testRegistry())
	for path, want := range map[string]bool{
		"/api": true, "/api/": true, "/api/v1": true, "/apis": true, "/apis/apps": true, "/apis/apps/v1/": true,
		"/apis/apps/v2": false, "/apis/policy": false, "/api/v1/pods": false, "/apis/apps/v1/deployments": false,
	} {
		if got := d.Handles(path); got != want {
			t.Errorf("Handles(%q) = %v, want %v", path, got, want)
		}
	}
	for method, want := range map[string]int{http.MethodGet: 200, http.MethodHead: 200, http.MethodPost: 405, http.MethodDelete: 405} {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest(method, "/apis/apps/v1", nil))
		if w.Code != want {
			t.Errorf("%s /apis/apps/v1: %d, want %d", method, w.Code, want)
		}
		if method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("HEAD wrote a body")
		}
	}
}
