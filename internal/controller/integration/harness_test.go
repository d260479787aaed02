package integration

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
	"github.com/bosun-k8s/bosun/internal/controller/manager"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

const timeout = 60 * time.Second

type cluster struct {
	ts     *testserver.Server
	client kubernetes.Interface
}

// start runs an API server and the controller manager for t.
func start(t testing.TB) *cluster {
	t.Helper()
	ts := testserver.Start(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := manager.New(manager.Config{Client: ts.Client, RESTConfig: ts.RESTConfig, Logger: log, LeaderElect: true, Identity: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
	})
	return &cluster{ts: ts, client: ts.Client}
}

// kubelet stands in for a node agent: it marks pods scheduled, Running and
// Ready, at most one pod per tick, skipping pods for which skip is true.
type kubelet struct {
	mu   sync.Mutex
	skip func(*corev1.Pod) bool
	// all marks every waiting pod at each tick instead of one.
	all bool
}

func (c *cluster) runKubelet(t testing.TB, ns string, tick time.Duration) *kubelet {
	return c.runKubeletMode(t, ns, tick, false)
}

func (c *cluster) runKubeletMode(t testing.TB, ns string, tick time.Duration, all bool) *kubelet {
	k := &kubelet{skip: func(*corev1.Pod) bool { return false }, all: all}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c.readyOne(ctx, ns, k)
			select {
			case <-ctx.Done():
			case <-time.After(tick):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return k
}

func (c *cluster) readyOne(ctx context.Context, ns string, k *kubelet) {
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	k.mu.Lock()
	skip := k.skip
	k.mu.Unlock()
	for i := range pods.Items {
		p := &pods.Items[i]
		if controllerutil.IsPodReady(p) || p.DeletionTimestamp != nil || skip(p) ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.Labels["batch.kubernetes.io/job-name"] != "" {
			markSucceeded(ctx, c.client, p)
		} else {
			markReady(ctx, c.client, p)
		}
		if !k.all {
			return
		}
	}
}

func markReady(ctx context.Context, client kubernetes.Interface, p *corev1.Pod) {
	now := metav1.Now()
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	_, _ = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

// markSucceeded finishes a Job pod as its container exiting 0 would.
func markSucceeded(ctx context.Context, client kubernetes.Interface, p *corev1.Pod) {
	now := metav1.Now()
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  p.Spec.Containers[0].Name,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", FinishedAt: now}},
	}}
	_, _ = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

func (k *kubelet) setSkip(f func(*corev1.Pod) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.skip = f
}

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := cond()
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}

func createNamespace(t testing.TB, c *cluster, name string) {
	t.Helper()
	_, err := c.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The serviceaccount controller's part, for harnesses that do not run it: pods are
	// admitted only with their service account.
	_, err = c.client.CoreV1().ServiceAccounts(name).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// activePods lists pods that are not being deleted.
func activePods(t *testing.T, c *cluster, ns, selector string) []corev1.Pod {
	t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func eventsFor(t *testing.T, c *cluster, ns, name string) string {
	t.Helper()
	list, err := c.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			b.WriteString(e.Reason + " " + e.Message + "\n")
		}
	}
	return b.String()
}
