package disruption

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestStatus(t *testing.T) {
	five := int32(5)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ns", UID: "rs-uid"}, Spec: appsv1.ReplicaSetSpec{Replicas: &five}}
	pod := func(i int, ready bool) *corev1.Pod {
		t := true
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("p", i), Namespace: "ns", UID: types.UID(fmt.Sprint("p", i)),
			Labels:          map[string]string{"app": "a"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: &t}}}}
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	pods := []*corev1.Pod{pod(0, true), pod(1, true), pod(2, true), pod(3, true), pod(4, false)}
	tests := []struct {
		name                         string
		minAvailable, maxUnavailable *intstr.IntOrString
		wantExpected, wantDesired    int32
		wantAllowed                  int32
		wantReason                   string
	}{
		{"minAvailable number", ptr(intstr.FromInt32(2)), nil, 5, 2, 2, policyv1.SufficientPodsReason},
		{"minAvailable percent of scale", ptr(intstr.FromString("80%")), nil, 5, 4, 0, policyv1.InsufficientPodsReason},
		{"maxUnavailable", nil, ptr(intstr.FromInt32(2)), 5, 3, 1, policyv1.SufficientPodsReason},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", Generation: 2},
				Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
					MinAvailable: tc.minAvailable, MaxUnavailable: tc.maxUnavailable}}
			objs := []runtime.Object{pdb, rs}
			for _, p := range pods {
				objs = append(objs, p)
			}
			client := fake.NewSimpleClientset(objs...)
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: f, Clock: clocktesting.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			_ = f.Policy().V1().PodDisruptionBudgets().Informer().GetIndexer().Add(pdb)
			_ = f.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs)
			for _, p := range pods {
				_ = f.Core().V1().Pods().Informer().GetIndexer().Add(p)
			}
			if err := c.sync(context.Background(), "ns/b"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.PolicyV1().PodDisruptionBudgets("ns").Get(context.Background(), "b", metav1.GetOptions{})
			st := got.Status
			if st.CurrentHealthy != 4 || st.ExpectedPods != tc.wantExpected || st.DesiredHealthy != tc.wantDesired ||
				st.DisruptionsAllowed != tc.wantAllowed || st.ObservedGeneration != 2 {
				t.Errorf("status = %+v", st)
			}
			if len(st.Conditions) != 1 || st.Conditions[0].Reason != tc.wantReason {
				t.Errorf("conditions = %+v", st.Conditions)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
