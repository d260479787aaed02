package deployment

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
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: image}}},
	}
}

func newDeployment(replicas int32, image string, surge, unavailable string) *appsv1.Deployment {
	ms, mu := intstr.Parse(surge), intstr.Parse(unavailable)
	pds, rhl := int32(600), int32(10)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
			Template: template(image),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &ms, MaxUnavailable: &mu},
			},
			ProgressDeadlineSeconds: &pds,
			RevisionHistoryLimit:    &rhl,
		},
	}
}

// rsFor builds the ReplicaSet d would make for image at revision rev, with
// n replicas all available.
func rsFor(d *appsv1.Deployment, image string, rev string, n int32, age time.Duration) *appsv1.ReplicaSet {
	tmpl := template(image)
	hash := controllerutil.ComputeHash(&tmpl, nil)
	tmpl.Labels[controllerutil.DefaultDeploymentUniqueLabelKey] = hash
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: types.UID("rs-" + hash),
			Labels:            map[string]string{"app": "hello", controllerutil.DefaultDeploymentUniqueLabelKey: hash},
			CreationTimestamp: metav1.NewTime(now.Add(-age)),
			OwnerReferences:   []metav1.OwnerReference{*controllerutil.NewControllerRef(d, deploymentKind)},
			Annotations: map[string]string{
				RevisionAnnotation:        rev,
				DesiredReplicasAnnotation: "3",
				MaxReplicasAnnotation:     "4",
			},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello", controllerutil.DefaultDeploymentUniqueLabelKey: hash}},
			Template: tmpl,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: 1},
	}
}

type fixture struct {
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	ctrl     *Controller
	recorder *record.FakeRecorder
	clock    *clocktesting.FakeClock
}

func newFixture(t *testing.T, d *appsv1.Deployment, rss ...*appsv1.ReplicaSet) *fixture {
	t.Helper()
	objs := []runtime.Object{d}
	for _, rs := range rss {
		objs = append(objs, rs)
	}
	client := fake.NewSimpleClientset(objs...)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	clk := clocktesting.NewFakeClock(now)
	ctrl, err := New(Config{Client: client, Informers: factory, Recorder: rec, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{client: client, factory: factory, ctrl: ctrl, recorder: rec, clock: clk}
	f.refresh(t)
	return f
}

// refresh loads the informers' caches from the fake API's current state.
func (f *fixture) refresh(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	ds, _ := f.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	rss, _ := f.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	var dl, rl, pl []any
	for i := range ds.Items {
		dl = append(dl, &ds.Items[i])
	}
	for i := range rss.Items {
		rl = append(rl, &rss.Items[i])
	}
	for i := range pods.Items {
		pl = append(pl, &pods.Items[i])
	}
	_ = f.factory.Apps().V1().Deployments().Informer().GetStore().Replace(dl, "")
	_ = f.factory.Apps().V1().ReplicaSets().Informer().GetStore().Replace(rl, "")
	_ = f.factory.Core().V1().Pods().Informer().GetStore().Replace(pl, "")
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, err := f.client.AppsV1().Deployments("default").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) replicaSets(t *testing.T) map[string]*appsv1.ReplicaSet {
	t.Helper()
	list, err := f.client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		m[list.Items[i].Name] = &list.Items[i]
	}
	return m
}

func hashOf(image string) string {
	tmpl := template(image)
	return controllerutil.ComputeHash(&tmpl, nil)
}

func TestSyncActions(t *testing.T) {
	v1, v2 := "bosun.local/hello:v1", "bosun.local/hello:v2"
	h1, h2 := hashOf(v1), hashOf(v2)
	d3 := newDeployment(3, v1, "1", "0")
	d3v2 := newDeployment(3, v2, "1", "0")
	paused := newDeployment(3, v2, "1", "0")
	paused.Spec.Paused = true
	d5 := newDeployment(5, v1, "1", "0")
	d5.Annotations = map[string]string{RevisionAnnotation: "1"}
	d3v2rev := newDeployment(3, v2, "1", "0")
	d3v2rev.Annotations = map[string]string{RevisionAnnotation: "2"}
	for _, d := range []*appsv1.Deployment{d5, d3v2rev} {
		d.Status.Conditions = []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "progressing", now)}
	}
	recreate := newDeployment(3, v2, "1", "0")
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}

	tests := []struct {
		name        string
		d           *appsv1.Deployment
		rss         []*appsv1.ReplicaSet
		wantActions []string
		wantEvents  []string
	}{
		{
			name: "new deployment creates its first ReplicaSet at full size",
			d:    d3,
			wantActions: []string{
				"create replicasets default/hello-" + h1,
				"update deployments/status default/hello",
				"update deployments/status default/hello",
			},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled up replica set hello-" + h1 + " from 0 to 3"},
		},
		{
			name: "new template starts a surge ReplicaSet and keeps the old one",
			d:    d3v2,
			rss:  []*appsv1.ReplicaSet{rsFor(d3, v1, "1", 3, time.Hour)},
			wantActions: []string{
				"create replicasets default/hello-" + h2,
				"update deployments/status default/hello",
				"update deployments/status default/hello",
			},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled up replica set hello-" + h2 + " from 0 to 1"},
		},
		{
			name: "old ReplicaSet shrinks once a new pod is available",
			d:    d3v2rev,
			rss: []*appsv1.ReplicaSet{
				rsFor(d3, v1, "1", 3, time.Hour),
				rsFor(d3, v2, "2", 1, time.Minute),
			},
			wantActions: []string{
				"update replicasets default/hello-" + h1,
				"update deployments/status default/hello",
			},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled down replica set hello-" + h1 + " from 3 to 2"},
		},
		{
			name: "paused deployment does not roll out a new template",
			d:    paused,
			rss:  []*appsv1.ReplicaSet{rsFor(d3, v1, "1", 3, time.Hour)},
			wantActions: []string{
				"update deployments/status default/hello", // DeploymentPaused condition
				"update deployments/status default/hello",
			},
		},
		{
			name: "scaling event resizes the only ReplicaSet",
			d:    d5,
			rss:  []*appsv1.ReplicaSet{rsFor(d3, v1, "1", 3, time.Hour)},
			wantActions: []string{
				"update replicasets default/hello-" + h1,
				"update deployments/status default/hello",
			},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled up replica set hello-" + h1 + " from 3 to 5"},
		},
		{
			name: "recreate scales the old ReplicaSet to zero before creating the new one",
			d:    recreate,
			rss:  []*appsv1.ReplicaSet{rsFor(d3, v1, "1", 3, time.Hour)},
			wantActions: []string{
				"update replicasets default/hello-" + h1,
				"update deployments/status default/hello",
			},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled down replica set hello-" + h1 + " from 3 to 0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.d.DeepCopy(), tc.rss...)
			f.client.ClearActions()
			if err := f.ctrl.sync(context.Background(), "default/hello"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got := controllertest.FilterActions(f.client.Actions())
			if !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions:\n got %q\nwant %q", got, tc.wantActions)
			}
			if ev := f.events(); !slices.Equal(ev, tc.wantEvents) {
				t.Errorf("events:\n got %q\nwant %q", ev, tc.wantEvents)
			}
		})
	}
}

func TestNewDeploymentStatus(t *testing.T) {
	d := newDeployment(3, "bosun.local/hello:v1", "25%", "25%")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "kubectl apply --record"}
	f := newFixture(t, d)
	if err := f.ctrl.sync(context.Background(), "default/hello"); err != nil {
		t.Fatal(err)
	}
	got := f.deployment(t)
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("revision annotation = %q, want 1", got.Annotations[RevisionAnnotation])
	}
	c := getCondition(got.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Reason != ReasonNewRSCreated || c.Status != corev1.ConditionTrue {
		t.Errorf("Progressing condition = %+v, want True/NewReplicaSetCreated", c)
	}
	a := getCondition(got.Status, appsv1.DeploymentAvailable)
	if a == nil || a.Reason != ReasonMinimumUnavailable || a.Status != corev1.ConditionFalse {
		t.Errorf("Available condition = %+v, want False/MinimumReplicasUnavailable", a)
	}
	for _, rs := range f.replicaSets(t) {
		if rs.Annotations["kubernetes.io/change-cause"] != "kubectl apply --record" {
			t.Errorf("change-cause not carried to ReplicaSet: %v", rs.Annotations)
		}
		if rs.Labels[controllerutil.DefaultDeploymentUniqueLabelKey] == "" || rs.Spec.Template.Labels[controllerutil.DefaultDeploymentUniqueLabelKey] == "" {
			t.Errorf("pod-template-hash label missing: %v %v", rs.Labels, rs.Spec.Template.Labels)
		}
		if rs.Annotations[DesiredReplicasAnnotation] != "3" || rs.Annotations[MaxReplicasAnnotation] != "4" {
			t.Errorf("replica annotations = %v", rs.Annotations)
		}
	}
}

func TestUndoReusesOldReplicaSet(t *testing.T) {
	v1, v2 := "bosun.local/hello:v1", "bosun.local/hello:v2"
	d := newDeployment(3, v1, "1", "0") // template rolled back to v1
	old := rsFor(d, v1, "1", 0, time.Hour)
	old.Status = appsv1.ReplicaSetStatus{ObservedGeneration: 1}
	cur := rsFor(d, v2, "2", 3, time.Minute)
	f := newFixture(t, d, old, cur)
	if err := f.ctrl.sync(context.Background(), "default/hello"); err != nil {
		t.Fatal(err)
	}
	rs := f.replicaSets(t)[old.Name]
	if rs.Annotations[RevisionAnnotation] != "3" || rs.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("old ReplicaSet annotations after undo = %v, want revision 3 and history 1", rs.Annotations)
	}
	if n := len(f.replicaSets(t)); n != 2 {
		t.Errorf("%d ReplicaSets after undo, want the old one reused (2)", n)
	}
}

func TestRevisionHistoryCleanup(t *testing.T) {
	d := newDeployment(3, "bosun.local/hello:v4", "1", "0")
	limit := int32(1)
	d.Spec.RevisionHistoryLimit = &limit
	var rss []*appsv1.ReplicaSet
	for i, img := range []string{"bosun.local/hello:v1", "bosun.local/hello:v2", "bosun.local/hello:v3"} {
		rs := rsFor(d, img, string(rune('1'+i)), 0, time.Duration(10-i)*time.Hour)
		rs.Status = appsv1.ReplicaSetStatus{ObservedGeneration: 1}
		rss = append(rss, rs)
	}
	cur := rsFor(d, "bosun.local/hello:v4", "4", 3, time.Minute)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ReadyReplicas: 3}
	f := newFixture(t, d, append(rss, cur)...)
	f.client.ClearActions()
	if err := f.ctrl.sync(context.Background(), "default/hello"); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range controllertest.FilterActions(f.client.Actions()) {
		if strings.HasPrefix(a, "delete replicasets") {
			deleted = append(deleted, a)
		}
	}
	slices.Sort(deleted)
	want := []string{"delete replicasets default/" + rss[0].Name, "delete replicasets default/" + rss[1].Name}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted %q, want the two oldest %q", deleted, want)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	v1, v2 := "bosun.local/hello:v1", "bosun.local/hello:v2"
	d := newDeployment(3, v2, "1", "0")
	pds := int32(10)
	d.Spec.ProgressDeadlineSeconds = &pds
	old := rsFor(d, v1, "1", 3, time.Hour)
	stuck := rsFor(d, v2, "2", 1, time.Minute)
	stuck.Status = appsv1.ReplicaSetStatus{Replicas: 1, ObservedGeneration: 1}
	d.Annotations = map[string]string{RevisionAnnotation: "2"}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinimumAvailable, "Deployment has minimum availability.", now.Add(-time.Hour)),
			newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "ReplicaSet is progressing.", now.Add(-time.Minute)),
		},
	}
	f := newFixture(t, d, old, stuck)
	if err := f.ctrl.sync(context.Background(), "default/hello"); err != nil {
		t.Fatal(err)
	}
	c := getCondition(f.deployment(t).Status, appsv1.DeploymentProgressing)
	if c == nil || c.Reason != ReasonTimedOut || c.Status != corev1.ConditionFalse {
		t.Fatalf("Progressing = %+v, want False/ProgressDeadlineExceeded", c)
	}
	if !strings.Contains(c.Message, "has timed out progressing") {
		t.Errorf("message = %q", c.Message)
	}
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavailable string
		replicas           int32
		wantSurge, wantMU  int32
	}{
		{"25%", "25%", 3, 1, 0},
		{"25%", "25%", 10, 3, 2},
		{"0", "0", 3, 0, 1},
		{"2", "1", 3, 2, 1},
		{"50%", "0", 5, 3, 0},
	}
	for _, tc := range tests {
		s, u := intstr.Parse(tc.surge), intstr.Parse(tc.unavailable)
		gs, gu := resolveFenceposts(&s, &u, tc.replicas)
		if gs != tc.wantSurge || gu != tc.wantMU {
			t.Errorf("resolveFenceposts(%s, %s, %d) = %d, %d; want %d, %d", tc.surge, tc.unavailable, tc.replicas, gs, gu, tc.wantSurge, tc.wantMU)
		}
	}
}
