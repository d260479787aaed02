package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/yaml"
)

type format int

const (
	formatJSON format = iota
	formatYAML
	formatProtobuf
)

// document is one discovery object and its encodings. JSON is encoded at once (the ETag is
// its hash); YAML and protobuf on first request.
type document struct {
	obj  runtime.Object
	json []byte
	etag string

	mu    sync.Mutex
	yaml  []byte
	proto []byte
}

func newDocument(obj runtime.Object) *document {
	d := newUntaggedDocument(obj)
	d.etag = etagOf(d.json)
	return d
}

// newUntaggedDocument encodes a document served without ETag (made per request).
func newUntaggedDocument(obj runtime.Object) *document {
	var buf bytes.Buffer
	// json.Encoder ends with a newline, as the apimachinery JSON serializer does. Encoding
	// these plain structs cannot fail.
	_ = json.NewEncoder(&buf).Encode(obj)
	return &document{obj: obj, json: buf.Bytes()}
}

func (d *document) encoded(f format) ([]byte, error) {
	switch f {
	case formatJSON:
		return d.json, nil
	case formatYAML:
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.yaml == nil {
			y, err := yaml.JSONToYAML(d.json)
			if err != nil {
				return nil, fmt.Errorf("encode discovery as yaml: %w", err)
			}
			d.yaml = y
		}
		return d.yaml, nil
	default:
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.proto == nil {
			var buf bytes.Buffer
			if err := protoSerializer().Encode(d.obj, &buf); err != nil {
				return nil, fmt.Errorf("encode discovery as protobuf: %w", err)
			}
			d.proto = buf.Bytes()
		}
		return d.proto, nil
	}
}

// protoSerializer returns a protobuf serializer knowing the discovery types.
func protoSerializer() *protobuf.Serializer {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	s.AddKnownTypes(apidiscoveryv2.SchemeGroupVersion, &apidiscoveryv2.APIGroupDiscoveryList{})
	s.AddKnownTypes(apidiscoveryv2beta1.SchemeGroupVersion, &apidiscoveryv2beta1.APIGroupDiscoveryList{})
	return protobuf.NewSerializer(s, s)
}

// mediaType is the outcome of content negotiation.
type mediaType struct {
	format format
	// aggregated is "v2" or "v2beta1" when the client asked for an APIGroupDiscoveryList.
	aggregated string
}

func (m mediaType) contentType() string {
	switch m.format {
	case formatYAML:
		return "application/yaml"
	case formatProtobuf:
		return "application/vnd.kubernetes.protobuf"
	}
	return "application/json"
}

// negotiate picks the response form from an Accept header: the highest-q acceptable clause,
// earlier clauses winning ties. An aggregated clause (g=apidiscovery.k8s.io;v=v2;
// as=APIGroupDiscoveryList) counts only where aggregated documents exist.
func negotiate(accept string, allowAggregated bool) (mediaType, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaType{format: formatJSON}, true
	}
	type clause struct {
		m mediaType
		q float64
		i int
	}
	var ok []clause
	for i, part := range strings.Split(accept, ",") {
		base, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, found := params["q"]; found {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q <= 0 {
			continue
		}
		var m mediaType
		switch base {
		case "application/json", "application/*", "*/*":
			m.format = formatJSON
		case "application/yaml":
			m.format = formatYAML
		case "application/vnd.kubernetes.protobuf":
			m.format = formatProtobuf
		default:
			continue
		}
		if as, found := params["as"]; found || params["g"] != "" || params["v"] != "" {
			if !allowAggregated || as != "APIGroupDiscoveryList" || params["g"] != "apidiscovery.k8s.io" ||
				(params["v"] != "v2" && params["v"] != "v2beta1") || m.format == formatYAML {
				continue
			}
			m.aggregated = params["v"]
		}
		ok = append(ok, clause{m, q, i})
	}
	if len(ok) == 0 {
		return mediaType{}, false
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].q > ok[j].q })
	return ok[0].m, true
}

// writeStatus writes a metav1.Status failure as JSON.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: message, Reason: reason, Code: int32(code),
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&st)
}
