package servicealloc

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(name string, typ corev1.ServiceType, clusterIP string, nodePorts ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP}}
	if len(nodePorts) == 0 {
		nodePorts = []int32{0}
	}
	for i, np := range nodePorts {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: string(rune('a' + i)), Port: 80 + int32(i), NodePort: np, Protocol: corev1.ProtocolTCP})
	}
	return s
}

func newAlloc(t *testing.T, cidr string) *Allocator {
	a, err := New(Config{ServiceCIDR: netip.MustParsePrefix(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAllocate(t *testing.T) {
	a := newAlloc(t, "10.43.0.0/16")
	if got := a.ServiceIP(0).String(); got != "10.43.0.1" {
		t.Errorf("ServiceIP(0) = %s", got)
	}
	if got := a.ServiceIP(9).String(); got != "10.43.0.10" {
		t.Errorf("ServiceIP(9) = %s", got)
	}
	k := svc("kubernetes", corev1.ServiceTypeClusterIP, "10.43.0.1")
	if errs := a.Allocate(k, nil, false); len(errs) != 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		name    string
		svc     *corev1.Service
		wantErr string
	}{
		{"dynamic", svc("web", corev1.ServiceTypeClusterIP, ""), ""},
		{"taken", svc("other", corev1.ServiceTypeClusterIP, "10.43.0.1"), "spec.clusterIPs: Invalid value: []string{\"10.43.0.1\"}: failed to allocate IP 10.43.0.1: provided IP is already allocated"},
		{"out of range", svc("far", corev1.ServiceTypeClusterIP, "10.0.0.5"), "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16"},
		{"headless", svc("hl", corev1.ServiceTypeClusterIP, "None"), ""},
		{"nodeport dynamic", svc("np", corev1.ServiceTypeNodePort, ""), ""},
		{"nodeport requested", svc("np2", corev1.ServiceTypeNodePort, "", 30080), ""},
		{"nodeport taken", svc("np3", corev1.ServiceTypeNodePort, "", 30080), "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"},
		{"nodeport out of range", svc("np4", corev1.ServiceTypeNodePort, "", 80), "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{"external name", svc("ext", corev1.ServiceTypeExternalName, ""), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := a.Allocate(tc.svc, nil, false)
			if tc.wantErr == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
			} else if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.wantErr) {
				t.Fatalf("errors %v, want %q", errs, tc.wantErr)
			}
		})
	}
	web := cases[0].svc
	ip := netip.MustParseAddr(web.Spec.ClusterIP)
	if !netip.MustParsePrefix("10.43.0.0/16").Contains(ip) || web.Spec.ClusterIPs[0] != web.Spec.ClusterIP {
		t.Errorf("dynamic ClusterIP %v / %v", web.Spec.ClusterIP, web.Spec.ClusterIPs)
	}
	np := cases[4].svc
	if p := np.Spec.Ports[0].NodePort; p < 30000 || p > 32767 {
		t.Errorf("dynamic nodePort %d", p)
	}
	if cases[8].svc.Spec.ClusterIP != "" {
		t.Errorf("ExternalName got a ClusterIP %q", cases[8].svc.Spec.ClusterIP)
	}

	// A failed allocation reserved nothing: np3's dynamic ClusterIP was given back.
	if n := len(a.ips); n != 4 { // kubernetes, web, np, np2
		t.Errorf("%d addresses held, want 4", n)
	}

	// Retried update of the same service keeps its values (idempotent), type change frees ports.
	again := np.DeepCopy()
	if errs := a.Allocate(again, np, false); len(errs) != 0 || again.Spec.ClusterIP != np.Spec.ClusterIP {
		t.Fatalf("idempotent update: %v %s", errs, again.Spec.ClusterIP)
	}
	toCluster := np.DeepCopy()
	toCluster.Spec.Type = corev1.ServiceTypeClusterIP
	if errs := a.Allocate(toCluster, np, false); len(errs) != 0 || toCluster.Spec.Ports[0].NodePort != 0 {
		t.Fatalf("NodePort→ClusterIP: %v nodePort %d", errs, toCluster.Spec.Ports[0].NodePort)
	}

	// Release then reuse.
	a.Release(k)
	if errs := a.Allocate(svc("k2", corev1.ServiceTypeClusterIP, "10.43.0.1"), nil, false); len(errs) != 0 {
		t.Errorf("reuse after release: %v", errs)
	}
}

func TestDryRunReservesNothing(t *testing.T) {
	a := newAlloc(t, "10.43.0.0/16")
	s := svc("d", corev1.ServiceTypeNodePort, "10.43.5.5", 30001)
	if errs := a.Allocate(s, nil, true); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs := a.Allocate(svc("e", corev1.ServiceTypeNodePort, "10.43.5.5", 30001), nil, false); len(errs) != 0 {
		t.Errorf("dry run reserved something: %v", errs)
	}
}

func TestRebuildAndRepair(t *testing.T) {
	now := time.Now()
	a, _ := New(Config{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/24"), Now: func() time.Time { return now }})
	stored := svc("kept", corev1.ServiceTypeNodePort, "10.43.0.20", 30500)
	a.Rebuild([]*corev1.Service{stored})
	if errs := a.Allocate(svc("x", corev1.ServiceTypeNodePort, "10.43.0.20"), nil, false); len(errs) == 0 {
		t.Error("rebuilt address not held")
	}
	leaked := svc("leak", corev1.ServiceTypeClusterIP, "10.43.0.30")
	if errs := a.Allocate(leaked, nil, false); len(errs) != 0 {
		t.Fatal(errs)
	}
	a.Repair([]*corev1.Service{stored}, time.Minute) // too recent: kept
	if _, ok := a.ips[netip.MustParseAddr("10.43.0.30")]; !ok {
		t.Error("repair freed an allocation still in flight")
	}
	now = now.Add(2 * time.Minute)
	a.Repair([]*corev1.Service{stored}, time.Minute)
	if _, ok := a.ips[netip.MustParseAddr("10.43.0.30")]; ok {
		t.Error("repair kept an allocation no service holds")
	}
	if _, ok := a.ips[netip.MustParseAddr("10.43.0.20")]; !ok {
		t.Error("repair freed a stored service's address")
	}
}

func TestFullRange(t *testing.T) {
	a := newAlloc(t, "10.43.0.0/28") // 14 addresses, 10 reserved for static: 4 dynamic
	for i := 0; i < 4; i++ {
		if errs := a.Allocate(svc(string(rune('a'+i)), corev1.ServiceTypeClusterIP, ""), nil, false); len(errs) != 0 {
			t.Fatal(errs)
		}
	}
	if errs := a.Allocate(svc("z", corev1.ServiceTypeClusterIP, ""), nil, false); len(errs) == 0 {
		t.Error("allocation from an exhausted dynamic range succeeded")
	}
}
