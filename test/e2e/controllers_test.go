package e2e

import (
	"strings"
	"testing"
	"time"
)

func (c *cluster) waitNodeReady() {
	c.t.Helper()
	c.waitFor("node Ready", 120*time.Second, func(s string) bool { return strings.TrimSpace(s) == "True" },
		"get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}`)
}

func count(s string) int { return len(strings.Fields(s)) }

// TestControllersOnRealPods drives the controllers with real pods: the seeds' ReplicaSet heals
// a force-deleted pod and scales; a rollout stuck on a missing image reports
// ProgressDeadlineExceeded; pause/resume; cascade and orphan deletion; namespace deletion.
func TestControllersOnRealPods(t *testing.T) {
	c := startNodeCluster(t)
	c.waitNodeReady()

	// ReplicaSet: three green pods, a force-deleted one comes back, scale up and down.
	c.must("apply", "-f", manifest("simple-replicaset.yaml"))
	running := func(n int) func(string) bool { return func(s string) bool { return count(s) == n } }
	sel := []string{"get", "pods", "-l", "app=my-little-pod", "--field-selector", "status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}"}
	pods := strings.Fields(c.waitFor("3 running replicaset pods", 120*time.Second, running(3), sel...))
	c.must("delete", "pod", pods[0], "--force", "--grace-period=0")
	c.waitFor("a replacement pod", 120*time.Second, func(s string) bool {
		return count(s) == 3 && !strings.Contains(s, pods[0])
	}, sel...)
	c.must("scale", "rs/my-replicaset", "--replicas=5")
	c.waitFor("5 running pods", 120*time.Second, running(5), sel...)
	c.must("scale", "rs/my-replicaset", "--replicas=2")
	c.waitFor("2 pods left", 120*time.Second, running(2),
		"get", "pods", "-l", "app=my-little-pod", "-o", "jsonpath={.items[*].metadata.name}")
	if out := c.must("get", "rs", "my-replicaset", "-o", "jsonpath={.status.readyReplicas}/{.status.replicas}"); out != "2/2" {
		t.Errorf("replicaset status after scale down: %s", out)
	}

	// A rollout stuck on an image that does not exist reports ProgressDeadlineExceeded.
	c.must("create", "deployment", "stuck", "--image=bosun.local/hello:v1", "--replicas=1")
	c.must("rollout", "status", "deployment/stuck", "--timeout=120s")
	c.must("patch", "deployment", "stuck", "-p", `{"spec":{"progressDeadlineSeconds":5}}`)
	c.must("set", "image", "deployment/stuck", "hello=bosun.local/missing:v9")
	c.waitFor("ProgressDeadlineExceeded", 120*time.Second, func(s string) bool { return strings.Contains(s, "ProgressDeadlineExceeded") },
		"get", "deployment", "stuck", "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`)
	out, err := c.kubectl("rollout", "status", "deployment/stuck", "--timeout=30s")
	if err == nil || !strings.Contains(out, "exceeded its progress deadline") {
		t.Errorf("rollout status of a stuck deployment: err=%v %s", err, out)
	}
	c.waitFor("ErrImagePull or ImagePullBackOff", 120*time.Second, func(s string) bool {
		return strings.Contains(s, "ErrImagePull") || strings.Contains(s, "ImagePullBackOff")
	}, "get", "pods", "-l", "app=stuck")

	// Pause and resume: a paused deployment does not roll out its new template.
	c.must("rollout", "undo", "deployment/stuck")
	c.must("rollout", "status", "deployment/stuck", "--timeout=120s")
	c.must("rollout", "pause", "deployment/stuck")
	c.must("set", "image", "deployment/stuck", "hello=bosun.local/hello:v2")
	time.Sleep(2 * time.Second)
	if imgs := c.must("get", "pods", "-l", "app=stuck", "-o", "jsonpath={.items[*].spec.containers[0].image}"); strings.Contains(imgs, ":v2") {
		t.Errorf("paused deployment rolled out: %s", imgs)
	}
	c.must("rollout", "resume", "deployment/stuck")
	c.must("rollout", "status", "deployment/stuck", "--timeout=120s")

	// Orphan deletion keeps the ReplicaSet and its pods; cascading deletion removes them.
	c.must("delete", "deployment", "stuck", "--cascade=orphan")
	if rs := c.must("get", "rs", "-l", "app=stuck", "-o", "name"); count(rs) == 0 {
		t.Errorf("orphaned replica sets are gone")
	}
	c.must("create", "deployment", "cascade", "--image=bosun.local/hello:v1", "--replicas=2")
	c.must("rollout", "status", "deployment/cascade", "--timeout=120s")
	c.must("delete", "deployment", "cascade")
	c.waitFor("cascade deletion", 120*time.Second, func(s string) bool { return strings.TrimSpace(s) == "" },
		"get", "rs,pods", "-l", "app=cascade", "-o", "name")

	// Namespace deletion empties the namespace, then removes it.
	c.must("create", "namespace", "scratch")
	c.must("create", "deployment", "web", "-n", "scratch", "--image=bosun.local/hello:v1")
	c.must("rollout", "status", "deployment/web", "-n", "scratch", "--timeout=120s")
	c.must("delete", "namespace", "scratch", "--timeout=120s")
	if out, err := c.kubectl("get", "namespace", "scratch"); err == nil || !strings.Contains(out, "NotFound") && !strings.Contains(out, "not found") {
		t.Errorf("namespace after delete: %v %s", err, out)
	}
}
