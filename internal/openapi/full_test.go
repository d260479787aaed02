package openapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/kube-openapi/pkg/spec3"

	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/openapi"
	"github.com/bosun-k8s/bosun/internal/registry/all"
)

// TestEveryServedKindDocumented builds the documents of the registry bosun serves and fails
// when a kind or subresource is left out for want of a generated definition (regenerate with
// hack/update-openapi.sh after adding a group version).
func TestEveryServedKindDocumented(t *testing.T) {
	var logs bytes.Buffer
	o, err := openapi.New(all.Registry(),
		openapi.WithSubresources(discovery.StandardSubresources()...),
		openapi.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Warm(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.TypeConverter(); err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("documents leave things out:\n%s", logs.String())
	}

	// What kubectl explain needs of every kind: an operation on the resource's paths tagged
	// with its GVK, and a schema carrying that GVK.
	docs := map[string]*spec3.OpenAPI{}
	for _, k := range all.Registry().Kinds() {
		root := "api/" + k.GVK.Version
		if k.GVK.Group != "" {
			root = "apis/" + k.GVK.Group + "/" + k.GVK.Version
		}
		doc := docs[root]
		if doc == nil {
			w := httptest.NewRecorder()
			o.ServeV3(w, httptest.NewRequest(http.MethodGet, "/openapi/v3/"+root, nil))
			doc = &spec3.OpenAPI{}
			if err := json.Unmarshal(w.Body.Bytes(), doc); err != nil {
				t.Fatalf("%s: %v", root, err)
			}
			docs[root] = doc
		}
		// as kubectl explain's template searches: collection and item paths, any verb
		var gvk map[string]string
		for _, path := range []string{
			"/" + root + "/" + k.Resource, "/" + root + "/" + k.Resource + "/{name}",
			"/" + root + "/namespaces/{namespace}/" + k.Resource, "/" + root + "/namespaces/{namespace}/" + k.Resource + "/{name}",
		} {
			item := doc.Paths.Paths[path]
			if item == nil {
				continue
			}
			for _, op := range []*spec3.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
				if op != nil && gvk == nil {
					_ = op.Extensions.GetObject("x-kubernetes-group-version-kind", &gvk)
				}
			}
		}
		if gvk["group"] != k.GVK.Group || gvk["version"] != k.GVK.Version || gvk["kind"] != k.GVK.Kind {
			t.Errorf("%v: operations on %s carry GVK %v", k.GVK, k.Resource, gvk)
		}
		found := false
		for _, s := range doc.Components.Schemas {
			var list []map[string]string
			if err := s.Extensions.GetObject("x-kubernetes-group-version-kind", &list); err != nil {
				continue
			}
			for _, g := range list {
				found = found || (g["group"] == k.GVK.Group && g["version"] == k.GVK.Version && g["kind"] == k.GVK.Kind)
			}
		}
		if !found {
			t.Errorf("%v: no schema carries the GVK", k.GVK)
		}
	}
}

// BenchmarkBuildAll measures building and encoding every document of the served registry,
// which the first client (or Warm) pays once.
func BenchmarkBuildAll(b *testing.B) {
	for i := 0; i < b.N; i++ {
		o, err := openapi.New(all.Registry(), openapi.WithSubresources(discovery.StandardSubresources()...))
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Warm(); err != nil {
			b.Fatal(err)
		}
	}
}
