package integration

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The shape of shared/manifests/two-replicas-with-label.yaml: two
// Deployments whose pods differ only in one label.
const twoDeployments = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: eva-west
  namespace: eva
spec:
  replicas: 2
  selector:
    matchLabels: {app: eva, release: west}
  template:
    metadata:
      labels: {app: eva, release: west}
    spec:
      containers:
      - name: hello
        image: bosun.local/hello:v1
        ports: [{containerPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: eva-east
  namespace: eva
spec:
  replicas: 2
  selector:
    matchLabels: {app: eva, release: east}
  template:
    metadata:
      labels: {app: eva, release: east}
    spec:
      containers:
      - name: hello
        image: bosun.local/hello:v2
        ports: [{containerPort: 8080}]
`

func TestDeploymentsWithOverlappingLabels(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	createNamespace(t, c, "eva")
	c.runKubelet(t, "eva", 20*time.Millisecond)
	mustKubectl(t, c, twoDeployments, "apply", "-f", "-")
	for _, d := range []string{"eva-west", "eva-east"} {
		mustKubectl(t, c, "", "-n", "eva", "rollout", "status", "deployment/"+d, "--timeout=60s")
	}
	if n := len(activePods(t, c, "eva", "app=eva")); n != 4 {
		t.Errorf("%d pods labelled app=eva, want 4", n)
	}
	for release, image := range map[string]string{"west": "bosun.local/hello:v1", "east": "bosun.local/hello:v2"} {
		pods := activePods(t, c, "eva", "app=eva,release="+release)
		if len(pods) != 2 {
			t.Errorf("%d %s pods, want 2", len(pods), release)
		}
		for _, p := range pods {
			ref := metav1.GetControllerOf(&p)
			if p.Spec.Containers[0].Image != image || ref == nil || ref.Kind != "ReplicaSet" {
				t.Errorf("pod %s: image %s owner %+v", p.Name, p.Spec.Containers[0].Image, ref)
			}
		}
	}
	rss, err := c.client.AppsV1().ReplicaSets("eva").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets, want one per deployment", len(rss.Items))
	}
}
