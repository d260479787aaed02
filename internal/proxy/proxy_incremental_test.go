package proxy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/netharness"
)

// TestIncrementalSync checks in the kernel that a change to one service
// rewrites only that service: the other service's chain keeps its rules
// (same handles), and a change that alters no rule writes nothing.
func TestIncrementalSync(t *testing.T) {
	node := netharness.New(t)
	web := svc("web", nil)
	api := svc("api", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.21", []string{"10.43.0.21"} })
	ready := func(ip string) epSpec { return epSpec{ip: ip, ready: true, serving: true, node: "node-a"} }
	kc := fake.NewClientset(web, api, slice("web", 8080, ready("10.42.0.5")), slice("api", 8080, ready("10.42.0.6"), ready("10.42.0.7")))
	p, err := New(Config{Logger: testLogger(t), Client: kc, NodeName: "node-a", NodeIPs: []netip.Addr{netharness.NodeIP}, ServiceCIDR: "10.43.0.0/16", PodCIDR: "10.42.0.0/16", NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	listChain := func(name string) (string, error) {
		return node.Output(ctx, "nft", "-a", "list", "chain", "ip", TableName, name)
	}
	eventually(t, "first sync", func() error {
		_, err := listChain("service-ns/api/tcp/http")
		return err
	})
	apiBefore, _ := listChain("service-ns/api/tcp/http")
	webBefore, _ := listChain("service-ns/web/tcp/http")

	if _, err := kc.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice("web", 8080, ready("10.42.0.5"), ready("10.42.0.8")), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web rewritten", func() error {
		out, err := listChain("service-ns/web/tcp/http")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "10.42.0.8") {
			return errors.New("web chain not updated:\n" + out)
		}
		return nil
	})
	webAfter, _ := listChain("service-ns/web/tcp/http")
	if webAfter == webBefore {
		t.Errorf("web chain unchanged")
	}
	if apiAfter, _ := listChain("service-ns/api/tcp/http"); apiAfter != apiBefore {
		t.Errorf("api chain rewritten though api did not change:\nbefore\n%s\nafter\n%s", apiBefore, apiAfter)
	}
	if _, err := listChain("endpoint-ns/web/tcp/http/10.42.0.8/8080"); err != nil {
		t.Errorf("new endpoint chain: %v", err)
	}

	// Removing an endpoint removes its chain.
	if _, err := kc.DiscoveryV1().EndpointSlices("ns").Update(ctx, slice("web", 8080, ready("10.42.0.8")), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "old endpoint chain gone", func() error {
		if _, err := listChain("endpoint-ns/web/tcp/http/10.42.0.5/8080"); err == nil {
			return errors.New("still there")
		}
		return nil
	})

	// A change no rule depends on: a sync happens, nothing is written.
	syncs, writes := p.Syncs(), p.Writes()
	a, _ := kc.CoreV1().Services("ns").Get(ctx, "api", metav1.GetOptions{})
	a.Annotations = map[string]string{"note": "x"}
	if _, err := kc.CoreV1().Services("ns").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a sync after the annotation", func() error {
		if p.Syncs() == syncs {
			return errors.New("no sync yet")
		}
		return nil
	})
	if p.Writes() != writes {
		t.Errorf("an annotation change wrote to the kernel (%d → %d writes)", writes, p.Writes())
	}

	// The metrics tell the same story.
	reg := prometheus.NewRegistry()
	for _, c := range p.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				values[f.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				values[f.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				values[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if got := values["bosun_proxy_writes_total"]; int(got) != p.Writes() {
		t.Errorf("bosun_proxy_writes_total = %v, want %d", got, p.Writes())
	}
	if got := values["bosun_proxy_service_ports"]; got != 2 {
		t.Errorf("bosun_proxy_service_ports = %v, want 2", got)
	}
	if got := values["bosun_proxy_sync_duration_seconds"]; int(got) < p.Syncs() {
		t.Errorf("%v syncs observed, want ≥ %d", got, p.Syncs())
	}
}
