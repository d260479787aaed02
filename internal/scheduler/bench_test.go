package scheduler

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkSchedule measures one scheduling decision (no I/O) on 1,000 nodes holding
// 10,000 pods of the schedbench mix, for plain, selector and anti-affinity pods.
func BenchmarkSchedule(b *testing.B) {
	zones := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	pools := []string{"general", "compute", "memory", "storage"}
	var nodes []*v1.Node
	for i := 0; i < 1000; i++ {
		nodes = append(nodes, mkNode(fmt.Sprintf("node-%04d", i), alloc(v1.ResourceCPU, "32"), alloc(v1.ResourceMemory, "128Gi"),
			nodeLabel(labelZone, zones[i%len(zones)]), nodeLabel("pool", pools[i%len(pools)])))
	}
	antiAffinity := func(group string) podOpt {
		return func(p *v1.Pod) {
			p.Labels["group"] = group
			p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}},
					TopologyKey:   "kubernetes.io/hostname",
				}},
			}}
		}
	}
	c := newTestCache(nodes, nil)
	for i := 0; i < 10000; i++ {
		opts := []podOpt{on(fmt.Sprintf("node-%04d", i%1000)), req("cpu", "250m", "memory", "256Mi"), podLabel("app", "bench")}
		if i%5 == 0 {
			opts = append(opts, antiAffinity(fmt.Sprintf("g%d", i/50)))
		}
		c.AddPod(mkPod(fmt.Sprintf("pod-%05d", i), opts...))
	}
	cases := map[string]*PodInfo{
		"plain":        NewPodInfo(mkPod("p", req("cpu", "250m", "memory", "256Mi"), podLabel("app", "bench"))),
		"selector":     NewPodInfo(mkPod("p", req("cpu", "250m", "memory", "256Mi"), selector("pool", "compute"))),
		"antiAffinity": NewPodInfo(mkPod("p", req("cpu", "250m", "memory", "256Mi"), antiAffinity("g7"))),
		"replica":      NewPodInfo(mkPod("p", req("cpu", "250m", "memory", "256Mi"), podLabel("app", "web"), ownedBy("ReplicaSet"))),
	}
	for _, name := range []string{"plain", "selector", "antiAffinity", "replica"} {
		pi := cases[name]
		b.Run(name, func(b *testing.B) {
			a := newTestAlgorithm(LeastAllocated, 1)
			for b.Loop() {
				if _, err := a.Schedule(c, pi); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
