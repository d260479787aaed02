package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
)

// serveName makes a TCP server inside ns that answers every connection
// with name and closes it.
func serveName(t testing.TB, ns *netharness.NS, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(name))
			c.Close()
		}
	}()
}

// ask connects to addr from inside ns and returns what the server said.
func ask(ns *netharness.NS, addr string) (string, error) {
	var out []byte
	err := ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		out, err = io.ReadAll(c)
		return err
	})
	return string(out), err
}

// eventually polls until f returns nil or 30s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seen asks addr n times and returns the set of answers.
func seen(ns *netharness.NS, addr string, n int) (map[string]int, error) {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		s, err := ask(ns, addr)
		if err != nil {
			return got, err
		}
		got[s]++
	}
	return got, nil
}

func wantExactly(got map[string]int, names ...string) error {
	if len(got) != len(names) {
		return errors.New("answers " + fmtMap(got) + ", want " + strings.Join(names, ","))
	}
	for _, n := range names {
		if got[n] == 0 {
			return errors.New("answers " + fmtMap(got) + ", want " + strings.Join(names, ","))
		}
	}
	return nil
}

func fmtMap(m map[string]int) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return "{" + strings.Join(s, ",") + "}"
}

func TestProxyInNamespace(t *testing.T) {
	node := netharness.New(t)
	if err := node.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n, err := node.Leaks(); err != nil || n != 0 {
			t.Errorf("%d packets reached the blackhole (%v)", n, err)
		}
	})
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	podA := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))
	podB := node.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6"))
	serveName(t, podA, "10.42.0.5:8080", "a")
	serveName(t, podB, "10.42.0.6:8080", "b")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := fence.New(fence.Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetNodeSubnets([]netip.Prefix{subnet}); err != nil {
		t.Fatal(err)
	}
	if err := f.Install(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.Remove()

	web := svc("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	})
	sl := slice("web", 8080,
		epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"},
		epSpec{ip: "10.42.0.6", ready: true, serving: true, node: "node-a"})
	client := fake.NewClientset(web, sl)
	t.Cleanup(func() {
		if t.Failed() {
			for _, cmd := range [][]string{{"nft", "list", "ruleset"}, {"cat", "/proc/net/nf_conntrack"}, {"ip", "-s", "link"}, {"ip", "addr"}} {
				out, _ := node.Output(context.Background(), cmd[0], cmd[1:]...)
				t.Log(out)
			}
		}
	})
	p, err := New(Config{Logger: testLogger(t), Client: client, NodeName: "node-a", NodeIPs: []netip.Addr{netharness.NodeIP}, ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("proxy not ready")
	}
	// Ready means programmed: the first request already answers.
	if s, err := ask(node, "10.43.0.20:80"); err != nil || (s != "a" && s != "b") {
		t.Fatalf("right after Ready: %q %v", s, err)
	}

	// Cluster IP from the node, node port on the node address and on
	// 127.0.0.1, and the cluster IP from a pod (sometimes reaching
	// itself: hairpin): all spread over both pods.
	for _, c := range []struct {
		from *netharness.NS
		addr string
	}{{node, "10.43.0.20:80"}, {node, "192.0.2.1:30080"}, {node, "127.0.0.1:30080"}, {podA, "10.43.0.20:80"}, {podB, "192.0.2.1:30080"}} {
		eventually(t, "both pods through "+c.addr, func() error {
			got, err := seen(c.from, c.addr, 40)
			if err != nil {
				return err
			}
			return wantExactly(got, "a", "b")
		})
	}

	// Scale down: b leaves the slice and stops receiving traffic.
	sl2 := slice("web", 8080, epSpec{ip: "10.42.0.5", ready: true, serving: true, node: "node-a"}, epSpec{ip: "10.42.0.6", node: "node-a"})
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "only a after b turns unready", func() error {
		got, err := seen(node, "10.43.0.20:80", 30)
		if err != nil {
			return err
		}
		return wantExactly(got, "a")
	})

	// Session affinity: with both back, one client keeps one pod.
	web2, _ := client.CoreV1().Services("ns").Get(ctx, "web", metav1.GetOptions{})
	web2.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	if _, err := client.CoreV1().Services("ns").Update(ctx, web2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "affinity chains", func() error {
		out, err := node.Output(ctx, "nft", "list", "table", "ip", TableName)
		if err != nil {
			return err
		}
		if strings.Count(out, "update @affinity-") != 2 {
			return errors.New("no affinity rules yet")
		}
		return nil
	})
	got, err := seen(podA, "10.43.0.20:80", 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("with ClientIP affinity one client reached %v", got)
	}

	// No endpoint left: refused at once (the fence), not a hang.
	if err := client.DiscoveryV1().EndpointSlices("ns").Delete(ctx, sl.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused without endpoints", func() error {
		_, err := ask(node, "10.43.0.20:80")
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return errors.New("not refused: " + errString(err))
	})

	// A restarted proxy takes the table over instead of adding a second.
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p2, err := New(Config{Client: client, NodeName: "node-a", ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(ctx2) }()
	eventually(t, "second proxy synced", func() error {
		if p2.Syncs() == 0 {
			return errors.New("no sync yet")
		}
		return nil
	})
	out, err := node.Output(ctx, "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, TableName) != 1 {
		t.Errorf("tables after restart: %s", out)
	}
	if s, err := ask(node, "10.43.0.20:80"); err != nil || (s != "a" && s != "b") {
		t.Errorf("after restart: %q %v", s, err)
	}
	// This proxy has no NodeIPs: node ports answer on every local address
	// (fib daddr type local), the pods' gateway and 127.0.0.1 included.
	for _, addr := range []string{"192.0.2.1:30080", "10.42.0.1:30080", "127.0.0.1:30080"} {
		if s, err := ask(node, addr); err != nil || (s != "a" && s != "b") {
			t.Errorf("node port %s without NodeIPs: %q %v", addr, s, err)
		}
	}

	// Shutdown removes the table.
	cancel2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out, err = node.Output(context.Background(), "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, TableName) {
		t.Errorf("table left after shutdown: %s", out)
	}
}

func errString(err error) string {
	if err == nil {
		return "connected"
	}
	return err.Error()
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(tWriter{t}, nil)) }
