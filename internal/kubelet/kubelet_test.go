package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const testNode = "node-a"

type harness struct {
	t      *testing.T
	client *fake.Clientset
	rt     *fakeRuntime
	kl     *Kubelet
	cancel context.CancelFunc
	done   chan error
}

func startKubelet(t *testing.T, rt *fakeRuntime, objs ...any) *harness {
	t.Helper()
	return startKubeletWith(t, rt, nil, objs...)
}

// startKubeletWith is startKubelet with a hook to add reactors to the fake client first.
func startKubeletWith(t *testing.T, rt *fakeRuntime, setup func(*fake.Clientset), objs ...any) *harness {
	t.Helper()
	client := fake.NewClientset()
	if setup != nil {
		setup(client)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *v1.Pod:
			if _, err := client.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		case *v1.Service:
			if _, err := client.CoreV1().Services(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		case *v1.ConfigMap:
			if _, err := client.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kl, err := New(Config{
		Client: client, NodeName: testNode, NodeIP: "192.0.2.10", Runtime: rt, DataDir: t.TempDir(),
		ClusterDNS: "10.43.0.10", Logger: log, RelistInterval: 50 * time.Millisecond, ResyncInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, client: client, rt: rt, kl: kl, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- kl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			t.Error("kubelet did not stop")
		}
	})
	return h
}

// waitPod polls the pod until cond holds (30 s).
func (h *harness) waitPod(ns, name, what string, cond func(*v1.Pod) bool) *v1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last *v1.Pod
	for time.Now().Before(deadline) {
		p, err := h.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last != nil {
		h.t.Fatalf("pod %s/%s never %s; status: %+v", ns, name, what, last.Status)
	}
	h.t.Fatalf("pod %s/%s never %s", ns, name, what)
	return nil
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
}

// markDeleted does what the API server does on a graceful delete: it sets
// deletionTimestamp and deletionGracePeriodSeconds. The fake clientset's
// UpdateStatus replaces whole objects, so a status write racing with this
// can undo it: markDeleted re-applies it until the kubelet deleted the pod.
func (h *harness) markDeleted(ns, name string, grace int64) {
	h.t.Helper()
	ctx := context.Background()
	apply := func() bool {
		p, err := h.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return true // gone: the kubelet deleted it
		}
		if p.DeletionTimestamp == nil {
			now := metav1.Now()
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
			// An error here is a race with the pod's deletion.
			_, _ = h.client.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
		}
		return false
	}
	apply()
	stop := make(chan struct{})
	finished := make(chan struct{})
	h.t.Cleanup(func() { close(stop); <-finished })
	go func() {
		defer close(finished)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if apply() {
				return
			}
		}
	}()
}

func testPod(name string, containers ...string) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": name}},
		Spec: v1.PodSpec{
			NodeName:      testNode,
			RestartPolicy: v1.RestartPolicyAlways,
		},
		Status: v1.PodStatus{Phase: v1.PodPending, Conditions: []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue}}},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: c, Image: "bosun.local/hello:v1", ImagePullPolicy: v1.PullIfNotPresent})
	}
	return p
}

func running(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning }

func TestPodStartsAndReportsStatus(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	pod := testPod("web", "a", "b")
	pod.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 8080, HostPort: 30080}}
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "web", "Ready", func(p *v1.Pod) bool {
		c := findCondition(p.Status.Conditions, v1.PodReady)
		return running(p) && c != nil && c.Status == v1.ConditionTrue
	})
	if p.Status.PodIP == "" || p.Status.HostIP != "192.0.2.10" || p.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", p.Status.PodIP, p.Status.HostIP, p.Status.StartTime)
	}
	if len(p.Status.ContainerStatuses) != 2 {
		t.Fatalf("containerStatuses = %+v", p.Status.ContainerStatuses)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.RestartCount != 0 {
			t.Errorf("container status %+v", cs)
		}
	}
	for _, ct := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.ContainersReady, v1.PodReady, v1.PodScheduled} {
		if c := findCondition(p.Status.Conditions, ct); c == nil || c.Status != v1.ConditionTrue {
			t.Errorf("condition %s = %+v", ct, c)
		}
	}
	if n := len(rt.Calls("RunPodSandbox")); n != 1 {
		t.Errorf("RunPodSandbox called %d times", n)
	}
	rt.mu.Lock()
	for _, sb := range rt.sandboxes {
		cfg := sb.cfg
		if cfg.Hostname != "web" || cfg.Labels[LabelManaged] != "true" || cfg.Labels["app"] != "web" {
			t.Errorf("sandbox config hostname %q labels %v", cfg.Hostname, cfg.Labels)
		}
		if cfg.DnsConfig == nil || cfg.DnsConfig.Servers[0] != "10.43.0.10" || cfg.DnsConfig.Searches[0] != "default.svc.cluster.local" {
			t.Errorf("dns config %+v", cfg.DnsConfig)
		}
		if len(cfg.PortMappings) != 1 || cfg.PortMappings[0].HostPort != 30080 {
			t.Errorf("port mappings %+v", cfg.PortMappings)
		}
	}
	rt.mu.Unlock()
}

func TestInitContainersRunInOrder(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.exitOnStart["init1"] = 0
	rt.exitOnStart["init2"] = 0
	pod := testPod("init", "app")
	pod.Spec.InitContainers = []v1.Container{{Name: "init1", Image: "bosun.local/hello:v1"}, {Name: "init2", Image: "bosun.local/hello:v1"}}
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "init", "Running", running)
	starts := rt.Calls("StartContainer")
	want := []string{"StartContainer init1", "StartContainer init2", "StartContainer app"}
	if fmt.Sprint(starts) != fmt.Sprint(want) {
		t.Errorf("start order %v, want %v", starts, want)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.Reason != "Completed" {
			t.Errorf("init status %+v", s)
		}
	}
}

func TestFailedInitContainerFailsNeverPod(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.exitOnStart["init1"] = 3
	pod := testPod("badinit", "app")
	pod.Spec.RestartPolicy = v1.RestartPolicyNever
	pod.Spec.InitContainers = []v1.Container{{Name: "init1", Image: "bosun.local/hello:v1"}}
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "badinit", "Failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if len(rt.Calls("StartContainer app")) != 0 {
		t.Error("app container started after its init container failed")
	}
	if p.Status.InitContainerStatuses[0].State.Terminated.ExitCode != 3 {
		t.Errorf("init status %+v", p.Status.InitContainerStatuses[0])
	}
}

func TestCrashingContainerBacksOff(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.exitOnStart["crash"] = 1
	pod := testPod("crasher", "crash")
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "crasher", "in CrashLoopBackOff", func(p *v1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	cs := p.Status.ContainerStatuses[0]
	// The first restart is immediate; the second waits 10 s.
	if cs.RestartCount != 1 || !strings.Contains(cs.State.Waiting.Message, "back-off 10s restarting failed container=crash pod=crasher_default(uid-crasher)") {
		t.Errorf("status %+v waiting %+v", cs, cs.State.Waiting)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Errorf("lastState %+v", cs.LastTerminationState)
	}
	if p.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s, want Running (restartPolicy Always)", p.Status.Phase)
	}
	if n := len(rt.Calls("CreateContainer crash")); n != 2 {
		t.Errorf("created %d times during back-off, want 2", n)
	}
}

func TestMissingImagePullBackOff(t *testing.T) {
	rt := newFakeRuntime()
	pod := testPod("noimg", "a")
	pod.Spec.Containers[0].Image = "example.invalid/nothing:1"
	h := startKubelet(t, rt, pod)
	h.waitPod("default", "noimg", "ErrImagePull", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImagePull"
	})
	h.waitPod("default", "noimg", "ImagePullBackOff", func(p *v1.Pod) bool {
		return p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImagePullBackOff"
	})
	never := testPod("never", "a")
	never.Spec.Containers[0].Image = "example.invalid/never:1"
	never.Spec.Containers[0].ImagePullPolicy = v1.PullNever
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), never, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("default", "never", "ErrImageNeverPull", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})
	if n := len(rt.Calls("PullImage example.invalid/never")); n != 0 {
		t.Errorf("PullImage called %d times for a Never image", n)
	}
}

func TestGracefulDeletion(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	pod := testPod("del", "a")
	pod.Spec.Containers[0].Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"prestop"}}}}
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "del", "Running", running)
	_ = p
	h.markDeleted("default", "del", 7)
	h.waitFor("the kubelet to delete the pod with grace 0", func() bool {
		for _, a := range h.client.Actions() {
			if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() == "del" {
				return true
			}
		}
		return false
	})
	if got := rt.Calls("ExecSync prestop"); len(got) != 1 {
		t.Errorf("preStop ran %d times", len(got))
	}
	stops := rt.Calls("StopContainer a")
	if len(stops) != 1 || !strings.HasSuffix(stops[0], "timeout=7") {
		t.Errorf("stops %v, want one with the 7s grace period", stops)
	}
	h.waitFor("sandbox removal", func() bool { return len(rt.Calls("RemovePodSandbox")) == 1 })
	// Each stop tears the network down through every CNI plugin: the
	// sandbox is stopped once, then removed.
	if got := rt.Calls("StopPodSandbox"); len(got) != 1 {
		t.Errorf("sandbox stopped %d times, want 1: %v", len(got), got)
	}
}

func TestAdoptsAndNeverTouchesForeign(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.addAdopted("uid-kept", "default", "kept", "a", 2)
	rt.addAdopted("uid-orphan", "default", "orphan", "a", 0)
	rt.addForeign()
	pod := testPod("kept", "a")
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "kept", "Running", running)
	if p.Status.ContainerStatuses[0].RestartCount != 2 || p.Status.PodIP != "10.42.9.200" {
		t.Errorf("adopted status %+v ip %s", p.Status.ContainerStatuses[0], p.Status.PodIP)
	}
	h.waitFor("the orphan's removal", func() bool {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, sb := range rt.sandboxes {
			if sb.cfg.Labels[LabelPodUID] == "uid-orphan" {
				return false
			}
		}
		return true
	})
	if n := len(rt.Calls("RunPodSandbox")) + len(rt.Calls("CreateContainer")); n != 0 {
		t.Errorf("adoption created %d sandboxes/containers", n)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.containers["foreign-c"] == nil || rt.containers["foreign-c"].status.State != 1 || rt.sandboxes["foreign-sb"] == nil {
		t.Error("a foreign container or sandbox was touched")
	}
	for _, c := range rt.calls {
		if strings.Contains(c, "foreign") {
			t.Errorf("call on a foreign object: %s", c)
		}
	}
}

func TestEnvAndLivenessRestart(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.execResult["false"] = 1
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"color": "blue", "size": "9"}}
	pod := testPod("envy", "a")
	pod.Spec.Containers[0].Env = []v1.EnvVar{
		{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "COLOR", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "color"}}},
		{Name: "GREETING", Value: "$(POD) is $(COLOR) $(UNDEFINED) $$(POD)"},
	}
	pod.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}}
	pod.Spec.Containers[0].Args = []string{"--name=$(POD)"}
	pod.Spec.Containers[0].LivenessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"false"}}}, PeriodSeconds: 1, FailureThreshold: 1}
	kube := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Spec: v1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []v1.ServicePort{{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}}}}
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "my-svc", Namespace: "default"},
		Spec: v1.ServiceSpec{ClusterIP: "10.43.0.55", Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}}}
	h := startKubelet(t, rt, cm, kube, svc, pod)
	h.waitPod("default", "envy", "restarted by its liveness probe", func(p *v1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, c := range rt.containers {
		env := map[string]string{}
		for _, kv := range c.cfg.Envs {
			env[kv.Key] = kv.Value
		}
		want := map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443",
			"MY_SVC_SERVICE_PORT_HTTP": "80", "MY_SVC_PORT": "tcp://10.43.0.55:80", "MY_SVC_PORT_80_TCP_ADDR": "10.43.0.55", "POD": "envy", "COLOR": "blue", "CM_color": "blue", "CM_size": "9", "GREETING": "envy is blue $(UNDEFINED) $(POD)"}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("env %s = %q, want %q", k, env[k], v)
			}
		}
		if !strings.HasPrefix(env["IP"], "10.42.9.") {
			t.Errorf("env IP = %q", env["IP"])
		}
		if fmt.Sprint(c.cfg.Args) != "[--name=envy]" {
			t.Errorf("args %v", c.cfg.Args)
		}
	}
}

func TestActiveDeadline(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	pod := testPod("deadline", "a")
	one := int64(1)
	pod.Spec.ActiveDeadlineSeconds = &one
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "deadline", "Failed with DeadlineExceeded", func(p *v1.Pod) bool {
		return p.Status.Phase == v1.PodFailed && p.Status.Reason == "DeadlineExceeded"
	})
	if len(rt.Calls("StopContainer a")) != 1 || p.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Errorf("container not stopped: calls %v status %+v", rt.Calls("StopContainer"), p.Status.ContainerStatuses[0])
	}
}

func TestSidecarInitContainers(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	rt.exitOnStart["setup"] = 0
	always := v1.ContainerRestartPolicyAlways
	pod := testPod("sidecar", "app")
	pod.Spec.InitContainers = []v1.Container{
		{Name: "proxy", Image: "bosun.local/hello:v1", RestartPolicy: &always},
		{Name: "setup", Image: "bosun.local/hello:v1"},
	}
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "sidecar", "Ready", func(p *v1.Pod) bool {
		c := findCondition(p.Status.Conditions, v1.PodReady)
		return running(p) && c != nil && c.Status == v1.ConditionTrue
	})
	if got := fmt.Sprint(rt.Calls("StartContainer")); got != "[StartContainer proxy StartContainer setup StartContainer app]" {
		t.Errorf("start order %s", got)
	}
	if s := p.Status.InitContainerStatuses[0]; s.State.Running == nil || !s.Ready {
		t.Errorf("sidecar status %+v", s)
	}

	// A run-to-completion pod: when the app finishes, the sidecar is
	// stopped and the pod Succeeded regardless of the sidecar's exit code.
	job := testPod("job", "work")
	job.Spec.RestartPolicy = v1.RestartPolicyNever
	job.UID = "uid-job"
	job.Spec.InitContainers = []v1.Container{{Name: "logger", Image: "bosun.local/hello:v1", RestartPolicy: &always}}
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("default", "job", "Running", running)
	if !rt.Exit("work", 0) {
		t.Fatal("work container not running")
	}
	p = h.waitPod("default", "job", "Succeeded", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodSucceeded })
	if len(rt.Calls("StopContainer logger")) != 1 {
		t.Errorf("sidecar stops: %v", rt.Calls("StopContainer"))
	}
}

func TestEphemeralContainer(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1", "bosun.local/busybox:1.36")
	pod := testPod("debugme", "app")
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "debugme", "Running", running)
	p.Spec.EphemeralContainers = []v1.EphemeralContainer{{
		EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "debugger", Image: "bosun.local/busybox:1.36", Stdin: true, TTY: true},
		TargetContainerName:      "app",
	}}
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("default", "debugme", "showing the ephemeral container running", func(p *v1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Running != nil
	})
	rt.mu.Lock()
	for _, c := range rt.containers {
		if c.cfg.Metadata.Name == "debugger" {
			ns := c.cfg.Linux.SecurityContext.NamespaceOptions
			if ns.Pid != runtimeapi.NamespaceMode_TARGET || ns.TargetId == "" || !c.cfg.Tty || !c.cfg.Stdin {
				t.Errorf("debugger config: ns %+v tty %v stdin %v", ns, c.cfg.Tty, c.cfg.Stdin)
			}
		}
	}
	rt.mu.Unlock()
	rt.Exit("debugger", 0)
	h.waitPod("default", "debugme", "showing the ephemeral container terminated", func(p *v1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Terminated != nil
	})
	time.Sleep(300 * time.Millisecond) // a few relists: it must not come back
	if n := len(rt.Calls("StartContainer debugger")); n != 1 {
		t.Errorf("ephemeral container started %d times", n)
	}
	if p, _ := h.client.CoreV1().Pods("default").Get(context.Background(), "debugme", metav1.GetOptions{}); p.Status.Phase != v1.PodRunning {
		t.Errorf("phase %s", p.Status.Phase)
	}
}

func TestFinishedPodNeverRunsAgain(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	pod := testPod("done", "a")
	pod.Spec.RestartPolicy = v1.RestartPolicyNever
	pod.Status.Phase = v1.PodSucceeded
	h := startKubelet(t, rt, pod)
	_ = h
	// Give the worker time to act wrongly; nothing may be created.
	time.Sleep(500 * time.Millisecond)
	if n := len(rt.Calls("RunPodSandbox")) + len(rt.Calls("CreateContainer")); n != 0 {
		t.Errorf("a finished pod was started again: %v", rt.Calls(""))
	}
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "done", metav1.GetOptions{})
	if err != nil || p.Status.Phase != v1.PodSucceeded {
		t.Errorf("status of the finished pod changed: %+v %v", p.Status, err)
	}
}

func TestDeletionCancelsAHungPull(t *testing.T) {
	rt := newFakeRuntime()
	rt.pullBlocks = true
	pod := testPod("slowpull", "a")
	pod.Spec.Containers[0].Image = "example.invalid/slow:1"
	h := startKubelet(t, rt, pod)
	h.waitFor("the pull to start", func() bool { return len(rt.Calls("PullImage")) == 1 })
	h.markDeleted("default", "slowpull", 1)
	// The pull would hang for minutes; deletion must not wait for it.
	h.waitFor("the kubelet to delete the pod", func() bool {
		for _, a := range h.client.Actions() {
			if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() == "slowpull" {
				return true
			}
		}
		return false
	})
}

func TestSandboxDeathRestartsContainersKeepingCounts(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	pod := testPod("phoenix", "a")
	h := startKubelet(t, rt, pod)
	p := h.waitPod("default", "phoenix", "Running", running)
	firstIP := p.Status.PodIP
	// The sandbox dies (its pause process is gone): containers with it.
	rt.mu.Lock()
	for _, sb := range rt.sandboxes {
		sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}
	for _, c := range rt.containers {
		rt.exit(c, 137)
	}
	rt.mu.Unlock()
	p = h.waitPod("default", "phoenix", "running again in a new sandbox", func(p *v1.Pod) bool {
		return running(p) && p.Status.PodIP != firstIP && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Running != nil
	})
	cs := p.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 137 {
		t.Errorf("after the sandbox died: %+v", cs)
	}
	if n := len(rt.Calls("RunPodSandbox")); n != 2 {
		t.Errorf("RunPodSandbox called %d times, want 2", n)
	}
}

// TestRelistWakesWorkersOnlyForOthersChanges: a sandbox and container a
// worker started itself do not wake it again; an exit it did not cause does.
func TestRelistWakesWorkersOnlyForOthersChanges(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	k, err := New(Config{Client: fake.NewClientset(), NodeName: testNode, Runtime: rt, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rt.addAdopted("u1", "default", "p", "a", 0)
	w := newPodWorker(k, "u1")
	k.workers["u1"] = w
	woken := func() bool {
		select {
		case <-w.kickCh:
			return true
		default:
			return false
		}
	}
	ctx := context.Background()
	rt.mu.Lock()
	for id, sb := range rt.sandboxes {
		k.note(id, int32(sb.state))
	}
	for id, c := range rt.containers {
		k.note(id, int32(c.status.State))
	}
	rt.mu.Unlock()
	prev := k.relist(ctx, map[string]int32{})
	if woken() {
		t.Error("relist woke the worker for the sandbox and container it started itself")
	}
	if !rt.Exit("a", 1) {
		t.Fatal("no running container a")
	}
	prev = k.relist(ctx, prev)
	if !woken() {
		t.Error("relist did not wake the worker for its container's exit")
	}
	rt.addAdopted("u1", "default", "p", "b", 0)
	k.relist(ctx, prev)
	if !woken() {
		t.Error("relist did not wake the worker for a container it did not note")
	}
}
