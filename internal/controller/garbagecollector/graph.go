package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef identifies an object.
type objectRef struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
	uid       types.UID
}

// node is one object in the ownership graph. All fields are guarded by the
// collector's graph lock.
type node struct {
	ref        objectRef
	owners     []metav1.OwnerReference
	dependents map[*node]struct{}
	// virtual nodes were only seen as someone's owner.
	virtual bool
	// beingDeleted: deletionTimestamp is set.
	beingDeleted bool
	// deletingDependents: being deleted with the foregroundDeletion finalizer.
	deletingDependents bool
	finalizers         []string
}

func (n *node) hasFinalizer(f string) bool { return slices.Contains(n.finalizers, f) }

// blockingDependents returns the dependents whose reference to n has
// blockOwnerDeletion set.
func (n *node) blockingDependents() []*node {
	var out []*node
	for dep := range n.dependents {
		for _, ref := range dep.owners {
			if ref.UID == n.ref.uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
				out = append(out, dep)
			}
		}
	}
	return out
}

type eventType int

const (
	addEvent eventType = iota
	updateEvent
	deleteEvent
)

// event is a change reported by a monitor (or a synthetic deletion of an
// object found absent).
type event struct {
	typ eventType
	gvk schema.GroupVersionKind
	obj *metav1.PartialObjectMetadata
	// virtual marks a synthetic deletion of a virtual node.
	virtual bool
}

// ownersDiff reports which owner references were added, removed, or
// changed (same UID, different blockOwnerDeletion).
func ownersDiff(old, cur []metav1.OwnerReference) (added, removed, changed []metav1.OwnerReference) {
	oldBy := map[types.UID]metav1.OwnerReference{}
	for _, r := range old {
		oldBy[r.UID] = r
	}
	curBy := map[types.UID]metav1.OwnerReference{}
	for _, r := range cur {
		curBy[r.UID] = r
		o, ok := oldBy[r.UID]
		switch {
		case !ok:
			added = append(added, r)
		case boolVal(o.BlockOwnerDeletion) != boolVal(r.BlockOwnerDeletion):
			changed = append(changed, o)
		}
	}
	for _, r := range old {
		if _, ok := curBy[r.UID]; !ok {
			removed = append(removed, r)
		}
	}
	return added, removed, changed
}

func boolVal(b *bool) bool { return b != nil && *b }
