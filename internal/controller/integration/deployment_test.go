package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
	"github.com/bosun-k8s/bosun/internal/controller/deployment"
)

const simpleDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: NS
  labels:
    app: hello
spec:
  replicas: 3
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
      - name: hello
        image: IMAGE
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
`

// kubectl runs the real kubectl against the test cluster.
func kubectl(t *testing.T, c *cluster, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.ts.Kubeconfig, "HOME="+filepath.Dir(c.ts.Kubeconfig))
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustKubectl(t *testing.T, c *cluster, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectl(t, c, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func manifest(ns, image string) string {
	return strings.NewReplacer("NS", ns, "IMAGE", image).Replace(simpleDeployment)
}

// watchBounds samples the pods of app=hello until stop is closed; the
// returned function waits for that and reports the largest number of live
// pods and the smallest number of ready ones seen.
func watchBounds(t *testing.T, c *cluster, ns string, stop <-chan struct{}) func() (maxPods, minReady int) {
	maxP, minR := 0, 1<<30
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=hello"})
			if err != nil {
				continue
			}
			live, ready := 0, 0
			for i := range list.Items {
				p := &list.Items[i]
				if p.DeletionTimestamp != nil {
					continue
				}
				live++
				if controllerutil.IsPodReady(p) {
					ready++
				}
			}
			mu.Lock()
			maxP, minR = max(maxP, live), min(minR, ready)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { <-done })
	return func() (int, int) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return maxP, minR
	}
}

func TestDeploymentRolloutWithKubectl(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ns := "deploy"
	createNamespace(t, c, ns)
	c.runKubelet(t, ns, 100*time.Millisecond)

	mustKubectl(t, c, manifest(ns, "bosun.local/hello:v1"), "apply", "-f", "-")
	out := mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	if !strings.Contains(out, `deployment "hello" successfully rolled out`) {
		t.Fatalf("rollout status: %s", out)
	}
	mustKubectl(t, c, "", "-n", ns, "annotate", "deployment/hello", "kubernetes.io/change-cause=first version", "--overwrite")

	// Roll out v2 and watch: never more than 3+1 pods, never fewer than 3 ready.
	stop := make(chan struct{})
	bounds := watchBounds(t, c, ns, stop)
	time.Sleep(100 * time.Millisecond)
	mustKubectl(t, c, manifest(ns, "bosun.local/hello:v2"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", ns, "annotate", "deployment/hello", "kubernetes.io/change-cause=second version", "--overwrite")
	out = mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	close(stop)
	if !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	maxPods, minReady := bounds()
	if maxPods > 4 {
		t.Errorf("saw %d live pods during the rolling update, more than replicas+maxSurge = 4", maxPods)
	}
	if minReady < 3 {
		t.Errorf("saw only %d ready pods during the rolling update, fewer than replicas-maxUnavailable = 3", minReady)
	}
	for _, p := range activePods(t, c, ns, "app=hello") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
			t.Errorf("pod %s runs %s after the update", p.Name, p.Spec.Containers[0].Image)
		}
	}

	hist := mustKubectl(t, c, "", "-n", ns, "rollout", "history", "deployment/hello")
	for _, want := range []string{"1         first version", "2         second version"} {
		if !strings.Contains(hist, want) {
			t.Errorf("rollout history lacks %q:\n%s", want, hist)
		}
	}

	// Undo to revision 1: the v1 ReplicaSet comes back as revision 3.
	mustKubectl(t, c, "", "-n", ns, "rollout", "undo", "deployment/hello", "--to-revision=1")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	rss, err := c.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets after undo, want 2 (the old one reused)", len(rss.Items))
	}
	for _, rs := range rss.Items {
		img := rs.Spec.Template.Spec.Containers[0].Image
		rev := rs.Annotations[deployment.RevisionAnnotation]
		switch img {
		case "bosun.local/hello:v1":
			if rev != "3" || rs.Annotations[deployment.RevisionHistoryAnnotation] != "1" || *rs.Spec.Replicas != 3 {
				t.Errorf("v1 ReplicaSet after undo: revision %q history %q replicas %d", rev, rs.Annotations[deployment.RevisionHistoryAnnotation], *rs.Spec.Replicas)
			}
		case "bosun.local/hello:v2":
			if rev != "2" || *rs.Spec.Replicas != 0 {
				t.Errorf("v2 ReplicaSet after undo: revision %q replicas %d", rev, *rs.Spec.Replicas)
			}
		}
	}
	hist = mustKubectl(t, c, "", "-n", ns, "rollout", "history", "deployment/hello")
	if !strings.Contains(hist, "3         first version") {
		t.Errorf("rollout history after undo:\n%s", hist)
	}

	// Pause: a new image does not roll out until resumed.
	mustKubectl(t, c, "", "-n", ns, "rollout", "pause", "deployment/hello")
	mustKubectl(t, c, "", "-n", ns, "set", "image", "deployment/hello", "hello=bosun.local/hello:v3")
	time.Sleep(time.Second)
	for _, p := range activePods(t, c, ns, "app=hello") {
		if p.Spec.Containers[0].Image == "bosun.local/hello:v3" {
			t.Fatalf("paused deployment rolled out pod %s", p.Name)
		}
	}
	d, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cond := condition(d, appsv1.DeploymentProgressing); cond == nil || cond.Reason != deployment.ReasonPaused {
		t.Errorf("paused deployment Progressing condition = %+v", cond)
	}
	mustKubectl(t, c, "", "-n", ns, "rollout", "resume", "deployment/hello")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	for _, p := range activePods(t, c, ns, "app=hello") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v3" {
			t.Errorf("after resume pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}

	// Restart and scale.
	mustKubectl(t, c, "", "-n", ns, "rollout", "restart", "deployment/hello")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	mustKubectl(t, c, "", "-n", ns, "scale", "deployment/hello", "--replicas=5")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	if n := len(activePods(t, c, ns, "app=hello")); n != 5 {
		t.Errorf("%d pods after scaling to 5", n)
	}
	d, err = c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 5 || d.Status.AvailableReplicas != 5 || d.Status.UpdatedReplicas != 5 || d.Annotations[deployment.RevisionAnnotation] != "5" {
		t.Errorf("status after restart and scale: %+v, revision %q", d.Status, d.Annotations[deployment.RevisionAnnotation])
	}
	if cond := condition(d, appsv1.DeploymentAvailable); cond == nil || cond.Reason != deployment.ReasonMinimumAvailable {
		t.Errorf("Available condition = %+v", cond)
	}
	desc := mustKubectl(t, c, "", "-n", ns, "describe", "deployment/hello")
	if !strings.Contains(desc, "ScalingReplicaSet") || !strings.Contains(desc, "Scaled up replica set hello-") {
		t.Errorf("kubectl describe shows no scaling events:\n%s", desc)
	}
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func TestDeploymentStuckOnBadImage(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ns := "stuck"
	createNamespace(t, c, ns)
	k := c.runKubelet(t, ns, 20*time.Millisecond)
	k.setSkip(func(p *corev1.Pod) bool { return strings.Contains(p.Spec.Containers[0].Image, "does-not-exist") })

	mustKubectl(t, c, manifest(ns, "bosun.local/hello:v1"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	mustKubectl(t, c, "", "-n", ns, "patch", "deployment/hello", "-p", `{"spec":{"progressDeadlineSeconds":3}}`)
	mustKubectl(t, c, "", "-n", ns, "set", "image", "deployment/hello", "hello=bosun.local/does-not-exist:v1")
	out, err := kubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	if err == nil || !strings.Contains(out, "exceeded its progress deadline") {
		t.Fatalf("rollout status on a stuck rollout: err %v\n%s", err, out)
	}
	d, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cond := condition(d, appsv1.DeploymentProgressing)
	if cond == nil || cond.Reason != deployment.ReasonTimedOut || cond.Status != corev1.ConditionFalse {
		t.Errorf("Progressing = %+v, want False/ProgressDeadlineExceeded", cond)
	}
	// The old pods keep serving.
	if d.Status.AvailableReplicas != 3 {
		t.Errorf("available replicas = %d during the stuck rollout, want 3", d.Status.AvailableReplicas)
	}
	// Undo recovers.
	mustKubectl(t, c, "", "-n", ns, "rollout", "undo", "deployment/hello")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
}

func TestRecreateNeverOverlaps(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ns := "recreate"
	createNamespace(t, c, ns)
	c.runKubelet(t, ns, 20*time.Millisecond)
	m := strings.Replace(manifest(ns, "bosun.local/hello:v1"), "  replicas: 3\n", "  replicas: 3\n  strategy:\n    type: Recreate\n", 1)
	mustKubectl(t, c, m, "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")

	stop := make(chan struct{})
	overlap := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			list, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			images := map[string]bool{}
			for _, p := range list.Items {
				images[p.Spec.Containers[0].Image] = true
			}
			if len(images) > 1 {
				select {
				case overlap <- fmt.Sprint(images):
				default:
				}
			}
		}
	}()
	mustKubectl(t, c, "", "-n", ns, "set", "image", "deployment/hello", "hello=bosun.local/hello:v2")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	close(stop)
	<-done
	select {
	case imgs := <-overlap:
		t.Errorf("old and new pods existed together during a Recreate rollout: %s", imgs)
	default:
	}
	for _, p := range activePods(t, c, ns, "app=hello") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
			t.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
}
