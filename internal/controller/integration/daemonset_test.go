package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const dsManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: ds
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {role: worker}
      containers:
      - name: agent
        image: bosun.local/hello:v1
`

func TestDaemonSetWithKubectl(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	for _, n := range []struct{ name, role string }{{"w1", "worker"}, {"w2", "worker"}, {"db", "db"}} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{"role": n.role}}}
		if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	createNamespace(t, c, "ds")
	c.runKubeletMode(t, "ds", 20*time.Millisecond, true)
	mustKubectl(t, c, dsManifest, "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "ds", "rollout", "status", "ds/agent", "--timeout=60s")
	pods := activePods(t, c, "ds", "app=agent")
	if len(pods) != 2 {
		t.Fatalf("%d daemon pods, want one on each of the 2 workers", len(pods))
	}
	seen := map[string]bool{}
	for _, p := range pods {
		seen[targetOf(&p)] = true
	}
	if !seen["w1"] || !seen["w2"] {
		t.Errorf("daemon pods target %v, want w1 and w2", seen)
	}

	mustKubectl(t, c, "", "-n", "ds", "set", "image", "ds/agent", "agent=bosun.local/hello:v2")
	mustKubectl(t, c, "", "-n", "ds", "rollout", "status", "ds/agent", "--timeout=60s")
	for _, p := range activePods(t, c, "ds", "app=agent") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
			t.Errorf("pod %s runs %s after the update", p.Name, p.Spec.Containers[0].Image)
		}
	}
	hist := mustKubectl(t, c, "", "-n", "ds", "rollout", "history", "ds/agent")
	if !strings.Contains(hist, "1 ") || !strings.Contains(hist, "2 ") {
		t.Errorf("rollout history:\n%s", hist)
	}
	mustKubectl(t, c, "", "-n", "ds", "rollout", "undo", "ds/agent")
	mustKubectl(t, c, "", "-n", "ds", "rollout", "status", "ds/agent", "--timeout=60s")
	for _, p := range activePods(t, c, "ds", "app=agent") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v1" {
			t.Errorf("pod %s runs %s after undo", p.Name, p.Spec.Containers[0].Image)
		}
	}
	// A node that starts matching gets a pod.
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, "db", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"role":"worker"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a daemon pod on the relabelled node", func() (bool, error) {
		for _, p := range activePods(t, c, "ds", "app=agent") {
			if targetOf(&p) == "db" {
				return true, nil
			}
		}
		return false, nil
	})
}

func targetOf(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}
