package statefulset

import (
	"context"
	"fmt"
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

func newSet(n int32, image string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "sts-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &n, ServiceName: "nginx",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}}},
		},
	}
}

func pod(set *appsv1.StatefulSet, ordinal int, rev string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", ordinal), Namespace: "default", UID: types.UID(fmt.Sprint("p", ordinal)),
			Labels:          map[string]string{"app": "web", RevisionHashLabel: rev},
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(set, stsKind)}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if ready {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	return p
}

func revName(set *appsv1.StatefulSet) string {
	return set.Name + "-" + controllerutil.ComputeHash(&set.Spec.Template, nil)
}

func run(t *testing.T, set *appsv1.StatefulSet, objs ...runtime.Object) []string {
	t.Helper()
	client := fake.NewSimpleClientset(append([]runtime.Object{set}, objs...)...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(100),
		Clock: clocktesting.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_ = factory.Apps().V1().StatefulSets().Informer().GetIndexer().Add(set)
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(x)
		case *appsv1.ControllerRevision:
			_ = factory.Apps().V1().ControllerRevisions().Informer().GetIndexer().Add(x)
		}
	}
	client.ClearActions()
	if err := c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range controllertest.FilterActions(client.Actions()) {
		if !strings.HasPrefix(a, "update statefulsets/status") && !strings.HasPrefix(a, "create controllerrevisions") {
			out = append(out, a)
		}
	}
	return out
}

func revisionFor(set *appsv1.StatefulSet) *appsv1.ControllerRevision {
	data, _ := revisionPatch(set)
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: revName(set), Namespace: "default",
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(set, stsKind)}},
		Data: runtime.RawExtension{Raw: data}, Revision: 1,
	}
}

func TestOrderedCreationWaitsForReadiness(t *testing.T) {
	set := newSet(3, "v1")
	if got, want := run(t, set), []string{"create persistentvolumeclaims default/data-web-0", "create pods default/web-0"}; !slices.Equal(got, want) {
		t.Errorf("empty set: %q, want %q", got, want)
	}
	rev := revName(set)
	if got := run(t, set, revisionFor(set), pod(set, 0, rev, false)); len(got) != 0 {
		t.Errorf("created past a pod that is not ready: %q", got)
	}
	got := run(t, set, revisionFor(set), pod(set, 0, rev, true))
	want := []string{"create persistentvolumeclaims default/data-web-1", "create pods default/web-1"}
	if !slices.Equal(got, want) {
		t.Errorf("after web-0 ready: %q, want %q", got, want)
	}
}

func TestParallelCreatesAll(t *testing.T) {
	set := newSet(3, "v1")
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.VolumeClaimTemplates = nil
	got := run(t, set)
	want := []string{"create pods default/web-0", "create pods default/web-1", "create pods default/web-2"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestScaleDownHighestFirst(t *testing.T) {
	set := newSet(1, "v1")
	rev := revName(set)
	got := run(t, set, revisionFor(set), pod(set, 0, rev, true), pod(set, 1, rev, true), pod(set, 2, rev, true))
	if want := []string{"delete pods default/web-2"}; !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestRollingUpdateFromTheTop(t *testing.T) {
	old := newSet(3, "v1")
	set := newSet(3, "v2")
	oldRev := revisionFor(old)
	got := run(t, set, oldRev, pod(set, 0, oldRev.Name, true), pod(set, 1, oldRev.Name, true), pod(set, 2, oldRev.Name, true))
	if want := []string{"delete pods default/web-2"}; !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	p := int32(2)
	set.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &p}
	newRev := revName(set)
	got = run(t, set, oldRev, revisionFor(set), pod(set, 0, oldRev.Name, true), pod(set, 1, oldRev.Name, true), pod(set, 2, newRev, true))
	if len(got) != 0 {
		t.Errorf("updated below the partition: %q", got)
	}
}
