package fence

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestRunWithAPIServer follows Nodes' pod CIDRs from the real API server.
func TestRunWithAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := ts.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Spec:       corev1.NodeSpec{PodCIDR: "10.42.5.0/24", PodCIDRs: []string{"10.42.5.0/24"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ns := netharness.New(t)
	f, err := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path, Client: ts.Client})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := f.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	out, err := ns.Output(ctx, "nft", "list", "set", "inet", TableName, SetNodeSubnetsKey)
	if err != nil || !strings.Contains(out, "10.42.5.0/24") {
		t.Fatalf("node subnets at Ready: %s %v", out, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
