package clusterroleaggregation

import (
	"context"
	"io"
	"log/slog"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestAggregate(t *testing.T) {
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{"rbac.example.com/aggregate-to-view": "true"}}}}}
	pods := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "b-pods", Labels: map[string]string{"rbac.example.com/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}
	cms := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "a-cms", Labels: map[string]string{"rbac.example.com/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}
	other := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}}}}
	objs := []runtime.Object{agg, pods, cms, other}
	client := fake.NewSimpleClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		_ = f.Rbac().V1().ClusterRoles().Informer().GetIndexer().Add(o)
	}
	if err := c.sync(context.Background(), "view"); err != nil {
		t.Fatal(err)
	}
	got, _ := client.RbacV1().ClusterRoles().Get(context.Background(), "view", metav1.GetOptions{})
	if len(got.Rules) != 2 || got.Rules[0].Resources[0] != "configmaps" || got.Rules[1].Resources[0] != "pods" {
		t.Errorf("aggregated rules = %+v, want configmaps then pods, no secrets, no duplicates", got.Rules)
	}
}
