package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestReplicaSetKeepsReplicas(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "rs")
	c.runKubelet(t, "rs", 50*time.Millisecond)
	three := int32(3)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: "rs"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &three,
			Selector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"tier": "frontend"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"dev"}}},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "frontend"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: "bosun.local/hello:v1"}}},
			},
		},
	}
	if _, err := c.client.AppsV1().ReplicaSets("rs").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReady := func(n int32) {
		t.Helper()
		eventually(t, "replicaset status", func() (bool, error) {
			got, err := c.client.AppsV1().ReplicaSets("rs").Get(ctx, "frontend", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			pods := activePods(t, c, "rs", "tier=frontend")
			return got.Status.Replicas == n && got.Status.ReadyReplicas == n && got.Status.AvailableReplicas == n &&
				got.Status.FullyLabeledReplicas == n && got.Status.ObservedGeneration == got.Generation && len(pods) == int(n), nil
		})
	}
	waitReady(3)

	// Force-delete a pod: a new one takes its place.
	pods := activePods(t, c, "rs", "tier=frontend")
	victim := pods[0].Name
	zero := int64(0)
	if err := c.client.CoreV1().Pods("rs").Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a replacement pod", func() (bool, error) {
		pods := activePods(t, c, "rs", "tier=frontend")
		for _, p := range pods {
			if p.Name == victim {
				return false, nil
			}
		}
		return len(pods) == 3, nil
	})
	waitReady(3)

	// Scale up and down.
	for _, n := range []int32{5, 1} {
		patch := []byte(`{"spec":{"replicas":` + itoa(n) + `}}`)
		if _, err := c.client.AppsV1().ReplicaSets("rs").Patch(ctx, "frontend", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		waitReady(n)
	}

	// Pods are owned by the ReplicaSet through a controller reference.
	for _, p := range activePods(t, c, "rs", "tier=frontend") {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicaSet" || ref.Name != "frontend" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s owner reference = %+v", p.Name, ref)
		}
	}
	// Relabelling a pod out of the selector releases it and a new one is made.
	p := activePods(t, c, "rs", "tier=frontend")[0]
	if _, err := c.client.CoreV1().Pods("rs").Patch(ctx, p.Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"env":"dev"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relabelled pod to be released and replaced", func() (bool, error) {
		got, err := c.client.CoreV1().Pods("rs").Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return metav1.GetControllerOf(got) == nil && len(activePods(t, c, "rs", "tier=frontend,env!=dev")) == 1, nil
	})
	ev := eventsFor(t, c, "rs", "frontend")
	for _, want := range []string{"SuccessfulCreate Created pod: frontend-", "SuccessfulDelete Deleted pod: frontend-"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events of the ReplicaSet lack %q:\n%s", want, ev)
		}
	}
}

func itoa(n int32) string {
	return strconv.Itoa(int(n))
}

const rcManifest = `apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
  namespace: rc
spec:
  replicas: 2
  selector:
    app: legacy
  template:
    metadata:
      labels:
        app: legacy
    spec:
      containers:
      - name: hello
        image: bosun.local/hello:v1
`

func TestReplicationController(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "rc")
	c.runKubelet(t, "rc", 20*time.Millisecond)
	mustKubectl(t, c, rcManifest, "apply", "-f", "-")
	waitRC := func(n int32) {
		t.Helper()
		eventually(t, "replicationcontroller status", func() (bool, error) {
			rc, err := c.client.CoreV1().ReplicationControllers("rc").Get(ctx, "legacy", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return rc.Status.Replicas == n && rc.Status.ReadyReplicas == n && rc.Status.AvailableReplicas == n &&
				rc.Status.ObservedGeneration == rc.Generation && len(activePods(t, c, "rc", "app=legacy")) == int(n), nil
		})
	}
	waitRC(2)
	mustKubectl(t, c, "", "-n", "rc", "scale", "rc/legacy", "--replicas=4")
	waitRC(4)
	for _, p := range activePods(t, c, "rc", "app=legacy") {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "ReplicationController" {
			t.Errorf("pod %s owner = %+v", p.Name, ref)
		}
	}
	if ev := eventsFor(t, c, "rc", "legacy"); !strings.Contains(ev, "SuccessfulCreate Created pod: legacy-") {
		t.Errorf("events: %s", ev)
	}
	mustKubectl(t, c, "", "-n", "rc", "delete", "rc/legacy")
	eventually(t, "the pods to be collected", func() (bool, error) {
		return len(activePods(t, c, "rc", "app=legacy")) == 0, nil
	})
}
