// Package e2e runs the built bosun binary and drives it with the real kubectl, as a user would.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/reap"
)

// bosunBin is the binary built once for every test.
var bosunBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bosun-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bosunBin = filepath.Join(dir, "bosun")
	build := exec.Command("go", "build", "-o", bosunBin, "../../cmd/bosun")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build bosun:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is a running `bosun server` and a kubectl environment pointing at it.
type cluster struct {
	t          testing.TB
	dir        string
	kubeconfig string
	home       string
	port       int
	cmd        *exec.Cmd
	log        *bytes.Buffer
	// ns, when set, is the network namespace the cluster runs in (its only link leads
	// nowhere, so no packet can leave the machine); kubectl runs there too.
	ns *netharness.NS
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster runs `bosun server` with extra flags on a fresh data dir and waits for /readyz.
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), home: t.TempDir(), port: freePort(t), log: &bytes.Buffer{}}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	c.start(extra...)
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) start(extra ...string) {
	t := c.t
	bind := "127.0.0.1"
	if c.ns != nil {
		bind = "0.0.0.0" // pods reach the API through the kubernetes service; the namespace is sealed
	}
	args := append([]string{"server", "--data-dir", c.dir, "--bind-address", bind,
		"--https-port", strconv.Itoa(c.port)}, extra...)
	if c.ns != nil {
		c.cmd = c.ns.Command(context.Background(), bosunBin, args...)
	} else {
		c.cmd = exec.Command(bosunBin, args...)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c.ready() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bosun server not ready after 60s; log:\n%s", c.log.String())
}

// ready reports whether /readyz answers 200.
func (c *cluster) ready() bool {
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", c.port)
	if c.ns != nil {
		out, err := c.ns.Output(context.Background(), "curl", "-ksf", "--max-time", "2", url)
		return err == nil && strings.TrimSpace(out) == "ok"
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// stop sends SIGTERM and waits for a clean exit.
func (c *cluster) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Errorf("bosun server exited with %v after SIGTERM; log:\n%s", err, c.log.String())
		}
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		c.t.Errorf("bosun server did not stop within 30s of SIGTERM")
	}
	c.cmd = nil
}

// kubectl runs the real kubectl (the /usr/bin dispatcher, or a given binary) against the cluster.
func (c *cluster) kubectlWith(bin string, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if c.ns != nil {
		cmd = c.ns.Command(ctx, bin, args...)
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+c.home)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlTimeout runs kubectl for at most d (for commands that stream until stopped).
func (c *cluster) kubectlTimeout(d time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", args...)
	if c.ns != nil {
		cmd = c.ns.Command(ctx, "/usr/bin/kubectl", args...)
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+c.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *cluster) kubectl(args ...string) (string, error) {
	return c.kubectlWith("/usr/bin/kubectl", "", args...)
}

func (c *cluster) must(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) mustStdin(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.kubectlWith("/usr/bin/kubectl", stdin, args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// startNodeCluster runs a whole cluster — control plane and the local node with containerd —
// inside a network namespace of the test's own, and fails the test if any packet tried to
// leave it.
func startNodeCluster(t testing.TB, extra ...string) *cluster {
	t.Helper()
	ns := netharness.New(t)
	if err := ns.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	// A short data dir: containerd's sockets live under it (108-byte limit on socket paths).
	dir, err := os.MkdirTemp("/tmp", "bosun-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, home: t.TempDir(), port: 6443, log: &bytes.Buffer{}, ns: ns}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	c.start(append([]string{"--node-ip", netharness.NodeIP.String(), "--cleanup-on-exit"}, extra...)...)
	t.Cleanup(func() {
		c.stop()
		if n, err := ns.Leaks(); err != nil || n != 0 {
			t.Errorf("%d packets tried to leave the machine (err %v)", n, err)
		}
		if t.Failed() {
			t.Logf("bosun log:\n%s", c.log.String())
		}
		if err := reap.Dir(dir); err != nil {
			t.Logf("reaping %s: %v", dir, err)
		}
		os.RemoveAll(dir)
	})
	return c
}

func manifest(name string) string { return filepath.Join("testdata", "manifests", name) }
