package openapi

import (
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
	"k8s.io/kube-openapi/pkg/common"
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

	buildV3 sync.Once
	v3      *v3Docs
	v3Err   error

	buildTC sync.Once
	tc      managedfields.TypeConverter
	tcErr   error

	buildV2 sync.Once
	v2      *v2Doc
	v2Err   error
}

type v2Doc struct {
	json, proto     []byte
	gzJSON, gzProto compressed
	etag            string
	modified        time.Time
}

// New returns the OpenAPI documents of reg; it builds nothing yet.
func New(reg *registry.Registry, opts ...Option) (*OpenAPI, error) {
	if reg == nil {
		return nil, fmt.Errorf("openapi: nil registry")
	}
	o := &OpenAPI{reg: reg, log: slog.Default()}
	for _, opt := range opts {
		opt(o)
	}
	return o, nil
}

// Warm builds and encodes every document now, so that the first client does not wait; call
// it in the background after start.
func (o *OpenAPI) Warm() error {
	if _, err := o.v2Document(); err != nil {
		return err
	}
	_, err := o.v3Documents()
	return err
}

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
			ProtocolList:                   []string{"https"},
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
		o.v2 = &v2Doc{json: j, proto: pb, etag: etagOf(j), modified: time.Now()}
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
	contentType, ok := negotiate(r.Header.Get("Accept"), map[string]string{
		// answered under the name without "@", which clients can parse
		mimeV2JSON: mimeV2JSON, mimeV2Protobuf: mimeV2ProtobufOldName, mimeV2ProtobufOldName: mimeV2ProtobufOldName})
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
	body, gz := doc.json, &doc.gzJSON
	if contentType != mimeV2JSON {
		body, gz = doc.proto, &doc.gzProto
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("ETag", strconv.Quote(doc.etag))
	if err := serveDocument(w, r, doc.modified, body, gz); err != nil {
		o.log.Error("openapi: v2 document", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// negotiate picks the answer's media type from an Accept header: the highest-q clause
// naming one of offers (media type asked for → media type answered), */* and application/*
// meaning JSON; no Accept header means JSON.
func negotiate(accept string, offers map[string]string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return "application/json", true
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		// The protobuf types' "@" is no valid MIME token, so parse by hand.
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
		ct, ok := offers[base]
		if base == "*/*" || base == "application/*" {
			ct, ok = "application/json", true
		}
		if ok && q > bestQ {
			best, bestQ = ct, q
		}
	}
	return best, best != ""
}
