package scheduler

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScores(t *testing.T) {
	twoZones := func() []*v1.Node {
		return []*v1.Node{mkNode("a1", nodeLabel(labelZone, "a")), mkNode("a2", nodeLabel(labelZone, "a")), mkNode("b1", nodeLabel(labelZone, "b"))}
	}
	tests := []scoreCase{
		{
			name:     "least allocated spreads load",
			nodes:    []*v1.Node{mkNode("busy"), mkNode("idle")},
			existing: []*v1.Pod{mkPod("x", on("busy"), req("cpu", "2", "memory", "4Gi"))},
			pod:      mkPod("p", req("cpu", "500m", "memory", "1Gi")),
			want:     "idle",
		},
		{
			name:     "most allocated packs",
			scoring:  MostAllocated,
			nodes:    []*v1.Node{mkNode("busy"), mkNode("idle")},
			existing: []*v1.Pod{mkPod("x", on("busy"), req("cpu", "2", "memory", "4Gi"))},
			pod:      mkPod("p", req("cpu", "500m", "memory", "1Gi")),
			want:     "busy",
		},
		{
			name:  "preferred node affinity",
			nodes: []*v1.Node{mkNode("n1"), mkNode("n2", nodeLabel("disk", "ssd")), mkNode("n3")},
			pod: mkPod("p", affinity(&v1.Affinity{NodeAffinity: &v1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{
				{Weight: 10, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{expr("disk", v1.NodeSelectorOpIn, "ssd")}}},
			}}})),
			want: "n2",
		},
		{
			name:  "PreferNoSchedule taint is avoided",
			nodes: []*v1.Node{mkNode("spot", taint("spot", "true", v1.TaintEffectPreferNoSchedule)), mkNode("steady")},
			pod:   mkPod("p"),
			want:  "steady",
		},
		{
			name:     "PreferNoSchedule tolerated is not avoided (the other node is fuller)",
			nodes:    []*v1.Node{mkNode("spot", taint("spot", "true", v1.TaintEffectPreferNoSchedule)), mkNode("steady")},
			existing: []*v1.Pod{mkPod("x", on("steady"), req("cpu", "1", "memory", "1Gi"))},
			pod:      mkPod("p", tolerate("spot", "Exists", "", v1.TaintEffectPreferNoSchedule)),
			want:     "spot",
		},
		{
			name:     "preferred pod affinity",
			nodes:    []*v1.Node{mkNode("n1"), mkNode("n2"), mkNode("n3")},
			existing: []*v1.Pod{mkPod("cache", on("n3"), podLabel("app", "cache"))},
			pod: mkPod("web", affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
				{Weight: 50, PodAffinityTerm: podTerm("kubernetes.io/hostname", "app", "cache")}}}})),
			want: "n3",
		},
		{
			name:     "preferred pod anti-affinity",
			nodes:    []*v1.Node{mkNode("n1"), mkNode("n2")},
			existing: []*v1.Pod{mkPod("web-0", on("n1"), podLabel("app", "web"))},
			// n1 also has less load would otherwise be equal; anti-affinity decides.
			pod: mkPod("web-1", podLabel("app", "web"), affinity(&v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
				{Weight: 100, PodAffinityTerm: podTerm("kubernetes.io/hostname", "app", "web")}}}})),
			want: "n2",
		},
		{
			name:  "existing pod's preferred affinity attracts the newcomer",
			nodes: []*v1.Node{mkNode("n1"), mkNode("n2")},
			existing: []*v1.Pod{
				mkPod("x", on("n2"), req("cpu", "1")), // n2 is fuller...
				mkPod("fan", on("n2"), affinity(&v1.Affinity{PodAffinity: &v1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
					{Weight: 100, PodAffinityTerm: podTerm("kubernetes.io/hostname", "app", "star")}}}})),
			},
			pod:  mkPod("star", podLabel("app", "star")), // ...but the fan wants the star near
			want: "n2",
		},
		{
			name:  "topology spread ScheduleAnyway prefers the emptier zone",
			nodes: twoZones(),
			existing: []*v1.Pod{
				mkPod("w0", on("a1"), podLabel("app", "w")), mkPod("w1", on("a2"), podLabel("app", "w")),
				mkPod("other", on("b1"), req("cpu", "1")),
			},
			pod:  mkPod("w2", podLabel("app", "w"), spread(1, labelZone, v1.ScheduleAnyway, "app", "w")),
			want: "b1",
		},
	}
	for _, tc := range append(tests, defaultSpreadCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(tc.nodes, tc.existing)
			for seed := uint64(0); seed < 5; seed++ {
				node, err := newTestAlgorithm(tc.scoring, seed).Schedule(c, NewPodInfo(tc.pod))
				if err != nil {
					t.Fatalf("Schedule: %v", err)
				}
				if node != tc.want {
					t.Fatalf("seed %d: Schedule chose %q, want %q", seed, node, tc.want)
				}
			}
		})
	}
}

type scoreCase = struct {
	name     string
	scoring  string
	nodes    []*v1.Node
	existing []*v1.Pod
	pod      *v1.Pod
	want     string
}

func ownedBy(kind string) podOpt {
	return func(p *v1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: "web-abc", UID: "rs-uid", Controller: &yes}}
	}
}

// defaultSpreadCases check the system's default spreading of replicas: it outweighs a
// small difference in load.
func defaultSpreadCases() []scoreCase {
	nodes := func() []*v1.Node { return []*v1.Node{mkNode("n1"), mkNode("n2")} }
	existing := func() []*v1.Pod {
		return []*v1.Pod{
			mkPod("web-1", on("n1"), podLabel("app", "web"), ownedBy("ReplicaSet")),
			mkPod("web-2", on("n1"), podLabel("app", "web"), ownedBy("ReplicaSet")),
			mkPod("other", on("n2"), req("cpu", "500m", "memory", "1Gi")),
		}
	}
	return []scoreCase{
		{
			name: "replicas of a ReplicaSet spread over nodes by default", nodes: nodes(), existing: existing(),
			pod: mkPod("web-3", podLabel("app", "web"), ownedBy("ReplicaSet")), want: "n2",
		},
		{
			name: "a bare pod with the same labels just goes to the emptier node", nodes: nodes(), existing: existing(),
			pod: mkPod("web-3", podLabel("app", "web")), want: "n1",
		},
	}
}

func TestResourceScores(t *testing.T) {
	node := func(cpuUsed, memUsed string) *NodeInfo {
		c := newTestCache([]*v1.Node{mkNode("n")}, []*v1.Pod{mkPod("x", on("n"), req("cpu", cpuUsed, "memory", memUsed))})
		return c.NodeInfo("n")
	}
	pod := NewPodInfo(mkPod("p", req("cpu", "1", "memory", "2Gi")))
	tests := []struct {
		name                  string
		ni                    *NodeInfo
		least, most, balanced int64
	}{
		// 4 cpu / 8Gi allocatable; the pod adds 1 cpu / 2Gi; a container asking for
		// nothing counts as 100m / 200Mi when scoring.
		{"nearly empty node", node("0", "0"), 72, 27, 99}, // cpu 1.1/4, mem 2.2/8
		{"half used", node("1", "2Gi"), 50, 50, 100},      // 2/4 and 4/8
		{"cpu heavy", node("3", "0"), 36, 63, 63},         // cpu 4/4, mem 2.2/8
		{"over full", node("4", "8Gi"), 0, 100, 100},      // beyond allocatable
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fitScore(pod, tc.ni, LeastAllocated); got != tc.least {
				t.Errorf("least allocated = %d, want %d", got, tc.least)
			}
			if got := fitScore(pod, tc.ni, MostAllocated); got != tc.most {
				t.Errorf("most allocated = %d, want %d", got, tc.most)
			}
			if got := balancedScore(pod, tc.ni); got != tc.balanced {
				t.Errorf("balanced = %d, want %d", got, tc.balanced)
			}
		})
	}
}

func TestTiesAreBrokenAtRandom(t *testing.T) {
	c := newTestCache([]*v1.Node{mkNode("n1"), mkNode("n2"), mkNode("n3")}, nil)
	seen := map[string]int{}
	for seed := uint64(0); seed < 60; seed++ {
		node, err := newTestAlgorithm("", seed).Schedule(c, NewPodInfo(mkPod("p")))
		if err != nil {
			t.Fatal(err)
		}
		seen[node]++
	}
	if len(seen) != 3 {
		t.Fatalf("equal nodes chosen: %v, want all three", seen)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct{ nodes, pct, want int }{
		{10, 0, 10}, {99, 0, 99}, {100, 0, 100}, {200, 0, 100}, {500, 0, 230},
		{1000, 0, 420}, {5000, 0, 500}, {10000, 0, 500}, {1000, 100, 1000}, {1000, 30, 300}, {1000, 5, 100},
	}
	for _, tc := range tests {
		a := &Algorithm{PercentageOfNodesToScore: tc.pct}
		if got := a.numFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("numFeasibleNodesToFind(%d) at %d%% = %d, want %d", tc.nodes, tc.pct, got, tc.want)
		}
	}
}

func TestSamplingRotatesThroughNodes(t *testing.T) {
	var nodes []*v1.Node
	for i := 0; i < 1000; i++ {
		nodes = append(nodes, mkNode(fmt.Sprintf("node-%04d", i)))
	}
	c := newTestCache(nodes, nil)
	a := newTestAlgorithm("", 1)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		node, err := a.Schedule(c, NewPodInfo(mkPod("p")))
		if err != nil {
			t.Fatal(err)
		}
		seen[node] = true
		if want := (i + 1) * 420 % 1000; a.nextStart != want {
			t.Fatalf("after pod %d the next search starts at %d, want %d", i, a.nextStart, want)
		}
	}
	// A pod that fits only one node far from the start is still found.
	node, err := a.Schedule(c, NewPodInfo(mkPod("q", selector("kubernetes.io/hostname", "node-0100"))))
	if err != nil || node != "node-0100" {
		t.Fatalf("Schedule = %q, %v; want node-0100", node, err)
	}
}
