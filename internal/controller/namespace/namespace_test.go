package namespace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

func partial(apiVersion, kind, ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: "uid-" + "name", Finalizers: finalizers},
	}
}

var resources = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"list", "delete", "deletecollection"}},
		{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: []string{"get", "update"}},
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"list", "delete"}},
		{Name: "nodes", Kind: "Node", Namespaced: false, Verbs: []string{"list", "delete"}},
	}},
}

func TestSync(t *testing.T) {
	deleting := func() *corev1.Namespace {
		ts := metav1.NewTime(time.Now())
		return &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: "team", UID: "ns-uid", DeletionTimestamp: &ts},
			Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
	}
	tests := []struct {
		name         string
		ns           *corev1.Namespace
		content      []runtime.Object
		wantMeta     []string
		wantFinalize bool
		wantErr      error
	}{
		{
			name: "empties the namespace and finalizes it",
			ns:   deleting(),
			content: []runtime.Object{
				partial("v1", "Pod", "team", "web"),
				partial("v1", "ConfigMap", "team", "settings"),
				partial("v1", "ConfigMap", "other", "untouched"),
			},
			wantMeta: []string{
				"delete-collection pods team/",
				"list pods team/",
				"list configmaps team/",
				"delete configmaps team/settings",
				"list configmaps team/",
			},
			wantFinalize: true,
		},
		{
			name:    "waits for objects held by finalizers",
			ns:      deleting(),
			content: []runtime.Object{partial("v1", "ConfigMap", "team", "held", "example.com/hold")},
			wantMeta: []string{
				"delete-collection pods team/",
				"list pods team/",
				"list configmaps team/",
				"delete configmaps team/held",
				"list configmaps team/",
			},
			wantErr: ErrContentRemaining,
		},
		{
			name: "ignores a namespace not being deleted",
			ns:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(tc.ns)
			finalized := false
			client.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "finalize" {
					return false, nil, nil
				}
				finalized = true
				ns := a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
				return true, ns, nil
			})
			scheme := metafake.NewTestScheme()
			_ = metav1.AddMetaToScheme(scheme)
			meta := metafake.NewSimpleMetadataClient(scheme, tc.content...)
			// The fake keeps objects with finalizers like any other; make
			// deletion of a held object a no-op as a real server does.
			meta.PrependReactor("delete", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
				if a.(clienttesting.DeleteAction).GetName() == "held" {
					return true, nil, nil
				}
				return false, nil, nil
			})
			podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
			meta.PrependReactor("delete-collection", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
				for _, o := range tc.content {
					if p := o.(*metav1.PartialObjectMetadata); p.Kind == "Pod" && p.Namespace == a.GetNamespace() {
						_ = meta.Tracker().Delete(podsGVR, p.Namespace, p.Name)
					}
				}
				return true, nil, nil
			})
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{
				Client: client, Metadata: meta, Informers: factory,
				Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
				Resources: func() ([]*metav1.APIResourceList, error) { return resources, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(tc.ns)
			err = c.sync(context.Background(), "team")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("sync error = %v, want %v", err, tc.wantErr)
			}
			var all []string
			for _, a := range meta.Actions() {
				all = append(all, controllertest.ActionString(a))
			}
			if !slices.Equal(all, tc.wantMeta) {
				t.Errorf("metadata actions = %q, want %q", all, tc.wantMeta)
			}
			if finalized != tc.wantFinalize {
				t.Errorf("finalized = %v, want %v", finalized, tc.wantFinalize)
			}
			got, _ := client.CoreV1().Namespaces().Get(context.Background(), "team", metav1.GetOptions{})
			if tc.ns.DeletionTimestamp != nil && got != nil && got.Status.Phase != corev1.NamespaceTerminating && tc.wantFinalize == false {
				t.Errorf("phase = %q, want Terminating", got.Status.Phase)
			}
			left, _ := meta.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("other").List(context.Background(), metav1.ListOptions{})
			if len(tc.content) > 0 && len(left.Items) == 0 && tc.wantFinalize {
				t.Error("an object in another namespace was deleted")
			}
		})
	}
}
