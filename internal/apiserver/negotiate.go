package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// outputKind is what the client asked the response to be.
type outputKind int

const (
	outObject   outputKind = iota // the object or list itself
	outTable                      // meta.k8s.io Table
	outMetadata                   // PartialObjectMetadata(List)
)

// output is the negotiated response form.
type output struct {
	kind         outputKind
	tableVersion string // v1 or v1beta1
	yaml         bool
}

// negotiate picks the response form from the Accept header. ok false means nothing acceptable.
func negotiate(accept string) (output, bool) {
	if strings.TrimSpace(accept) == "" {
		return output{}, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var o output
		switch mt {
		case "application/json", "*/*", "application/*", "application/json-patch+json":
		case "application/yaml":
			o.yaml = true
		default:
			continue
		}
		as := params["as"]
		switch {
		case as == "":
		case as == "Table" && params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1"):
			o.kind, o.tableVersion = outTable, params["v"]
		case (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") && params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1"):
			o.kind = outMetadata
		default:
			continue
		}
		return o, true
	}
	return output{}, false
}

// contentType is the Content-Type of a response in form o.
func (o output) contentType() string {
	if o.yaml {
		return "application/yaml"
	}
	return "application/json"
}

// writeBytes writes an already JSON-encoded body in the negotiated format.
func writeBytes(w http.ResponseWriter, o output, code int, body []byte) {
	if o.yaml {
		y, err := yaml.JSONToYAML(body)
		if err == nil {
			body = y
		}
	}
	w.Header().Set("Content-Type", o.contentType())
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeJSON encodes v as JSON and writes it in the negotiated format.
func writeJSON(w http.ResponseWriter, o output, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, apierrors.NewInternalError(fmt.Errorf("encode response: %w", err)))
		return
	}
	writeBytes(w, o, code, body)
}

// WriteError writes err as a metav1.Status with its HTTP code, as every API answer does;
// pluggable subresource handlers use it too.
func WriteError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	body, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(body)
}

func statusOf(err error) *metav1.Status {
	var st metav1.Status
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	return &st
}

// setTypeMeta fills apiVersion and kind so the JSON carries them.
func setTypeMeta(obj runtime.Object, gvk schema.GroupVersionKind) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
}

// encodeObject encodes a typed object as JSON with its apiVersion and kind.
func encodeObject(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	setTypeMeta(obj, gvk)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// statusSuccess is the Status a delete answers with for kinds that do not return the object.
func statusSuccess(gk schema.GroupKind, resource, name, uid string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: name, Group: gk.Group, Kind: resource, UID: typesUID(uid)},
	}
}
