package e2e

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkDeploymentsOnRealPods measures, on this machine's node with real containers: the
// seconds from `kubectl set image` to `kubectl rollout status` done for the seeds' 3-replica
// deployment, and from `kubectl create deployment --replicas=100` to every replica available.
// Run with -benchtime 1x (each iteration is a whole scenario).
func BenchmarkDeploymentsOnRealPods(b *testing.B) {
	c := startNodeCluster(b)
	c.waitNodeReady()
	c.must("apply", "-f", manifest("simple-deployment.yaml"))
	c.must("rollout", "status", "deployment/hello", "--timeout=180s")
	var update, hundred time.Duration
	images := []string{"bosun.local/hello:v2", "bosun.local/hello:v1"}
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c.must("set", "image", "deployment/hello", "hello="+images[i%2])
		c.must("rollout", "status", "deployment/hello", "--timeout=180s")
		update += time.Since(t0)

		name := "many" + strings.Repeat("x", i)
		t0 = time.Now()
		c.must("create", "deployment", name, "--image=bosun.local/hello:v1", "--replicas=100")
		c.must("rollout", "status", "deployment/"+name, "--timeout=300s")
		hundred += time.Since(t0)
		c.must("delete", "deployment", name, "--wait=false")
		c.waitFor("100 pods gone", 300*time.Second, func(s string) bool { return strings.TrimSpace(s) == "" },
			"get", "pods", "-l", "app="+name, "-o", "name")
	}
	b.ReportMetric(update.Seconds()/float64(b.N), "s/3-replica-update")
	b.ReportMetric(hundred.Seconds()/float64(b.N), "s/100-replicas-available")
}
