package e2e

import (
	"os"
	"path/filepath"
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
	// The pod runs as the default service account, and the token the kubelet put in its
	// volume lets a client in with nothing else.
	f := strings.Fields(c.must("get", "pod", "hello", "-o", "jsonpath={.metadata.uid} {.spec.serviceAccountName} {.spec.volumes[0].name}"))
	if len(f) != 3 || f[1] != "default" || !strings.HasPrefix(f[2], "kube-api-access-") {
		t.Fatalf("pod uid, service account, volume: %v", f)
	}
	token, err := os.ReadFile(filepath.Join(c.dir, "agent", "kubelet", "pods", f[0], "volumes", f[2], "token"))
	if err != nil {
		t.Fatalf("the token the kubelet wrote: %v", err)
	}
	server := c.must("config", "view", "-o", "jsonpath={.clusters[0].cluster.server}")
	asPod := []string{"--kubeconfig=/dev/null", "--server=" + server, "--certificate-authority=" + filepath.Join(c.dir, "tls", "ca.crt"),
		"--token=" + string(token)}
	out = c.must(append(asPod, "auth", "whoami")...)
	contains(t, "auth whoami with the pod's token", out, "system:serviceaccount:default:default", "authentication.kubernetes.io/pod-name", "[hello]")
	// RBAC: nothing more until a role is bound; then what the (aggregated) view role allows.
	out, err = c.kubectl(append(asPod, "get", "pod", "hello")...)
	if err == nil || !strings.Contains(out, `User "system:serviceaccount:default:default" cannot get resource "pods" in API group "" in the namespace "default"`) {
		t.Errorf("get pod with an unbound token: %v %s", err, out)
	}
	if out, err := c.kubectl(append(asPod, "auth", "can-i", "get", "pods")...); err == nil || strings.TrimSpace(out) != "no" {
		t.Errorf("auth can-i get pods, unbound: %v %q", err, out)
	}
	c.must("create", "rolebinding", "default-view", "--clusterrole=view", "--serviceaccount=default:default")
	c.waitFor("the view role to let the pod's token read pods", 30*time.Second,
		func(s string) bool { return strings.Contains(s, "pod/hello") }, append(asPod, "get", "pod", "hello", "-o", "name")...)
	if out, err := c.kubectl(append(asPod, "delete", "pod", "hello")...); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("delete with the view role: %v %s", err, out)
	}
	if out := c.must(append(asPod, "auth", "can-i", "list", "deployments.apps")...); strings.TrimSpace(out) != "yes" {
		t.Errorf("auth can-i list deployments with the view role: %q", out)
	}
	if out, err := c.kubectl("--kubeconfig=/dev/null", "--server="+server, "--certificate-authority="+filepath.Join(c.dir, "tls", "ca.crt"),
		"--token=forged", "get", "pods"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Errorf("a forged token: %v %s", err, out)
	}
	// cluster-info lists the control plane and the cluster DNS service.
	out = c.must("cluster-info")
	contains(t, "cluster-info", out, "Kubernetes control plane is running at", "is running at", "kube-dns")
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
	// The API server through its service. Busybox's TLS 1.2 client sends no
	// signature_algorithms, which Go's TLS servers (upstream's too) refuse: the server's TLS alert
	// is the answer that proves the path (a refused or unrouted connection says otherwise).
	out, _ := c.kubectl("exec", "client", "--", "timeout", "5", "wget", "-qO-", "--no-check-certificate", "https://kubernetes.default/version")
	if !strings.Contains(out, "v1.33") && !strings.Contains(out, "TLS error from peer") {
		t.Errorf("kubernetes.default from a pod: %q", out)
	}
	// The same service from the node, with a TLS client that speaks the server's suites.
	if out, err := c.ns.Output(t.Context(), "curl", "-sk", "--max-time", "5", "https://10.43.0.1/version"); err != nil || !strings.Contains(out, `"gitVersion": "v1.33`) && !strings.Contains(out, `"gitVersion":"v1.33`) {
		t.Errorf("https://10.43.0.1/version from the node: %v %q", err, out)
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

// TestRollingUpdateAndUndo: the seeds' deployment rolls from v1 to v2 one pod at a time with
// never fewer than three available (maxUnavailable 25% of 3 rounds to 0), records history with
// change-cause, and rolls back to revision 1.
func TestRollingUpdateAndUndo(t *testing.T) {
	c := startNodeCluster(t)
	c.waitFor("node Ready", 120*time.Second, func(s string) bool { return strings.TrimSpace(s) == "True" },
		"get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
	c.must("apply", "-f", manifest("simple-deployment.yaml"))
	c.must("annotate", "deployment/hello", "kubernetes.io/change-cause=first version")
	c.must("rollout", "status", "deployment/hello", "--timeout=120s")

	stop := make(chan struct{})
	minAvailable := make(chan int, 1)
	go func() {
		low := 3
		for {
			select {
			case <-stop:
				minAvailable <- low
				return
			default:
			}
			out, err := c.kubectl("get", "deployment", "hello", "-o", "jsonpath={.status.availableReplicas}")
			if n, ok := atoi(out); err == nil && ok && n < low {
				low = n
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	c.must("apply", "-f", manifest("deployment-update.yaml"))
	c.must("annotate", "deployment/hello", "kubernetes.io/change-cause=second version", "--overwrite")
	c.must("rollout", "status", "deployment/hello", "--timeout=180s")
	close(stop)
	if low := <-minAvailable; low < 3 {
		t.Errorf("available replicas dropped to %d during the rolling update", low)
	}
	// Old pods may still be terminating (hello keeps serving a few seconds after SIGTERM).
	c.waitFor("only v2 pods after the update", 120*time.Second, func(s string) bool {
		return strings.Count(s, "bosun.local/hello:v2") == 3 && !strings.Contains(s, ":v1")
	}, "get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].spec.containers[0].image}")
	hist := c.must("rollout", "history", "deployment/hello")
	contains(t, "rollout history", hist, "REVISION", "CHANGE-CAUSE", "1 ", "2 ", "second version")

	c.must("rollout", "undo", "deployment/hello", "--to-revision=1")
	c.must("rollout", "status", "deployment/hello", "--timeout=180s")
	if img := c.must("get", "deployment", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "bosun.local/hello:v1" {
		t.Errorf("image after undo: %s", img)
	}
	c.waitFor("v1 pods after undo", 120*time.Second, func(s string) bool {
		return strings.Count(s, "bosun.local/hello:v1") == 3 && !strings.Contains(s, ":v2")
	}, "get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].spec.containers[0].image}")
}

func atoi(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// TestZeroDowntimeAndLoadBalancer: requests through a NodePort never fail while the seeds'
// deployment rolls from v1 to v2; scaling changes the service's endpoints; a LoadBalancer
// service gets an address that answers.
func TestZeroDowntimeAndLoadBalancer(t *testing.T) {
	c := startNodeCluster(t)
	c.waitNodeReady()
	c.must("apply", "-f", manifest("simple-deployment.yaml"))
	c.must("expose", "deployment", "hello", "--type=NodePort", "--port=80", "--target-port=8080")
	c.must("rollout", "status", "deployment/hello", "--timeout=120s")
	c.waitFor("3 endpoints", 60*time.Second, func(s string) bool { return count(s) == 3 },
		"get", "endpoints", "hello", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
	nodePort := strings.TrimSpace(c.must("get", "svc", "hello", "-o", "jsonpath={.spec.ports[0].nodePort}"))
	url := "http://" + netharnessNodeIP() + ":" + nodePort + "/"

	// Continuous requests during the rolling update.
	load := c.ns.Command(t.Context(), "sh", "-c",
		`while [ ! -e "$STOP" ]; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 3 "$URL"; done`)
	stopFile := c.dir + "/stop-load"
	load.Env = append(load.Environ(), "URL="+url, "STOP="+stopFile)
	var codes strings.Builder
	load.Stdout = &codes
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c.must("apply", "-f", manifest("deployment-update.yaml"))
	c.must("rollout", "status", "deployment/hello", "--timeout=180s")
	// Old pods finish terminating while requests continue.
	c.waitFor("old pods gone", 120*time.Second, func(s string) bool { return !strings.Contains(s, ":v1") },
		"get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].spec.containers[0].image}")
	if err := writeFile(stopFile); err != nil {
		t.Fatal(err)
	}
	_ = load.Wait()
	total, failed := 0, 0
	for _, line := range strings.Fields(codes.String()) {
		total++
		if line != "200" {
			failed++
		}
	}
	if total < 20 || failed > 0 {
		t.Errorf("during the rolling update: %d of %d requests failed", failed, total)
	}
	t.Logf("rolling update under load: %d requests, %d failed", total, failed)

	// Scaling changes the endpoints.
	c.must("scale", "deployment/hello", "--replicas=1")
	c.waitFor("1 endpoint", 120*time.Second, func(s string) bool { return count(s) == 1 },
		"get", "endpoints", "hello", "-o", "jsonpath={.subsets[*].addresses[*].ip}")

	// LoadBalancer: an address from the node, answering.
	c.must("expose", "deployment", "hello", "--name=hello-lb", "--type=LoadBalancer", "--port=8081", "--target-port=8080")
	lb := c.waitFor("load balancer address", 60*time.Second, func(s string) bool { return strings.TrimSpace(s) != "" },
		"get", "svc", "hello-lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	out, err := c.ns.Output(t.Context(), "curl", "-sf", "--max-time", "5", "http://"+strings.TrimSpace(lb)+":8081/")
	if err != nil || !strings.Contains(out, "hello") {
		t.Errorf("curl load balancer %s: %v %q", lb, err, out)
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("stop"), 0o644) }

// TestStreamingThroughTheAPI: kubectl port-forward, cp, attach and logs -f reach containers
// through the API server's kubelet proxy.
func TestStreamingThroughTheAPI(t *testing.T) {
	c := startNodeCluster(t)
	c.waitNodeReady()
	c.must("apply", "-f", manifest("pod.yaml"))
	c.must("run", "box", "--image=bosun.local/busybox:1.36", "--restart=Never", "--", "sh", "-c", "while true; do echo tick; sleep 1; done")
	c.must("wait", "--for=condition=Ready", "pod/hello", "pod/box", "--timeout=120s")

	// port-forward: a local port inside the test's namespace reaches the pod's 8080.
	pf := c.ns.Command(t.Context(), "/usr/bin/kubectl", "port-forward", "pod/hello", "18080:8080")
	pf.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+c.home)
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	var out string
	var err error
	for time.Now().Before(deadline) {
		out, err = c.ns.Output(t.Context(), "curl", "-sf", "--max-time", "3", "http://127.0.0.1:18080/")
		if err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "hello") {
		t.Errorf("through port-forward: %v %q", err, out)
	}

	// cp into a container and back out.
	src := c.dir + "/copied.txt"
	if err := os.WriteFile(src, []byte("carried by kubectl cp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("cp", src, "box:/tmp/copied.txt")
	if got := c.must("exec", "box", "--", "cat", "/tmp/copied.txt"); got != "carried by kubectl cp\n" {
		t.Errorf("file in the container: %q", got)
	}
	back := c.dir + "/back.txt"
	c.must("cp", "box:/tmp/copied.txt", back)
	if data, err := os.ReadFile(back); err != nil || string(data) != "carried by kubectl cp\n" {
		t.Errorf("file copied back: %q %v", data, err)
	}

	// attach and logs -f see the running output.
	for _, args := range [][]string{{"attach", "box"}, {"logs", "-f", "box"}} {
		out, _ := c.kubectlTimeout(4*time.Second, args...)
		if !strings.Contains(out, "tick") {
			t.Errorf("kubectl %s: %q", strings.Join(args, " "), out)
		}
	}
}
