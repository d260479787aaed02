// Package registry describes every resource bosun serves, one small file per kind: its names,
// its upstream defaults, its validation (422 with field paths, worded as upstream), the columns
// `kubectl get` prints (server-side Tables), its selectable fields, and its status/scale rules.
//
// The API server (internal/apiserver) is generic: it knows nothing about pods or deployments.
// For each request it looks up the Kind and calls these hooks in this order:
//
//	create: decode → Kind.PrepareForCreate → Kind.Default → Kind.Validate → storage
//	update: decode → Kind.PrepareForUpdate(new, old) → Kind.Default → Kind.Validate +
//	        Kind.ValidateUpdate → storage
//	status: decode → status copied onto old object → Kind.ValidateStatusUpdate → storage
//	read:   storage → Kind.Row / Kind.Fields computed once per stored version (watch cache)
//
// Generic behaviour shared by every kind (uid, creationTimestamp, generation, resetting status
// on create, keeping status on main-resource updates, object-meta validation) lives in the API
// server, so a kind's file holds only what is particular to it.
package registry

import (
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kind is one served resource. Zero-valued hooks are skipped; only GVK, Resource, New and
// NewList are required.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string // plural, lower case: "pods"
	Singular   string // "pod"; defaults to lower-case Kind
	ShortNames []string
	Categories []string // "all" for the kinds `kubectl get all` shows
	Namespaced bool
	// NameValidation checks metadata.name (prefix: when checking a generateName). nil: a DNS
	// subdomain, as most kinds use.
	NameValidation func(name string, prefix bool) []string
	// ReturnDeletedObject: DELETE answers with the object (pods, services, namespaces) rather
	// than a Status, as upstream.
	ReturnDeletedObject bool
	// CreateOnUpdate: PUT of a missing object creates it (endpoints, as upstream).
	CreateOnUpdate bool
	// TTL: objects expire this long after their last write (events: 1 h, as upstream's
	// --event-ttl). Zero: they live until deleted.
	TTL time.Duration
	// Verbs the resource supports; nil means the full set
	// (create delete deletecollection get list patch update watch).
	Verbs []string

	New     func() runtime.Object // &corev1.Pod{}
	NewList func() runtime.Object // &corev1.PodList{}

	// Status: the kind has a /status subresource. Then create resets status to its zero value
	// (unless KeepStatusOnCreate), updates of the main resource keep the stored status, and
	// /status updates change only status.
	Status             bool
	KeepStatusOnCreate bool // nodes: the kubelet creates its Node with status
	// Generation: metadata.generation is 1 on create and bumped when spec changes.
	Generation bool
	// Scale: the kind has a /scale subresource (autoscaling/v1 Scale).
	Scale *ScaleRule

	// PrepareForCreate adjusts a new object before defaulting (e.g. pod status phase Pending,
	// namespace finalizer "kubernetes").
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate adjusts an update given the stored object (e.g. fields the user may not
	// change are copied from old).
	PrepareForUpdate func(obj, old runtime.Object)
	// Default fills the upstream defaults (SetDefaults_* of upstream, written anew here).
	Default func(obj runtime.Object)
	// Validate checks a new or updated object (beyond object metadata, which is generic).
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks what may not change between old and new (immutable fields).
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks a /status update.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// GracefulDelete reports the grace period a delete with the given options gets; graceful
	// false deletes at once. nil: every delete is immediate (unless finalizers hold it).
	GracefulDelete func(obj runtime.Object, requested *int64) (grace int64, graceful bool)

	// Columns are the Table columns after NAME, which the server adds first — unless the kind
	// lists a column of Format "name" itself, where the server then puts the name (events show
	// it last). Columns with Priority 1 are shown only by `kubectl get -o wide`. nil: just AGE.
	Columns []metav1.TableColumnDefinition
	// Row returns one cell per entry in Columns other than the name column. Cells are string, int64, int32,
	// bool, float64, or Since (rendered at request time as an age like "5m").
	Row func(obj runtime.Object) []interface{}
	// Fields returns the selectable fields beyond metadata.name and metadata.namespace, which
	// the server adds (pods: spec.nodeName, status.phase, …). Values as upstream formats them.
	Fields func(obj runtime.Object) fields.Set
}

// Since is a table cell holding a timestamp; the API server renders it at request time as the
// time elapsed, the way upstream prints AGE ("<unknown>" for the zero time).
type Since time.Time

// ScaleRule locates the replica count and selector of a scalable kind.
type ScaleRule struct {
	// Get returns spec.replicas, status.replicas and the status selector string
	// (labels.Selector.String() of spec.selector).
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// SetReplicas sets spec.replicas.
	SetReplicas func(obj runtime.Object, replicas int32)
}

// AgeColumn is the AGE column every kind ends with.
var AgeColumn = metav1.TableColumnDefinition{Name: "Age", Type: "string", Format: "",
	Description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}

// Registry is the set of kinds a server serves.
type Registry struct {
	kinds []*Kind
	byGVR map[schema.GroupVersionResource]*Kind
}

// New returns a registry holding the given kinds.
func New(kinds ...*Kind) *Registry {
	r := &Registry{byGVR: map[schema.GroupVersionResource]*Kind{}}
	for _, k := range kinds {
		r.Add(k)
	}
	return r
}

// Add registers a kind, filling Singular when empty.
func (r *Registry) Add(k *Kind) {
	if k.Singular == "" {
		k.Singular = lower(k.GVK.Kind)
	}
	r.kinds = append(r.kinds, k)
	r.byGVR[k.GVK.GroupVersion().WithResource(k.Resource)] = k
}

// Lookup finds the kind served at group/version/resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Kind, bool) {
	k, ok := r.byGVR[gvr]
	return k, ok
}

// Kinds returns every kind, sorted by group, version and resource.
func (r *Registry) Kinds() []*Kind {
	out := append([]*Kind(nil), r.kinds...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GVK, out[j].GVK
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
