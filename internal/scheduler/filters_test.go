package scheduler

import (
	"errors"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// feasible returns the names of the nodes that pass every filter, sorted.
func feasible(t *testing.T, c *Cache, pod *v1.Pod) []string {
	t.Helper()
	st, err := prepare(c, NewPodInfo(pod))
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	var out []string
	for _, ni := range c.Nodes() {
		if len(st.filter(ni)) == 0 {
			out = append(out, ni.Node.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestFilters(t *testing.T) {
	three := func(opts ...nodeOpt) []*v1.Node {
		return []*v1.Node{mkNode("node-a", opts...), mkNode("node-b"), mkNode("node-c")}
	}
	zoned := []*v1.Node{
		mkNode("a1", nodeLabel(labelZone, "a")), mkNode("a2", nodeLabel(labelZone, "a")),
		mkNode("b1", nodeLabel(labelZone, "b")), mkNode("c1"),
	}
	tests := []struct {
		name     string
		nodes    []*v1.Node
		existing []*v1.Pod
		pod      *v1.Pod
		want     []string // feasible nodes
		wantErr  string   // the FitError message when none
	}{
		{
			name:  "requests fit only the big node",
			nodes: []*v1.Node{mkNode("small", alloc(v1.ResourceCPU, "1")), mkNode("big", alloc(v1.ResourceCPU, "8"))},
			pod:   mkPod("web-1", req("cpu", "2")),
			want:  []string{"big"},
		},
		{
			name:    "insufficient cpu and selector mismatch are summarised per node",
			nodes:   []*v1.Node{mkNode("node-a", nodeLabel("disk", "ssd"), alloc(v1.ResourceCPU, "1")), mkNode("node-b"), mkNode("node-c")},
			pod:     mkPod("web-1", req("cpu", "2"), selector("disk", "ssd")),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:     "existing pods' requests count against the node",
			nodes:    []*v1.Node{mkNode("node-a"), mkNode("node-b")},
			existing: []*v1.Pod{mkPod("hog", on("node-a"), req("cpu", "3500m"))},
			pod:      mkPod("web-1", req("cpu", "1")),
			want:     []string{"node-b"},
		},
		{
			name:    "every insufficient resource is listed",
			nodes:   []*v1.Node{mkNode("node-a")},
			pod:     mkPod("web-1", req("cpu", "5", "memory", "9Gi", "ephemeral-storage", "200Gi")),
			wantErr: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient ephemeral-storage, 1 Insufficient memory.",
		},
		{
			name:    "extended resources",
			nodes:   []*v1.Node{mkNode("gpu", alloc("example.com/gpu", "2")), mkNode("plain")},
			pod:     mkPod("train", req("example.com/gpu", "3")),
			wantErr: "0/2 nodes are available: 2 Insufficient example.com/gpu.",
		},
		{
			name:  "extended resource that fits",
			nodes: []*v1.Node{mkNode("gpu", alloc("example.com/gpu", "2")), mkNode("plain")},
			pod:   mkPod("train", req("example.com/gpu", "2")),
			want:  []string{"gpu"},
		},
		{
			name:     "pod count",
			nodes:    []*v1.Node{mkNode("node-a", alloc(v1.ResourcePods, "1"))},
			existing: []*v1.Pod{mkPod("first", on("node-a"))},
			pod:      mkPod("second"),
			wantErr:  "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name:  "init container larger than containers sets the request",
			nodes: []*v1.Node{mkNode("small", alloc(v1.ResourceCPU, "2")), mkNode("big")},
			pod:   mkPod("migrate", req("cpu", "1"), initReq("cpu", "3")),
			want:  []string{"big"},
		},
		{
			name:  "overhead is added",
			nodes: []*v1.Node{mkNode("small", alloc(v1.ResourceCPU, "2")), mkNode("big")},
			pod: mkPod("vm", req("cpu", "1500m"), func(p *v1.Pod) {
				p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: mustQ("1")}
			}),
			want: []string{"big"},
		},
		{
			name:  "limits without requests count as requests",
			nodes: []*v1.Node{mkNode("small", alloc(v1.ResourceCPU, "1")), mkNode("big")},
			pod: mkPod("lim", func(p *v1.Pod) {
				p.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceCPU: mustQ("2")}
			}),
			want: []string{"big"},
		},
		{
			name:    "cordoned node",
			nodes:   three(cordoned),
			pod:     mkPod("web-1", selector("kubernetes.io/hostname", "node-a")),
			wantErr: "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:  "cordoned node tolerated",
			nodes: three(cordoned),
			pod:   mkPod("ds", tolerate(taintUnschedulable, "Exists", "", v1.TaintEffectNoSchedule)),
			want:  []string{"node-a", "node-b", "node-c"},
		},
		{
			name:    "not ready node carries the not-ready taint",
			nodes:   []*v1.Node{mkNode("node-a", notReady)},
			pod:     mkPod("web-1"),
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
		},
		{
			name:  "not ready tolerated",
			nodes: []*v1.Node{mkNode("node-a", notReady)},
			pod:   mkPod("ds", tolerate(taintNodeNotReady, "Exists", "", "")),
			want:  []string{"node-a"},
		},
		{
			name:  "node without a Ready condition is unreachable",
			nodes: []*v1.Node{mkNode("node-a", func(n *v1.Node) { n.Status.Conditions = nil }), mkNode("node-b")},
			pod:   mkPod("web-1"),
			want:  []string{"node-b"},
		},
		{
			name:  "NoSchedule taint repels",
			nodes: three(taint("dedicated", "gpu", v1.TaintEffectNoSchedule)),
			pod:   mkPod("web-1"),
			want:  []string{"node-b", "node-c"},
		},
		{
			name:    "taint message",
			nodes:   []*v1.Node{mkNode("node-a", taint("dedicated", "gpu", v1.TaintEffectNoExecute))},
			pod:     mkPod("web-1"),
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:  "toleration Equal",
			nodes: three(taint("dedicated", "gpu", v1.TaintEffectNoSchedule)),
			pod:   mkPod("train", tolerate("dedicated", "Equal", "gpu", v1.TaintEffectNoSchedule), selector("kubernetes.io/hostname", "node-a")),
			want:  []string{"node-a"},
		},
		{
			name:  "toleration with the wrong value",
			nodes: three(taint("dedicated", "gpu", v1.TaintEffectNoSchedule)),
			pod:   mkPod("train", tolerate("dedicated", "Equal", "cpu", "")),
			want:  []string{"node-b", "node-c"},
		},
		{
			name:  "toleration of a NoSchedule effect does not cover NoExecute",
			nodes: three(taint("dedicated", "gpu", v1.TaintEffectNoExecute)),
			pod:   mkPod("train", tolerate("dedicated", "Exists", "", v1.TaintEffectNoSchedule)),
			want:  []string{"node-b", "node-c"},
		},
		{
			name:  "empty key Exists tolerates everything",
			nodes: three(taint("dedicated", "gpu", v1.TaintEffectNoExecute)),
			pod:   mkPod("all", tolerate("", "Exists", "", "")),
			want:  []string{"node-a", "node-b", "node-c"},
		},
		{
			name:  "PreferNoSchedule does not filter",
			nodes: three(taint("spot", "true", v1.TaintEffectPreferNoSchedule)),
			pod:   mkPod("web-1"),
			want:  []string{"node-a", "node-b", "node-c"},
		},
		{
			name:  "nodeSelector",
			nodes: three(nodeLabel("disk", "ssd")),
			pod:   mkPod("db", selector("disk", "ssd")),
			want:  []string{"node-a"},
		},
		{
			name:  "affinity In",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x")), mkNode("n2", nodeLabel("zone", "y")), mkNode("n3")},
			pod:   mkPod("p", affinity(nodeAffinityReq(expr("zone", v1.NodeSelectorOpIn, "x", "y")))),
			want:  []string{"n1", "n2"},
		},
		{
			name:  "affinity NotIn matches nodes without the label",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x")), mkNode("n2", nodeLabel("zone", "y")), mkNode("n3")},
			pod:   mkPod("p", affinity(nodeAffinityReq(expr("zone", v1.NodeSelectorOpNotIn, "x")))),
			want:  []string{"n2", "n3"},
		},
		{
			name:  "affinity Exists",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x")), mkNode("n2", nodeLabel("zone", "y")), mkNode("n3")},
			pod:   mkPod("p", affinity(nodeAffinityReq(expr("zone", v1.NodeSelectorOpExists)))),
			want:  []string{"n1", "n2"},
		},
		{
			name:  "affinity DoesNotExist",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x")), mkNode("n2", nodeLabel("zone", "y")), mkNode("n3")},
			pod:   mkPod("p", affinity(nodeAffinityReq(expr("zone", v1.NodeSelectorOpDoesNotExist)))),
			want:  []string{"n3"},
		},
		{
			name:  "affinity Gt and Lt",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("cores", "8")), mkNode("n2", nodeLabel("cores", "32")), mkNode("n3", nodeLabel("cores", "64")), mkNode("n4")},
			pod: mkPod("p", affinity(nodeAffinityReq(
				expr("cores", v1.NodeSelectorOpGt, "8"), expr("cores", v1.NodeSelectorOpLt, "64")))),
			want: []string{"n2"},
		},
		{
			name:  "affinity terms are ORed",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x")), mkNode("n2", nodeLabel("disk", "ssd")), mkNode("n3")},
			pod: mkPod("p", affinity(&v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
				NodeSelectorTerms: []v1.NodeSelectorTerm{
					{MatchExpressions: []v1.NodeSelectorRequirement{expr("zone", v1.NodeSelectorOpIn, "x")}},
					{MatchExpressions: []v1.NodeSelectorRequirement{expr("disk", v1.NodeSelectorOpIn, "ssd")}},
				}}}})),
			want: []string{"n1", "n2"},
		},
		{
			name:  "affinity matchFields metadata.name",
			nodes: three(),
			pod: mkPod("p", affinity(&v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
				NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{expr("metadata.name", v1.NodeSelectorOpIn, "node-c")}}},
			}}})),
			want: []string{"node-c"},
		},
		{
			name:  "nodeSelector and affinity must both hold",
			nodes: []*v1.Node{mkNode("n1", nodeLabel("zone", "x"), nodeLabel("disk", "ssd")), mkNode("n2", nodeLabel("zone", "x"))},
			pod:   mkPod("p", selector("disk", "ssd"), affinity(nodeAffinityReq(expr("zone", v1.NodeSelectorOpIn, "x")))),
			want:  []string{"n1"},
		},
		{
			name:     "host port conflict",
			nodes:    three(),
			existing: []*v1.Pod{mkPod("ingress", on("node-a"), hostPortOpt(80, v1.ProtocolTCP))},
			pod:      mkPod("ingress-2", hostPortOpt(80, v1.ProtocolTCP)),
			want:     []string{"node-b", "node-c"},
		},
		{
			name:     "host port message",
			nodes:    []*v1.Node{mkNode("node-a")},
			existing: []*v1.Pod{mkPod("ingress", on("node-a"), hostPortOpt(80, v1.ProtocolTCP))},
			pod:      mkPod("ingress-2", hostPortOpt(80, ""), req("cpu", "100")),
			wantErr:  "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:     "same port other protocol is free",
			nodes:    []*v1.Node{mkNode("node-a")},
			existing: []*v1.Pod{mkPod("dns", on("node-a"), hostPortOpt(53, v1.ProtocolTCP))},
			pod:      mkPod("dns-udp", hostPortOpt(53, v1.ProtocolUDP)),
			want:     []string{"node-a"},
		},
		{
			name:    "spec.nodeName set",
			nodes:   three(),
			pod:     mkPod("p", on("node-b")),
			wantErr: "", // filtered by name: only node-b
			want:    []string{"node-b"},
		},
		{
			name:     "required pod affinity by hostname",
			nodes:    three(),
			existing: []*v1.Pod{mkPod("db", on("node-b"), podLabel("app", "db"))},
			pod: mkPod("web", affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "app", "db")}}})),
			want: []string{"node-b"},
		},
		{
			name:     "required pod affinity by zone",
			nodes:    zoned,
			existing: []*v1.Pod{mkPod("db", on("a2"), podLabel("app", "db"))},
			pod: mkPod("web", affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm(labelZone, "app", "db")}}})),
			want: []string{"a1", "a2"},
		},
		{
			name:     "pod affinity to a pod in another namespace does not match",
			nodes:    three(),
			existing: []*v1.Pod{mkPod("db", on("node-b"), podLabel("app", "db"), func(p *v1.Pod) { p.Namespace = "other" })},
			pod: mkPod("web", affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "app", "db")}}})),
			wantErr: "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.",
		},
		{
			name:  "first pod of a self-affine group goes anywhere",
			nodes: three(),
			pod: mkPod("web", podLabel("app", "web"), affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "app", "web")}}})),
			want: []string{"node-a", "node-b", "node-c"},
		},
		{
			name:     "required anti-affinity by hostname",
			nodes:    three(),
			existing: []*v1.Pod{mkPod("web-0", on("node-a"), podLabel("app", "web")), mkPod("web-1", on("node-c"), podLabel("app", "web"))},
			pod: mkPod("web-2", podLabel("app", "web"), affinity(&v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "app", "web")}}})),
			want: []string{"node-b"},
		},
		{
			name:     "anti-affinity message",
			nodes:    []*v1.Node{mkNode("node-a")},
			existing: []*v1.Pod{mkPod("web-0", on("node-a"), podLabel("app", "web"))},
			pod: mkPod("web-2", podLabel("app", "web"), affinity(&v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "app", "web")}}})),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name:  "existing pod's anti-affinity repels the newcomer from its zone",
			nodes: zoned,
			existing: []*v1.Pod{mkPod("loner", on("a1"), affinity(&v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm(labelZone, "team", "noisy")}}}))},
			pod:  mkPod("noisy", podLabel("team", "noisy")),
			want: []string{"b1", "c1"},
		},
		{
			name:  "existing anti-affinity message",
			nodes: []*v1.Node{mkNode("node-a")},
			existing: []*v1.Pod{mkPod("loner", on("node-a"), affinity(&v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{podTerm("kubernetes.io/hostname", "team", "noisy")}}}))},
			pod:     mkPod("noisy", podLabel("team", "noisy")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
		{
			name:  "topology spread DoNotSchedule",
			nodes: zoned,
			existing: []*v1.Pod{
				mkPod("w0", on("a1"), podLabel("app", "w")), mkPod("w1", on("a2"), podLabel("app", "w")),
				mkPod("w2", on("b1"), podLabel("app", "w")),
			},
			// zone a has 2, zone b 1; c1 has no zone label.
			pod:  mkPod("w3", podLabel("app", "w"), spread(1, labelZone, v1.DoNotSchedule, "app", "w")),
			want: []string{"b1"},
		},
		{
			name:     "topology spread message",
			nodes:    []*v1.Node{mkNode("a1", nodeLabel(labelZone, "a")), mkNode("b1", nodeLabel(labelZone, "b"), alloc(v1.ResourceCPU, "1")), mkNode("c1")},
			existing: []*v1.Pod{mkPod("w0", on("a1"), podLabel("app", "w")), mkPod("w1", on("a1"), podLabel("app", "w"))},
			pod:      mkPod("w3", podLabel("app", "w"), req("cpu", "2"), spread(1, labelZone, v1.DoNotSchedule, "app", "w")),
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints, " +
				"1 node(s) didn't match pod topology spread constraints (missing required label).",
		},
		{
			name:    "topology spread missing label",
			nodes:   []*v1.Node{mkNode("c1")},
			pod:     mkPod("w3", podLabel("app", "w"), spread(1, labelZone, v1.DoNotSchedule, "app", "w")),
			wantErr: "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).",
		},
		{
			name:  "topology spread ScheduleAnyway does not filter",
			nodes: zoned,
			existing: []*v1.Pod{
				mkPod("w0", on("a1"), podLabel("app", "w")), mkPod("w1", on("a2"), podLabel("app", "w")),
			},
			pod:  mkPod("w3", podLabel("app", "w"), spread(1, labelZone, v1.ScheduleAnyway, "app", "w")),
			want: []string{"a1", "a2", "b1", "c1"},
		},
		{
			name:    "no nodes",
			pod:     mkPod("lonely"),
			wantErr: "no nodes available to schedule pods",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(tc.nodes, tc.existing)
			if tc.wantErr == "" {
				if got := feasible(t, c, tc.pod); !slices.Equal(got, tc.want) {
					t.Fatalf("feasible nodes = %v, want %v", got, tc.want)
				}
			}
			for seed := uint64(0); seed < 5; seed++ {
				a := newTestAlgorithm(LeastAllocated, seed)
				node, err := a.Schedule(c, NewPodInfo(tc.pod))
				if tc.wantErr != "" {
					var fe *FitError
					if !errors.As(err, &fe) {
						t.Fatalf("Schedule = %q, %v; want FitError", node, err)
					}
					if err.Error() != tc.wantErr {
						t.Fatalf("message:\n got %q\nwant %q", err.Error(), tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Schedule: %v", err)
				}
				if !slices.Contains(tc.want, node) {
					t.Fatalf("Schedule chose %q, want one of %v", node, tc.want)
				}
			}
		})
	}
}

func TestFitErrorSortsLikeUpstream(t *testing.T) {
	e := &FitError{NumAllNodes: 12, Reasons: map[string]int{"Insufficient cpu": 10, reasonNodeAffinity: 2, "Insufficient memory": 1}}
	want := "0/12 nodes are available: 1 Insufficient memory, 10 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
	if e.Error() != want {
		t.Fatalf("got %q\nwant %q", e.Error(), want)
	}
}

func TestMalformedAffinityIsAnError(t *testing.T) {
	c := newTestCache([]*v1.Node{mkNode("node-a")}, nil)
	pod := mkPod("bad", affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}},
		TopologyKey:   "kubernetes.io/hostname",
	}}}}))
	_, err := newTestAlgorithm("", 1).Schedule(c, NewPodInfo(pod))
	var fe *FitError
	if err == nil || errors.As(err, &fe) {
		t.Fatalf("Schedule error = %v, want a non-fit error", err)
	}
}
