package nodelifecycle

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func node(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "node-uid"},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.NewTime(now.Add(-time.Hour)),
		}}},
	}
}

func podOn(name, nodeName string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "pod-" + "uid"},
		Spec:       corev1.PodSpec{NodeName: nodeName, Tolerations: tolerations},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

type fixture struct {
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	ctrl    *Controller
	clock   *clocktesting.FakeClock
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(now)
	c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(100), Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Node:
			_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(x)
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(x)
		case *coordv1.Lease:
			_ = factory.Coordination().V1().Leases().Informer().GetIndexer().Add(x)
		}
	}
	client.ClearActions()
	return &fixture{client: client, factory: factory, ctrl: c, clock: clk}
}

func TestSilentNodeBecomesUnknown(t *testing.T) {
	f := newFixture(t, node("n1", corev1.ConditionTrue), podOn("web", "n1"))
	ctx := context.Background()
	if err := f.ctrl.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(30 * time.Second)
	if err := f.ctrl.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	if got := controllertest.FilterActions(f.client.Actions()); len(got) != 0 {
		t.Fatalf("acted within the grace period: %q", got)
	}
	f.clock.Step(30 * time.Second)
	if err := f.ctrl.monitor(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"update nodes/status n1", "update pods/status default/web"}
	if got := controllertest.FilterActions(f.client.Actions()); !slices.Equal(got, want) {
		t.Fatalf("actions = %q, want %q", got, want)
	}
	n, _ := f.client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if c := condition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionUnknown || c.Reason != ReasonNodeStatusUnknown {
		t.Errorf("Ready = %+v", c)
	}
}

func TestLeaseKeepsNodeAlive(t *testing.T) {
	renew := metav1.NewMicroTime(now)
	lease := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease}, Spec: coordv1.LeaseSpec{RenewTime: &renew}}
	f := newFixture(t, node("n1", corev1.ConditionTrue), lease)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := f.ctrl.monitor(ctx); err != nil {
			t.Fatal(err)
		}
		f.clock.Step(10 * time.Second)
		r := metav1.NewMicroTime(f.clock.Now())
		l := lease.DeepCopy()
		l.Spec.RenewTime = &r
		_ = f.factory.Coordination().V1().Leases().Informer().GetIndexer().Update(l)
	}
	if got := controllertest.FilterActions(f.client.Actions()); len(got) != 0 {
		t.Fatalf("a node renewing its lease was acted on: %q", got)
	}
}

func TestTaintsFollowReadiness(t *testing.T) {
	tests := []struct {
		name  string
		node  *corev1.Node
		want  []string
		taint []string
	}{
		{"ready node untouched", node("n1", corev1.ConditionTrue), nil, nil},
		{"unknown node gets unreachable taints", node("n1", corev1.ConditionUnknown), []string{"update nodes n1"},
			[]string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}},
		{"not ready node gets not-ready taints", node("n1", corev1.ConditionFalse), []string{"update nodes n1"},
			[]string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}},
		{"recovered node loses them, keeps others", node("n1", corev1.ConditionTrue,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
			corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}),
			[]string{"update nodes n1"}, []string{"dedicated:NoSchedule"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.node)
			if err := f.ctrl.syncTaints(context.Background(), "n1"); err != nil {
				t.Fatal(err)
			}
			if got := controllertest.FilterActions(f.client.Actions()); !slices.Equal(got, tc.want) {
				t.Fatalf("actions = %q, want %q", got, tc.want)
			}
			n, _ := f.client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			var got []string
			for _, tt := range n.Spec.Taints {
				got = append(got, tt.Key+":"+string(tt.Effect))
			}
			if !slices.Equal(got, tc.taint) {
				t.Errorf("taints = %q, want %q", got, tc.taint)
			}
		})
	}
}

func TestEviction(t *testing.T) {
	added := metav1.NewTime(now.Add(-100 * time.Second))
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	custom := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	secs := func(s int64) *int64 { return &s }
	tests := []struct {
		name  string
		taint corev1.Taint
		pod   *corev1.Pod
		after time.Duration
		evict bool
	}{
		{"default toleration holds for 300s", unreachable, podOn("p", "n1"), 0, false},
		{"default toleration runs out", unreachable, podOn("p", "n1"), 201 * time.Second, true},
		{"short toleration runs out", unreachable, podOn("p", "n1", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(60)}), 0, true},
		{"toleration without seconds holds for ever", unreachable, podOn("p", "n1", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists}), time.Hour, false},
		{"untolerated taint evicts at once", custom, podOn("p", "n1"), 0, true},
		{"pods of other nodes stay", custom, podOn("p", "n2"), time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, node("n1", corev1.ConditionUnknown, tc.taint), tc.pod)
			f.clock.Step(tc.after)
			if err := f.ctrl.evict(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := controllertest.FilterActions(f.client.Actions())
			deleted := slices.Contains(got, "delete pods default/p")
			if deleted != tc.evict {
				t.Errorf("evicted = %v, want %v (actions %q)", deleted, tc.evict, got)
			}
		})
	}
}
