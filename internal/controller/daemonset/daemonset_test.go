package daemonset

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newDS(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 2},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"role": "worker"},
					Containers: []corev1.Container{{Name: "a", Image: image}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
	}
}

func node(name string, lbl map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}, Spec: corev1.NodeSpec{Taints: taints}}
}

var worker = map[string]string{"role": "worker"}

func daemonPod(ds *appsv1.DaemonSet, name, nodeName, image string) *corev1.Pod {
	tmpl := ds.Spec.Template.DeepCopy()
	tmpl.Spec.Containers[0].Image = image
	hash := controllerutil.ComputeHash(tmpl, nil)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Labels:            map[string]string{"app": "agent", RevisionHashLabel: hash},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{*controllerutil.NewControllerRef(ds, dsKind)}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "a", Image: image}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}},
	}
}

func TestShouldRun(t *testing.T) {
	ds := newDS("v1")
	tests := []struct {
		name      string
		node      *corev1.Node
		run, keep bool
	}{
		{"matching node", node("n", worker), true, true},
		{"selector mismatch", node("n", map[string]string{"role": "db"}), false, false},
		{"untolerated NoSchedule keeps running pods", node("n", worker, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"untolerated NoExecute evicts", node("n", worker, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}), false, false},
		{"not-ready is tolerated by default", node("n", worker, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"unschedulable is tolerated by default", node("n", worker, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), true, true},
	}
	for _, tc := range tests {
		run, keep := shouldRun(tc.node, ds)
		if run != tc.run || keep != tc.keep {
			t.Errorf("%s: run %v keep %v, want %v %v", tc.name, run, keep, tc.run, tc.keep)
		}
	}
	aff := newDS("v1")
	aff.Spec.Template.Spec.NodeSelector = nil
	aff.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}}}}}
	if run, _ := shouldRun(node("n", map[string]string{"zone": "b"}), aff); !run {
		t.Error("node affinity In not honoured")
	}
	if run, _ := shouldRun(node("n", map[string]string{"zone": "c"}), aff); run {
		t.Error("node affinity mismatch not honoured")
	}
}

type fixture struct {
	client *fake.Clientset
	ctrl   *Controller
}

func newFixture(t *testing.T, ds *appsv1.DaemonSet, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(append([]runtime.Object{ds}, objs...)...)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(100),
		Clock: clocktesting.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_ = factory.Apps().V1().DaemonSets().Informer().GetIndexer().Add(ds)
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Node:
			_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(x)
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(x)
		case *appsv1.ControllerRevision:
			_ = factory.Apps().V1().ControllerRevisions().Informer().GetIndexer().Add(x)
		}
	}
	client.ClearActions()
	return &fixture{client: client, ctrl: c}
}

func TestCreatesPodsOnMatchingNodes(t *testing.T) {
	ds := newDS("v1")
	f := newFixture(t, ds, node("w1", worker), node("db", map[string]string{"role": "db"}))
	if err := f.ctrl.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	want := []string{"create controllerrevisions default/agent-" + controllerutil.ComputeHash(&ds.Spec.Template, nil),
		"create pods default/agent-*", "update daemonsets/status default/agent"}
	if got := controllertest.FilterActions(f.client.Actions()); !slices.Equal(got, want) {
		t.Fatalf("actions:\n got %q\nwant %q", got, want)
	}
	pods, _ := f.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	p := pods.Items[0]
	if targetNode(&p) != "w1" || p.Spec.NodeName != "" {
		t.Errorf("pod not pinned to w1 through affinity: %+v", p.Spec.Affinity)
	}
	if p.Labels[RevisionHashLabel] == "" || len(p.Spec.Tolerations) < 6 {
		t.Errorf("labels %v tolerations %v", p.Labels, p.Spec.Tolerations)
	}
	got, _ := f.client.AppsV1().DaemonSets("default").Get(context.Background(), "agent", metav1.GetOptions{})
	if got.Status.DesiredNumberScheduled != 1 || got.Status.ObservedGeneration != 2 {
		t.Errorf("status = %+v", got.Status)
	}
	crs, _ := f.client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	if len(crs.Items) != 1 || crs.Items[0].Revision != 1 || !strings.Contains(string(crs.Items[0].Data.Raw), `"$patch":"replace"`) {
		t.Errorf("controller revisions = %+v", crs.Items)
	}
}

func TestRollingUpdateReplacesOneAtATime(t *testing.T) {
	ds := newDS("v2")
	objs := []runtime.Object{node("w1", worker), node("w2", worker), node("w3", worker),
		daemonPod(ds, "p1", "w1", "v1"), daemonPod(ds, "p2", "w2", "v1"), daemonPod(ds, "p3", "w3", "v1")}
	f := newFixture(t, ds, objs...)
	if err := f.ctrl.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, a := range controllertest.FilterActions(f.client.Actions()) {
		if strings.HasPrefix(a, "delete pods") {
			deletes = append(deletes, a)
		}
	}
	if len(deletes) != 1 {
		t.Errorf("deleted %q, want exactly one old pod (maxUnavailable 1)", deletes)
	}
	got, _ := f.client.AppsV1().DaemonSets("default").Get(context.Background(), "agent", metav1.GetOptions{})
	if got.Status.DesiredNumberScheduled != 3 || got.Status.UpdatedNumberScheduled != 0 || got.Status.NumberAvailable != 3 {
		t.Errorf("status = %+v", got.Status)
	}
}

func TestRemovesMisscheduledAndSurplusPods(t *testing.T) {
	ds := newDS("v1")
	first := daemonPod(ds, "first", "w1", "v1")
	second := daemonPod(ds, "second", "w1", "v1")
	second.CreationTimestamp = metav1.NewTime(now)
	objs := []runtime.Object{node("w1", worker), node("db", map[string]string{"role": "db"}),
		first, second, daemonPod(ds, "wrong", "db", "v1")}
	f := newFixture(t, ds, objs...)
	if err := f.ctrl.sync(context.Background(), "default/agent"); err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, a := range controllertest.FilterActions(f.client.Actions()) {
		if strings.HasPrefix(a, "delete pods") {
			deletes = append(deletes, a)
		}
	}
	slices.Sort(deletes)
	want := []string{"delete pods default/second", "delete pods default/wrong"}
	if !slices.Equal(deletes, want) {
		t.Errorf("deleted %q, want %q", deletes, want)
	}
}
