package replicaset

import (
	"context"
	"errors"
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
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app": "hello"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello", "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func ownedBy(rs *appsv1.ReplicaSet) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{*controllerutil.NewControllerRef(rs, rsKind)}
	}
}
func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readySince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}
func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func created(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}

func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
		Labels:            map[string]string{"app": "hello", "tier": "web"},
		CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
	}}
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(p)
	}
	return p
}

type fixture struct {
	client   *fake.Clientset
	ctrl     *Controller
	recorder *record.FakeRecorder
}

func newFixture(t *testing.T, rss []*appsv1.ReplicaSet, pods []*corev1.Pod) *fixture {
	t.Helper()
	var objs []runtime.Object
	for _, rs := range rss {
		objs = append(objs, rs)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewSimpleClientset(objs...)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	ctrl, err := New(Config{
		Client: client, Informers: factory, Recorder: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  clocktesting.NewFakeClock(now),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss {
		_ = factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs)
	}
	for _, p := range pods {
		_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(p)
	}
	return &fixture{client: client, ctrl: ctrl, recorder: rec}
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

func TestSync(t *testing.T) {
	rs3 := newRS("hello", 3)
	rs1 := newRS("hello", 1)
	rsMinReady := newRS("hello", 2)
	rsMinReady.Spec.MinReadySeconds = 30

	tests := []struct {
		name        string
		rs          *appsv1.ReplicaSet
		pods        []*corev1.Pod
		createErr   error
		wantActions []string
		wantEvents  []string
		wantStatus  *appsv1.ReplicaSetStatus
		wantErr     bool
	}{
		{
			name: "creates missing pods",
			rs:   rs3,
			wantActions: []string{
				"create pods default/hello-*", "create pods default/hello-*", "create pods default/hello-*",
				"update replicasets/status default/hello",
			},
			wantEvents: []string{
				"Normal SuccessfulCreate Created pod: hello-00000",
				"Normal SuccessfulCreate Created pod: hello-00001",
				"Normal SuccessfulCreate Created pod: hello-00002",
			},
			wantStatus: &appsv1.ReplicaSetStatus{ObservedGeneration: 1},
		},
		{
			name: "deletes the least valuable pods first",
			rs:   rs1,
			pods: []*corev1.Pod{
				newPod("ready-old", ownedBy(rs1), onNode("n1"), readySince(now.Add(-time.Hour))),
				newPod("unscheduled", ownedBy(rs1), phase(corev1.PodPending)),
				newPod("notready", ownedBy(rs1), onNode("n1")),
			},
			wantActions: []string{
				"delete pods default/notready", "delete pods default/unscheduled",
				"update replicasets/status default/hello",
			},
			wantEvents: []string{
				"Normal SuccessfulDelete Deleted pod: notready",
				"Normal SuccessfulDelete Deleted pod: unscheduled",
			},
			wantStatus: &appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1},
		},
		{
			name: "prefers deleting the newer of two ready pods",
			rs:   rs1,
			pods: []*corev1.Pod{
				newPod("older", ownedBy(rs1), onNode("n1"), readySince(now.Add(-100*time.Hour)), created(now.Add(-200*time.Hour))),
				newPod("newer", ownedBy(rs1), onNode("n2"), readySince(now.Add(-10*time.Second)), created(now.Add(-20*time.Second))),
			},
			wantActions: []string{"delete pods default/newer", "update replicasets/status default/hello"},
			wantEvents:  []string{"Normal SuccessfulDelete Deleted pod: newer"},
		},
		{
			name: "adopts a matching orphan instead of creating",
			rs:   rs1,
			pods: []*corev1.Pod{newPod("orphan", onNode("n1"))},
			wantActions: []string{
				"get replicasets default/hello", "patch pods default/orphan",
				"update replicasets/status default/hello",
			},
			wantStatus: &appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ObservedGeneration: 1},
		},
		{
			name: "ignores an orphan matched by matchLabels but not matchExpressions",
			rs:   rs1,
			pods: []*corev1.Pod{newPod("other", withLabels(map[string]string{"app": "hello", "tier": "db"}))},
			wantActions: []string{
				"create pods default/hello-*", "update replicasets/status default/hello",
			},
			wantEvents: []string{"Normal SuccessfulCreate Created pod: hello-00000"},
		},
		{
			name: "releases a pod whose labels stopped matching and replaces it",
			rs:   rs1,
			pods: []*corev1.Pod{newPod("relabelled", ownedBy(rs1), withLabels(map[string]string{"app": "debug"}))},
			wantActions: []string{
				"patch pods default/relabelled", "create pods default/hello-*",
				"update replicasets/status default/hello",
			},
			wantEvents: []string{"Normal SuccessfulCreate Created pod: hello-00000"},
		},
		{
			name: "ignores pods owned by another controller and finished pods",
			rs:   rs1,
			pods: []*corev1.Pod{
				newPod("theirs", ownedBy(newRS("other", 1))),
				newPod("done", ownedBy(rs1), phase(corev1.PodSucceeded)),
			},
			wantActions: []string{"create pods default/hello-*", "update replicasets/status default/hello"},
			wantEvents:  []string{"Normal SuccessfulCreate Created pod: hello-00000"},
		},
		{
			name:      "failed creation sets ReplicaFailure and stops the slow start",
			rs:        rs3,
			createErr: errors.New("quota exceeded"),
			wantActions: []string{
				"create pods default/hello-*", "update replicasets/status default/hello",
			},
			wantEvents: []string{"Warning FailedCreate Error creating: quota exceeded"},
			wantErr:    true,
		},
		{
			name: "counts availability with minReadySeconds",
			rs:   rsMinReady,
			pods: []*corev1.Pod{
				newPod("a", ownedBy(rsMinReady), onNode("n1"), readySince(now.Add(-time.Minute))),
				newPod("b", ownedBy(rsMinReady), onNode("n1"), readySince(now.Add(-time.Second))),
			},
			wantActions: []string{"update replicasets/status default/hello"},
			wantStatus:  &appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 1},
		},
		{
			name: "does nothing when in sync",
			rs: func() *appsv1.ReplicaSet {
				rs := newRS("hello", 1)
				rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1}
				return rs
			}(),
			pods:        []*corev1.Pod{newPod("a", ownedBy(rs1), onNode("n1"), readySince(now.Add(-time.Minute)))},
			wantActions: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, []*appsv1.ReplicaSet{tc.rs.DeepCopy()}, tc.pods)
			if tc.createErr != nil {
				f.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			f.client.ClearActions()
			err := f.ctrl.sync(context.Background(), "default/hello")
			if (err != nil) != tc.wantErr {
				t.Fatalf("sync error = %v, want error %v", err, tc.wantErr)
			}
			got := controllertest.FilterActions(f.client.Actions())
			slices.Sort(got)
			want := slices.Clone(tc.wantActions)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("actions:\n got %q\nwant %q", got, want)
			}
			events := f.events()
			slices.Sort(events)
			if !slices.Equal(events, tc.wantEvents) {
				t.Errorf("events:\n got %q\nwant %q", events, tc.wantEvents)
			}
			rs, err := f.client.AppsV1().ReplicaSets("default").Get(context.Background(), "hello", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus != nil {
				st := rs.Status
				st.Conditions = nil
				if !equality(st, *tc.wantStatus) {
					t.Errorf("status = %+v, want %+v", st, *tc.wantStatus)
				}
			}
			hasFailure := getCondition(rs.Status, appsv1.ReplicaSetReplicaFailure) != nil
			if hasFailure != (tc.createErr != nil) {
				t.Errorf("ReplicaFailure condition present = %v, want %v", hasFailure, tc.createErr != nil)
			}
			if hasFailure && !strings.Contains(getCondition(rs.Status, appsv1.ReplicaSetReplicaFailure).Message, "quota exceeded") {
				t.Errorf("condition message does not carry the error: %+v", rs.Status.Conditions)
			}
		})
	}
}

func TestExpectationsHoldBackSecondSync(t *testing.T) {
	rs := newRS("hello", 2)
	f := newFixture(t, []*appsv1.ReplicaSet{rs}, nil)
	ctx := context.Background()
	if err := f.ctrl.sync(ctx, "default/hello"); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	// The informer has not seen the two new pods yet: a second sync must not
	// create two more.
	if err := f.ctrl.sync(ctx, "default/hello"); err != nil {
		t.Fatal(err)
	}
	for _, a := range controllertest.FilterActions(f.client.Actions()) {
		if strings.HasPrefix(a, "create pods") {
			t.Fatalf("second sync created a pod before the first ones were observed: %v", a)
		}
	}
	// Once both creations are observed, a sync acts again.
	pods, _ := f.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	for i := range pods.Items {
		f.ctrl.addPod(&pods.Items[i])
	}
	if !f.ctrl.expectations.Satisfied("default/hello") {
		t.Fatal("expectations not satisfied after observing both creations")
	}
}
