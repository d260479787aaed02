package openapi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// kubectl runs the machine's kubectl (the dispatcher picks kubectl 1.33 from /version) against
// a test server, with its own HOME and cache so that nothing is shared between runs.
type kubectl struct {
	t          *testing.T
	bin        string // "": the /usr/bin/kubectl dispatcher
	kubeconfig string
	home       string
}

func (k *kubectl) run(stdin string, env []string, args ...string) (string, error) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.home, "cache")}, args...)
	bin := k.bin
	if bin == "" {
		bin = "/usr/bin/kubectl"
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(append(os.Environ(), "HOME="+k.home, "KUBECTL_EXTERNAL_DIFF="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *kubectl) mustRun(stdin string, env []string, args ...string) string {
	k.t.Helper()
	out, err := k.run(stdin, env, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestKubectl runs the real kubectl against the real API server: explain (OpenAPI v3),
// apply with strict field validation (kubectl looks for fieldValidation in the v3 document
// to let the server validate), create and edit (client-side patch metadata).
func TestKubectl(t *testing.T) {
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		t.Fatalf("this test needs the machine's kubectl: %v", err)
	}
	s := testserver.Start(t)
	k := &kubectl{t: t, kubeconfig: s.Kubeconfig, home: t.TempDir()}

	explain := []struct {
		args []string
		want []string
	}{
		{[]string{"explain", "pods"}, []string{"KIND:       Pod", "VERSION:    v1", "DESCRIPTION:",
			"Pod is a collection of containers", "spec\t<PodSpec>", "status\t<PodStatus>"}},
		{[]string{"explain", "deployment.spec.strategy"}, []string{"GROUP:      apps", "KIND:       Deployment",
			"FIELD: strategy <DeploymentStrategy>", "rollingUpdate\t<RollingUpdateDeployment>", "type\t<string>"}},
		{[]string{"explain", "pods", "--recursive"}, []string{"containers\t<[]Container> -required-",
			"      image\t<string>", "nodeName\t<string>"}},
		{[]string{"explain", "jobs.spec.backoffLimit"}, []string{"GROUP:      batch", "FIELD: backoffLimit <integer>"}},
	}
	for _, e := range explain {
		out := k.mustRun("", nil, e.args...)
		t.Logf("kubectl %s:\n%.600s", strings.Join(e.args, " "), out)
		for _, w := range e.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %s: output lacks %q:\n%.3000s", strings.Join(e.args, " "), w, out)
			}
		}
	}
	const unknownField = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: default\nbogus: true\n"

	// The OpenAPI v2 (protobuf) path of explain, and older kubectls (v3 explain since 1.27).
	out := k.mustRun("", nil, "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
	for _, w := range []string{"KIND:     Deployment", "RESOURCE: strategy <Object>", "rollingUpdate\t<Object>"} {
		if !strings.Contains(out, w) {
			t.Errorf("explain --output=plaintext-openapiv2: output lacks %q:\n%s", w, out)
		}
	}
	for _, v := range []string{"1.27", "1.30", "1.32"} {
		old := &kubectl{t: t, bin: "/usr/lib/google-cloud-sdk/bin/kubectl." + v, kubeconfig: s.Kubeconfig, home: t.TempDir()}
		out := old.mustRun("", nil, "explain", "deployment.spec.strategy")
		if !strings.Contains(out, "rollingUpdate") || !strings.Contains(out, "Deployment") {
			t.Errorf("kubectl %s explain deployment.spec.strategy:\n%s", v, out)
		}
		// older kubectls find fieldValidation through the v2 document (shared parameters)
		out, err := old.run(unknownField, nil, "apply", "-f", "-")
		if err == nil || !strings.Contains(out, `strict decoding error: unknown field "bogus"`) {
			t.Errorf("kubectl %s apply with an unknown field: %v\n%s", v, err, out)
		}
	}
	if out, err := k.run("", nil, "explain", "pods.spec.bogus"); err == nil || !strings.Contains(out, `field "bogus" does not exist`) {
		t.Errorf("explain of a missing field: %v\n%s", err, out)
	}

	const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  a: "1"
`
	// An unknown field: kubectl 1.33 validates strictly by default, on the server when the
	// OpenAPI document advertises fieldValidation (otherwise it would say so client-side).
	out, err := k.run(cm+"bogus: true\n", nil, "apply", "-f", "-")
	t.Logf("apply with an unknown field: %v\n%s", err, out)
	if err == nil || !strings.Contains(out, `strict decoding error: unknown field "bogus"`) {
		t.Errorf("apply with an unknown field: %v\n%s", err, out)
	}
	k.mustRun(cm, nil, "apply", "-f", "-")
	k.mustRun(strings.Replace(cm, `a: "1"`, `a: "2"`, 1), nil, "apply", "-f", "-")
	got, err := s.Client.CoreV1().ConfigMaps("default").Get(context.Background(), "settings", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "2" {
		t.Fatalf("after apply: %v %v", got.Data, err)
	}

	k.mustRun("", nil, "create", "deployment", "web", "--image=bosun.local/hello:v1")
	editor := filepath.Join(k.home, "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/replicas: 1$/replicas: 3/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	k.mustRun("", []string{"KUBE_EDITOR=" + editor}, "edit", "deployment", "web")
	d, err := s.Client.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("after edit: replicas %v, %v", d.Spec.Replicas, err)
	}
}
