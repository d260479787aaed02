package integration

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const pdbManifest = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: hello
  namespace: pdb
spec:
  maxUnavailable: 34%
  selector:
    matchLabels: {app: hello}
`

func TestPodDisruptionBudgetStatus(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "pdb")
	c.runKubelet(t, "pdb", 20*time.Millisecond)
	mustKubectl(t, c, manifest("pdb", "bosun.local/hello:v1"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "pdb", "rollout", "status", "deployment/hello", "--timeout=60s")
	mustKubectl(t, c, pdbManifest, "apply", "-f", "-")
	eventually(t, "budget status", func() (bool, error) {
		pdb, err := c.client.PolicyV1().PodDisruptionBudgets("pdb").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := pdb.Status
		// 34% of 3 rounds up to 2 unavailable: 1 must stay healthy.
		return st.ExpectedPods == 3 && st.CurrentHealthy == 3 && st.DesiredHealthy == 1 && st.DisruptionsAllowed == 2 &&
			st.ObservedGeneration == pdb.Generation, nil
	})
}
