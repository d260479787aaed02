package discovery_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestKubectlDiscovery runs the machine's kubectl (1.33, picked by the dispatcher) against the
// real API server: it must learn every resource from the two aggregated documents (/api and
// /apis) without asking per group version, and print upstream's api-resources table.
func TestKubectlDiscovery(t *testing.T) {
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		t.Fatalf("this test needs the machine's kubectl: %v", err)
	}
	s := testserver.Start(t)
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		full := append([]string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(home, "cache")}, args...)
		cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", full...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	out := run("api-resources", "-v=6")
	// kubectl 1.33 logs each request as: "Response" verb="GET" url="https://host:port/apis?timeout=32s"
	gets := regexp.MustCompile(`verb="GET" url="https?://[^/"]+(/[^?"]*)`).FindAllStringSubmatch(out, -1)
	var paths []string
	for _, g := range gets {
		paths = append(paths, g[1])
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "/apis/") || strings.HasPrefix(p, "/api/") {
			t.Errorf("kubectl fetched %s: aggregated discovery not used (requests %v)", p, paths)
		}
	}
	if !contains(paths, "/api") || !contains(paths, "/apis") {
		t.Errorf("kubectl requests %v, want /api and /apis", paths)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && !strings.Contains(line, "round_trippers") && !strings.HasPrefix(line, "I") {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for _, want := range []string{
		"NAME SHORTNAMES APIVERSION NAMESPACED KIND",
		"pods po v1 true Pod",
		"namespaces ns v1 false Namespace",
		"deployments deploy apps/v1 true Deployment",
		"jobs batch/v1 true Job",
	} {
		if got := rows[strings.Fields(want)[0]]; got != want {
			t.Errorf("api-resources row %q, want %q", got, want)
		}
	}

	versions := strings.Fields(run("api-versions"))
	for _, want := range []string{"v1", "apps/v1", "batch/v1"} {
		if !contains(versions, want) {
			t.Errorf("api-versions %v lacks %s", versions, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
