package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/version"
)

// Option changes how the documents are built.
type Option func(*OpenAPI)

// WithSubresources adds the operations of subresources beyond /status and /scale (pods/log,
// pods/exec, pods/binding, ...), the same list given to discovery.
func WithSubresources(subs ...discovery.Subresource) Option {
	return func(o *OpenAPI) { o.subs = append(o.subs, subs...) }
}

// WithLogger sets the logger that reports kinds left out of the documents.
func WithLogger(l *slog.Logger) Option {
	return func(o *OpenAPI) { o.log = l }
}

// OpenAPI serves the OpenAPI documents of one registry. The documents are built on first
// request (or by Warm) and kept, encoded, with their ETags.
type OpenAPI struct {
	reg  *registry.Registry
	subs []discovery.Subresource
	log  *slog.Logger

	// v3 documents, keyed by path below /openapi/v3 ("api/v1", "apis/apps/v1").
	v3      *handler3.OpenAPIService
	v3Paths map[string]bool

	buildV3 sync.Once
	v3Specs map[string]*spec3.OpenAPI
	v3Err   error

	buildTC sync.Once
	tc      managedfields.TypeConverter
	tcErr   error

	buildV2 sync.Once
	v2      *v2Doc
	v2Err   error
}

type v2Doc struct {
	json, proto []byte
	etag        string
	modified    time.Time
}

// New returns the OpenAPI documents of reg; it builds nothing yet.
func New(reg *registry.Registry, opts ...Option) (*OpenAPI, error) {
	if reg == nil {
		return nil, fmt.Errorf("openapi: nil registry")
	}
	o := &OpenAPI{reg: reg, log: slog.Default(), v3: handler3.NewOpenAPIService(), v3Paths: map[string]bool{}}
	for _, opt := range opts {
		opt(o)
	}
	paths := []string{"api", "apis", "version"}
	for _, k := range reg.Kinds() {
		gv := k.GVK.GroupVersion()
		paths = append(paths, strings.TrimPrefix(gvRoot(gv), "/"))
		if gv.Group != "" {
			paths = append(paths, "apis/"+gv.Group)
		}
	}
	for _, p := range paths {
		if o.v3Paths[p] {
			continue
		}
		o.v3Paths[p] = true
		p := p
		o.v3.UpdateGroupVersionLazy(p, cached.Func(func() (*spec3.OpenAPI, string, error) {
			specs, err := o.v3Documents()
			if err != nil {
				return nil, "", err
			}
			return specs[p], p, nil
		}))
	}
	return o, nil
}

// Warm builds and encodes every document now, so that the first client does not wait; call
// it in the background after start.
func (o *OpenAPI) Warm() error {
	if _, err := o.v2Document(); err != nil {
		return err
	}
	if _, err := o.v3Documents(); err != nil {
		return err
	}
	// Encode the v3 documents (handler3 caches the JSON and its hash).
	req, err := http.NewRequest(http.MethodGet, "/openapi/v3", nil)
	if err != nil {
		return fmt.Errorf("openapi: warm: %w", err)
	}
	o.v3.HandleDiscovery(discardWriter{}, req)
	return nil
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// namer names definitions as upstream does (io.k8s.api.core.v1.Pod) and adds the
// x-kubernetes-group-version-kind extension of every kind a Go type is registered as.
func namer() *openapinamer.DefinitionNamer {
	return openapinamer.NewDefinitionNamer(scheme.Scheme)
}

func info() *spec.Info {
	return &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version.GitVersion}}
}

// containers describes every route of the registry, by OpenAPI v3 path ("api/v1"), dropping
// (and logging) kinds whose Go types have no generated definition.
func (o *OpenAPI) containers(defs map[string]common.OpenAPIDefinition) map[string][]common.RouteContainer {
	newObject := func(gvk schema.GroupVersionKind) (runtime.Object, error) { return scheme.Scheme.New(gvk) }
	eps, errs := endpoints(o.reg, o.subs, newObject)
	for _, err := range errs {
		o.log.Warn("openapi: subresource left out", "err", err)
	}
	out := map[string][]common.RouteContainer{}
	for _, c := range rootRoutes() {
		out[strings.TrimPrefix(c.root, "/")] = []common.RouteContainer{c}
	}
	gvs := make([]schema.GroupVersion, 0, len(eps))
	for gv := range eps {
		gvs = append(gvs, gv)
	}
	sort.Slice(gvs, func(i, j int) bool { return gvs[i].String() < gvs[j].String() })
	for _, gv := range gvs {
		var routes []common.Route
		for _, e := range eps[gv] {
			if missing := missingDefinition(defs, e); missing != "" {
				o.log.Warn("openapi: no definition, operations left out", "resource", e.resource,
					"subresource", e.subresource, "type", missing)
				continue
			}
			routes = append(routes, e.routes()...)
		}
		root := gvRoot(gv)
		key := strings.TrimPrefix(root, "/")
		out[key] = append(out[key], withRoot(root, routes), discoveryRoutes(gv))
		if gv.Group != "" {
			out["apis/"+gv.Group] = []common.RouteContainer{groupRoutes(gv.Group)}
		}
	}
	return out
}

func missingDefinition(defs map[string]common.OpenAPIDefinition, e *endpoint) string {
	for _, m := range []interface{}{e.object, e.list} {
		if m == nil {
			continue
		}
		name := util.GetCanonicalTypeName(m)
		if t, _ := common.OpenAPITypeFormat(name); t != "" {
			continue
		}
		if _, ok := defs[name]; !ok {
			return name
		}
	}
	return ""
}

// v3Documents builds every OpenAPI v3 document, once. They are built together because
// kube-openapi's builder writes into the shared definitions.
func (o *OpenAPI) v3Documents() (map[string]*spec3.OpenAPI, error) {
	o.buildV3.Do(func() {
		n := namer()
		defs := GetOpenAPIDefinitions(func(name string) spec.Ref {
			friendly, _ := n.GetDefinitionName(name)
			return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(friendly))
		})
		specs := map[string]*spec3.OpenAPI{}
		for key, cs := range o.containers(defs) {
			cfg := &common.OpenAPIV3Config{
				Info:                           info(),
				CommonResponses:                map[int]*spec3.Response{401: {ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}}},
				Definitions:                    defs,
				GetOperationIDAndTagsFromRoute: operationID,
				GetDefinitionName:              n.GetDefinitionName,
				SecuritySchemes: spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
					Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}}},
				DefaultSecurity: []map[string][]string{{"BearerToken": {}}},
			}
			s, err := builder3.BuildOpenAPISpecFromRoutes(cs, cfg)
			if err != nil {
				o.v3Err = fmt.Errorf("openapi: build v3 %s: %w", key, err)
				return
			}
			specs[key] = s
		}
		o.v3Specs = specs
	})
	return o.v3Specs, o.v3Err
}

// TypeConverter returns the structured-merge-diff type converter of every served kind, built
// once from the v3 schemas (as upstream builds it from its OpenAPI models): what server-side
// apply and managed fields need to turn objects into typed values.
func (o *OpenAPI) TypeConverter() (managedfields.TypeConverter, error) {
	o.buildTC.Do(func() {
		specs, err := o.v3Documents()
		if err != nil {
			o.tcErr = err
			return
		}
		schemas := map[string]*spec.Schema{}
		for _, s := range specs {
			if s.Components == nil {
				continue
			}
			for name, sc := range s.Components.Schemas {
				schemas[name] = sc
			}
		}
		o.tc, o.tcErr = managedfields.NewTypeConverter(schemas, false)
		if o.tcErr != nil {
			o.tcErr = fmt.Errorf("openapi: type converter: %w", o.tcErr)
		}
	})
	return o.tc, o.tcErr
}

// v2Document builds and encodes the swagger 2.0 document, once.
func (o *OpenAPI) v2Document() (*v2Doc, error) {
	o.buildV2.Do(func() {
		n := namer()
		// the definitions only serve to find kinds without one; the builder makes its own
		var containers []common.RouteContainer
		byPath := o.containers(GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} }))
		keys := make([]string, 0, len(byPath))
		for k := range byPath {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			containers = append(containers, byPath[k]...)
		}
		cfg := &common.Config{
			Info:                           info(),
			CommonResponses:                map[int]spec.Response{401: {ResponseProps: spec.ResponseProps{Description: "Unauthorized"}}},
			GetDefinitions:                 GetOpenAPIDefinitions,
			GetOperationIDAndTagsFromRoute: operationID,
			GetDefinitionName:              n.GetDefinitionName,
			SecurityDefinitions: &spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}}},
			DefaultSecurity: []map[string][]string{{"BearerToken": {}}},
		}
		sw, err := builder.BuildOpenAPISpecFromRoutes(containers, cfg)
		if err != nil {
			o.v2Err = fmt.Errorf("openapi: build v2: %w", err)
			return
		}
		j, err := json.Marshal(sw)
		if err != nil {
			o.v2Err = fmt.Errorf("openapi: encode v2: %w", err)
			return
		}
		doc, err := openapi_v2.ParseDocument(j)
		if err != nil {
			o.v2Err = fmt.Errorf("openapi: parse v2 for protobuf: %w", err)
			return
		}
		pb, err := proto.Marshal(doc)
		if err != nil {
			o.v2Err = fmt.Errorf("openapi: encode v2 protobuf: %w", err)
			return
		}
		o.v2 = &v2Doc{json: j, proto: pb, etag: fmt.Sprintf("%X", sha512.Sum512(j)), modified: time.Now()}
	})
	return o.v2, o.v2Err
}

// Media types of /openapi/v2, as upstream's handler offers them.
const (
	mimeV2JSON            = "application/json"
	mimeV2Protobuf        = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeV2ProtobufOldName = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// ServeV2 serves /openapi/v2: JSON, or protobuf when asked for (kubectl asks for protobuf).
func (o *OpenAPI) ServeV2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	contentType, ok := negotiateV2(r.Header.Get("Accept"))
	if !ok {
		http.Error(w, "only application/json and "+mimeV2Protobuf+" are served", http.StatusNotAcceptable)
		return
	}
	doc, err := o.v2Document()
	if err != nil {
		o.log.Error("openapi: v2 document", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body := doc.json
	if contentType != mimeV2JSON {
		body = doc.proto
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("ETag", strconv.Quote(doc.etag))
	http.ServeContent(w, r, "", doc.modified, bytes.NewReader(body))
}

// negotiateV2 picks the answer's media type from an Accept header (highest q, then order).
func negotiateV2(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mimeV2JSON, true
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		// The protobuf type's "@" is no valid MIME token, so parse by hand.
		fields := strings.Split(part, ";")
		base := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if strings.TrimSpace(k) == "q" {
				if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = x
				}
			}
		}
		var ct string
		switch base {
		case mimeV2JSON, "application/*", "*/*":
			ct = mimeV2JSON
		case mimeV2Protobuf, mimeV2ProtobufOldName:
			// answered under the name without "@", which clients can parse
			ct = mimeV2ProtobufOldName
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = ct, q
		}
	}
	return best, best != ""
}

// ServeV3 serves /openapi/v3 (the index of group versions, each with a hash) and
// /openapi/v3/<path> (one OpenAPI 3.0 document, JSON or protobuf; with ?hash= it is cached
// immutably by clients, a stale hash is redirected to the current one).
func (o *OpenAPI) ServeV3(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	if p == "" {
		if _, err := o.v3Documents(); err != nil {
			o.log.Error("openapi: v3 documents", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		o.v3.HandleDiscovery(w, r)
		return
	}
	if !o.v3Paths[p] {
		http.NotFound(w, r)
		return
	}
	if _, err := o.v3Documents(); err != nil {
		o.log.Error("openapi: v3 documents", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/openapi/v3/" + p
	o.v3.HandleGroupVersion(w, r2)
}
