package garbagecollector

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

var resources = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"list", "watch", "delete", "get", "patch"}},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: []string{"list", "watch", "delete", "get", "patch"}},
		{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: []string{"list", "watch", "delete", "get", "patch"}},
	}},
}

var (
	podGVK = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	rsGVK  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
)

type objOpt func(*metav1.PartialObjectMetadata)

func ownedBy(kind, name string, uid types.UID, block bool) objOpt {
	return func(o *metav1.PartialObjectMetadata) {
		t := true
		o.OwnerReferences = append(o.OwnerReferences, metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: &t, BlockOwnerDeletion: &block,
		})
	}
}

func deleting(finalizers ...string) objOpt {
	return func(o *metav1.PartialObjectMetadata) {
		ts := metav1.NewTime(time.Now())
		o.DeletionTimestamp = &ts
		o.Finalizers = finalizers
	}
}

func obj(gvk schema.GroupVersionKind, name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	o := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name + "-uid"), ResourceVersion: "1"},
	}
	for _, f := range opts {
		f(o)
	}
	return o
}

func newCollector(t *testing.T, objs ...*metav1.PartialObjectMetadata) (*GarbageCollector, *metafake.FakeMetadataClient) {
	t.Helper()
	scheme := metafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	var robjs []runtime.Object
	for _, o := range objs {
		robjs = append(robjs, o)
	}
	client := metafake.NewSimpleMetadataClient(scheme, robjs...)
	gc, err := New(Config{Metadata: client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Resources: func() ([]*metav1.APIResourceList, error) { return resources, nil }})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); gc.factory.Shutdown() })
	if err := gc.discover(stop); err != nil {
		t.Fatal(err)
	}
	// Feed the objects to the graph as the monitors would.
	for _, o := range objs {
		gvk := podGVK
		if o.Kind != "Pod" {
			gvk = o.GroupVersionKind()
		}
		gc.graphChanges.Add(&event{typ: addEvent, gvk: gvk, obj: o})
		gc.processGraphChange()
	}
	client.ClearActions()
	return gc, client
}

// drain runs the queues until they are empty, returning the write actions.
func drain(t *testing.T, gc *GarbageCollector, client *metafake.FakeMetadataClient) []string {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		progressed := false
		for gc.attemptToDelete.Len() > 0 {
			gc.processQueue(ctx, gc.attemptToDelete, gc.attemptToDeleteItem)
			progressed = true
		}
		for gc.attemptToOrphan.Len() > 0 {
			gc.processQueue(ctx, gc.attemptToOrphan, gc.attemptToOrphanItem)
			progressed = true
		}
		for gc.graphChanges.Len() > 0 {
			gc.processGraphChange()
			progressed = true
		}
		if !progressed {
			break
		}
	}
	var out []string
	for _, a := range controllertest.FilterActions(client.Actions()) {
		if !strings.HasPrefix(a, "get ") {
			out = append(out, a)
		}
	}
	return out
}

// observe feeds the fake API's current copy of name (or its deletion) to
// the graph, as an informer would.
func observe(t *testing.T, gc *GarbageCollector, client *metafake.FakeMetadataClient, gvk schema.GroupVersionKind, resource, name string) {
	t.Helper()
	gvr := gvk.GroupVersion().WithResource(resource)
	o, err := client.Resource(gvr).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		gc.graphChanges.Add(&event{typ: deleteEvent, gvk: gvk, obj: obj(gvk, name)})
		return
	}
	gc.graphChanges.Add(&event{typ: updateEvent, gvk: gvk, obj: o})
}

func TestAttemptToDelete(t *testing.T) {
	tests := []struct {
		name string
		objs []*metav1.PartialObjectMetadata
		uid  types.UID
		want []string
	}{
		{
			name: "dependent of a missing owner is deleted in the background",
			objs: []*metav1.PartialObjectMetadata{obj(podGVK, "web", ownedBy("ReplicaSet", "gone", "gone-uid", true))},
			uid:  "web-uid",
			want: []string{"delete pods default/web"},
		},
		{
			name: "dependent of an existing owner is kept",
			objs: []*metav1.PartialObjectMetadata{
				obj(rsGVK, "rs"),
				obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
			},
			uid: "web-uid",
		},
		{
			name: "owner replaced by a new object of the same name counts as gone",
			objs: []*metav1.PartialObjectMetadata{
				obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "old-rs-uid", true)),
				obj(rsGVK, "rs"),
			},
			uid:  "web-uid",
			want: []string{"delete pods default/web"},
		},
		{
			name: "a dangling reference beside a live owner is removed",
			objs: []*metav1.PartialObjectMetadata{
				obj(rsGVK, "rs"),
				obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "rs-uid", true), ownedBy("ReplicaSet", "gone", "gone-uid", false)),
			},
			uid:  "web-uid",
			want: []string{"patch pods default/web"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gc, client := newCollector(t, tc.objs...)
			gc.attemptToDelete.Add(string(tc.uid))
			if got := drain(t, gc, client); !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForegroundDeletion(t *testing.T) {
	rs := obj(rsGVK, "rs", deleting(metav1.FinalizerDeleteDependents))
	pod := obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "rs-uid", true))
	gc, client := newCollector(t, rs, pod)
	// Foreground: the dependent goes first; the owner keeps its finalizer.
	if got := drain(t, gc, client); !slices.Equal(got, []string{"delete pods default/web"}) {
		t.Fatalf("first actions = %q, want the pod deleted", got)
	}
	client.ClearActions()
	observe(t, gc, client, podGVK, "pods", "web")
	got := drain(t, gc, client)
	if !slices.Equal(got, []string{"patch replicasets default/rs"}) {
		t.Fatalf("after the pod is gone: actions = %q, want the owner's finalizer removed", got)
	}
	live, err := client.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}).Namespace("default").Get(context.Background(), "rs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(live.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Errorf("foregroundDeletion finalizer still there: %v", live.Finalizers)
	}
}

func TestForegroundWaitsOnlyForBlockingDependents(t *testing.T) {
	rs := obj(rsGVK, "rs", deleting(metav1.FinalizerDeleteDependents))
	pod := obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "rs-uid", false))
	gc, client := newCollector(t, rs, pod)
	got := drain(t, gc, client)
	slices.Sort(got)
	want := []string{"delete pods default/web", "patch replicasets default/rs"}
	if !slices.Equal(got, want) {
		t.Errorf("actions = %q, want %q", got, want)
	}
}

func TestOrphanDeletion(t *testing.T) {
	rs := obj(rsGVK, "rs", deleting(metav1.FinalizerOrphanDependents))
	pod := obj(podGVK, "web", ownedBy("ReplicaSet", "rs", "rs-uid", true))
	other := obj(podGVK, "other", ownedBy("ReplicaSet", "rs", "rs-uid", true))
	gc, client := newCollector(t, rs, pod, other)
	got := drain(t, gc, client)
	want := []string{"patch pods default/other", "patch pods default/web", "patch replicasets default/rs"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("actions = %q, want %q", got, want)
	}
	for _, a := range client.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok && a.GetResource().Resource == "pods" {
			if !strings.Contains(string(p.GetPatch()), `"ownerReferences":[]`) {
				t.Errorf("orphaning patch keeps the owner: %s", p.GetPatch())
			}
		}
	}
}
