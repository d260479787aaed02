package fence

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/netharness"
	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

func TestRules(t *testing.T) {
	tests := []struct {
		svc, pod string
		want     []string
	}{
		{"10.43.0.0/16", "10.42.0.0/16", []string{
			"meta nfproto ipv4 ip daddr 10.43.0.0/16 ct status ! dnat goto reject-svc",
			"meta nfproto ipv4 ip daddr 10.42.0.0/16 ip daddr != @node-subnets goto reject-pod",
		}},
		{"172.20.5.0/24", "172.16.0.0/14", []string{
			"meta nfproto ipv4 ip daddr 172.20.5.0/24 ct status ! dnat goto reject-svc",
			"meta nfproto ipv4 ip daddr 172.16.0.0/14 ip daddr != @node-subnets goto reject-pod",
		}},
		{"fd00:43::/108", "fd00:42::/56", []string{
			"meta nfproto ipv6 ip6 daddr fd00:43::/108 ct status ! dnat goto reject-svc",
			"meta nfproto ipv6 ip6 daddr fd00:42::/56 ip6 daddr != @node-subnets goto reject-pod",
		}},
	}
	for _, tt := range tests {
		f, err := New(Config{ServiceCIDR: tt.svc, PodCIDR: tt.pod})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range f.Rules() {
			got = append(got, r.String())
			if n := len(r.Exprs(&nftx.Builder{})); n < 4 {
				t.Errorf("%s: only %d expressions", r, n)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("rules for %s/%s:\n%s\nwant\n%s", tt.svc, tt.pod, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []Config{
		{ServiceCIDR: "10.43.0.0/16", PodCIDR: "bogus"},
		{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.43.0.0/24"},
		{ServiceCIDR: "10.43.0.0/16", PodCIDR: "fd00::/64"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestNormalizeAndElements(t *testing.T) {
	f, err := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	in := []netip.Prefix{
		netip.MustParsePrefix("10.42.2.0/24"),
		netip.MustParsePrefix("10.42.1.0/24"),
		netip.MustParsePrefix("10.42.1.128/25"), // inside the one above
		netip.MustParsePrefix("10.1.0.0/24"),    // outside the pod range
		netip.MustParsePrefix("10.0.0.0/8"),     // wider than the pod range
		netip.MustParsePrefix("fd00::/64"),      // other family
	}
	got := f.normalize(in)
	want := []netip.Prefix{netip.MustParsePrefix("10.42.1.0/24"), netip.MustParsePrefix("10.42.2.0/24")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("normalize = %v, want %v", got, want)
	}
	els := elements(got)
	var s []string
	for _, e := range els {
		a, _ := netip.AddrFromSlice(e.Key)
		if e.IntervalEnd {
			s = append(s, "end:"+a.String())
		} else {
			s = append(s, a.String())
		}
	}
	if g, w := strings.Join(s, " "), "10.42.1.0 end:10.42.2.0 10.42.2.0 end:10.42.3.0"; g != w {
		t.Errorf("elements = %s, want %s", g, w)
	}
}

func TestNodeSubnets(t *testing.T) {
	nodes := []*corev1.Node{
		{Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24", "fd00:42::/64"}}},
		{Spec: corev1.NodeSpec{PodCIDR: "10.42.1.0/24"}},
		{Spec: corev1.NodeSpec{}},
	}
	got := NodeSubnets(nodes)
	if len(got) != 3 || got[0].String() != "10.42.0.0/24" || got[1].String() != "fd00:42::/64" || got[2].String() != "10.42.1.0/24" {
		t.Errorf("NodeSubnets = %v", got)
	}
}

// dialIn dials addr from inside the namespace with a timeout.
func dialIn(t *testing.T, ns *netharness.NS, network, addr string, timeout time.Duration) error {
	t.Helper()
	var dialErr error
	err := ns.Do(func() error {
		c, err := net.DialTimeout(network, addr, timeout)
		if err == nil {
			if network == "udp" {
				// An ICMP error arrives on the next read.
				c.SetDeadline(time.Now().Add(timeout))
				_, err = c.Write([]byte("x"))
				if err == nil {
					_, err = c.Read(make([]byte, 1))
				}
			}
			c.Close()
		}
		dialErr = err
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dialErr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func nftList(t *testing.T, ns *netharness.NS) string {
	t.Helper()
	out, err := ns.Output(context.Background(), "nft", "list", "table", "inet", TableName)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFenceInNamespace programs the real kernel inside a harness namespace
// of the test's own: without the fence a packet to an unassigned service or
// pod IP waits for an ARP answer that never comes; with it the sender is
// refused at once and the counters show it.
func TestFenceInNamespace(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft is needed to inspect the table:", err)
	}
	ns := netharness.New(t)
	ctx := context.Background()
	if err := ns.WatchLeaks(); err != nil {
		t.Fatal(err)
	}

	// Without the fence: nothing answers, the connection attempt times
	// out, and its SYN reached the blackhole: it would have left.
	if err := dialIn(t, ns, "tcp", "10.43.0.99:80", time.Second); !isTimeout(err) {
		t.Fatalf("without fence: dial 10.43.0.99:80 = %v, want a timeout (packet routed to the blackhole)", err)
	}
	if n, err := ns.Leaks(); err != nil || n == 0 {
		t.Fatalf("without fence: leaks = %d, %v; want the SYN counted", n, err)
	}

	f, err := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Install(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })
	// Installing again replaces the table rather than adding to it.
	if err := f.Install(ctx); err != nil {
		t.Fatal(err)
	}
	if out := nftList(t, ns); strings.Count(out, "goto reject-svc") != 1 {
		t.Fatalf("after two installs want one service rule:\n%s", out)
	}

	cases := []struct {
		network, addr string
		want          syscall.Errno
	}{
		{"tcp", "10.43.0.99:80", syscall.ECONNREFUSED},
		{"tcp", "10.42.7.9:8080", syscall.ECONNREFUSED},
		// A locally generated datagram is refused at send time.
		{"udp", "10.43.0.10:53", syscall.EPERM},
	}
	leaksBefore, err := ns.Leaks()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		start := time.Now()
		err := dialIn(t, ns, c.network, c.addr, 30*time.Second)
		if !errors.Is(err, c.want) {
			t.Errorf("with fence, from the host: %s %s = %v, want %v", c.network, c.addr, err, c.want)
		}
		t.Logf("%s %s refused after %v", c.network, c.addr, time.Since(start))
	}
	svc, pod, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if svc < 2 || pod < 1 {
		t.Errorf("counters svc=%d pod=%d, want ≥2 and ≥1", svc, pod)
	}

	// From a pod: forwarded packets are refused the same way.
	if err := f.SetNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	p := ns.AddPod(t, netip.MustParsePrefix("10.42.0.0/24"), netip.MustParseAddr("10.42.0.5"))
	cases = []struct {
		network, addr string
		want          syscall.Errno
	}{
		{"tcp", "10.43.0.99:80", syscall.ECONNREFUSED},
		{"tcp", "10.42.7.9:8080", syscall.ECONNREFUSED},
		{"udp", "10.43.0.10:53", syscall.EHOSTUNREACH},
		{"udp", "10.42.7.9:53", syscall.EHOSTUNREACH},
	}
	for _, c := range cases {
		err := dialIn(t, p, c.network, c.addr, 30*time.Second)
		if !errors.Is(err, c.want) {
			t.Errorf("with fence, from a pod: %s %s = %v, want %v", c.network, c.addr, err, c.want)
		}
	}
	svc2, pod2, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if svc2 < svc+2 || pod2 < pod+2 {
		t.Errorf("counters after pod traffic svc=%d pod=%d, want ≥%d and ≥%d", svc2, pod2, svc+2, pod+2)
	}
	// The metrics read the same counters.
	reg := prometheus.NewRegistry()
	for _, c := range f.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["service"] < float64(svc2) || got["pod"] < float64(pod2) {
		t.Errorf("metrics %v, counters svc=%d pod=%d", got, svc2, pod2)
	}

	// Nothing the fence refused reached the wire.
	if n, err := ns.Leaks(); err != nil || n != leaksBefore {
		t.Errorf("leaks with the fence: %d → %d (%v)", leaksBefore, n, err)
	}

	// A known node subnet is let through (and then dies in the blackhole,
	// as an unanswered real pod address would here).
	if err := f.SetNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.42.7.0/24"), netip.MustParsePrefix("10.42.8.0/24")}); err != nil {
		t.Fatal(err)
	}
	if err := dialIn(t, ns, "tcp", "10.42.7.9:8080", time.Second); !isTimeout(err) {
		t.Errorf("known subnet: dial = %v, want a timeout (let through)", err)
	}
	if err := dialIn(t, ns, "tcp", "10.42.9.9:8080", 30*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("unknown subnet: dial = %v, want refused", err)
	}
	// Shrinking the list fences the subnet again.
	if err := f.SetNodeSubnets([]netip.Prefix{netip.MustParsePrefix("10.42.8.0/24")}); err != nil {
		t.Fatal(err)
	}
	if err := dialIn(t, ns, "tcp", "10.42.7.9:8080", 30*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("removed subnet: dial = %v, want refused", err)
	}

	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Output(ctx, "nft", "list", "tables"); err != nil || strings.Contains(out, TableName) {
		t.Errorf("after Remove: %q %v", out, err)
	}
	if err := f.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

// TestRunFollowsNodes checks that Run installs the fence, opens node
// subnets as Nodes appear, and removes the table when its context ends.
func TestRunFollowsNodes(t *testing.T) {
	ns := netharness.New(t)
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.3.0/24"}})
	f, err := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := f.WaitReady(readyCtx); err != nil {
		t.Fatal(err)
	}
	// Ready means the subnets known at start are in place already.
	if out, err := ns.Output(ctx, "nft", "list", "set", "inet", TableName, SetNodeSubnetsKey); err != nil || !strings.Contains(out, "10.42.3.0/24") {
		t.Fatalf("at Ready: %s %v", out, err)
	}
	waitFor(t, func() bool {
		out, err := ns.Output(ctx, "nft", "list", "set", "inet", TableName, SetNodeSubnetsKey)
		return err == nil && strings.Contains(out, "10.42.3.0/24")
	})
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.4.0/24"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		out, err := ns.Output(ctx, "nft", "list", "set", "inet", TableName, SetNodeSubnetsKey)
		return err == nil && strings.Contains(out, "10.42.3.0/24") && strings.Contains(out, "10.42.4.0/24")
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if out, _ := ns.Output(context.Background(), "nft", "list", "tables"); strings.Contains(out, TableName) {
		t.Errorf("table left after Run: %s", out)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunKeepOnExit: with KeepOnExit the table survives Run (pods outlive the agent), and the
// next Run replaces it rather than adding a second one.
func TestRunKeepOnExit(t *testing.T) {
	ns := netharness.New(t)
	for round := 0; round < 2; round++ {
		f, err := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path, KeepOnExit: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
		if err := f.WaitReady(readyCtx); err != nil {
			t.Fatal(err)
		}
		readyCancel()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out, err := ns.Output(context.Background(), "nft", "list", "tables")
		if err != nil || strings.Count(out, TableName) != 1 {
			t.Fatalf("round %d: tables after Run: %q %v", round, out, err)
		}
	}
	f, _ := New(Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path})
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
}
