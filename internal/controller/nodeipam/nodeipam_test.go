package nodeipam

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if cidr != "" {
		n.Spec.PodCIDR = cidr
		n.Spec.PodCIDRs = []string{cidr}
	}
	return n
}

func TestAllocation(t *testing.T) {
	tests := []struct {
		name     string
		existing []*corev1.Node
		cluster  string
		newNodes []string
		want     []string
		wantErr  bool
	}{
		{name: "first node gets the first block", newNodes: []string{"a"}, want: []string{"10.42.0.0/24"}},
		{name: "blocks in order", newNodes: []string{"a", "b", "c"}, want: []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"}},
		{
			name:     "existing allocations survive a restart",
			existing: []*corev1.Node{node("x", "10.42.0.0/24"), node("y", "10.42.1.0/24")},
			newNodes: []string{"a"}, want: []string{"10.42.2.0/24"},
		},
		{
			name:     "holes are filled",
			existing: []*corev1.Node{node("x", "10.42.1.0/24")},
			newNodes: []string{"a", "b"}, want: []string{"10.42.0.0/24", "10.42.2.0/24"},
		},
		{
			name: "full cluster CIDR", cluster: "10.42.0.0/23",
			existing: []*corev1.Node{node("x", "10.42.0.0/24"), node("y", "10.42.1.0/24")},
			newNodes: []string{"a"}, wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, n := range tc.existing {
				objs = append(objs, n)
			}
			for _, n := range tc.newNodes {
				objs = append(objs, node(n, ""))
			}
			client := fake.NewSimpleClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(10),
				ClusterCIDR: tc.cluster, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
			}
			if err := c.load(); err != nil {
				t.Fatal(err)
			}
			for i, name := range tc.newNodes {
				err := c.sync(context.Background(), name)
				if tc.wantErr {
					if err == nil {
						t.Fatal("expected an error for a full cluster CIDR")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, _ := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
				if got.Spec.PodCIDR != tc.want[i] || len(got.Spec.PodCIDRs) != 1 || got.Spec.PodCIDRs[0] != tc.want[i] {
					t.Errorf("node %s: podCIDR %q podCIDRs %v, want %s", name, got.Spec.PodCIDR, got.Spec.PodCIDRs, tc.want[i])
				}
			}
		})
	}
}

func TestReleaseOnDelete(t *testing.T) {
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	s, err := newCIDRSet(cluster, 24)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.allocateNext()
	b, _ := s.allocateNext()
	if a.String() != "10.42.0.0/24" || b.String() != "10.42.1.0/24" {
		t.Fatalf("got %s %s", a, b)
	}
	if err := s.release(a); err != nil {
		t.Fatal(err)
	}
	// The next allocation moves on rather than reusing the block just freed.
	c, _ := s.allocateNext()
	if c.String() != "10.42.2.0/24" {
		t.Errorf("got %s, want 10.42.2.0/24", c)
	}
	if _, err := s.index(&net.IPNet{IP: net.IPv4(10, 43, 0, 0).To4(), Mask: net.CIDRMask(24, 32)}); err == nil {
		t.Error("a block outside the cluster CIDR was accepted")
	}
}
