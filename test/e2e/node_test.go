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

// TestServicesReachPods runs the seeds' two pairs of pods and the NodePort service that selects
// only the west pair: the NodePort reaches both west pods and never an east one; from a pod the
// service answers by name, by ClusterIP, and the API answers as kubernetes.default.
func TestServicesReachPods(t *testing.T) {
	c := startNodeCluster(t)
	c.waitFor("node Ready", 120*time.Second, func(s string) bool { return strings.TrimSpace(s) == "True" },
		"get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
	c.must("apply", "-f", manifest("two-replicas-with-label.yaml"))
	c.must("apply", "-f", manifest("nodeport-service.yaml"))
	c.must("rollout", "status", "deployment/eva-west", "--timeout=120s")
	c.must("rollout", "status", "deployment/eva-east", "--timeout=120s")
	west := strings.Fields(c.must("get", "pods", "-l", "release=west", "-o", "jsonpath={.items[*].metadata.name}"))
	east := strings.Fields(c.must("get", "pods", "-l", "release=east", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(west) != 2 || len(east) != 2 {
		t.Fatalf("pods: west %v east %v", west, east)
	}
	c.waitFor("endpoints of eva", 60*time.Second, func(s string) bool { return len(strings.Fields(s)) == 2 },
		"get", "endpoints", "eva", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
	nodePort := strings.TrimSpace(c.must("get", "svc", "eva", "-o", "jsonpath={.spec.ports[0].nodePort}"))
	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		out, err := c.ns.Output(t.Context(), "curl", "-sf", "--max-time", "5", "http://"+netharnessNodeIP()+":"+nodePort+"/")
		if err != nil {
			t.Fatalf("curl NodePort: %v %q", err, out)
		}
		for _, p := range append(west, east...) {
			if strings.Contains(out, p) {
				seen[p]++
			}
		}
	}
	for _, p := range west {
		if seen[p] == 0 {
			t.Errorf("west pod %s never answered through the NodePort (%v)", p, seen)
		}
	}
	for _, p := range east {
		if seen[p] > 0 {
			t.Errorf("east pod %s answered through the west service", p)
		}
	}

	c.must("run", "client", "--image=bosun.local/busybox:1.36", "--restart=Never", "--", "sleep", "3600")
	c.must("wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
	clusterIP := strings.TrimSpace(c.must("get", "svc", "eva", "-o", "jsonpath={.spec.clusterIP}"))
	for _, url := range []string{"http://eva/", "http://" + clusterIP + "/", "http://eva.default.svc.cluster.local/"} {
		out := c.must("exec", "client", "--", "timeout", "5", "wget", "-qO-", url)
		if !strings.Contains(out, "eva-west") {
			t.Errorf("from a pod, %s answered %q", url, out)
		}
	}
	// The API server through its service. Busybox's TLS shares no cipher suite with the server,
	// so the server's TLS alert is the answer that proves the path (a refused or unrouted
	// connection says otherwise).
	out, _ := c.kubectl("exec", "client", "--", "timeout", "5", "wget", "-qO-", "--no-check-certificate", "https://kubernetes.default/version")
	if !strings.Contains(out, "v1.33") && !strings.Contains(out, "TLS error from peer") {
		t.Errorf("kubernetes.default from a pod: %q", out)
	}
	// Logs and exec through the API server's kubelet proxy.
	logs := c.must("logs", west[0])
	if strings.TrimSpace(logs) == "" {
		t.Errorf("kubectl logs %s printed nothing", west[0])
	}
	if out := c.must("exec", "client", "--", "hostname"); strings.TrimSpace(out) != "client" {
		t.Errorf("exec hostname = %q, want client", out)
	}
}

func netharnessNodeIP() string { return "192.0.2.1" }
