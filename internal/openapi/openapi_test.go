package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1beta1 "k8s.io/api/storage/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	clientdiscovery "k8s.io/client-go/discovery"
	clientopenapi "k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/registry"
)

func testKinds() []*registry.Kind {
	return []*registry.Kind{
		{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", ShortNames: []string{"po"},
			Categories: []string{"all"}, Namespaced: true, Status: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		{GVK: corev1.SchemeGroupVersion.WithKind("Namespace"), Resource: "namespaces", ShortNames: []string{"ns"}, Status: true,
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			New:   func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		{GVK: batchv1.SchemeGroupVersion.WithKind("Job"), Resource: "jobs", Categories: []string{"all"}, Namespaced: true, Status: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }},
		{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments", ShortNames: []string{"deploy"},
			Categories: []string{"all"}, Namespaced: true, Status: true,
			Scale: &registry.ScaleRule{
				Get:         func(runtime.Object) (int32, int32, string) { return 0, 0, "" },
				SetReplicas: func(runtime.Object, int32) {},
			},
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
	}
}

// startServer serves the OpenAPI documents the way the API server routes them.
func startServer(t testing.TB, kinds ...*registry.Kind) (*OpenAPI, *httptest.Server) {
	t.Helper()
	if len(kinds) == 0 {
		kinds = testKinds()
	}
	o, err := New(registry.New(kinds...), WithSubresources(discovery.StandardSubresources()...))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/openapi/v2", o.ServeV2)
	mux.HandleFunc("/openapi/v3", o.ServeV3)
	mux.HandleFunc("/openapi/v3/", o.ServeV3)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return o, srv
}

func discoveryClient(t testing.TB, srv *httptest.Server) *clientdiscovery.DiscoveryClient {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

var (
	coreV1 = schema.GroupVersion{Version: "v1"}
	appsV1 = appsv1.SchemeGroupVersion
)

func TestGroupVersionsListed(t *testing.T) {
	_, srv := startServer(t)
	paths, err := discoveryClient(t, srv).OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/batch", "apis/batch/v1", "version"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("/openapi/v3 lacks %q (has %v)", want, keys(paths))
		}
	}
	if len(paths) != 8 {
		t.Errorf("/openapi/v3 lists %v, want 8 paths", keys(paths))
	}
}

// TestRoundTrip: every group version document survives a JSON round trip through
// kube-openapi's spec3 types unchanged (upstream's "OpenAPI V3 RoundTrip" conformance check).
func TestRoundTrip(t *testing.T) {
	_, srv := startServer(t)
	root := openapi3.NewRoot(discoveryClient(t, srv).OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	if len(gvs) != 3 {
		t.Errorf("group versions %v, want core/v1, apps/v1, batch/v1", gvs)
	}
	for _, gv := range gvs {
		s1, err := root.GVSpec(gv)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s1)
		if err != nil {
			t.Fatal(err)
		}
		var s2 spec3.OpenAPI
		if err := json.Unmarshal(b, &s2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*s1, s2) {
			t.Errorf("%v does not round-trip", gv)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// resolve follows $ref and single-element allOf the way kubectl explain's template does.
func resolve(t *testing.T, doc map[string]interface{}, s map[string]interface{}) map[string]interface{} {
	t.Helper()
	for i := 0; i < 10; i++ {
		if ref, ok := s["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			next, ok := doc["components"].(map[string]interface{})["schemas"].(map[string]interface{})[name].(map[string]interface{})
			if !ok {
				t.Fatalf("unresolvable $ref %q", ref)
			}
			s = next
			continue
		}
		if all, ok := s["allOf"].([]interface{}); ok && len(all) == 1 && s["properties"] == nil {
			s = all[0].(map[string]interface{})
			continue
		}
		return s
	}
	t.Fatal("$ref loop")
	return nil
}

// TestExplain walks the documents the way `kubectl explain` (v2, OpenAPI v3) does: it takes
// the GVK from an operation of the resource's path, finds the schema carrying that GVK in
// x-kubernetes-group-version-kind, and follows a field path through $ref/allOf.
func TestExplain(t *testing.T) {
	_, srv := startServer(t)
	root := openapi3.NewRoot(discoveryClient(t, srv).OpenAPIV3())
	tests := []struct {
		gvr        schema.GroupVersionResource
		fieldPath  []string
		wantKind   string
		wantFields []string
	}{
		{coreV1.WithResource("pods"), nil, "Pod", []string{"apiVersion", "kind", "metadata", "spec", "status"}},
		{coreV1.WithResource("pods"), []string{"spec", "containers"}, "Pod", []string{"image", "name", "ports", "resources"}},
		{appsV1.WithResource("deployments"), []string{"spec", "strategy"}, "Deployment", []string{"rollingUpdate", "type"}},
		{coreV1.WithResource("namespaces"), []string{"spec"}, "Namespace", []string{"finalizers"}},
		{batchv1.SchemeGroupVersion.WithResource("jobs"), []string{"spec", "template", "spec"}, "Job", []string{"containers", "restartPolicy"}},
	}
	for _, tt := range tests {
		doc, err := root.GVSpecAsMap(tt.gvr.GroupVersion())
		if err != nil {
			t.Fatalf("%v: %v", tt.gvr, err)
		}
		prefix := "/api"
		if tt.gvr.Group != "" {
			prefix = "/apis/" + tt.gvr.Group
		}
		paths := doc["paths"].(map[string]interface{})
		var gvk map[string]interface{}
		for _, p := range []string{
			prefix + "/" + tt.gvr.Version + "/" + tt.gvr.Resource,
			prefix + "/" + tt.gvr.Version + "/namespaces/{namespace}/" + tt.gvr.Resource,
		} {
			if item, ok := paths[p].(map[string]interface{}); ok {
				if get, ok := item["get"].(map[string]interface{}); ok {
					gvk, _ = get["x-kubernetes-group-version-kind"].(map[string]interface{})
				}
			}
		}
		if gvk == nil || gvk["kind"] != tt.wantKind || gvk["version"] != tt.gvr.Version || gvk["group"] != tt.gvr.Group {
			t.Errorf("%v: list operation GVK %v, want %s", tt.gvr, gvk, tt.wantKind)
			continue
		}
		var found map[string]interface{}
		for _, s := range doc["components"].(map[string]interface{})["schemas"].(map[string]interface{}) {
			list, _ := s.(map[string]interface{})["x-kubernetes-group-version-kind"].([]interface{})
			for _, e := range list {
				if reflect.DeepEqual(e, gvk) {
					found = s.(map[string]interface{})
				}
			}
		}
		if found == nil {
			t.Errorf("%v: no schema carries GVK %v", tt.gvr, gvk)
			continue
		}
		s := found
		for _, f := range tt.fieldPath {
			s = resolve(t, doc, s)
			if items, ok := s["items"].(map[string]interface{}); ok {
				s = resolve(t, doc, items)
			}
			next, ok := s["properties"].(map[string]interface{})[f].(map[string]interface{})
			if !ok {
				t.Fatalf("%v: field %q missing on the way to %v", tt.gvr, f, tt.fieldPath)
			}
			s = next
		}
		s = resolve(t, doc, s)
		if items, ok := s["items"].(map[string]interface{}); ok {
			s = resolve(t, doc, items)
		}
		props, _ := s["properties"].(map[string]interface{})
		for _, f := range tt.wantFields {
			if _, ok := props[f]; !ok {
				t.Errorf("%v %v: field %q missing (have %v)", tt.gvr, tt.fieldPath, f, keys(props))
			}
		}
		if d, _ := s["description"].(string); d == "" {
			t.Errorf("%v %v: no description", tt.gvr, tt.fieldPath)
		}
	}
}

func hasGVK(ext spec.Extensions, gvk schema.GroupVersionKind) bool {
	var got map[string]string
	if err := ext.GetObject("x-kubernetes-group-version-kind", &got); err != nil {
		return false
	}
	return got["group"] == gvk.Group && got["version"] == gvk.Version && got["kind"] == gvk.Kind
}

// TestFieldValidationAdvertised checks what kubectl's QueryParamVerifierV3 reads to decide
// on server-side field validation (kubectl apply/create/edit --validate=strict): a PATCH
// operation tagged with the object's GVK whose own parameters include fieldValidation.
// kubectl takes whichever such operation it meets first, so every one must have it.
func TestFieldValidationAdvertised(t *testing.T) {
	_, srv := startServer(t)
	root := openapi3.NewRoot(discoveryClient(t, srv).OpenAPIV3())
	for _, gvk := range []schema.GroupVersionKind{
		coreV1.WithKind("Pod"), coreV1.WithKind("Namespace"), appsV1.WithKind("Deployment"),
		batchv1.SchemeGroupVersion.WithKind("Job"),
	} {
		doc, err := root.GVSpec(gvk.GroupVersion())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for p, item := range doc.Paths.Paths {
			op := item.Patch
			if op == nil || !hasGVK(op.Extensions, gvk) {
				continue
			}
			n++
			var names []string
			for _, param := range op.Parameters {
				names = append(names, param.Name)
			}
			for _, want := range []string{"fieldValidation", "dryRun", "fieldManager", "force"} {
				if !contains(names, want) {
					t.Errorf("%v: PATCH %s lacks %s (has %v)", gvk, p, want, names)
				}
			}
		}
		if n == 0 {
			t.Errorf("%v: no PATCH operation carries the GVK", gvk)
		}
	}

	doc, err := root.GVSpec(appsV1)
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
	if item == nil || item.Patch == nil || item.Put == nil {
		t.Fatal("deployment item path lacks PATCH or PUT")
	}
	if a, _ := item.Patch.Extensions.GetString("x-kubernetes-action"); a != "patch" {
		t.Errorf("PATCH x-kubernetes-action %q", a)
	}
	for _, op := range []*spec3.Operation{item.Put, doc.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments"].Post} {
		var names []string
		for _, p := range op.Parameters {
			names = append(names, p.Name)
		}
		for _, want := range []string{"fieldValidation", "dryRun", "fieldManager"} {
			if !contains(names, want) {
				t.Errorf("%s lacks %s", op.OperationId, want)
			}
		}
		if op.RequestBody == nil || op.RequestBody.Content["*/*"] == nil ||
			op.RequestBody.Content["*/*"].Schema.Ref.String() != "#/components/schemas/io.k8s.api.apps.v1.Deployment" {
			t.Errorf("%s: request body %+v", op.OperationId, op.RequestBody)
		}
	}
	var common []string
	for _, p := range item.Parameters {
		common = append(common, p.In+":"+p.Name)
	}
	if want := []string{"path:name", "path:namespace", "query:pretty"}; !reflect.DeepEqual(common, want) {
		t.Errorf("path-level parameters %v, want %v", common, want)
	}
}

type opCase struct {
	path, method, id, action string
	gvk                      schema.GroupVersionKind
}

// upstreamOperations are operation ids, actions and GVKs as upstream's documents have them.
func upstreamOperations() []opCase {
	pod, dep := coreV1.WithKind("Pod"), appsV1.WithKind("Deployment")
	return []opCase{
		{"/api/v1/namespaces/{namespace}/pods", "get", "listCoreV1NamespacedPod", "list", pod},
		{"/api/v1/namespaces/{namespace}/pods", "post", "createCoreV1NamespacedPod", "post", pod},
		{"/api/v1/namespaces/{namespace}/pods", "delete", "deleteCoreV1CollectionNamespacedPod", "deletecollection", pod},
		{"/api/v1/namespaces/{namespace}/pods/{name}", "get", "readCoreV1NamespacedPod", "get", pod},
		{"/api/v1/namespaces/{namespace}/pods/{name}", "put", "replaceCoreV1NamespacedPod", "put", pod},
		{"/api/v1/namespaces/{namespace}/pods/{name}", "delete", "deleteCoreV1NamespacedPod", "delete", pod},
		{"/api/v1/pods", "get", "listCoreV1PodForAllNamespaces", "list", pod},
		{"/api/v1/watch/pods", "get", "watchCoreV1PodListForAllNamespaces", "watchlist", pod},
		{"/api/v1/watch/namespaces/{namespace}/pods/{name}", "get", "watchCoreV1NamespacedPod", "watch", pod},
		{"/api/v1/namespaces/{namespace}/pods/{name}/status", "patch", "patchCoreV1NamespacedPodStatus", "patch", pod},
		{"/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "createCoreV1NamespacedPodBinding", "post", coreV1.WithKind("Binding")},
		{"/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "createCoreV1NamespacedPodEviction", "post",
			schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}},
		{"/api/v1/namespaces/{namespace}/pods/{name}/exec", "get", "connectCoreV1GetNamespacedPodExec", "connect", coreV1.WithKind("PodExecOptions")},
		{"/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}", "delete", "connectCoreV1DeleteNamespacedPodProxyWithPath", "connect", coreV1.WithKind("PodProxyOptions")},
		{"/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog", "get", pod},
		{"/api/v1/namespaces/{name}", "get", "readCoreV1Namespace", "get", coreV1.WithKind("Namespace")},
		{"/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize", "put", coreV1.WithKind("Namespace")},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "get", "readAppsV1NamespacedDeploymentScale", "get",
			schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}},
		{"/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get", "watchAppsV1NamespacedDeploymentList", "watchlist", dep},
		{"/apis/batch/v1/jobs", "get", "listBatchV1JobForAllNamespaces", "list", batchv1.SchemeGroupVersion.WithKind("Job")},
		{"/api/v1/", "get", "getCoreV1APIResources", "", schema.GroupVersionKind{}},
		{"/apis/apps/", "get", "getAppsAPIGroup", "", schema.GroupVersionKind{}},
		{"/apis/", "get", "getAPIVersions", "", schema.GroupVersionKind{}},
		{"/api/", "get", "getCoreAPIVersions", "", schema.GroupVersionKind{}},
	}
}

// TestOperations checks operation ids, actions and GVKs in both documents.
func TestOperations(t *testing.T) {
	_, srv := startServer(t)
	dc := discoveryClient(t, srv)
	v2 := fetchJSON(t, srv.URL+"/openapi/v2")
	for _, c := range upstreamOperations() {
		// v3: the document of the path's group version.
		key := strings.TrimPrefix(c.path, "/")
		parts := strings.Split(key, "/")
		switch {
		case parts[0] == "api" && len(parts) > 2:
			key = "api/v1"
		case parts[0] == "api":
			key = "api"
		case len(parts) > 3:
			key = strings.Join(parts[:3], "/")
		default:
			key = strings.TrimSuffix(key, "/")
		}
		paths, err := dc.OpenAPIV3().Paths()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := paths[key].Schema("application/json")
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		var v3 map[string]interface{}
		if err := json.Unmarshal(raw, &v3); err != nil {
			t.Fatal(err)
		}
		for name, doc := range map[string]map[string]interface{}{"v2": v2, "v3": v3} {
			item, _ := doc["paths"].(map[string]interface{})[c.path].(map[string]interface{})
			op, _ := item[c.method].(map[string]interface{})
			if op == nil {
				t.Errorf("%s: %s %s missing", name, c.method, c.path)
				continue
			}
			if op["operationId"] != c.id {
				t.Errorf("%s: %s %s operationId %v, want %s", name, c.method, c.path, op["operationId"], c.id)
			}
			if a, _ := op["x-kubernetes-action"].(string); a != c.action {
				t.Errorf("%s: %s %s action %q, want %q", name, c.method, c.path, a, c.action)
			}
			if c.gvk.Kind != "" {
				g, _ := op["x-kubernetes-group-version-kind"].(map[string]interface{})
				if g["group"] != c.gvk.Group || g["version"] != c.gvk.Version || g["kind"] != c.gvk.Kind {
					t.Errorf("%s: %s %s GVK %v, want %v", name, c.method, c.path, g, c.gvk)
				}
			}
		}
	}
}

func fetchJSON(t *testing.T, u string) map[string]interface{} {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]interface{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestV2Protobuf reads /openapi/v2 the way client-go's OpenAPISchema does (protobuf) and
// uses it as kubectl's v2 consumers do: proto models and strategic-merge patch metadata.
func TestV2Protobuf(t *testing.T) {
	_, srv := startServer(t)
	doc, err := discoveryClient(t, srv).OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	model := models.LookupModel("io.k8s.api.apps.v1.Deployment")
	if model == nil {
		t.Fatal("no io.k8s.api.apps.v1.Deployment model")
	}
	gvks, _ := model.GetExtensions()["x-kubernetes-group-version-kind"].([]interface{})
	if len(gvks) != 1 {
		t.Errorf("Deployment GVK extension %v", model.GetExtensions())
	}
	meta := strategicpatch.NewPatchMetaFromOpenAPI(model)
	for _, f := range []string{"spec", "template", "spec"} {
		next, _, err := meta.LookupPatchMetadataForStruct(f)
		if err != nil {
			t.Fatalf("patch meta %s: %v", f, err)
		}
		meta = next.(strategicpatch.PatchMetaFromOpenAPI)
	}
	_, pm, err := meta.LookupPatchMetadataForSlice("containers")
	if err != nil {
		t.Fatal(err)
	}
	if pm.GetPatchMergeKey() != "name" || !reflect.DeepEqual(pm.GetPatchStrategies(), []string{"merge"}) {
		t.Errorf("containers patch meta %+v", pm)
	}
}

// TestV3PatchMeta uses the v3 documents as kubectl's client-side apply does.
func TestV3PatchMeta(t *testing.T) {
	_, srv := startServer(t)
	doc, err := openapi3.NewRoot(discoveryClient(t, srv).OpenAPIV3()).GVSpec(appsV1)
	if err != nil {
		t.Fatal(err)
	}
	var meta strategicpatch.LookupPatchMeta = strategicpatch.PatchMetaFromOpenAPIV3{
		SchemaList: doc.Components.Schemas, Schema: doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]}
	for _, f := range []string{"spec", "template", "spec"} {
		meta, _, err = meta.LookupPatchMetadataForStruct(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	_, pm, err := meta.LookupPatchMetadataForSlice("containers")
	if err != nil {
		t.Fatal(err)
	}
	if pm.GetPatchMergeKey() != "name" {
		t.Errorf("containers merge key %q", pm.GetPatchMergeKey())
	}
}

// TestTypeConverter builds client-go's type converter (server-side apply's structured
// schema) from every v3 document and converts a Deployment with it.
func TestTypeConverter(t *testing.T) {
	_, srv := startServer(t)
	tc, err := clientopenapi.NewTypeConverter(discoveryClient(t, srv).OpenAPIV3(), false)
	if err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "bosun.local/hello:v1"}}}}}}
	if _, err := tc.ObjectToTyped(d); err != nil {
		t.Errorf("ObjectToTyped: %v", err)
	}
}

// TestServerTypeConverter converts objects of every test kind with the converter offered to
// server-side apply, and computes a managed-fields set from one.
func TestServerTypeConverter(t *testing.T) {
	o, _ := startServer(t)
	tc, err := o.TypeConverter()
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}}}},
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}},
		&batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}},
	} {
		typed, err := tc.ObjectToTyped(obj)
		if err != nil {
			t.Errorf("%T: %v", obj, err)
			continue
		}
		set, err := typed.ToFieldSet()
		if err != nil || set.Empty() {
			t.Errorf("%T: field set %v, %v", obj, set, err)
		}
	}
}

// TestCaching checks the HTTP details: v3 hashes (immutable caching, redirect of a stale
// hash), ETags, protobuf answers, 404 for an unknown group version.
func TestCaching(t *testing.T) {
	_, srv := startServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(u, accept, inm string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	index := fetchJSON(t, srv.URL+"/openapi/v3")
	rel := index["paths"].(map[string]interface{})["apis/apps/v1"].(map[string]interface{})["serverRelativeURL"].(string)
	u, err := url.Parse(rel)
	if err != nil || u.Query().Get("hash") == "" {
		t.Fatalf("serverRelativeURL %q", rel)
	}
	if r := do(srv.URL+rel, "application/json", ""); r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, immutable" {
		t.Errorf("hashed GET: %d %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	if r := do(srv.URL+"/openapi/v3/apis/apps/v1?hash=stale", "application/json", ""); r.StatusCode != http.StatusMovedPermanently ||
		r.Header.Get("Location") != rel {
		t.Errorf("stale hash: %d %q, want 301 to %q", r.StatusCode, r.Header.Get("Location"), rel)
	}
	if r := do(srv.URL+rel, "application/com.github.proto-openapi.spec.v3@v1.0+protobuf", ""); r.StatusCode != 200 ||
		!strings.HasSuffix(r.Header.Get("Content-Type"), "+protobuf") {
		t.Errorf("v3 protobuf: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := do(srv.URL+"/openapi/v3/apis/apps/v2", "", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group version: %d", r.StatusCode)
	}
	r := do(srv.URL+"/openapi/v2", "application/json", "")
	etag := r.Header.Get("ETag")
	if r.StatusCode != 200 || etag == "" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("v2: %d etag %q type %q", r.StatusCode, etag, r.Header.Get("Content-Type"))
	}
	if r := do(srv.URL+"/openapi/v2", "application/json", etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("v2 If-None-Match: %d, want 304", r.StatusCode)
	}
	if r := do(srv.URL+"/openapi/v2", "text/html", ""); r.StatusCode != http.StatusNotAcceptable {
		t.Errorf("v2 text/html: %d, want 406", r.StatusCode)
	}
}

// TestGzip: large documents are sent gzip-encoded to clients that accept it, and decode to
// the plain document.
func TestGzip(t *testing.T) {
	_, srv := startServer(t)
	for _, p := range []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/apis/apps/v1"} {
		get := func(enc string) (*http.Response, []byte) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp, b
		}
		plainResp, plain := get("identity")
		gzResp, gz := get("gzip")
		if plainResp.Header.Get("Content-Encoding") != "" || gzResp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: Content-Encoding %q / %q", p, plainResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) || len(plain) == 0 {
			t.Errorf("%s: gzip body does not decode to the plain one (%v)", p, err)
		}
	}
}

// TestConcurrentFirstRequests: clients racing on a fresh server all get the same documents
// (built once).
func TestConcurrentFirstRequests(t *testing.T) {
	_, srv := startServer(t)
	paths := []string{"/openapi/v2", "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1"}
	type result struct {
		path string
		etag string
		n    int
		err  error
	}
	results := make(chan result, 4*len(paths))
	for i := 0; i < 4; i++ {
		for _, p := range paths {
			go func(p string, pb bool) {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
				if pb {
					req.Header.Set("Accept", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf, application/json;q=0.9")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					results <- result{path: p, err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				results <- result{p, resp.Header.Get("Etag"), len(b), err}
			}(p, i%2 == 1)
		}
	}
	etags := map[string]string{}
	for i := 0; i < 4*len(paths); i++ {
		r := <-results
		if r.err != nil || r.n == 0 {
			t.Errorf("%s: %d bytes, %v", r.path, r.n, r.err)
			continue
		}
		if e, ok := etags[r.path]; ok && e != r.etag {
			t.Errorf("%s: ETags differ: %s / %s", r.path, e, r.etag)
		}
		etags[r.path] = r.etag
	}
}

// TestKindWithoutDefinition: a kind whose Go type has no generated definition is left out
// instead of breaking the documents.
func TestKindWithoutDefinition(t *testing.T) {
	kinds := append(testKinds(), &registry.Kind{GVK: storagev1beta1.SchemeGroupVersion.WithKind("CSIStorageCapacity"),
		Resource: "csistoragecapacities", Namespaced: true,
		New:     func() runtime.Object { return &storagev1beta1.CSIStorageCapacity{} },
		NewList: func() runtime.Object { return &storagev1beta1.CSIStorageCapacityList{} }})
	_, srv := startServer(t, kinds...)
	v2 := fetchJSON(t, srv.URL+"/openapi/v2")
	if _, ok := v2["paths"].(map[string]interface{})["/api/v1/namespaces/{namespace}/pods"]; !ok {
		t.Error("pods missing from v2")
	}
	for p := range v2["paths"].(map[string]interface{}) {
		if strings.Contains(p, "csistoragecapacities") {
			t.Errorf("v2 lists %s without a definition", p)
		}
	}
	if r, err := http.Get(srv.URL + "/openapi/v3/apis/apps/v1"); err != nil || r.StatusCode != 200 {
		t.Errorf("v3 apps/v1: %v %v", r, err)
	}
}

func TestOperationID(t *testing.T) {
	tests := []struct{ op, path, id, tag string }{
		{"listNamespacedPod", "/api/v1/namespaces/{namespace}/pods", "listCoreV1NamespacedPod", "core_v1"},
		{"deletecollectionNamespacedRole", "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles", "deleteRbacAuthorizationV1CollectionNamespacedRole", "rbacAuthorization_v1"},
		{"getAPIGroup", "/apis/events.k8s.io/", "getEventsAPIGroup", "events"},
		{"getCodeVersion", "/version/", "getCodeVersion", "version"},
	}
	for _, tt := range tests {
		id, tags, err := operationID(&route{operation: tt.op, path: tt.path})
		if err != nil || id != tt.id || !reflect.DeepEqual(tags, []string{tt.tag}) {
			t.Errorf("%s %s: %s %v %v; want %s %s", tt.op, tt.path, id, tags, err, tt.id, tt.tag)
		}
	}
}

// BenchmarkBuild measures building and encoding every document (what the first client, or
// Warm, pays once).
func BenchmarkBuild(b *testing.B) {
	reg := registry.New(testKinds()...)
	for i := 0; i < b.N; i++ {
		o, err := New(reg, WithSubresources(discovery.StandardSubresources()...))
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Warm(); err != nil {
			b.Fatal(err)
		}
	}
}
