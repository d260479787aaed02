package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/netharness"
)

// kernelState reads the proxy table as nft's JSON and reduces it to what
// must match whatever path led there: each chain's rules (without
// handles) and each set's and map's elements, sorted.
func kernelState(t *testing.T, ns *netharness.NS) map[string][]string {
	t.Helper()
	out, err := ns.Output(context.Background(), "nft", "-j", "list", "table", "ip", TableName)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	st := map[string][]string{}
	for _, obj := range doc.Nftables {
		for kind, raw := range obj {
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				continue
			}
			switch kind {
			case "chain":
				key := fmt.Sprint("chain ", v["name"])
				if _, ok := st[key]; !ok {
					st[key] = []string{}
				}
			case "rule":
				b, _ := json.Marshal(v["expr"])
				key := fmt.Sprint("chain ", v["chain"])
				st[key] = append(st[key], string(b))
			case "set", "map":
				key := fmt.Sprint(kind, " ", v["name"])
				var elems []string
				if es, ok := v["elem"].([]any); ok {
					for _, e := range es {
						b, _ := json.Marshal(e)
						elems = append(elems, string(b))
					}
				}
				slices.Sort(elems)
				st[key] = elems
			}
		}
	}
	return st
}

// TestIncrementalMatchesFull writes every transition between a handful of
// states incrementally and checks the kernel ends up exactly where a full
// rewrite of the target state puts it.
func TestIncrementalMatchesFull(t *testing.T) {
	ns := netharness.New(t)
	prog := &programmer{conn: (&Proxy{cfg: Config{NetNSPath: ns.Path}}).conn, nodeIPs: []netip.Addr{netharness.NodeIP}}
	pod := netip.MustParsePrefix("10.42.0.0/16")
	ep := func(ip string, local bool) endpoint {
		return endpoint{Addr: netip.MustParseAddr(ip), Port: 8080, Ready: true, Serving: true, Local: local}
	}
	sp := func(name string, cip string, mut func(*servicePort)) servicePort {
		s := servicePort{Namespace: "ns", Name: name, PortName: "http", Proto: 6, ClusterIPs: []netip.Addr{netip.MustParseAddr(cip)}, Port: 80}
		if mut != nil {
			mut(&s)
		}
		return s
	}
	affinity := func(s *servicePort) { s.AffinityTimeout = time.Minute }
	nodePort := func(s *servicePort) { s.NodePort = 30080 }
	lb := func(s *servicePort) {
		s.NodePort, s.ExternalIPs, s.ExternalLocal = 30081, []netip.Addr{netip.MustParseAddr("203.0.113.10")}, true
	}
	udp := func(s *servicePort) { s.Proto = 17 }
	states := map[string]ruleInput{
		"empty": {PodCIDR: pod, UseNodeIPSet: true},
		"one": {PodCIDR: pod, UseNodeIPSet: true, Ports: []portEndpoints{
			{Port: sp("a", "10.43.0.20", nodePort), Endpoints: []endpoint{ep("10.42.0.5", true), ep("10.42.1.6", false)}},
			{Port: sp("b", "10.43.0.21", affinity), Endpoints: []endpoint{ep("10.42.0.7", true)}},
		}},
		"two": {PodCIDR: pod, UseNodeIPSet: true, Ports: []portEndpoints{
			{Port: sp("a", "10.43.0.20", nodePort), Endpoints: []endpoint{ep("10.42.0.5", true), ep("10.42.1.6", false), ep("10.42.1.8", false)}},
			{Port: sp("b", "10.43.0.21", nil), Endpoints: []endpoint{ep("10.42.0.7", true), ep("10.42.0.9", true)}},
			{Port: sp("c", "10.43.0.22", lb), Endpoints: []endpoint{ep("10.42.1.6", false)}},
			{Port: sp("d", "10.43.0.23", udp), Endpoints: []endpoint{ep("10.42.0.5", true)}},
		}},
		"drained": {PodCIDR: pod, UseNodeIPSet: true, Ports: []portEndpoints{
			{Port: sp("a", "10.43.0.20", nodePort)},
			{Port: sp("b", "10.43.0.21", affinity), Endpoints: []endpoint{ep("10.42.0.9", true)}},
			{Port: sp("c", "10.43.0.22", lb)},
		}},
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range states {
			if !yield(k) {
				return
			}
		}
	})
	want := map[string]map[string][]string{}
	for _, n := range names {
		prog.applied = nil
		if _, err := prog.write(build(states[n])); err != nil {
			t.Fatalf("full write of %s: %v", n, err)
		}
		want[n] = kernelState(t, ns)
	}
	if n := len(want["two"]["chain service-ns/a/tcp/http"]); n != 2 {
		t.Fatalf("reading the kernel: service chain has %d rules, want 2: %v", n, want["two"])
	}
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			prog.applied = nil
			if _, err := prog.write(build(states[from])); err != nil {
				t.Fatalf("full write of %s: %v", from, err)
			}
			if _, err := prog.write(build(states[to])); err != nil {
				t.Fatalf("%s → %s: %v", from, to, err)
			}
			if prog.applied == nil {
				t.Fatalf("%s → %s: programmer fell back to a full write", from, to)
			}
			if got := kernelState(t, ns); !reflect.DeepEqual(got, want[to]) {
				for k := range want[to] {
					if !reflect.DeepEqual(got[k], want[to][k]) {
						t.Errorf("%s → %s: %s is\n%v\nwant\n%v", from, to, k, got[k], want[to][k])
					}
				}
				for k := range got {
					if _, ok := want[to][k]; !ok {
						t.Errorf("%s → %s: %s left over", from, to, k)
					}
				}
			}
		}
	}
}

// TestConcurrentWithFence writes the proxy's table while the fence is
// reinstalled in the same namespace, as the agent's goroutines may: every
// write must succeed and land where a lone write does (set IDs are
// numbered per batch, never from a shared counter).
func TestConcurrentWithFence(t *testing.T) {
	ns := netharness.New(t)
	f, err := fence.New(fence.Config{ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: ns.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove()
	st := build(benchInput(50, 3, 0))
	prog := &programmer{conn: (&Proxy{cfg: Config{NetNSPath: ns.Path}}).conn}
	if _, err := prog.write(st); err != nil {
		t.Fatal(err)
	}
	want := kernelState(t, ns)
	errs := make(chan error, 2)
	go func() {
		for i := 0; i < 20; i++ {
			if err := f.Install(context.Background()); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for i := 0; i < 20; i++ {
			prog.applied = nil
			if _, err := prog.write(st); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := kernelState(t, ns); !reflect.DeepEqual(got, want) {
		t.Error("table differs after concurrent writes")
	}
}
