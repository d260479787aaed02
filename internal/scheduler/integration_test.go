package scheduler_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/scheduler"
	"github.com/bosun-k8s/bosun/internal/server"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// startScheduler runs a scheduler against the test server until the test ends.
func startScheduler(t *testing.T, cfg *rest.Config, sc scheduler.Config) kubernetes.Interface {
	t.Helper()
	rc := rest.CopyConfig(cfg)
	rc.QPS, rc.Burst = 5000, 10000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	sc.Client = client
	sc.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := scheduler.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("scheduler Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("scheduler did not stop")
		}
	})
	return client
}

// createNode makes a Ready Node object (no kubelet behind it).
func createNode(t *testing.T, c kubernetes.Interface, name, cpu string, labels map[string]string, mutate ...func(*v1.Node)) {
	t.Helper()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kubernetes.io/hostname"] = name
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	for _, m := range mutate {
		m(n)
	}
	status := v1.NodeStatus{
		Capacity:    v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("8Gi"), v1.ResourcePods: resource.MustParse("110")},
		Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("8Gi"), v1.ResourcePods: resource.MustParse("110")},
		Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	n.Status = status
	ctx := context.Background()
	created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	created.Status = status
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func pod(name string, mutate ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func cpuRequest(q string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(q)}
	}
}

func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func waitBound(t *testing.T, c kubernetes.Interface, name string) *v1.Pod {
	t.Helper()
	var got *v1.Pod
	poll(t, name+" bound", func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = p
		return p.Spec.NodeName != "", nil
	})
	return got
}

func eventFor(t *testing.T, c kubernetes.Interface, podName, reason, message string) {
	t.Helper()
	poll(t, reason+" event for "+podName, func(ctx context.Context) (bool, error) {
		evs, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", podName).String(),
		})
		if err != nil {
			return false, nil
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == podName && e.Reason == reason && strings.Contains(e.Message, message) {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestIntegrationScheduling(t *testing.T) {
	ts := testserver.Start(t)
	c := ts.Client
	createNode(t, c, "node-a", "2", map[string]string{"disk": "ssd"})
	createNode(t, c, "node-b", "8", nil)
	createNode(t, c, "node-c", "8", nil, func(n *v1.Node) {
		n.Spec.Taints = []v1.Taint{{Key: "dedicated", Value: "gpu", Effect: v1.TaintEffectNoSchedule}}
	})
	createNode(t, c, "node-d", "8", nil, func(n *v1.Node) { n.Spec.Unschedulable = true })
	startScheduler(t, ts.RESTConfig, scheduler.Config{})
	ctx := context.Background()

	create := func(p *v1.Pod) {
		t.Helper()
		if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", p.Name, err)
		}
	}

	t.Run("nodeSelector", func(t *testing.T) {
		create(pod("ssd", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }))
		p := waitBound(t, c, "ssd")
		if p.Spec.NodeName != "node-a" {
			t.Fatalf("bound to %s, want node-a", p.Spec.NodeName)
		}
		eventFor(t, c, "ssd", "Scheduled", "Successfully assigned default/ssd to node-a")
	})
	t.Run("requests that fit one node only", func(t *testing.T) {
		create(pod("big", cpuRequest("6")))
		if p := waitBound(t, c, "big"); p.Spec.NodeName != "node-b" {
			t.Fatalf("bound to %s, want node-b (node-a is too small, node-c tainted, node-d cordoned)", p.Spec.NodeName)
		}
	})
	t.Run("toleration lets a pod onto the tainted node", func(t *testing.T) {
		create(pod("gpu", cpuRequest("5"), func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "gpu", Effect: v1.TaintEffectNoSchedule}}
		}))
		if p := waitBound(t, c, "gpu"); p.Spec.NodeName != "node-c" {
			t.Fatalf("bound to %s, want node-c", p.Spec.NodeName)
		}
	})
	t.Run("fits nowhere, then a node comes", func(t *testing.T) {
		create(pod("huge", cpuRequest("7")))
		want := "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable, 2 Insufficient cpu."
		eventFor(t, c, "huge", "FailedScheduling", want)
		poll(t, "PodScheduled=False", func(ctx context.Context) (bool, error) {
			p, err := c.CoreV1().Pods("default").Get(ctx, "huge", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == v1.PodScheduled {
					return cond.Status == v1.ConditionFalse && cond.Reason == v1.PodReasonUnschedulable && cond.Message == want, nil
				}
			}
			return false, nil
		})
		createNode(t, c, "node-e", "16", nil)
		if p := waitBound(t, c, "huge"); p.Spec.NodeName != "node-e" {
			t.Fatalf("bound to %s, want node-e", p.Spec.NodeName)
		}
	})
	t.Run("binding sets PodScheduled", func(t *testing.T) {
		p := waitBound(t, c, "big")
		for _, cond := range p.Status.Conditions {
			if cond.Type == v1.PodScheduled && cond.Status == v1.ConditionTrue {
				return
			}
		}
		t.Fatalf("bound pod has conditions %+v, want PodScheduled=True", p.Status.Conditions)
	})
	t.Run("other schedulers' pods are left alone", func(t *testing.T) {
		create(pod("custom", func(p *v1.Pod) { p.Spec.SchedulerName = "my-scheduler" }))
		create(pod("after"))
		waitBound(t, c, "after")
		p, err := c.CoreV1().Pods("default").Get(ctx, "custom", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.NodeName != "" {
			t.Fatalf("pod for my-scheduler bound to %s", p.Spec.NodeName)
		}
	})
}

func TestIntegrationLeaderElection(t *testing.T) {
	ts := testserver.Start(t)
	createNode(t, ts.Client, "node-a", "4", nil)
	startScheduler(t, ts.RESTConfig, scheduler.Config{LeaderElect: true, Identity: "server-1", RetryPeriod: 200 * time.Millisecond})
	if _, err := ts.Client.CoreV1().Pods("default").Create(context.Background(), pod("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBound(t, ts.Client, "web")
	lease, err := ts.Client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "server-1" {
		t.Fatalf("lease held by %v, want server-1", lease.Spec.HolderIdentity)
	}
}

// TestIntegrationServerRunsScheduler checks the scheduler as bosun server runs it (leader
// election, the server's own client).
func TestIntegrationServerRunsScheduler(t *testing.T) {
	srv, err := server.New(server.Config{DataDir: t.TempDir(), BindAddress: "127.0.0.1", HTTPSPort: -1,
		DisableAgent: true, Components: []string{server.ComponentScheduler},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not ready")
	}
	client := kubernetes.NewForConfigOrDie(srv.RESTConfig())
	createNode(t, client, "node-a", "4", nil)
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod("web", cpuRequest("1")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitBound(t, client, "web"); p.Spec.NodeName != "node-a" {
		t.Fatalf("bound to %s", p.Spec.NodeName)
	}
	eventFor(t, client, "web", "Scheduled", "Successfully assigned default/web to node-a")
}
