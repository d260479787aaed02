package e2e

import (
	"strings"
	"testing"
	"time"
)

// waitFor polls a kubectl command until its output satisfies ok.
func (c *cluster) waitFor(what string, timeout time.Duration, ok func(string) bool, args ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	for time.Now().Before(deadline) {
		var err error
		out, err = c.kubectl(args...)
		if err == nil && ok(out) {
			return out
		}
		time.Sleep(500 * time.Millisecond)
	}
	c.t.Fatalf("%s: not reached within %v; last output:\n%s", what, timeout, out)
	return ""
}

// TestPodRunsOnTheNode: the seeds' first pod runs on the server's own node, gets its own IP and
// answers HTTP there.
func TestPodRunsOnTheNode(t *testing.T) {
	c := startNodeCluster(t)
	c.waitFor("node Ready", 120*time.Second, func(s string) bool { return strings.TrimSpace(s) == "True" },
		"get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
	c.must("apply", "-f", manifest("pod.yaml"))
	c.must("wait", "--for=condition=Ready", "pod/hello", "--timeout=120s")
	ip := strings.TrimSpace(c.must("get", "pod", "hello", "-o", "jsonpath={.status.podIP}"))
	if !strings.HasPrefix(ip, "10.42.") {
		t.Fatalf("pod IP %q not from the pod range", ip)
	}
	out, err := c.ns.Output(t.Context(), "curl", "-sf", "--max-time", "5", "http://"+ip+":8080/")
	if err != nil || !strings.Contains(out, "hello") {
		t.Errorf("curl pod: %v %q", err, out)
	}
	out = c.must("get", "pods", "-o", "wide")
	contains(t, "get pods -o wide", out, "hello", "1/1", "Running", ip)
}
