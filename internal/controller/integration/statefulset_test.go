package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const stsManifest = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: sts
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: hello
        image: bosun.local/hello:v1
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
`

func TestStatefulSetWithKubectl(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "sts")
	c.runKubelet(t, "sts", 50*time.Millisecond)
	mustKubectl(t, c, stsManifest, "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "sts", "rollout", "status", "sts/web", "--timeout=60s")
	pods := activePods(t, c, "sts", "app=web")
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	created := map[string]metav1.Time{}
	for _, p := range pods {
		created[p.Name] = p.CreationTimestamp
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" {
			t.Errorf("pod %s hostname %q subdomain %q", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
		}
	}
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		if _, ok := created[n]; !ok {
			t.Fatalf("no pod %s", n)
		}
		if _, err := c.client.CoreV1().PersistentVolumeClaims("sts").Get(ctx, "data-"+n, metav1.GetOptions{}); err != nil {
			t.Errorf("claim data-%s: %v", n, err)
		}
	}
	// OrderedReady: each pod was created after the one below it was ready.
	for _, pair := range [][2]string{{"web-0", "web-1"}, {"web-1", "web-2"}} {
		a, b := created[pair[0]], created[pair[1]]
		if b.Before(&a) {
			t.Errorf("%s created before %s", pair[1], pair[0])
		}
	}

	mustKubectl(t, c, "", "-n", "sts", "set", "image", "sts/web", "hello=bosun.local/hello:v2")
	mustKubectl(t, c, "", "-n", "sts", "rollout", "status", "sts/web", "--timeout=60s")
	for _, p := range activePods(t, c, "sts", "app=web") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
			t.Errorf("pod %s runs %s after the update", p.Name, p.Spec.Containers[0].Image)
		}
	}
	set, err := c.client.AppsV1().StatefulSets("sts").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Status.CurrentRevision != set.Status.UpdateRevision || set.Status.UpdatedReplicas != 3 || set.Status.ReadyReplicas != 3 {
		t.Errorf("status after update: %+v", set.Status)
	}

	mustKubectl(t, c, "", "-n", "sts", "scale", "sts/web", "--replicas=1")
	eventually(t, "scale down to web-0", func() (bool, error) {
		pods := activePods(t, c, "sts", "app=web")
		return len(pods) == 1 && pods[0].Name == "web-0", nil
	})
	// Claims stay (the default Retain policy).
	if _, err := c.client.CoreV1().PersistentVolumeClaims("sts").Get(ctx, "data-web-2", metav1.GetOptions{}); err != nil {
		t.Errorf("claim of a removed pod is gone: %v", err)
	}
}

func TestStatefulSetClaimRetentionDelete(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "sts")
	c.runKubelet(t, "sts", 20*time.Millisecond)
	m := strings.Replace(stsManifest, "  serviceName: web\n", "  serviceName: web\n  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Delete\n    whenScaled: Delete\n", 1)
	mustKubectl(t, c, m, "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", "sts", "rollout", "status", "sts/web", "--timeout=60s")
	mustKubectl(t, c, "", "-n", "sts", "scale", "sts/web", "--replicas=1")
	eventually(t, "the claims of removed pods to be collected", func() (bool, error) {
		l, err := c.client.CoreV1().PersistentVolumeClaims("sts").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 1 && l.Items[0].Name == "data-web-0", nil
	})
	mustKubectl(t, c, "", "-n", "sts", "delete", "sts/web")
	eventually(t, "the remaining claim to go with the set", func() (bool, error) {
		l, err := c.client.CoreV1().PersistentVolumeClaims("sts").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, err
	})
}
