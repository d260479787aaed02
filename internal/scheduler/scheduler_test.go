package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

// recordingBinder records bindings and applies them to the fake API like the API
// server's pods/binding does (sets spec.nodeName), so the informer sees them.
type recordingBinder struct {
	client kubernetes.Interface
	mu     sync.Mutex
	binds  map[string]string // namespace/name → node
}

func (b *recordingBinder) Bind(ctx context.Context, pod *v1.Pod, node string) error {
	cur, err := b.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cur.Spec.NodeName != "" {
		return fmt.Errorf("pod %s is already assigned to node %q", pod.Name, cur.Spec.NodeName)
	}
	cur.Spec.NodeName = node
	if _, err := b.client.CoreV1().Pods(pod.Namespace).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.binds[pod.Namespace+"/"+pod.Name] = node
	return nil
}

func (b *recordingBinder) boundTo(key string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.binds[key]
	return n, ok
}

func (b *recordingBinder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.binds)
}

// eventLog drains a FakeRecorder.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) has(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.events, func(e string) bool { return strings.Contains(e, substr) })
}

type harness struct {
	t      *testing.T
	client *fake.Clientset
	binder *recordingBinder
	events *eventLog
	sched  *Scheduler
}

func startHarness(t *testing.T, cfg Config, objects ...*v1.Node) *harness {
	t.Helper()
	client := fake.NewClientset()
	h := &harness{t: t, client: client, binder: &recordingBinder{client: client, binds: map[string]string{}}, events: &eventLog{}}
	ctx, cancel := context.WithCancel(context.Background())
	rec := record.NewFakeRecorder(100)
	go func() {
		for {
			select {
			case e := <-rec.Events:
				h.events.mu.Lock()
				h.events.events = append(h.events.events, e)
				h.events.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	for _, n := range objects {
		h.createNode(n)
	}
	cfg.Client = client
	cfg.Recorder = rec
	cfg.Binder = h.binder
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sched = s
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	select {
	case <-s.Synced():
	case <-time.After(30 * time.Second):
		t.Fatal("scheduler informers did not sync")
	}
	return h
}

func (h *harness) createNode(n *v1.Node) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("create node: %v", err)
	}
}

func (h *harness) createPod(p *v1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("create pod: %v", err)
	}
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		h.events.mu.Lock()
		defer h.events.mu.Unlock()
		h.t.Fatalf("timed out waiting for %s; events: %q", what, h.events.events)
	}
}

func (h *harness) waitBound(key, node string) {
	h.t.Helper()
	h.waitFor(key+" bound to "+node, func() bool {
		got, ok := h.binder.boundTo(key)
		if ok && got != node {
			h.t.Fatalf("%s bound to %s, want %s", key, got, node)
		}
		return ok
	})
}

func TestSchedulerBindsAndRecordsEvent(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a", alloc(v1.ResourceCPU, "1")), mkNode("node-b"))
	h.createPod(mkPod("web-1", req("cpu", "2")))
	h.waitBound("default/web-1", "node-b")
	h.waitFor("Scheduled event", func() bool {
		return h.events.has("Normal Scheduled Successfully assigned default/web-1 to node-b")
	})
}

func TestSchedulerLeavesOtherPodsAlone(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a"))
	h.createPod(mkPod("custom", func(p *v1.Pod) { p.Spec.SchedulerName = "my-scheduler" }))
	h.createPod(mkPod("gated", func(p *v1.Pod) { p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "wait"}} }))
	h.createPod(mkPod("mine"))
	h.waitBound("default/mine", "node-a")
	// Pods are taken in order of creation: the two created before were skipped.
	if n := h.binder.count(); n != 1 {
		t.Fatalf("%d pods bound, want only default/mine", n)
	}
	// Lifting the gate makes the pod schedulable.
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "gated", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.SchedulingGates = nil
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitBound("default/gated", "node-a")
	if _, ok := h.binder.boundTo("default/custom"); ok {
		t.Fatal("a pod for another scheduler was bound")
	}
}

func TestUnschedulablePodIsReportedAndRetriedOnNodeAdd(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a"), mkNode("node-b", nodeLabel("disk", "ssd")), mkNode("node-c"))
	h.createPod(mkPod("big", req("cpu", "8"), selector("disk", "ssd")))
	want := "Warning FailedScheduling 0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
	h.waitFor("FailedScheduling event", func() bool { return h.events.has(want) })
	h.waitFor("PodScheduled=False condition", func() bool {
		p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "big", metav1.GetOptions{})
		if err != nil {
			return false
		}
		c := podScheduledCondition(p)
		return c != nil && c.Status == v1.ConditionFalse && c.Reason == v1.PodReasonUnschedulable &&
			c.Message == strings.TrimPrefix(want, "Warning FailedScheduling ")
	})
	h.createNode(mkNode("node-d", nodeLabel("disk", "ssd"), alloc(v1.ResourceCPU, "16")))
	h.waitBound("default/big", "node-d")
}

func TestUnschedulablePodIsRetriedWhenAPodGoes(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a", alloc(v1.ResourcePods, "1")))
	h.createPod(mkPod("first", on("node-a")))
	h.createPod(mkPod("second"))
	h.waitFor("FailedScheduling event", func() bool {
		return h.events.has("0/1 nodes are available: 1 Too many pods.")
	})
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitBound("default/second", "node-a")
}

func TestUnschedulablePodIsRetriedWhenNodeUncordoned(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a", cordoned))
	h.createPod(mkPod("web"))
	h.waitFor("FailedScheduling event", func() bool {
		return h.events.has("0/1 nodes are available: 1 node(s) were unschedulable.")
	})
	n, err := h.client.CoreV1().Nodes().Get(context.Background(), "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = false
	if _, err := h.client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitBound("default/web", "node-a")
}

func TestAssumedPodsCountBeforeTheInformerSeesThem(t *testing.T) {
	// Each node fits one 3-cpu pod; three pods created at once must land on three nodes
	// even though bindings are confirmed asynchronously.
	h := startHarness(t, Config{Scoring: MostAllocated}, mkNode("n1"), mkNode("n2"), mkNode("n3"))
	for i := 0; i < 3; i++ {
		h.createPod(mkPod(fmt.Sprintf("p%d", i), req("cpu", "3")))
	}
	h.waitFor("three bindings", func() bool { return h.binder.count() == 3 })
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		n, _ := h.binder.boundTo(fmt.Sprintf("default/p%d", i))
		if seen[n] {
			t.Fatalf("two 3-cpu pods bound to %s", n)
		}
		seen[n] = true
	}
}

func TestLeaderElection(t *testing.T) {
	h := startHarness(t, Config{LeaderElect: true, Identity: "server-1", RetryPeriod: 100 * time.Millisecond}, mkNode("node-a"))
	h.createPod(mkPod("web"))
	h.waitBound("default/web", "node-a")
	lease, err := h.client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "server-1" {
		t.Fatalf("lease holder = %v, want server-1", lease.Spec.HolderIdentity)
	}
}

func TestNewValidates(t *testing.T) {
	client := fake.NewClientset()
	for _, cfg := range []Config{
		{},
		{Client: client, Scoring: "Random"},
		{Client: client, LeaderElect: true},
		{Client: client, PercentageOfNodesToScore: 101},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	if _, err := New(Config{Client: client, Scoring: MostAllocated}); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// flakyBinder fails its first binding, then binds like recordingBinder.
type flakyBinder struct {
	*recordingBinder
	mu     sync.Mutex
	failed bool
}

func (b *flakyBinder) Bind(ctx context.Context, pod *v1.Pod, node string) error {
	b.mu.Lock()
	first := !b.failed
	b.failed = true
	b.mu.Unlock()
	if first {
		return fmt.Errorf("etcd is having a bad day")
	}
	return b.recordingBinder.Bind(ctx, pod, node)
}

func TestFailedBindingIsRetriedAndForgotten(t *testing.T) {
	h := startHarness(t, Config{}, mkNode("node-a", alloc(v1.ResourceCPU, "1")))
	// Swap in the flaky binder before any pod exists.
	fb := &flakyBinder{recordingBinder: h.binder}
	h.sched.binder = fb
	h.createPod(mkPod("web", req("cpu", "1")))
	h.waitFor("Binding rejected event", func() bool {
		return h.events.has("Warning FailedScheduling Binding rejected: etcd is having a bad day")
	})
	// The pod was forgotten after the failure, so the node's cpu is free for its retry.
	h.waitBound("default/web", "node-a")
}
