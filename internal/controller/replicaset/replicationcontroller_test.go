package replicaset

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

func TestReplicationController(t *testing.T) {
	two := int32(2)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rc-uid", Generation: 3},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &two, Selector: map[string]string{"app": "web"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}},
			},
		},
	}
	orphan := newPod("orphan", withLabels(map[string]string{"app": "web"}), onNode("n1"))
	client := fake.NewSimpleClientset(rc, orphan)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(10)
	c, err := NewReplicationController(Config{Client: client, Informers: factory, Recorder: rec,
		Clock: clocktesting.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_ = factory.Core().V1().ReplicationControllers().Informer().GetIndexer().Add(rc)
	_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(orphan)
	client.ClearActions()
	if err := c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"get replicationcontrollers default/web", "patch pods default/orphan",
		"create pods default/web-*", "update replicationcontrollers/status default/web",
	}
	if got := controllertest.FilterActions(client.Actions()); !slices.Equal(got, want) {
		t.Errorf("actions:\n got %q\nwant %q", got, want)
	}
	pods, _ := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		if p.Name == "orphan" {
			continue
		}
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.UID != "rc-uid" {
			t.Errorf("pod %s controller = %+v", p.Name, ref)
		}
	}
	got, _ := client.CoreV1().ReplicationControllers("default").Get(context.Background(), "web", metav1.GetOptions{})
	if got.Status.Replicas != 1 || got.Status.ObservedGeneration != 3 {
		t.Errorf("status = %+v", got.Status)
	}
}
