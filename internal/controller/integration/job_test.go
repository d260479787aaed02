package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const jobManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  namespace: jobs
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: bosun.local/busybox:1.36
        command: ["sh", "-c", "echo done"]
`

func TestJobRunsToCompletion(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "jobs")
	c.runKubelet(t, "jobs", 50*time.Millisecond)
	mustKubectl(t, c, jobManifest, "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "jobs", "wait", "--for=condition=complete", "job/pi", "--timeout=60s")
	j, err := c.client.BatchV1().Jobs("jobs").Get(ctx, "pi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 3 || j.Status.Active != 0 || j.Status.CompletionTime == nil {
		t.Errorf("status = %+v", j.Status)
	}
	pods, err := c.client.CoreV1().Pods("jobs").List(ctx, metav1.ListOptions{LabelSelector: "job-name=pi"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d pods for a 3-completion job", len(pods.Items))
	}
	out := mustKubectl(t, c, "", "-n", "jobs", "get", "job", "pi")
	if !strings.Contains(out, "3/3") {
		t.Errorf("kubectl get job:\n%s", out)
	}
	// Deleting the Job collects its pods.
	mustKubectl(t, c, "", "-n", "jobs", "delete", "job", "pi")
	eventually(t, "the job's pods to be collected", func() (bool, error) {
		l, err := c.client.CoreV1().Pods("jobs").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, err
	})
}
