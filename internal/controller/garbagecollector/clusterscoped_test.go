package garbagecollector

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metafake "k8s.io/client-go/metadata/fake"
)

// A namespaced object (a node Lease) owned by a cluster-scoped one (its
// Node): the owner is looked up without a namespace.
func TestClusterScopedOwner(t *testing.T) {
	leaseGVK := schema.GroupVersionKind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"}
	res := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "nodes", Kind: "Node", Namespaced: false, Verbs: []string{"list", "watch", "delete", "get"}}}},
		{GroupVersion: "coordination.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "leases", Kind: "Lease", Namespaced: true, Verbs: []string{"list", "watch", "delete", "get"}}}},
	}
	lease := func(name, owner string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-node-lease", Name: name, UID: types.UID("lease-" + name),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: owner, UID: types.UID("node-uid-" + owner)}}},
		}
	}
	node := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: "alive", UID: "node-uid-alive"}}
	for _, tc := range []struct {
		name  string
		lease *metav1.PartialObjectMetadata
		want  []string
	}{
		{"owner node exists", lease("alive", "alive"), nil},
		{"owner node gone", lease("gone", "gone"), []string{"delete leases kube-node-lease/gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := metafake.NewTestScheme()
			_ = metav1.AddMetaToScheme(scheme)
			client := metafake.NewSimpleMetadataClient(scheme, []runtime.Object{node, tc.lease}...)
			gc, err := New(Config{Metadata: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Resources: func() ([]*metav1.APIResourceList, error) { return res, nil }})
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer func() { close(stop); gc.factory.Shutdown() }()
			if err := gc.discover(stop); err != nil {
				t.Fatal(err)
			}
			// Only the lease is in the graph: the node must be found by a
			// cluster-scoped GET.
			gc.graphChanges.Add(&event{typ: addEvent, gvk: leaseGVK, obj: tc.lease})
			gc.processGraphChange()
			client.ClearActions()
			gc.attemptToDelete.Add(string(tc.lease.UID))
			got := drain(t, gc, client)
			if !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}
