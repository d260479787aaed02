package apiserver

import (
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

func decodeOnlyServer(t testing.TB) *Server {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mk := func(o json.SerializerOptions) runtime.Serializer {
		return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, o)
	}
	return &Server{
		jsonSer: mk(json.SerializerOptions{}), jsonStrict: mk(json.SerializerOptions{Strict: true}),
		yamlSer: mk(json.SerializerOptions{Yaml: true}), yamlStrict: mk(json.SerializerOptions{Yaml: true, Strict: true}),
		protoSer: protobuf.NewSerializer(scheme, scheme),
	}
}

// FuzzDecode feeds arbitrary bodies through the request decode and patch paths: they must
// never panic, and every failure must be a client error (400, 415, 422), never a 500.
func FuzzDecode(f *testing.F) {
	s := decodeOnlyServer(f)
	seeds := []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
		`{"kind":"Pod",`, `[]`, `null`, `{"metadata":{"name":1}}`, `{"spec":{"containers":"x"}}`,
		`[{"op":"replace","path":"/spec","value":1}]`, `{"metadata":{"labels":{"a":null}}}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	original := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}`)
	types := []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "text/plain"}
	patches := []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		for _, mode := range []string{validationStrict, validationWarn, validationIgnore} {
			_, err := s.decode(body, types[int(sel)%len(types)], mode, gvk, &corev1.Pod{})
			checkClientError(t, err)
		}
		_, err := applyPatch(patches[int(sel)%len(patches)], original, body, &corev1.Pod{})
		checkClientError(t, err)
	})
}

func checkClientError(t *testing.T, err error) {
	if err == nil {
		return
	}
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("error is not an API status: %v", err)
	}
	switch code := st.Status().Code; code {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("decode error with code %d: %v", code, err)
	}
}
