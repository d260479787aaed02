package rootcacert

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

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestSync(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	good := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "team",
		Annotations: map[string]string{"kubernetes.io/description": description}}, Data: map[string]string{DataKey: ca}}
	tampered := good.DeepCopy()
	tampered.Data[DataKey] = "nope"
	tests := []struct {
		name string
		cm   *corev1.ConfigMap
		want []string
	}{
		{"publishes into a new namespace", nil, []string{"create configmaps team/kube-root-ca.crt"}},
		{"leaves a correct one alone", good, nil},
		{"restores a changed one", tampered, []string{"update configmaps team/kube-root-ca.crt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{ns}
			if tc.cm != nil {
				objs = append(objs, tc.cm)
			}
			client := fake.NewSimpleClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, RootCA: []byte(ca), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
			if tc.cm != nil {
				_ = factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(tc.cm)
			}
			if err := c.sync(context.Background(), "team"); err != nil {
				t.Fatal(err)
			}
			if got := controllertest.FilterActions(client.Actions()); !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
			got, err := client.CoreV1().ConfigMaps("team").Get(context.Background(), ConfigMapName, metav1.GetOptions{})
			if err != nil || got.Data[DataKey] != ca {
				t.Errorf("configmap after sync: %+v, %v", got, err)
			}
		})
	}
}
