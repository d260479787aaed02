package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// v3Docs are the encoded OpenAPI v3 documents and their index. Only bytes are kept: the
// document trees are dropped once encoded.
type v3Docs struct {
	index     []byte
	gzIndex   compressed
	indexETag string
	docs      map[string]*v3Doc // by path below /openapi/v3: "api/v1", "apis/apps/v1"
	modified  time.Time
}

type v3Doc struct {
	json []byte
	etag string

	gzJSON, gzProto compressed

	protoOnce sync.Once
	proto     []byte
	protoErr  error
}

func (d *v3Doc) protobuf() ([]byte, error) {
	d.protoOnce.Do(func() {
		d.proto, d.protoErr = handler3.ToV3ProtoBinary(d.json)
		if d.protoErr != nil {
			d.protoErr = fmt.Errorf("openapi: encode v3 protobuf: %w", d.protoErr)
		}
	})
	return d.proto, d.protoErr
}

func etagOf(b []byte) string { return fmt.Sprintf("%X", sha512.Sum512(b)) }

// serverRelativeURL is where the index points clients for one document.
func serverRelativeURL(key, etag string) string {
	u := url.URL{Path: path.Join("/openapi/v3", key), RawQuery: url.Values{"hash": {etag}}.Encode()}
	return u.String()
}

// v3Documents builds and encodes every OpenAPI v3 document, once. They are built together
// because kube-openapi's builder writes into the shared definitions.
func (o *OpenAPI) v3Documents() (*v3Docs, error) {
	o.buildV3.Do(func() {
		n := namer()
		defs := GetOpenAPIDefinitions(func(name string) spec.Ref {
			friendly, _ := n.GetDefinitionName(name)
			return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(friendly))
		})
		out := &v3Docs{docs: map[string]*v3Doc{}, modified: time.Now()}
		type entry struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		}
		index := struct {
			Paths map[string]entry `json:"paths"`
		}{Paths: map[string]entry{}}
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
			j, err := json.Marshal(s)
			if err != nil {
				o.v3Err = fmt.Errorf("openapi: encode v3 %s: %w", key, err)
				return
			}
			d := &v3Doc{json: j, etag: etagOf(j)}
			out.docs[key] = d
			index.Paths[key] = entry{serverRelativeURL(key, d.etag)}
		}
		j, err := json.Marshal(index)
		if err != nil {
			o.v3Err = fmt.Errorf("openapi: encode v3 index: %w", err)
			return
		}
		out.index, out.indexETag = j, etagOf(j)
		o.v3 = out
	})
	return o.v3, o.v3Err
}

// TypeConverter returns the structured-merge-diff type converter of every served kind, built
// once from the v3 schemas (as upstream builds it from its OpenAPI models): what server-side
// apply and managed fields need to turn objects into typed values.
func (o *OpenAPI) TypeConverter() (managedfields.TypeConverter, error) {
	o.buildTC.Do(func() {
		docs, err := o.v3Documents()
		if err != nil {
			o.tcErr = err
			return
		}
		keys := make([]string, 0, len(docs.docs))
		for k := range docs.docs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		schemas := map[string]*spec.Schema{}
		for _, k := range keys {
			var doc struct {
				Components struct {
					Schemas map[string]*spec.Schema `json:"schemas"`
				} `json:"components"`
			}
			if err := json.Unmarshal(docs.docs[k].json, &doc); err != nil {
				o.tcErr = fmt.Errorf("openapi: type converter: decode %s: %w", k, err)
				return
			}
			for name, sc := range doc.Components.Schemas {
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

// Media types of /openapi/v3 documents, as upstream offers them.
const (
	mimeV3JSON            = "application/json"
	mimeV3Protobuf        = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	mimeV3ProtobufOldName = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

// ServeV3 serves /openapi/v3 (the index of documents, each URL with its content hash) and
// /openapi/v3/<path> (one OpenAPI 3.0 document, JSON or protobuf). Fetched with ?hash= a
// document is cacheable forever; a stale hash is redirected to the current one, as upstream
// does.
func (o *OpenAPI) ServeV3(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	docs, err := o.v3Documents()
	if err != nil {
		o.log.Error("openapi: v3 documents", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	key := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	if key == "" {
		w.Header().Set("Etag", strconv.Quote(docs.indexETag))
		w.Header().Set("Content-Type", "application/json")
		if err := serveDocument(w, r, docs.modified, docs.index, &docs.gzIndex); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	d, ok := docs.docs[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Vary", "Accept")
	contentType, ok := negotiate(r.Header.Get("Accept"), map[string]string{
		mimeV3JSON: mimeV3JSON, mimeV3Protobuf: mimeV3ProtobufOldName, mimeV3ProtobufOldName: mimeV3ProtobufOldName})
	if !ok {
		http.Error(w, "only application/json and "+mimeV3Protobuf+" are served", http.StatusNotAcceptable)
		return
	}
	body, gz := d.json, &d.gzJSON
	if contentType != mimeV3JSON {
		gz = &d.gzProto
		if body, err = d.protobuf(); err != nil {
			o.log.Error("openapi: v3 protobuf", "path", key, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != d.etag {
			http.Redirect(w, r, serverRelativeURL(key, d.etag), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).Format(time.RFC1123))
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Etag", strconv.Quote(d.etag))
	if err := serveDocument(w, r, docs.modified, body, gz); err != nil {
		o.log.Error("openapi: v3 document", "path", key, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
