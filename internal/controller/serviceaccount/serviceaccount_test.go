package serviceaccount

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

func TestSync(t *testing.T) {
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}}
	tests := []struct {
		name string
		ns   *corev1.Namespace
		sas  []*corev1.ServiceAccount
		want []string
	}{
		{name: "creates default in a new namespace", ns: active, want: []string{"create serviceaccounts team/default"}},
		{name: "leaves an existing default alone", ns: active, sas: []*corev1.ServiceAccount{existing}},
		{name: "skips a terminating namespace", ns: terminating},
		{name: "skips a missing namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.ns != nil {
				objs = append(objs, tc.ns)
			}
			for _, sa := range tc.sas {
				objs = append(objs, sa)
			}
			client := fake.NewSimpleClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ns != nil {
				_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(tc.ns)
			}
			for _, sa := range tc.sas {
				_ = factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(sa)
			}
			if err := c.sync(context.Background(), "team"); err != nil {
				t.Fatal(err)
			}
			if got := controllertest.FilterActions(client.Actions()); !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}
