package scheduler_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/scheduler"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// kubectl runs the real kubectl against the test server and returns its output.
func kubectl(t *testing.T, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kubectlEventually polls a kubectl command until its output contains want.
func kubectlEventually(t *testing.T, kubeconfig, want string, args ...string) string {
	t.Helper()
	var out string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out = kubectl(t, kubeconfig, "", args...)
		if strings.Contains(out, want) {
			return out
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("kubectl %s never showed %q; last output:\n%s", strings.Join(args, " "), want, out)
	return ""
}

const kubectlPods = `
apiVersion: v1
kind: Pod
metadata: {name: ssd}
spec:
  nodeSelector: {disk: ssd}
  containers: [{name: c, image: bosun.local/hello:v1}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - name: c
    image: bosun.local/hello:v1
    resources: {requests: {cpu: "3"}}
---
apiVersion: v1
kind: Pod
metadata: {name: on-b}
spec:
  nodeSelector: {kubernetes.io/hostname: node-b}
  containers: [{name: c, image: bosun.local/hello:v1}]
`

// TestKubectlScheduling drives the scheduler the way a user does: kubectl cordons and
// taints nodes, applies pods, and reads why a pod is pending in kubectl describe.
func TestKubectlScheduling(t *testing.T) {
	ts := testserver.Start(t)
	c := ts.Client
	createNode(t, c, "node-a", "2", map[string]string{"disk": "ssd"})
	createNode(t, c, "node-b", "4", nil)
	createNode(t, c, "node-c", "4", nil)
	startScheduler(t, ts.RESTConfig, scheduler.Config{})
	kc := ts.Kubeconfig

	kubectl(t, kc, "", "cordon", "node-c")
	kubectl(t, kc, "", "taint", "nodes", "node-b", "dedicated=gpu:NoSchedule")
	kubectl(t, kc, kubectlPods, "apply", "-n", "default", "-f", "-")

	// nodeSelector: the only ssd node.
	kubectlEventually(t, kc, "node-a", "get", "pod", "ssd", "-o", "jsonpath={.spec.nodeName}")

	// Fits nowhere: too big for node-a, node-b repels it, node-c is cordoned.
	msg := "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable."
	out := kubectlEventually(t, kc, msg, "describe", "pod", "huge")
	if !strings.Contains(out, "FailedScheduling") {
		t.Fatalf("describe shows no FailedScheduling event:\n%s", out)
	}
	kubectlEventually(t, kc, "Unschedulable", "get", "pod", "huge", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}")

	// The taint repels a pod that can only go to node-b.
	kubectlEventually(t, kc, "node(s) had untolerated taint {dedicated: gpu}", "describe", "pod", "on-b")

	// Uncordoning node-c lets the big pod in: the only node it fits.
	kubectl(t, kc, "", "uncordon", "node-c")
	kubectlEventually(t, kc, "node-c", "get", "pod", "huge", "-o", "jsonpath={.spec.nodeName}")
	kubectlEventually(t, kc, "Successfully assigned default/huge to node-c", "describe", "pod", "huge")

	// Removing the taint lets the pinned pod in.
	kubectl(t, kc, "", "taint", "nodes", "node-b", "dedicated=gpu:NoSchedule-")
	kubectlEventually(t, kc, "node-b", "get", "pod", "on-b", "-o", "jsonpath={.spec.nodeName}")
}
