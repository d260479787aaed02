package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// TestKubectlAgainstAPIServer drives the real kubectl through the seeds' manifests against the
// API server alone (no agent): what kubectl shows is what the API stores.
func TestKubectlAgainstAPIServer(t *testing.T) {
	c := startCluster(t, "--disable-agent", "--disable-scheduler", "--disable-controller-manager")

	out := c.must("version")
	contains(t, "kubectl version", out, "Server Version: v1.33")

	out = c.must("get", "ns")
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		contains(t, "get ns", out, ns)
	}

	// apply every manifest, twice: the second time nothing changes.
	for _, m := range []string{"pod.yaml", "shared-volume-pod.yaml", "simple-deployment.yaml",
		"simple-replicaset.yaml", "two-replicas-with-label.yaml", "nodeport-service.yaml"} {
		out := c.must("apply", "-f", manifest(m))
		if !strings.Contains(out, "created") {
			t.Errorf("first apply of %s: %s", m, out)
		}
		before := c.must("get", "-f", manifest(m), "-o", "jsonpath={.metadata.resourceVersion}")
		out = c.must("apply", "-f", manifest(m))
		after := c.must("get", "-f", manifest(m), "-o", "jsonpath={.metadata.resourceVersion}")
		// kubectl reports a pod with volumes "configured": admission appended the service
		// account token volume, so its patch carries $setElementOrder directives (as against
		// upstream). Either way the object must not change.
		if before != after || !strings.Contains(out, "unchanged") && !(m == "shared-volume-pod.yaml" && strings.Contains(out, "configured")) {
			t.Errorf("second apply of %s: %s (resourceVersion %s → %s)", m, out, before, after)
		}
	}
	// apply a changed manifest: the deployment is configured with the new image.
	out = c.must("apply", "-f", manifest("deployment-update.yaml"))
	contains(t, "apply changed deployment", out, "deployment.apps/hello configured")
	out = c.must("get", "deployment", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}")
	if out != "bosun.local/hello:v2 2" {
		t.Errorf("deployment after changed apply: %q", out)
	}
	// strict validation rejects an unknown field, as upstream kubectl apply does by default.
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  a: b\nbogus: 1\n"
	if out, err := c.kubectlWith("/usr/bin/kubectl", bad, "apply", "-f", "-"); err == nil || !strings.Contains(out, `unknown field "bogus"`) {
		t.Errorf("apply with unknown field: err=%v\n%s", err, out)
	}

	// labels and every selector form
	for i, l := range []string{"environment=production,tier=frontend", "environment=qa,tier=backend", "environment=dev,tier=cache"} {
		name := []string{"sel-a", "sel-b", "sel-c"}[i]
		c.must("run", name, "--image=bosun.local/hello:v1", "--labels="+l)
	}
	sel := func(s string) string {
		out := c.must("get", "pods", "-l", s, "-o", "name")
		return strings.Join(strings.Fields(out), " ")
	}
	for s, want := range map[string]string{
		"environment=production,tier=frontend": "pod/sel-a",
		"environment in (production, qa)":      "pod/sel-a pod/sel-b",
		"tier notin (frontend, backend),tier":  "pod/sel-c",
		"environment!=dev,environment":         "pod/sel-a pod/sel-b",
		"!environment,app=myapp":               "pod/hello",
	} {
		if got := sel(s); got != want {
			t.Errorf("get pods -l %q = %q, want %q", s, got, want)
		}
	}
	c.must("label", "pod", "hello", "environment=qa")
	if got := sel("environment in (production, qa)"); got != "pod/hello pod/sel-a pod/sel-b" {
		t.Errorf("after label: %q", got)
	}
	out = c.must("get", "pods", "--field-selector", "metadata.name=hello", "-o", "name")
	if strings.TrimSpace(out) != "pod/hello" {
		t.Errorf("field selector: %q", out)
	}

	// get prints the upstream columns.
	out = c.must("get", "pods")
	if !regexp.MustCompile(`(?m)^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`).MatchString(out) {
		t.Errorf("get pods header:\n%s", out)
	}
	contains(t, "get pods", out, "hello", "0/1", "Pending")
	out = c.must("get", "pods", "-o", "wide")
	if !regexp.MustCompile(`NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES`).MatchString(out) {
		t.Errorf("get pods -o wide header:\n%s", out)
	}
	out = c.must("get", "deployments")
	if !regexp.MustCompile(`NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE`).MatchString(out) {
		t.Errorf("get deployments header:\n%s", out)
	}
	out = c.must("get", "svc", "eva")
	if !regexp.MustCompile(`NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE`).MatchString(out) {
		t.Errorf("get svc header:\n%s", out)
	}
	contains(t, "get svc", out, "NodePort")

	// scale
	c.must("scale", "deployments/hello", "--replicas=2")
	if out := c.must("get", "deploy", "hello", "-o", "jsonpath={.spec.replicas}"); out != "2" {
		t.Errorf("replicas after scale: %q", out)
	}
	c.must("scale", "replicaset/my-replicaset", "--replicas=5")
	// set image
	c.must("set", "image", "deployments/hello", "hello=bosun.local/hello:v1")
	if out := c.must("get", "deploy", "hello", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); out != "bosun.local/hello:v1" {
		t.Errorf("image after set image: %q", out)
	}
	// annotate
	c.must("annotate", "deployment", "hello", "kubernetes.io/change-cause=testing")

	// replace with a stale object is refused with a conflict.
	stale := c.must("get", "configmap", "-n", "kube-system", "-o", "yaml")
	_ = stale
	c.must("create", "configmap", "cfg", "--from-literal=a=1")
	old := c.must("get", "configmap", "cfg", "-o", "yaml")
	c.must("patch", "configmap", "cfg", "-p", `{"data":{"a":"2"}}`)
	out, err := c.kubectlWith("/usr/bin/kubectl", old, "replace", "-f", "-")
	if err == nil || !strings.Contains(out, "the object has been modified") {
		t.Errorf("replace with stale object: err=%v\n%s", err, out)
	}
	newer := c.must("get", "configmap", "cfg", "-o", "yaml")
	c.mustStdin(strings.Replace(newer, "a: \"2\"", "a: \"3\"", 1), "replace", "-f", "-")
	if out := c.must("get", "configmap", "cfg", "-o", "jsonpath={.data.a}"); out != "3" {
		t.Errorf("after replace: %q", out)
	}

	// describe
	out = c.must("describe", "pod", "hello")
	contains(t, "describe pod", out, "Name:", "hello", "Namespace:", "default", "Image:", "bosun.local/hello:v1", "Status:", "Pending")
	out = c.must("describe", "deployment", "hello")
	contains(t, "describe deployment", out, "Replicas:", "StrategyType:", "RollingUpdate", "Pod Template:")
	c.must("describe", "service", "eva")
	c.must("describe", "namespace", "default")

	// explain
	out = c.must("explain", "pods")
	contains(t, "explain pods", out, "KIND:", "Pod", "VERSION:", "v1", "spec")
	out = c.must("explain", "deployment.spec.strategy")
	contains(t, "explain deployment.spec.strategy", out, "rollingUpdate", "type")

	// get --watch sees a new object and a deletion.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := exec.CommandContext(ctx, "/usr/bin/kubectl", "get", "configmaps", "--watch", "--output-watch-events")
	w.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+c.home)
	stdout, _ := w.StdoutPipe()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(re string) {
		t.Helper()
		rx := regexp.MustCompile(re)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %q", re)
				}
				if rx.MatchString(l) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("watch: no line matching %q", re)
			}
		}
	}
	waitLine(`ADDED\s+cfg\s`)
	c.must("create", "configmap", "watched", "--from-literal=x=y")
	waitLine(`ADDED\s+watched\s`)
	c.must("delete", "configmap", "watched")
	waitLine(`DELETED\s+watched\s`)
	_ = w.Process.Kill()
	_ = w.Wait()

	// delete
	out = c.must("delete", "-f", manifest("two-replicas-with-label.yaml"))
	contains(t, "delete -f", out, `deployment.apps "eva-west" deleted`, `deployment.apps "eva-east" deleted`)
	if out, err := c.kubectl("get", "deployment", "eva-west"); err == nil || !strings.Contains(out, `deployments.apps "eva-west" not found`) {
		t.Errorf("get after delete: %v %s", err, out)
	}
}

// TestRestartKeepsObjects stops the server with SIGTERM and starts it on the same data dir.
func TestServerRestartKeepsObjects(t *testing.T) {
	c := startCluster(t, "--disable-agent")
	c.must("create", "namespace", "keep")
	c.must("create", "configmap", "kept", "-n", "keep", "--from-literal=k=v")
	uid := c.must("get", "configmap", "kept", "-n", "keep", "-o", "jsonpath={.metadata.uid}")
	c.stop()
	c.start("--disable-agent")
	if got := c.must("get", "configmap", "kept", "-n", "keep", "-o", "jsonpath={.metadata.uid} {.data.k}"); got != uid+" v" {
		t.Errorf("after restart: %q, want %q", got, uid+" v")
	}
	st, err := os.Stat(c.kubeconfig)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode: %v %v", st, err)
	}
}

// TestEveryKind applies one object of every served kind, then checks `kubectl get` prints the
// upstream columns and `kubectl describe` works for each.
func TestEveryKind(t *testing.T) {
	c := startCluster(t, "--disable-agent")
	out := c.must("apply", "-f", "testdata/allkinds.yaml")
	if n := strings.Count(out, "created"); n != 33 {
		t.Errorf("apply created %d objects, want 33:\n%s", n, out)
	}
	headers := map[string]string{
		"pods":                     `NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE`,
		"services":                 `NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE`,
		"endpoints":                `NAME\s+ENDPOINTS\s+AGE`,
		"configmaps":               `NAME\s+DATA\s+AGE`,
		"secrets":                  `NAME\s+TYPE\s+DATA\s+AGE`,
		"serviceaccounts":          `NAME\s+SECRETS\s+AGE`,
		"events":                   `LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE`,
		"persistentvolumeclaims":   `NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS`,
		"resourcequotas":           `NAME\s+AGE\s+REQUEST\s+LIMIT`,
		"limitranges":              `NAME\s+CREATED AT`,
		"deployments":              `NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE`,
		"replicasets":              `NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE`,
		"statefulsets":             `NAME\s+READY\s+AGE`,
		"daemonsets":               `NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE`,
		"jobs":                     `NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE`,
		"cronjobs":                 `NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE`,
		"leases":                   `NAME\s+HOLDER\s+AGE`,
		"endpointslices":           `NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE`,
		"ingresses":                `NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE`,
		"networkpolicies":          `NAME\s+POD-SELECTOR\s+AGE`,
		"poddisruptionbudgets":     `NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE`,
		"horizontalpodautoscalers": `NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE`,
		"roles":                    `NAME\s+CREATED AT`,
		"rolebindings":             `NAME\s+ROLE\s+AGE`,
	}
	clusterHeaders := map[string]string{
		"nodes":               `NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION`,
		"persistentvolumes":   `NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS`,
		"namespaces":          `NAME\s+STATUS\s+AGE`,
		"storageclasses":      `NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE`,
		"ingressclasses":      `NAME\s+CONTROLLER\s+PARAMETERS\s+AGE`,
		"priorityclasses":     `NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE`,
		"clusterroles":        `NAME\s+CREATED AT`,
		"clusterrolebindings": `NAME\s+ROLE\s+AGE`,
	}
	check := func(resource, header string, ns ...string) {
		args := append([]string{"get", resource}, ns...)
		out, err := c.kubectl(args...)
		if err != nil {
			t.Errorf("kubectl get %s: %v\n%s", resource, err, out)
			return
		}
		if !regexp.MustCompile(`(?m)^` + header).MatchString(out) {
			t.Errorf("kubectl get %s header:\n%s", resource, out)
		}
		names, err := c.kubectl(append([]string{"get", resource, "-o", "name"}, ns...)...)
		if err != nil || strings.TrimSpace(names) == "" {
			t.Errorf("kubectl get %s -o name: %v %q", resource, err, names)
			return
		}
		first := strings.Fields(names)[0]
		if out, err := c.kubectl(append([]string{"describe", first}, ns...)...); err != nil || !strings.Contains(out, "Name:") {
			t.Errorf("kubectl describe %s: %v\n%s", first, err, out)
		}
	}
	for r, h := range headers {
		check(r, h, "-n", "kinds")
	}
	for r, h := range clusterHeaders {
		check(r, h)
	}
}
