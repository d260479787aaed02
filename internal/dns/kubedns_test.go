package dns

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/endpoints"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestEnsureKubeDNS writes the kube-dns Service and Endpoints to the real
// API server, checks the mirroring controller turns them into a slice,
// that a second call writes nothing, and that the server answers the
// service's own name.
func TestEnsureKubeDNS(t *testing.T) {
	ts := testserver.Start(t)
	ctx := context.Background()
	ip := netip.MustParseAddr("10.43.0.10")
	server := netip.MustParseAddrPort("192.0.2.1:1053")
	if err := EnsureKubeDNS(ctx, ts.Client, ip, []netip.AddrPort{server}); err != nil {
		t.Fatal(err)
	}
	svc, err := ts.Client.CoreV1().Services(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" || svc.Labels["k8s-app"] != "kube-dns" || svc.Labels["kubernetes.io/cluster-service"] != "true" {
		t.Errorf("service %+v", svc)
	}
	if err := EnsureKubeDNS(ctx, ts.Client, ip, []netip.AddrPort{server}); err != nil {
		t.Fatal(err)
	}
	again, _ := ts.Client.CoreV1().Services(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if again.ResourceVersion != svc.ResourceVersion {
		t.Errorf("second Ensure rewrote the service")
	}

	ec, err := endpoints.New(endpoints.Config{Client: ts.Client})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ec.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sls, err := ts.Client.DiscoveryV1().EndpointSlices(ServiceNamespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + ServiceName})
		if err == nil && len(sls.Items) == 1 && len(sls.Items[0].Endpoints) == 1 && sls.Items[0].Endpoints[0].Addresses[0] == "192.0.2.1" {
			var ports []string
			for _, p := range sls.Items[0].Ports {
				ports = append(ports, fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port))
			}
			if fmt.Sprint(ports) != "[dns/UDP/1053 dns-tcp/TCP/1053]" {
				t.Errorf("slice ports %v", ports)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mirrored slice: %v %v", sls, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Moving the server updates the Endpoints.
	if err := EnsureKubeDNS(ctx, ts.Client, ip, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.7:1053")}); err != nil {
		t.Fatal(err)
	}
	ep, err := ts.Client.CoreV1().Endpoints(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil || ep.Subsets[0].Addresses[0].IP != "192.0.2.7" {
		t.Errorf("endpoints after move: %v %v", ep, err)
	}
}
