package kubelet

import (
	"context"
	"net/http/httptest"
	"net/url"

	"fmt"
	"github.com/gorilla/websocket"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-k8s/bosun/internal/containerd"
	"github.com/bosun-k8s/bosun/internal/images"
	"github.com/bosun-k8s/bosun/internal/reap"
)

// realNode is a supervised containerd with bosun's images, in a short
// temporary directory, torn down (sandboxes, containerd, bridge) at the end.
type realNode struct {
	dir    string
	sup    *containerd.Supervisor
	rt     *CRIRuntime
	bridge string
	cidr   string
}

func startRealNode(t *testing.T) *realNode { return startRealNodeB(t) }

func startRealNodeB(t testing.TB) *realNode {
	t.Helper()
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	n := &realNode{dir: dir, bridge: fmt.Sprintf("bk%d", rand.IntN(100000)), cidr: freeCIDR(200, 250)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n.sup, err = containerd.New(containerd.Config{DataDir: dir, PodCIDR: n.cidr, Bridge: n.bridge, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.sup.Run(ctx) }()
	t.Cleanup(func() {
		n.removeAll(t)
		cancel()
		<-done
		if err := n.sup.Cleanup(); err != nil {
			t.Errorf("network cleanup: %v", err)
		}
		// Anything still mounted under the dir (should be nothing).
		if out, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(out), dir) {
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir) {
					t.Errorf("left mounted: %s", f[1])
					_ = exec.Command("umount", "-l", f[1]).Run()
				}
			}
		}
		if err := reap.Dir(dir); err != nil {
			t.Logf("reaping %s: %v", dir, err)
		}
		_ = os.RemoveAll(dir)
	})
	select {
	case <-n.sup.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("containerd not ready")
	}
	b, err := images.New(images.Config{CacheDir: filepath.Join(os.TempDir(), "bosun-test-image-cache")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureLoaded(ctx, n.sup.Endpoint()); err != nil {
		t.Fatal(err)
	}
	n.rt, err = NewCRIRuntime(n.sup.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// removeAll stops and removes every sandbox in this node's containerd.
func (n *realNode) removeAll(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sbs, err := n.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, sb := range sbs {
		if err := n.rt.StopPodSandbox(ctx, sb.Id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := n.rt.RemovePodSandbox(ctx, sb.Id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = os.RemoveAll(filepath.Join("/run/containerd/runc/k8s.io", sb.Id))
	}
}

func httpGetBody(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRealPodLifecycle runs a hello pod on the real containerd through the
// kubelet, talks to it on its pod IP, deletes it gracefully and checks that
// nothing is left in the runtime.
func TestRealPodLifecycle(t *testing.T) {
	n := startRealNode(t)
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kl, err := New(Config{Client: client, NodeName: testNode, NodeIP: "127.0.0.1", Runtime: n.rt, DataDir: filepath.Join(n.dir, "kubelet"),
		ClusterDNS: "10.43.0.10", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h := &harness{t: t, client: client}

	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: types.UID(fmt.Sprintf("uid-real-%d", rand.IntN(1e6)))},
		Spec: v1.PodSpec{
			NodeName: testNode, RestartPolicy: v1.RestartPolicyAlways,
			Volumes: []v1.Volume{{Name: "shared", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
			InitContainers: []v1.Container{{
				Name: "prepare", Image: images.Busybox, ImagePullPolicy: v1.PullNever,
				Command:      []string{"sh", "-c", "echo prepared > /shared/note"},
				VolumeMounts: []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}},
			Containers: []v1.Container{{
				Name: "web", Image: images.HelloV1, ImagePullPolicy: v1.PullIfNotPresent,
				Env:            []v1.EnvVar{{Name: "SHUTDOWN_DELAY", Value: "1s"}},
				Ports:          []v1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intOrStr(8080)}}, PeriodSeconds: 1},
				VolumeMounts:   []v1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}, {
				Name: "side", Image: images.Busybox,
				Command: []string{"sh", "-c", "echo side says hi; echo line two; trap 'exit 0' TERM; sleep 3600 & wait"},
			}},
		},
	}
	start := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := h.waitPod("default", "hello", "Ready", func(p *v1.Pod) bool {
		c := findCondition(p.Status.Conditions, v1.PodReady)
		return c != nil && c.Status == v1.ConditionTrue
	})
	t.Logf("create → Ready: %v", time.Since(start))
	if !strings.HasPrefix(p.Status.PodIP, strings.TrimSuffix(n.cidr, "0/24")) {
		t.Errorf("pod IP %s not in %s", p.Status.PodIP, n.cidr)
	}
	body, err := httpGetBody("http://" + p.Status.PodIP + ":8080/")
	if err != nil || body != "Hello from hello (v1)\n" {
		t.Errorf("GET pod: %q, %v", body, err)
	}
	// The init container wrote into the shared emptyDir.
	cs := p.Status.ContainerStatuses[0]
	if cs.Name != "web" {
		cs = p.Status.ContainerStatuses[1]
	}
	if cs.ImageID == "" || cs.Image != images.HelloV1 {
		t.Errorf("image %q imageID %q", cs.Image, cs.ImageID)
	}
	note, err := os.ReadFile(filepath.Join(kl.volumesDir(pod.UID), "shared", "note"))
	if err != nil || string(note) != "prepared\n" {
		t.Errorf("emptyDir note %q, %v", note, err)
	}

	// The kubelet's HTTP API: logs and exec (SPDY, proxied to containerd).
	srv := httptest.NewServer(kl.Handler())
	defer srv.Close()
	// The side container writes its two lines right after it starts, which may be just after
	// the pod turned Ready: wait for them.
	var logs string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if logs, err = httpGetBody(srv.URL + "/containerLogs/default/hello/side"); err == nil && logs == "side says hi\nline two\n" {
			break
		}
	}
	if err != nil || logs != "side says hi\nline two\n" {
		t.Errorf("logs: %q, %v", logs, err)
	}
	logs, err = httpGetBody(srv.URL + "/containerLogs/default/hello/side?tailLines=1&timestamps=true")
	if f := strings.SplitN(logs, " ", 2); err != nil || len(f) != 2 || f[1] != "line two\n" {
		t.Errorf("tail with timestamps: %q, %v", logs, err)
	} else if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
		t.Errorf("timestamp %q: %v", f[0], err)
	}
	out, err := wsExec(srv.URL + "/exec/default/hello/side?command=cat&command=/etc/hostname&output=1&error=1")
	if err != nil || out != "hello\n" {
		t.Errorf("exec output %q, %v", out, err)
	}

	// Port-forward over WebSocket (channel.k8s.io v4: per port a data and
	// an error channel, each first sending the port number).
	resp, err := wsPortForward(srv.URL+"/portForward/default/hello?ports=8080", 8080, "GET / HTTP/1.0\r\n\r\n")
	if err != nil || !strings.Contains(resp, "Hello from hello (v1)") {
		t.Errorf("port-forward: %q, %v", resp, err)
	}

	// Graceful delete: the kubelet stops everything and deletes the object.
	h.markDeleted("default", "hello", 10)
	h.waitFor("the pod object to be deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		return err != nil
	})
	h.waitFor("the runtime to be empty", func() bool {
		sbs, err := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
		cs, err2 := n.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
		return err == nil && err2 == nil && len(sbs) == 0 && len(cs) == 0
	})
	if _, err := os.Stat(kl.podDir(pod.UID)); !os.IsNotExist(err) {
		t.Errorf("pod dir left behind: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// wsExec runs an exec session over the channel.k8s.io WebSocket protocol
// (each binary message: one byte stream id, then data) and returns stdout.
func wsExec(httpURL string) (string, error) {
	u := "ws" + strings.TrimPrefix(httpURL, "http")
	d := websocket.Dialer{Subprotocols: []string{"v4.channel.k8s.io", "channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			return "", fmt.Errorf("%w: %s %s", err, resp.Status, b)
		}
		return "", err
	}
	defer conn.Close()
	var stdout strings.Builder
	for {
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) || strings.Contains(err.Error(), "EOF") {
				return stdout.String(), nil
			}
			return stdout.String(), err
		}
		if len(msg) > 0 && msg[0] == 1 {
			stdout.Write(msg[1:])
		}
		if len(msg) > 1 && msg[0] == 3 && !strings.Contains(string(msg[1:]), "Success") {
			return stdout.String(), fmt.Errorf("exec error: %s", msg[1:])
		}
	}
}

// TestRealExitCodesLimitsAndOOM: a run-to-completion pod whose containers
// exit with a code and a termination message, read their cgroup limits,
// and run out of memory; the status reports each as upstream does.
func TestRealExitCodesLimitsAndOOM(t *testing.T) {
	n := startRealNode(t)
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kl, err := New(Config{Client: client, NodeName: testNode, NodeIP: "127.0.0.1", Runtime: n.rt, DataDir: filepath.Join(n.dir, "kubelet"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h := &harness{t: t, client: client}

	uid1000, yes := int64(1000), true
	limits := v1.ResourceRequirements{Limits: v1.ResourceList{
		v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("32Mi"),
	}}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: "default", UID: types.UID(fmt.Sprintf("uid-batch-%d", rand.IntN(1e6)))},
		Spec: v1.PodSpec{
			NodeName: testNode, RestartPolicy: v1.RestartPolicyNever,
			Containers: []v1.Container{
				{Name: "exit3", Image: images.Busybox, Command: []string{"sh", "-c", "echo -n bye > /dev/termination-log; exit 3"}},
				{Name: "limits", Image: images.Busybox, Resources: limits, Command: []string{"sh", "-c",
					"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/memory/memory.limit_in_bytes > /dev/termination-log"}},
				{Name: "oom", Image: images.Busybox, Resources: limits, Command: []string{"sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done"}},
				{Name: "sec", Image: images.Busybox, SecurityContext: &v1.SecurityContext{RunAsUser: &uid1000, ReadOnlyRootFilesystem: &yes,
					Capabilities: &v1.Capabilities{Drop: []v1.Capability{"ALL"}}},
					Command: []string{"sh", "-c", "id -u > /dev/termination-log; (touch /x 2>/dev/null && echo writable || echo readonly) >> /dev/termination-log; grep CapEff /proc/self/status | tr -d '\\t' >> /dev/termination-log"}},
				{Name: "mem", Image: images.Busybox, Command: []string{"sh", "-c", "grep ' /cache ' /proc/mounts | cut -d' ' -f3 > /dev/termination-log"},
					VolumeMounts: []v1.VolumeMount{{Name: "cache", MountPath: "/cache"}}},
			},
			Volumes: []v1.Volume{{Name: "cache", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}}},
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := h.waitPod("default", "batch", "Failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	byName := map[string]*v1.ContainerStateTerminated{}
	for _, cs := range p.Status.ContainerStatuses {
		byName[cs.Name] = cs.State.Terminated
	}
	if s := byName["exit3"]; s == nil || s.ExitCode != 3 || s.Reason != "Error" || s.Message != "bye" {
		t.Errorf("exit3: %+v", s)
	}
	if s := byName["limits"]; s == nil || s.ExitCode != 0 || s.Reason != "Completed" || s.Message != "25000\n33554432\n" {
		t.Errorf("limits: %+v", s)
	}
	if s := byName["oom"]; s == nil || s.ExitCode != 137 || s.Reason != "OOMKilled" {
		t.Errorf("oom: %+v", s)
	}
	if s := byName["sec"]; s == nil || s.Message != "1000\nreadonly\nCapEff:0000000000000000\n" {
		t.Errorf("securityContext: %+v", s)
	}
	if s := byName["mem"]; s == nil || s.Message != "tmpfs\n" {
		t.Errorf("memory emptyDir: %+v", s)
	}
	// Delete it: containers and sandbox go.
	h.markDeleted("default", "batch", 30)
	h.waitFor("the runtime to be empty", func() bool {
		sbs, err := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
		cs, err2 := n.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
		return err == nil && err2 == nil && len(sbs) == 0 && len(cs) == 0
	})
}

// wsPortForward forwards one connection to port over the kubelet's
// portForward endpoint, sends req and returns what comes back.
func wsPortForward(httpURL string, port int, req string) (string, error) {
	u := "ws" + strings.TrimPrefix(httpURL, "http")
	d := websocket.Dialer{Subprotocols: []string{"v4.channel.k8s.io", "channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			return "", fmt.Errorf("%w: %s %s", err, resp.Status, b)
		}
		return "", err
	}
	defer conn.Close()
	// The server first announces the port on both channels.
	for i := 0; i < 2; i++ {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, msg, err := conn.ReadMessage(); err != nil {
			return "", fmt.Errorf("announcement %d: %w (subprotocol %q)", i, err, conn.Subprotocol())
		} else if len(msg) != 3 || int(msg[1])|int(msg[2])<<8 != port {
			return "", fmt.Errorf("unexpected port announcement %v", msg)
		}
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, req...)); err != nil {
		return "", err
	}
	var out strings.Builder
	for {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if out.Len() > 0 {
				return out.String(), nil
			}
			return "", err
		}
		if len(msg) > 1 && msg[0] == 0 {
			out.Write(msg[1:])
			if strings.Contains(out.String(), "\n") && strings.Contains(out.String(), "Hello") {
				return out.String(), nil
			}
		}
		if len(msg) > 1 && msg[0] == 1 {
			return out.String(), fmt.Errorf("port-forward error: %s", msg[1:])
		}
	}
}

// TestRealProbesAndCrashLoop: a liveness probe that fails restarts its
// container, a crashing container goes into CrashLoopBackOff with its exit
// code in lastState, and an exec readiness probe makes its container ready.
func TestRealProbesAndCrashLoop(t *testing.T) {
	n := startRealNode(t)
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	kl, err := New(Config{Client: client, NodeName: testNode, NodeIP: "127.0.0.1", Runtime: n.rt, DataDir: filepath.Join(n.dir, "kubelet"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h := &harness{t: t, client: client}

	grace := int64(2)
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probes", Namespace: "default", UID: types.UID(fmt.Sprintf("uid-probes-%d", rand.IntN(1e6)))},
		Spec: v1.PodSpec{
			NodeName: testNode, RestartPolicy: v1.RestartPolicyAlways, TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{
				{Name: "live", Image: images.HelloV1, Env: []v1.EnvVar{{Name: "SHUTDOWN_DELAY", Value: "0s"}},
					LivenessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intOrStr(8081)}},
						PeriodSeconds: 1, FailureThreshold: 2}},
				{Name: "crash", Image: images.Busybox, Command: []string{"sh", "-c", "exit 3"}},
				{Name: "ready", Image: images.Busybox, Command: []string{"sh", "-c", "touch /tmp/ok; exec sleep 3600"},
					ReadinessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"cat", "/tmp/ok"}}}, PeriodSeconds: 1},
					StartupProbe:   &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intOrStr(8080)}}, PeriodSeconds: 1}},
			},
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	byName := func(p *v1.Pod) map[string]v1.ContainerStatus {
		m := map[string]v1.ContainerStatus{}
		for _, cs := range p.Status.ContainerStatuses {
			m[cs.Name] = cs
		}
		return m
	}
	p := h.waitPod("default", "probes", "showing the liveness restart, the crash loop and readiness", func(p *v1.Pod) bool {
		m := byName(p)
		crash := m["crash"]
		return m["live"].RestartCount >= 1 && m["ready"].Ready &&
			crash.State.Waiting != nil && crash.State.Waiting.Reason == "CrashLoopBackOff"
	})
	m := byName(p)
	if lt := m["crash"].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" || m["crash"].RestartCount != 1 {
		t.Errorf("crash status %+v", m["crash"])
	}
	if r := m["ready"]; r.Started == nil || !*r.Started {
		t.Errorf("ready container not started: %+v", r)
	}
	if c := findCondition(p.Status.Conditions, v1.PodReady); c == nil || c.Status != v1.ConditionFalse {
		t.Errorf("pod Ready condition %+v with a crashing container", c)
	}
	h.markDeleted("default", "probes", 2)
	h.waitFor("the runtime to be empty", func() bool {
		sbs, err := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
		cs, err2 := n.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
		return err == nil && err2 == nil && len(sbs) == 0 && len(cs) == 0
	})
}

// TestRealSandboxDeath kills a pod's pause process: the kubelet replaces
// the sandbox and restarts the container in it, counting the restart.
func TestRealSandboxDeath(t *testing.T) {
	n := startRealNode(t)
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	kl, err := New(Config{Client: client, NodeName: testNode, NodeIP: "127.0.0.1", Runtime: n.rt, DataDir: filepath.Join(n.dir, "kubelet"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h := &harness{t: t, client: client}
	grace := int64(2)
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "phoenix", Namespace: "default", UID: types.UID(fmt.Sprintf("uid-phoenix-%d", rand.IntN(1e6)))},
		Spec: v1.PodSpec{NodeName: testNode, TerminationGracePeriodSeconds: &grace,
			Containers: []v1.Container{{Name: "web", Image: images.HelloV1, Env: []v1.EnvVar{{Name: "SHUTDOWN_DELAY", Value: "0s"}}}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := h.waitPod("default", "phoenix", "Running", func(p *v1.Pod) bool { return running(p) && p.Status.PodIP != "" })
	sbs, err := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{LabelPodUID: string(pod.UID)}})
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes %v, %v", sbs, err)
	}
	pid := pausePID(t, sbs[0].Id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	oldIP := p.Status.PodIP
	p = h.waitPod("default", "phoenix", "running again in a new sandbox", func(p *v1.Pod) bool {
		return running(p) && p.Status.PodIP != "" && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].RestartCount == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	var body string
	h.waitFor("the restarted container to answer", func() bool {
		body, err = httpGetBody("http://" + p.Status.PodIP + ":8080/")
		return err == nil
	})
	if body != "Hello from phoenix (v1)\n" {
		t.Errorf("answer %q (old IP %s, new %s)", body, oldIP, p.Status.PodIP)
	}
	h.markDeleted("default", "phoenix", 2)
	h.waitFor("the runtime to be empty", func() bool {
		sbs, err := n.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
		cs, err2 := n.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
		return err == nil && err2 == nil && len(sbs) == 0 && len(cs) == 0
	})
}

// pausePID finds the pause process of a sandbox by its cgroup path.
func pausePID(t *testing.T, sandboxID string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.TrimRight(string(cmd), "\x00") != "/pause" {
			continue
		}
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if strings.Contains(string(cg), sandboxID) {
			return pid
		}
	}
	t.Fatalf("no pause process for sandbox %s", sandboxID)
	return 0
}
