package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
)

const maxNodeScore = 100

// Scoring strategies for the resources score.
const (
	LeastAllocated = "LeastAllocated"
	MostAllocated  = "MostAllocated"
)

// Weights of the scores, as upstream's default profile sets them.
const (
	weightTaints      = 3
	weightNodeAff     = 2
	weightFit         = 1
	weightBalanced    = 1
	weightSpread      = 2
	weightInterPodAff = 2
)

// score ranks the feasible nodes; the result is parallel to nodes.
func score(c *Cache, st *cycleState, nodes []*NodeInfo, strategy string) []int64 {
	total := make([]int64, len(nodes))
	raw := make([]int64, len(nodes))
	add := func(weight int64) {
		for i, s := range raw {
			total[i] += weight * s
		}
	}

	// Resources: least- or most-allocated, and balance between cpu and memory.
	for i, ni := range nodes {
		raw[i] = fitScore(st.pod, ni, strategy)
	}
	add(weightFit)
	for i, ni := range nodes {
		raw[i] = balancedScore(st.pod, ni)
	}
	add(weightBalanced)

	// PreferNoSchedule taints the pod does not tolerate: fewer is better.
	var tols []v1.Toleration
	for _, t := range st.pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	for i, ni := range nodes {
		var n int64
		for j := range ni.Taints {
			if t := &ni.Taints[j]; t.Effect == v1.TaintEffectPreferNoSchedule && !toleratedBy(tols, t) {
				n++
			}
		}
		raw[i] = n
	}
	normalize(raw, true)
	add(weightTaints)

	if len(st.affinity.preferred) > 0 {
		for i, ni := range nodes {
			raw[i] = st.affinity.preferredScore(ni)
		}
		normalize(raw, false)
		add(weightNodeAff)
	}

	if len(st.softSpread.constraints) > 0 {
		spreadScores(c, st, nodes, raw)
		add(weightSpread)
	}

	if interPodScores(c, st, nodes, raw) {
		add(weightInterPodAff)
	}
	return total
}

// normalize scales scores to 0..maxNodeScore by the largest one, reversed if asked.
func normalize(s []int64, reverse bool) {
	var hi int64
	for _, v := range s {
		hi = max(hi, v)
	}
	for i, v := range s {
		if hi == 0 {
			if reverse {
				s[i] = maxNodeScore
			} else {
				s[i] = 0
			}
			continue
		}
		v = maxNodeScore * v / hi
		if reverse {
			v = maxNodeScore - v
		}
		s[i] = v
	}
}

func fitScore(pi *PodInfo, ni *NodeInfo, strategy string) int64 {
	one := func(requested, allocatable int64) int64 {
		if allocatable == 0 {
			return 0
		}
		if strategy == MostAllocated {
			requested = min(requested, allocatable)
			return requested * maxNodeScore / allocatable
		}
		if requested > allocatable {
			return 0
		}
		return (allocatable - requested) * maxNodeScore / allocatable
	}
	cpu := one(ni.NonZeroRequested.MilliCPU+pi.NonZeroRequests.MilliCPU, ni.Allocatable.MilliCPU)
	mem := one(ni.NonZeroRequested.Memory+pi.NonZeroRequests.Memory, ni.Allocatable.Memory)
	return (cpu + mem) / 2
}

func balancedScore(pi *PodInfo, ni *NodeInfo) int64 {
	frac := func(requested, allocatable int64) float64 {
		if allocatable == 0 {
			return 1
		}
		return math.Min(float64(requested)/float64(allocatable), 1)
	}
	c := frac(ni.NonZeroRequested.MilliCPU+pi.NonZeroRequests.MilliCPU, ni.Allocatable.MilliCPU)
	m := frac(ni.NonZeroRequested.Memory+pi.NonZeroRequests.Memory, ni.Allocatable.Memory)
	std := math.Abs(c-m) / 2
	return int64((1 - std) * maxNodeScore)
}

// spreadScores fills out with the ScheduleAnyway topology spread score: nodes whose
// domains hold fewer matching pods score higher.
func spreadScores(c *Cache, st *cycleState, nodes []*NodeInfo, out []int64) {
	ss := st.countSpread(c, st.softSpread.constraints, nodes, st.softSpread.requireAll)
	ignored := make([]bool, len(nodes))
	lo, hi := int64(math.MaxInt64), int64(0)
	for i, ni := range nodes {
		if ss.requireAll && !nodeHasKeys(ni, ss.constraints) {
			ignored[i] = true
			continue
		}
		var s float64
		for j := range ss.constraints {
			sc := &ss.constraints[j]
			v, ok := ni.labels[sc.topologyKey]
			if !ok {
				continue
			}
			cnt := ss.counts[topoPair{sc.topologyKey, v}]
			s += float64(cnt)*ss.weights[j] + float64(sc.maxSkew-1)
		}
		out[i] = int64(math.Round(s))
		lo, hi = min(lo, out[i]), max(hi, out[i])
	}
	for i := range out {
		switch {
		case ignored[i]:
			out[i] = 0
		case hi == 0:
			out[i] = maxNodeScore
		default:
			out[i] = maxNodeScore * (hi + lo - out[i]) / hi
		}
	}
}

// interPodScores fills out with the preferred inter-pod (anti-)affinity score, counting
// both the pod's preferred terms and the terms of existing pods that select it. It
// returns false when no term applies (every node would score the same).
func interPodScores(c *Cache, st *cycleState, nodes []*NodeInfo, out []int64) bool {
	pod := st.pod
	topo := map[topoPair]int64{}
	addTerm := func(t *affinityTerm, ni *NodeInfo, w int64) {
		if v, ok := ni.labels[t.topologyKey]; ok {
			topo[topoPair{t.topologyKey, v}] += w
		}
	}
	incoming := func(terms []affinityTerm, sign int64) {
		for i := range terms {
			t := &terms[i]
			c.forEachCandidate(t.selector, func(epi *PodInfo, eni *NodeInfo) {
				if eni.Node != nil && t.matches(epi.Pod, c.namespaceLabels(epi.Pod.Namespace)) {
					addTerm(t, eni, sign*int64(t.weight))
				}
			})
		}
	}
	incoming(pod.preferredAffinity, 1)
	incoming(pod.preferredAntiAffinity, -1)
	for epi, eni := range c.withAffinity {
		if eni.Node == nil {
			continue
		}
		for i := range epi.requiredAffinity {
			if t := &epi.requiredAffinity[i]; t.matches(pod.Pod, st.nsLabels) {
				addTerm(t, eni, 1) // upstream's hardPodAffinityWeight
			}
		}
		for i := range epi.preferredAffinity {
			if t := &epi.preferredAffinity[i]; t.matches(pod.Pod, st.nsLabels) {
				addTerm(t, eni, int64(t.weight))
			}
		}
		for i := range epi.preferredAntiAffinity {
			if t := &epi.preferredAntiAffinity[i]; t.matches(pod.Pod, st.nsLabels) {
				addTerm(t, eni, -int64(t.weight))
			}
		}
	}
	if len(topo) == 0 {
		return false
	}
	keys := map[string]struct{}{}
	for p := range topo {
		keys[p.key] = struct{}{}
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, ni := range nodes {
		var s int64
		for k := range keys {
			if v, ok := ni.labels[k]; ok {
				s += topo[topoPair{k, v}]
			}
		}
		out[i] = s
		lo, hi = min(lo, s), max(hi, s)
	}
	for i := range out {
		if hi > lo {
			out[i] = maxNodeScore * (out[i] - lo) / (hi - lo)
		} else {
			out[i] = 0
		}
	}
	return true
}
