package agent_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/bosun-k8s/bosun/internal/agent"
	"github.com/bosun-k8s/bosun/internal/certs"
	"github.com/bosun-k8s/bosun/internal/images"
	"github.com/bosun-k8s/bosun/internal/kubelet"
	"github.com/bosun-k8s/bosun/internal/reap"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// testNode is an agent with its own containerd against a test API server.
type testNode struct {
	agent  *agent.Agent
	client kubernetes.Interface
	dir    string
	name   string
	cidr   string
}

// startNode runs an agent on a real API server, acts as the node IPAM
// controller (assigns a podCIDR) and waits for the node to be Ready. At the
// end every sandbox is removed and containerd and the bridge are stopped.
func startNode(t testing.TB, ts *testserver.Server, tlsCfg ...*tls.Config) *testNode {
	t.Helper()
	dir, err := os.MkdirTemp("", "ba")
	if err != nil {
		t.Fatal(err)
	}
	suffix := rand.IntN(100000)
	n := &testNode{client: ts.Client, dir: dir, name: fmt.Sprintf("node-%d", suffix), cidr: freeCIDR(100, 200)}
	bridge := fmt.Sprintf("ba%d", suffix)
	log := testLogger()
	cfg := agent.Config{
		RESTConfig: ts.RESTConfig, NodeName: n.name, NodeIP: "127.0.0.1", DataDir: dir, Bridge: bridge,
		Logger: log, ImageCacheDir: filepath.Join(os.TempDir(), "bosun-test-image-cache"),
		KubeletAddress: "127.0.0.1:0", RemovePodsOnExit: true,
	}
	if len(tlsCfg) > 0 {
		cfg.KubeletTLS = tlsCfg[0]
	}
	n.agent, err = agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("agent did not stop")
		}
		if err := n.agent.Cleanup(); err != nil {
			t.Errorf("network cleanup: %v", err)
		}
		if err := reap.Dir(dir); err != nil {
			t.Logf("reaping %s: %v", dir, err)
		}
		_ = os.RemoveAll(dir)
	})
	// The node IPAM controller's part.
	deadline := time.Now().Add(60 * time.Second)
	for {
		node, err := ts.Client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err == nil {
			if node.Spec.PodCIDR == "" {
				node.Spec.PodCIDR, node.Spec.PodCIDRs = n.cidr, []string{n.cidr}
				_, err = ts.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
			}
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never registered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-n.agent.Ready():
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(120 * time.Second):
		t.Fatal("agent not ready after 120s")
	}
	return n
}

// testLogger logs warnings, or everything with BOSUN_TEST_DEBUG set (the
// kubelet then logs how long each sandbox and container took to start).
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("BOSUN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func removeAllSandboxes(t testing.TB, socket string) {
	rt, err := kubelet.NewCRIRuntime(socket)
	if err != nil {
		return
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sbs, err := rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return
	}
	for _, sb := range sbs {
		_ = rt.StopPodSandbox(ctx, sb.Id)
		if err := rt.RemovePodSandbox(ctx, sb.Id); err != nil {
			t.Errorf("cleanup sandbox %s: %v", sb.Id, err)
		}
	}
}

func helloPod(name, node string) *v1.Pod {
	grace := int64(5)
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "hello"}},
		Spec: v1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{{
				Name: "hello", Image: images.HelloV1, ImagePullPolicy: v1.PullIfNotPresent,
				Env:   []v1.EnvVar{{Name: "SHUTDOWN_DELAY", Value: "1s"}},
				Ports: []v1.ContainerPort{{ContainerPort: 8080}},
			}},
		},
	}
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
			return p.Status.Phase == v1.PodRunning && p.Status.PodIP != ""
		}
	}
	return false
}

func poll(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
}

// TestAgentEndToEnd: a real API server, an agent with its own containerd;
// the node registers and is Ready with its lease; a pod created with
// client-go runs, answers HTTP on its IP, and a graceful delete removes it.
func TestAgentEndToEnd(t *testing.T) {
	ts := testserver.Start(t)
	// The kubelet API: a serving cert from a CA, clients must show one too.
	ca, err := certs.LoadOrCreateCA(t.TempDir(), "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	kubeletTLS, err := agent.KubeletTLS(ca, certDir, "test-node", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := ca.Issue(certDir, "apiserver-kubelet-client", certs.Leaf{CommonName: "kube-apiserver", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, ts, kubeletTLS)
	ctx := context.Background()

	node, err := ts.Client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
			ready = true
		}
	}
	if !ready || node.Status.Capacity.Pods().Value() != 110 || node.Status.Capacity.Cpu().IsZero() ||
		!strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") || node.Status.NodeInfo.KubeletVersion == "" {
		t.Errorf("node status: ready=%v capacity=%v nodeInfo=%+v", ready, node.Status.Capacity, node.Status.NodeInfo)
	}
	foundHello := false
	for _, im := range node.Status.Images {
		for _, name := range im.Names {
			if name == images.HelloV1 && im.SizeBytes > 0 {
				foundHello = true
			}
		}
	}
	if !foundHello {
		t.Errorf("node images %+v lack %s", node.Status.Images, images.HelloV1)
	}
	lease, err := ts.Client.CoordinationV1().Leases("kube-node-lease").Get(ctx, n.name, metav1.GetOptions{})
	if err != nil || lease.Spec.RenewTime == nil || *lease.Spec.HolderIdentity != n.name {
		t.Errorf("lease: %+v, %v", lease, err)
	}

	if _, err := ts.Client.CoreV1().Pods("default").Create(ctx, helloPod("elsewhere", "no-such-node"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created, err := ts.Client.CoreV1().Pods("default").Create(ctx, helloPod("hello-e2e", n.name), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pod *v1.Pod
	poll(t, "the pod to be Running and Ready", func() (bool, error) {
		pod, err = ts.Client.CoreV1().Pods("default").Get(ctx, "hello-e2e", metav1.GetOptions{})
		return err == nil && podReady(pod), err
	})
	if pod.Status.HostIP != "127.0.0.1" || len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].ImageID == "" {
		t.Errorf("status: %+v", pod.Status)
	}
	if other, err := ts.Client.CoreV1().Pods("default").Get(ctx, "elsewhere", metav1.GetOptions{}); err != nil || other.Status.PodIP != "" || other.Status.StartTime != nil {
		t.Errorf("the kubelet touched a pod of another node: %+v, %v", other.Status, err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + pod.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Hello from hello-e2e (v1)\n" {
		t.Errorf("pod answered %q", body)
	}

	// Logs through the kubelet's HTTPS API, as the API server's proxy reads them.
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert},
	}}}
	resp, err = hc.Get(fmt.Sprintf("https://127.0.0.1:%d/containerLogs/default/hello-e2e/hello", port))
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(logs), "hello v1 listening on :8080 as hello-e2e") {
		t.Errorf("logs via the kubelet API: %s %q", resp.Status, logs)
	}
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if resp, err := anon.Get(fmt.Sprintf("https://127.0.0.1:%d/pods", port)); err == nil {
		resp.Body.Close()
		t.Errorf("kubelet API answered a client without a certificate: %s", resp.Status)
	}

	uid := created.UID
	if err := ts.Client.CoreV1().Pods("default").Delete(ctx, "hello-e2e", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the kubelet to remove the pod object", func() (bool, error) {
		p, err := ts.Client.CoreV1().Pods("default").Get(ctx, "hello-e2e", metav1.GetOptions{})
		if err != nil {
			return true, nil
		}
		return p.UID != types.UID(uid), nil
	})
}

// TestAgentRestartAdoptsPods stops a node's agent (and its containerd)
// while a pod runs, deletes another pod meanwhile, and starts a new agent
// on the same data dir: the running pod is adopted without a restart and
// the deleted one is cleaned up.
func TestAgentRestartAdoptsPods(t *testing.T) {
	ts := testserver.Start(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ba")
	if err != nil {
		t.Fatal(err)
	}
	suffix := rand.IntN(100000)
	name, bridge, cidr := fmt.Sprintf("node-%d", suffix), fmt.Sprintf("ba%d", suffix), freeCIDR(100, 200)
	log := testLogger()
	var last *agent.Agent
	t.Cleanup(func() {
		if last != nil {
			if err := last.Cleanup(); err != nil {
				t.Errorf("network cleanup: %v", err)
			}
		}
		if err := reap.Dir(dir); err != nil {
			t.Logf("reaping %s: %v", dir, err)
		}
		_ = os.RemoveAll(dir)
	})
	run := func() (context.CancelFunc, chan error) {
		a, err := agent.New(agent.Config{RESTConfig: ts.RESTConfig, NodeName: name, NodeIP: "127.0.0.1", DataDir: dir, Bridge: bridge,
			Logger: log, ImageCacheDir: filepath.Join(os.TempDir(), "bosun-test-image-cache")})
		if err != nil {
			t.Fatal(err)
		}
		last = a
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx) }()
		poll(t, "node registration", func() (bool, error) {
			node, err := ts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if node.Spec.PodCIDR == "" {
				node.Spec.PodCIDR, node.Spec.PodCIDRs = cidr, []string{cidr}
				_, err = ts.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
			}
			return err == nil, err
		})
		select {
		case <-a.Ready():
		case err := <-done:
			t.Fatalf("agent stopped: %v", err)
		case <-time.After(120 * time.Second):
			t.Fatal("agent not ready")
		}
		return cancel, done
	}
	stop := func(cancel context.CancelFunc, done chan error) {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}

	cancel, done := run()
	for _, p := range []string{"keep", "gone"} {
		if _, err := ts.Client.CoreV1().Pods("default").Create(ctx, helloPod(p, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var before *v1.Pod
	poll(t, "both pods ready", func() (bool, error) {
		a, err := ts.Client.CoreV1().Pods("default").Get(ctx, "keep", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		b, err := ts.Client.CoreV1().Pods("default").Get(ctx, "gone", metav1.GetOptions{})
		before = a
		return err == nil && podReady(a) && podReady(b), err
	})
	stop(cancel, done)

	// While the node is down, "gone" is force-deleted.
	zero := int64(0)
	if err := ts.Client.CoreV1().Pods("default").Delete(ctx, "gone", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}

	cancel, done = run()
	defer func() {
		removeAllSandboxes(t, filepath.Join(dir, "containerd", "containerd.sock"))
		stop(cancel, done)
	}()
	poll(t, "the deleted pod's sandbox to be cleaned up", func() (bool, error) {
		rt, err := kubelet.NewCRIRuntime(filepath.Join(dir, "containerd", "containerd.sock"))
		if err != nil {
			return false, err
		}
		defer rt.Close()
		sbs, err := rt.ListPodSandbox(ctx, nil)
		return err == nil && len(sbs) == 1 && sbs[0].Metadata.Name == "keep", err
	})
	after, err := ts.Client.CoreV1().Pods("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 || !podReady(after) || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("not adopted as it was: before %s ip %s, after %s ip %s restarts %d ready %v",
			b.ContainerID, before.Status.PodIP, a.ContainerID, after.Status.PodIP, a.RestartCount, podReady(after))
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + after.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatalf("adopted pod does not answer: %v", err)
	}
	resp.Body.Close()
}

// TestAgentSurvivesContainerdCrash kills the supervised containerd while a
// pod runs: the pod keeps running untouched, and a pod created afterwards
// starts once containerd is back.
func TestAgentSurvivesContainerdCrash(t *testing.T) {
	ts := testserver.Start(t)
	n := startNode(t, ts)
	ctx := context.Background()
	pods := ts.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, helloPod("before", n.name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var before *v1.Pod
	poll(t, "the first pod ready", func() (bool, error) {
		p, err := pods.Get(ctx, "before", metav1.GetOptions{})
		before = p
		return err == nil && podReady(p), err
	})
	pidFile := filepath.Join(n.dir, "containerd", "containerd.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		t.Fatalf("pid file %q: %v", b, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, helloPod("after", n.name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the second pod ready after the crash", func() (bool, error) {
		p, err := pods.Get(ctx, "after", metav1.GetOptions{})
		return err == nil && podReady(p), err
	})
	after, err := pods.Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := after.Status.ContainerStatuses[0], before.Status.ContainerStatuses[0]; a.ContainerID != b.ContainerID || a.RestartCount != 0 || !podReady(after) {
		t.Errorf("first pod disturbed by the crash: before %+v after %+v", b, a)
	}
	if nb, err := os.ReadFile(pidFile); err != nil || string(nb) == string(b) {
		t.Errorf("containerd not restarted under a new pid: %q %v", nb, err)
	}
}
