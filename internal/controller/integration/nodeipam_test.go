package integration

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/controller/manager"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

func TestNodeIPAMStableAcrossRestarts(t *testing.T) {
	ts := testserver.Start(t)
	ctx := context.Background()
	c := &cluster{ts: ts, client: ts.Client}
	runIPAM := func() func() {
		m, err := manager.New(manager.Config{Client: ts.Client, RESTConfig: ts.RESTConfig, Controllers: []string{"nodeipam"},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(mctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		}
	}
	addNode := func(name string) {
		t.Helper()
		if _, err := c.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cidrOf := func(name string) string {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return ""
		}
		return n.Spec.PodCIDR
	}
	stop := runIPAM()
	addNode("node-a")
	addNode("node-b")
	eventually(t, "both nodes to get a pod CIDR", func() (bool, error) {
		return cidrOf("node-a") != "" && cidrOf("node-b") != "", nil
	})
	a, b := cidrOf("node-a"), cidrOf("node-b")
	if a == b {
		t.Fatalf("two nodes share %s", a)
	}
	for _, cidr := range []string{a, b} {
		if cidr != "10.42.0.0/24" && cidr != "10.42.1.0/24" {
			t.Errorf("unexpected CIDR %s", cidr)
		}
	}
	stop()

	// A new manager rebuilds the used set from the nodes: no reuse.
	stop = runIPAM()
	defer stop()
	addNode("node-c")
	eventually(t, "the third node's pod CIDR", func() (bool, error) { return cidrOf("node-c") != "", nil })
	if got := cidrOf("node-c"); got != "10.42.2.0/24" {
		t.Errorf("node-c got %s, want 10.42.2.0/24", got)
	}
	if cidrOf("node-a") != a || cidrOf("node-b") != b {
		t.Errorf("existing CIDRs changed across the restart")
	}
}
