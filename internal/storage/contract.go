// Package storage keeps API objects in etcd and serves reads and watches from an in-memory
// cache fed by one etcd watch over the whole prefix.
//
// Contract (the API server depends on exactly this; see doc.go for how it works):
//
//   - Objects are stored in etcd as Kubernetes protobuf under
//     <prefix>/<group or "core">/<resource>/<namespace>/<name> (cluster-scoped: no namespace).
//   - resourceVersion is etcd's mod revision, as a decimal string. Every object a method returns
//     carries it; list and watch results carry the revision they reflect.
//   - Errors are Kubernetes API errors (k8s.io/apimachinery/pkg/api/errors) worded as upstream:
//     NotFound, AlreadyExists, Conflict (409, "the object has been modified; please apply your
//     changes to the latest version and try again"), Gone (410, "too old resource version"),
//     Timeout, InternalError.
//   - The cache holds, per object, its JSON encoding (apiVersion, kind and resourceVersion set),
//     its labels, its selectable fields and its table cells, computed once per stored version,
//     so LIST and WATCH copy bytes instead of encoding objects.
package storage

import (
	"io"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// ResourceConfig describes one resource to the store.
type ResourceConfig struct {
	GroupResource schema.GroupResource
	GVK           schema.GroupVersionKind // apiVersion/kind written into the JSON encoding
	Namespaced    bool
	New           func() runtime.Object
	// Fields returns the object's selectable fields; the store adds metadata.name and
	// metadata.namespace itself. nil: only those two.
	Fields func(obj runtime.Object) fields.Set
	// Row returns the object's table cells (see registry.Kind.Row); nil: no cells.
	Row func(obj runtime.Object) []interface{}
	// TTL, if set, returns how long an object lives after its last write (0: forever); the
	// store attaches an etcd lease, as upstream does for Events (1 h).
	TTL func(obj runtime.Object) time.Duration
}

// Entry is one stored version of one object as the cache keeps it. Entries are immutable once
// published: callers must not modify any field.
type Entry struct {
	// Key is the object's etcd key below the resource's prefix: "namespace/name", or "name" for
	// cluster-scoped objects. Lists are sorted by it (etcd key order, as upstream).
	Key       string
	Namespace string
	Name      string
	UID       string
	RV        int64
	Created   time.Time
	Labels    labels.Set
	Fields    FieldSet      // the selectable fields (metadata.name, spec.nodeName, …)
	JSON      []byte        // the whole object as JSON, resourceVersion set
	Cells     []interface{} // table cells after NAME
	// Meta is metav1.PartialObjectMetadata as JSON, for entries whose metadata could not be
	// found inside JSON; the cache's entries leave it nil and point into JSON instead (a
	// metadata copy per object is megabytes over a large cache). Read it with WriteMeta or
	// MetaJSON.
	Meta             []byte
	metaFrom, metaTo int32
}

// metaPrefix opens a PartialObjectMetadata's JSON, as json.Marshal writes it.
const metaPrefix = `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":`

// WriteMeta writes the entry's metav1.PartialObjectMetadata as JSON.
func (e *Entry) WriteMeta(w io.Writer) {
	if e.metaTo == 0 {
		_, _ = w.Write(e.Meta)
		return
	}
	_, _ = io.WriteString(w, metaPrefix)
	_, _ = w.Write(e.JSON[e.metaFrom:e.metaTo])
	_, _ = io.WriteString(w, "}")
}

// MetaJSON returns the entry's metav1.PartialObjectMetadata as JSON.
func (e *Entry) MetaJSON() []byte {
	if e.metaTo == 0 {
		return e.Meta
	}
	b := make([]byte, 0, len(metaPrefix)+int(e.metaTo-e.metaFrom)+1)
	b = append(b, metaPrefix...)
	b = append(b, e.JSON[e.metaFrom:e.metaTo]...)
	return append(b, '}')
}

// ListOptions selects what List returns.
type ListOptions struct {
	Namespace            string // "" for all namespaces
	Label                labels.Selector
	Field                fields.Selector
	ResourceVersion      string // "" most recent (consistent), "0" any cached, N at least N (or exactly N with Match Exact)
	ResourceVersionMatch string // "", "NotOlderThan", "Exact"
	Limit                int64
	Continue             string
}

// ListResult is one page of a list.
type ListResult struct {
	Entries            []*Entry // sorted by Key: namespace then name, in etcd key order
	ResourceVersion    int64
	Continue           string
	RemainingItemCount *int64
}

// WatchOptions selects what Watch delivers.
type WatchOptions struct {
	Namespace         string
	Label             labels.Selector
	Field             fields.Selector
	ResourceVersion   string // "" or "0": start with ADDED events for the current state; N: events after N
	AllowBookmarks    bool
	SendInitialEvents *bool // with ResourceVersion "" / "0" semantics as upstream's watch-list
}

// Event is one watch event. For Bookmark, Entry carries only RV. For Error, Status holds the
// reason (410 Gone when the requested version is too old) and the channel closes after it.
type Event struct {
	Type   watch.EventType
	Entry  *Entry
	Status error
	// InitialEventsEnd marks the Bookmark that ends the initial events of a watch with
	// SendInitialEvents=true; the API server adds the "k8s.io/initial-events-end": "true"
	// annotation to it.
	InitialEventsEnd bool
}
