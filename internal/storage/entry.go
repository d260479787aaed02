package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

var partialMetaGVK = schema.GroupVersionKind{Group: "meta.k8s.io", Version: "v1", Kind: "PartialObjectMetadata"}

// codec turns objects into the bytes stored in etcd (protobuf, without resourceVersion) and
// back, and builds cache entries.
type codec struct {
	proto *protobuf.Serializer
}

func newCodec(scheme *runtime.Scheme) codec {
	return codec{proto: protobuf.NewSerializer(scheme, scheme)}
}

// encode returns obj's storage encoding: protobuf with apiVersion/kind set and no
// resourceVersion. obj is restored before returning.
func (r *Resource) encode(obj runtime.Object) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", r.rc.GroupResource, err)
	}
	kind := obj.GetObjectKind()
	oldGVK := kind.GroupVersionKind()
	oldRV := acc.GetResourceVersion()
	kind.SetGroupVersionKind(r.rc.GVK)
	acc.SetResourceVersion("")
	var buf bytes.Buffer
	err = r.s.codec.proto.Encode(obj, &buf)
	kind.SetGroupVersionKind(oldGVK)
	acc.SetResourceVersion(oldRV)
	if err != nil {
		return nil, fmt.Errorf("storage: encode %s: %w", r.rc.GroupResource, err)
	}
	return buf.Bytes(), nil
}

// decode turns stored bytes into a new object with apiVersion/kind and resourceVersion set.
func (r *Resource) decode(data []byte, rv int64) (runtime.Object, error) {
	into := r.rc.New()
	obj, _, err := r.s.codec.proto.Decode(data, nil, into)
	if err != nil {
		return nil, fmt.Errorf("storage: decode %s: %w", r.rc.GroupResource, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(r.rc.GVK)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", r.rc.GroupResource, err)
	}
	acc.SetResourceVersion(strconv.FormatInt(rv, 10))
	return obj, nil
}

// partial is an entry under construction: enough to run selectors before paying for JSON.
type partial struct {
	obj runtime.Object
	acc metav1.Object
	e   *Entry
}

// begin decodes stored bytes and fills the entry's identity, labels and fields.
func (r *Resource) begin(key string, data []byte, rv int64) (partial, error) {
	obj, err := r.decode(data, rv)
	if err != nil {
		return partial{}, fmt.Errorf("%w (key %q)", err, key)
	}
	return r.beginObject(key, obj, rv)
}

func (r *Resource) beginObject(key string, obj runtime.Object, rv int64) (partial, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return partial{}, fmt.Errorf("storage: %s: %w", r.rc.GroupResource, err)
	}
	e := &Entry{
		Key:       key,
		Namespace: acc.GetNamespace(),
		Name:      acc.GetName(),
		UID:       string(acc.GetUID()),
		RV:        rv,
		Created:   acc.GetCreationTimestamp().Time,
		Labels:    labels.Set(acc.GetLabels()),
	}
	var fs fields.Set
	if r.rc.Fields != nil {
		if err := guard(func() { fs = r.rc.Fields(obj) }); err != nil {
			return partial{}, fmt.Errorf("storage: fields of %s %q: %w", r.rc.GroupResource, key, err)
		}
	}
	if fs == nil {
		fs = make(fields.Set, 2)
	}
	fs["metadata.name"] = e.Name
	if r.rc.Namespaced {
		fs["metadata.namespace"] = e.Namespace
	}
	e.Fields = NewFieldSet(fs)
	return partial{obj: obj, acc: acc, e: e}, nil
}

// finish adds the encodings and table cells. After it the entry is immutable.
func (r *Resource) finish(p partial) (*Entry, error) {
	js, err := json.Marshal(p.obj)
	if err != nil {
		return nil, fmt.Errorf("storage: json %s %q: %w", r.rc.GroupResource, p.e.Key, err)
	}
	p.e.JSON = js
	// The metadata is the object's own "metadata" value inside js, when it is there as
	// PartialObjectMetadata would encode it; else a copy.
	pm := meta.AsPartialObjectMetadata(p.acc)
	md, err := json.Marshal(&pm.ObjectMeta)
	if err != nil {
		return nil, fmt.Errorf("storage: json metadata %s %q: %w", r.rc.GroupResource, p.e.Key, err)
	}
	const key = `"metadata":`
	if i := bytes.Index(js, md); i >= len(key) && string(js[i-len(key):i]) == key && len(js) < math.MaxInt32 {
		p.e.metaFrom, p.e.metaTo = int32(i), int32(i+len(md))
	} else {
		pm.SetGroupVersionKind(partialMetaGVK)
		if p.e.Meta, err = json.Marshal(pm); err != nil {
			return nil, fmt.Errorf("storage: json metadata %s %q: %w", r.rc.GroupResource, p.e.Key, err)
		}
	}
	if r.rc.Row != nil {
		if err := guard(func() { p.e.Cells = r.rc.Row(p.obj) }); err != nil {
			return nil, fmt.Errorf("storage: table row of %s %q: %w", r.rc.GroupResource, p.e.Key, err)
		}
	}
	return p.e, nil
}

// guard runs a resource's callback, turning a panic into an error: one odd object must not
// take the ingest goroutine (and the server) down.
func guard(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	f()
	return nil
}

// build makes a complete entry from stored bytes.
func (r *Resource) build(key string, data []byte, rv int64) (*Entry, error) {
	p, err := r.begin(key, data, rv)
	if err != nil {
		return nil, err
	}
	return r.finish(p)
}

// rebuildAt returns e as it would look at revision rv (the last state of an object that stops
// matching a watch's selector, or was deleted, carries the revision of that change).
func (r *Resource) rebuildAt(e *Entry, rv int64) (*Entry, error) {
	obj := r.rc.New()
	if err := json.Unmarshal(e.JSON, obj); err != nil {
		return nil, fmt.Errorf("storage: json %s %q: %w", r.rc.GroupResource, e.Key, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(r.rc.GVK)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatInt(rv, 10))
	p, err := r.beginObject(e.Key, obj, rv)
	if err != nil {
		return nil, err
	}
	return r.finish(p)
}

// matcher selects entries by namespace, labels and fields.
type matcher struct {
	namespace string
	label     labels.Selector
	field     fields.Selector
}

func newMatcher(ns string, l labels.Selector, f fields.Selector) matcher {
	if l != nil && l.Empty() {
		l = nil
	}
	if f != nil && f.Empty() {
		f = nil
	}
	return matcher{namespace: ns, label: l, field: f}
}

// everything reports whether only the namespace restricts the selection.
func (m matcher) everything() bool { return m.label == nil && m.field == nil }

func (m matcher) matches(e *Entry) bool {
	if e == nil {
		return false
	}
	if m.namespace != "" && e.Namespace != m.namespace {
		return false
	}
	if m.label != nil && !m.label.Matches(e.Labels) {
		return false
	}
	if m.field != nil && !m.field.Matches(e.Fields) {
		return false
	}
	return true
}

// FieldSet is an object's selectable fields as key/value pairs sorted by key, kept in the
// cache for every object: a fraction of the memory a map takes. It implements fields.Fields.
type FieldSet []string // key0, value0, key1, value1, …

// NewFieldSet packs a fields.Set.
func NewFieldSet(set fields.Set) FieldSet {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(FieldSet, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, set[k])
	}
	return out
}

func (f FieldSet) find(field string) (int, bool) {
	n := len(f) / 2
	i := sort.Search(n, func(i int) bool { return f[2*i] >= field })
	return i, i < n && f[2*i] == field
}

// Has reports whether the object has the field.
func (f FieldSet) Has(field string) bool {
	_, ok := f.find(field)
	return ok
}

// Get returns the field's value ("" when absent).
func (f FieldSet) Get(field string) string {
	if i, ok := f.find(field); ok {
		return f[2*i+1]
	}
	return ""
}
