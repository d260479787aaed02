package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCascadingDeletion(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ns := "gc"
	createNamespace(t, c, ns)
	c.runKubelet(t, ns, 20*time.Millisecond)

	deploy := func() {
		t.Helper()
		mustKubectl(t, c, manifest(ns, "bosun.local/hello:v1"), "apply", "-f", "-")
		mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	}
	countAll := func() (rs, pods int) {
		rsl, err := c.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(rsl.Items), len(pl.Items)
	}

	t.Run("background", func(t *testing.T) {
		deploy()
		mustKubectl(t, c, "", "-n", ns, "delete", "deployment/hello")
		eventually(t, "ReplicaSets and pods to be collected", func() (bool, error) {
			rs, pods := countAll()
			return rs == 0 && pods == 0, nil
		})
	})

	t.Run("orphan", func(t *testing.T) {
		deploy()
		mustKubectl(t, c, "", "-n", ns, "delete", "deployment/hello", "--cascade=orphan")
		eventually(t, "the deployment to be gone", func() (bool, error) {
			_, err := c.client.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		time.Sleep(2 * time.Second) // give a wrong collection time to happen
		rsl, err := c.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rsl.Items) != 1 {
			t.Fatalf("%d ReplicaSets left after an orphaning delete, want 1", len(rsl.Items))
		}
		if refs := rsl.Items[0].OwnerReferences; len(refs) != 0 {
			t.Errorf("orphaned ReplicaSet still has owners %v", refs)
		}
		if n := len(activePods(t, c, ns, "app=hello")); n != 3 {
			t.Errorf("%d pods after an orphaning delete, want 3", n)
		}
		// Re-applying the deployment adopts the orphaned ReplicaSet.
		deploy()
		rsl, err = c.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rsl.Items) != 1 || metav1.GetControllerOf(&rsl.Items[0]) == nil {
			t.Errorf("orphaned ReplicaSet was not adopted back: %d ReplicaSets", len(rsl.Items))
		}
		mustKubectl(t, c, "", "-n", ns, "delete", "deployment/hello")
		eventually(t, "cleanup", func() (bool, error) {
			rs, pods := countAll()
			return rs == 0 && pods == 0, nil
		})
	})

	t.Run("foreground", func(t *testing.T) {
		deploy()
		out := mustKubectl(t, c, "", "-n", ns, "delete", "deployment/hello", "--cascade=foreground", "--wait=true", "--timeout=60s")
		if !strings.Contains(out, "deleted") {
			t.Errorf("kubectl delete: %s", out)
		}
		// kubectl waited for the deployment to go, which foreground deletion
		// allows only once its ReplicaSets and their pods are gone.
		rs, pods := countAll()
		if rs != 0 || pods != 0 {
			t.Errorf("after a foreground delete returned: %d ReplicaSets and %d pods left", rs, pods)
		}
	})
}

func TestNamespaceDeletion(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	ns := "doomed"
	createNamespace(t, c, ns)
	c.runKubelet(t, ns, 20*time.Millisecond)
	eventually(t, "the default ServiceAccount", func() (bool, error) {
		_, err := c.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	eventually(t, "the kube-root-ca.crt ConfigMap", func() (bool, error) {
		cm, err := c.client.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil && strings.Contains(cm.Data["ca.crt"], "BEGIN CERTIFICATE"), err
	})
	mustKubectl(t, c, manifest(ns, "bosun.local/hello:v1"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", ns, "create", "configmap", "settings", "--from-literal=a=b")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")

	mustKubectl(t, c, "", "delete", "namespace", ns, "--wait=false")
	got, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && got.Status.Phase != "Terminating" {
		// The phase may move a moment after the delete call returns.
		eventually(t, "phase Terminating", func() (bool, error) {
			got, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return err == nil && got.Status.Phase == "Terminating", err
		})
	}
	eventually(t, "the namespace to be removed", func() (bool, error) {
		_, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	for _, check := range []func() (int, error){
		func() (int, error) {
			l, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		func() (int, error) {
			l, err := c.client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
	} {
		if n, err := check(); err != nil || n != 0 {
			t.Errorf("%d objects left in the deleted namespace (err %v)", n, err)
		}
	}
	// The name can be used again, and gets a fresh default ServiceAccount.
	createNamespace(t, c, ns)
	eventually(t, "the default ServiceAccount of the new namespace", func() (bool, error) {
		_, err := c.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
}
