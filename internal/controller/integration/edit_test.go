package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectl edit, driven by an editor that rewrites the image.
func TestKubectlEditRollsOut(t *testing.T) {
	c := start(t)
	ns := "edit"
	createNamespace(t, c, ns)
	c.runKubelet(t, ns, 20*time.Millisecond)
	mustKubectl(t, c, manifest(ns, "bosun.local/hello:v1"), "apply", "-f", "-")
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")

	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's#bosun.local/hello:v1#bosun.local/hello:v2#' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "-n", ns, "edit", "deployment/hello")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.ts.Kubeconfig, "HOME="+filepath.Dir(c.ts.Kubeconfig), "KUBE_EDITOR="+editor)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "edited") {
		t.Fatalf("kubectl edit: %v\n%s", err, out)
	}
	mustKubectl(t, c, "", "-n", ns, "rollout", "status", "deployment/hello", "--timeout=60s")
	for _, p := range activePods(t, c, ns, "app=hello") {
		if p.Spec.Containers[0].Image != "bosun.local/hello:v2" {
			t.Errorf("pod %s runs %s after kubectl edit", p.Name, p.Spec.Containers[0].Image)
		}
	}
	hist := mustKubectl(t, c, "", "-n", ns, "rollout", "history", "deployment/hello")
	if !strings.Contains(hist, "\n2 ") {
		t.Errorf("rollout history after edit:\n%s", hist)
	}
}
