package scheduler

import (
	"fmt"
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Filter failure reasons, worded as upstream's scheduler words them.
const (
	reasonUnschedulable         = "node(s) were unschedulable"
	reasonNodeName              = "node(s) didn't match the requested node name"
	reasonNodeAffinity          = "node(s) didn't match Pod's node affinity/selector"
	reasonNodePorts             = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods           = "Too many pods"
	reasonSpread                = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingLabel    = "node(s) didn't match pod topology spread constraints (missing required label)"
	reasonAffinityRules         = "node(s) didn't match pod affinity rules"
	reasonAntiAffinityRules     = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAntiAffinity  = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonInsufficientResPrefix = "Insufficient "
)

type topoPair struct{ key, value string }

// cycleState holds what one scheduling decision computes once about the pod and the
// cluster before looking at nodes one by one.
type cycleState struct {
	pod      *PodInfo
	affinity nodeAffinity
	nsLabels labels.Set

	// Inter-pod affinity: counts of matching pods per topology domain.
	affinityCounts         map[topoPair]int
	antiAffinityCounts     map[topoPair]int
	existingAntiAffinity   map[topoPair]int
	checkExistingAntiAffin bool

	hardSpread spreadState
	softSpread spreadState

	reasons []string // filter's result buffer
}

type spreadConstraint struct {
	maxSkew     int32
	topologyKey string
	selector    labels.Selector
	minDomains  int32
	honorAff    bool // nodeAffinityPolicy Honor (default)
	honorTaints bool // nodeTaintsPolicy Honor (default Ignore)
	selfMatch   int
}

type spreadState struct {
	constraints []spreadConstraint
	counts      map[topoPair]int
	minMatch    []int
	// For scoring: weight per constraint.
	weights []float64
	// requireAll: a node must carry every topology key to count (false only for the
	// system's default constraints).
	requireAll bool
}

// defaultSpreadConstraints are the system's default soft spreading, applied like upstream
// to pods that declare none and belong to a ReplicaSet, StatefulSet or
// ReplicationController: at most a skew of 3 between nodes and 5 between zones, among the
// pods carrying the same labels (the owner's selector, for pods made from a template).
func defaultSpreadConstraints(pod *v1.Pod) []spreadConstraint {
	owner := metav1.GetControllerOf(pod)
	if owner == nil || len(pod.Labels) == 0 {
		return nil
	}
	switch owner.Kind {
	case "ReplicaSet", "StatefulSet", "ReplicationController":
	default:
		return nil
	}
	sel := labels.SelectorFromSet(pod.Labels)
	return []spreadConstraint{
		{maxSkew: 3, topologyKey: "kubernetes.io/hostname", selector: sel, minDomains: 1, honorAff: true, selfMatch: 1},
		{maxSkew: 5, topologyKey: labelZone, selector: sel, minDomains: 1, honorAff: true, selfMatch: 1},
	}
}

// prepare computes the per-pod state over the whole cluster.
func prepare(c *Cache, pi *PodInfo) (*cycleState, error) {
	if pi.parseErr != nil {
		return nil, pi.parseErr
	}
	st := &cycleState{
		pod:      pi,
		affinity: newNodeAffinity(pi.Pod),
		nsLabels: c.namespaceLabels(pi.Pod.Namespace),
	}
	st.prepareInterPod(c)
	hard, soft, err := spreadConstraints(pi.Pod)
	if err != nil {
		return nil, err
	}
	if len(hard) > 0 {
		st.hardSpread = st.countSpread(c, hard, nil, true)
	}
	st.softSpread.constraints = soft
	st.softSpread.requireAll = true
	if len(pi.Pod.Spec.TopologySpreadConstraints) == 0 {
		st.softSpread.constraints = defaultSpreadConstraints(pi.Pod)
		st.softSpread.requireAll = false
	}
	return st, nil
}

func (st *cycleState) prepareInterPod(c *Cache) {
	pod := st.pod
	// Existing pods whose required anti-affinity selects this pod.
	c.forEachAntiAffinityCandidate(pod.Pod, func(epi *PodInfo, eni *NodeInfo) {
		if eni.Node == nil {
			return
		}
		for i := range epi.requiredAntiAffinity {
			t := &epi.requiredAntiAffinity[i]
			if !t.matches(pod.Pod, st.nsLabels) {
				continue
			}
			if v, ok := eni.labels[t.topologyKey]; ok {
				if st.existingAntiAffinity == nil {
					st.existingAntiAffinity = map[topoPair]int{}
				}
				st.existingAntiAffinity[topoPair{t.topologyKey, v}]++
			}
		}
	})
	if len(pod.requiredAffinity) > 0 {
		st.affinityCounts = map[topoPair]int{}
		first := &pod.requiredAffinity[0]
		c.forEachCandidate(first.selector, func(epi *PodInfo, eni *NodeInfo) {
			if eni.Node == nil {
				return
			}
			ns := c.namespaceLabels(epi.Pod.Namespace)
			for i := range pod.requiredAffinity {
				if !pod.requiredAffinity[i].matches(epi.Pod, ns) {
					return
				}
			}
			for i := range pod.requiredAffinity {
				t := &pod.requiredAffinity[i]
				if v, ok := eni.labels[t.topologyKey]; ok {
					st.affinityCounts[topoPair{t.topologyKey, v}]++
				}
			}
		})
	}
	if len(pod.requiredAntiAffinity) > 0 {
		st.antiAffinityCounts = map[topoPair]int{}
		for i := range pod.requiredAntiAffinity {
			t := &pod.requiredAntiAffinity[i]
			c.forEachCandidate(t.selector, func(epi *PodInfo, eni *NodeInfo) {
				if eni.Node == nil || !t.matches(epi.Pod, c.namespaceLabels(epi.Pod.Namespace)) {
					return
				}
				if v, ok := eni.labels[t.topologyKey]; ok {
					st.antiAffinityCounts[topoPair{t.topologyKey, v}]++
				}
			})
		}
	}
}

// spreadConstraints splits the pod's topology spread constraints into hard
// (DoNotSchedule) and soft (ScheduleAnyway) ones.
func spreadConstraints(pod *v1.Pod) (hard, soft []spreadConstraint, err error) {
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil {
			return nil, nil, fmt.Errorf("topology spread constraint selector: %w", err)
		}
		for _, k := range tsc.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, "in", []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		sc := spreadConstraint{
			maxSkew:     tsc.MaxSkew,
			topologyKey: tsc.TopologyKey,
			selector:    sel,
			minDomains:  1,
			honorAff:    tsc.NodeAffinityPolicy == nil || *tsc.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor,
			honorTaints: tsc.NodeTaintsPolicy != nil && *tsc.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor,
		}
		if tsc.MinDomains != nil && *tsc.MinDomains > 0 {
			sc.minDomains = *tsc.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		if tsc.WhenUnsatisfiable == v1.ScheduleAnyway {
			soft = append(soft, sc)
		} else {
			hard = append(hard, sc)
		}
	}
	return hard, soft, nil
}

// nodeHasKeys reports whether the node carries every constraint's topology key.
func nodeHasKeys(ni *NodeInfo, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := ni.labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// countSpread counts, for each constraint, the matching pods in each topology domain.
// The domains are those of domainNodes (all nodes when nil) that carry every constraint's
// topology key and pass the pod's node affinity and taints as the constraint's inclusion
// policies say; pods are counted on any node that passes the same checks and lies in one
// of those domains.
//
// With requireAll false (the system's default constraints) a node missing some topology
// keys still counts for the constraints whose keys it has.
func (st *cycleState) countSpread(c *Cache, cs []spreadConstraint, domainNodes []*NodeInfo, requireAll bool) spreadState {
	ss := spreadState{constraints: cs, counts: map[topoPair]int{}, minMatch: make([]int, len(cs)), requireAll: requireAll}
	if domainNodes == nil {
		domainNodes = c.Nodes()
	}
	// eligible caches, per node, a bit for each constraint whose policies it passes.
	eligible := make(map[*NodeInfo]uint64, len(domainNodes))
	bitsFor := func(ni *NodeInfo) uint64 {
		if b, ok := eligible[ni]; ok {
			return b
		}
		var bits uint64
		if ni.Node != nil && (!requireAll || nodeHasKeys(ni, cs)) {
			affOK := st.affinity.matches(ni)
			_, badTaint := untoleratedTaint(ni.Taints, st.pod.Pod.Spec.Tolerations)
			for i := range cs {
				if i >= 64 || cs[i].honorAff && !affOK || cs[i].honorTaints && badTaint {
					continue
				}
				if _, ok := ni.labels[cs[i].topologyKey]; !ok {
					continue
				}
				bits |= 1 << uint(i)
			}
		}
		eligible[ni] = bits
		return bits
	}
	domains := make([]map[string]struct{}, len(cs))
	for i := range cs {
		domains[i] = map[string]struct{}{}
	}
	for _, ni := range domainNodes {
		bits := bitsFor(ni)
		for i := range cs {
			if bits&(1<<uint(i)) == 0 {
				continue
			}
			v := ni.labels[cs[i].topologyKey]
			domains[i][v] = struct{}{}
			p := topoPair{cs[i].topologyKey, v}
			if _, ok := ss.counts[p]; !ok {
				ss.counts[p] = 0
			}
		}
	}
	ns := st.pod.Pod.Namespace
	for i := range cs {
		sc := &cs[i]
		c.forEachCandidate(sc.selector, func(epi *PodInfo, eni *NodeInfo) {
			if epi.Pod.Namespace != ns || epi.Pod.DeletionTimestamp != nil {
				return
			}
			if bitsFor(eni)&(1<<uint(i)) == 0 {
				return
			}
			p := topoPair{sc.topologyKey, eni.labels[sc.topologyKey]}
			if _, ok := ss.counts[p]; !ok {
				return
			}
			if !sc.selector.Matches(labels.Set(epi.Pod.Labels)) {
				return
			}
			ss.counts[p]++
		})
		minMatch := math.MaxInt
		for v := range domains[i] {
			if n := ss.counts[topoPair{sc.topologyKey, v}]; n < minMatch {
				minMatch = n
			}
		}
		if minMatch == math.MaxInt || int32(len(domains[i])) < sc.minDomains {
			minMatch = 0
		}
		ss.minMatch[i] = minMatch
		ss.weights = append(ss.weights, math.Log(float64(len(domains[i])+2)))
	}
	return ss
}

// filter runs every filter on one node, in upstream's order, and returns the reasons the
// node cannot take the pod (none: it fits). A node failing a filter is not checked further.
// The result is valid until the next call.
func (st *cycleState) filter(ni *NodeInfo) []string {
	st.reasons = st.reasons[:0]
	one := func(r string) []string {
		st.reasons = append(st.reasons, r)
		return st.reasons
	}
	pod := st.pod.Pod
	node := ni.Node
	if node.Spec.Unschedulable && !toleratedBy(pod.Spec.Tolerations, &v1.Taint{Key: taintUnschedulable, Effect: v1.TaintEffectNoSchedule}) {
		return one(reasonUnschedulable)
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return one(reasonNodeName)
	}
	if t, bad := untoleratedTaint(ni.Taints, pod.Spec.Tolerations); bad {
		return one(taintReason(t))
	}
	if !st.affinity.matches(ni) {
		return one(reasonNodeAffinity)
	}
	for _, want := range st.pod.hostPorts {
		for _, used := range ni.usedPorts {
			if want.conflicts(used) {
				return one(reasonNodePorts)
			}
		}
	}
	if st.reasons = fitsResources(st.pod, ni, st.reasons); len(st.reasons) > 0 {
		return st.reasons
	}
	if r := st.filterSpread(ni); r != "" {
		return one(r)
	}
	if r := st.filterInterPod(ni); r != "" {
		return one(r)
	}
	return nil
}

// fitsResources checks the pod's requests against what is left of the node's allocatable.
// Reasons are appended to reasons.
func fitsResources(pi *PodInfo, ni *NodeInfo, reasons []string) []string {
	if ni.Requested.Pods+1 > ni.Allocatable.Pods {
		reasons = append(reasons, reasonTooManyPods)
	}
	req := &pi.Requests
	if req.isZero() {
		return reasons
	}
	if req.MilliCPU > 0 && req.MilliCPU > ni.Allocatable.MilliCPU-ni.Requested.MilliCPU {
		reasons = append(reasons, reasonInsufficientResPrefix+string(v1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > ni.Allocatable.Memory-ni.Requested.Memory {
		reasons = append(reasons, reasonInsufficientResPrefix+string(v1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > ni.Allocatable.EphemeralStorage-ni.Requested.EphemeralStorage {
		reasons = append(reasons, reasonInsufficientResPrefix+string(v1.ResourceEphemeralStorage))
	}
	for name, q := range req.Scalar {
		if q > 0 && q > ni.Allocatable.Scalar[name]-ni.Requested.Scalar[name] {
			reasons = append(reasons, reasonInsufficientResPrefix+string(name))
		}
	}
	return reasons
}

func (st *cycleState) filterSpread(ni *NodeInfo) string {
	ss := &st.hardSpread
	for i := range ss.constraints {
		sc := &ss.constraints[i]
		v, ok := ni.labels[sc.topologyKey]
		if !ok {
			return reasonSpreadMissingLabel
		}
		skew := ss.counts[topoPair{sc.topologyKey, v}] + sc.selfMatch - ss.minMatch[i]
		if skew > int(sc.maxSkew) {
			return reasonSpread
		}
	}
	return ""
}

func (st *cycleState) filterInterPod(ni *NodeInfo) string {
	pod := st.pod
	if len(pod.requiredAffinity) > 0 {
		exist := true
		for i := range pod.requiredAffinity {
			t := &pod.requiredAffinity[i]
			v, ok := ni.labels[t.topologyKey]
			if !ok {
				return reasonAffinityRules
			}
			if st.affinityCounts[topoPair{t.topologyKey, v}] <= 0 {
				exist = false
			}
		}
		if !exist {
			// The first pod of a group with affinity to itself may go anywhere that has
			// the topology keys, if nothing else in the cluster matches its terms.
			if len(st.affinityCounts) != 0 || !matchesAllTerms(pod, st.nsLabels) {
				return reasonAffinityRules
			}
		}
	}
	for i := range pod.requiredAntiAffinity {
		t := &pod.requiredAntiAffinity[i]
		if v, ok := ni.labels[t.topologyKey]; ok && st.antiAffinityCounts[topoPair{t.topologyKey, v}] > 0 {
			return reasonAntiAffinityRules
		}
	}
	if len(st.existingAntiAffinity) > 0 {
		for k, v := range ni.labels {
			if st.existingAntiAffinity[topoPair{k, v}] > 0 {
				return reasonExistingAntiAffinity
			}
		}
	}
	return ""
}

func matchesAllTerms(pi *PodInfo, nsLabels labels.Set) bool {
	for i := range pi.requiredAffinity {
		if !pi.requiredAffinity[i].matches(pi.Pod, nsLabels) {
			return false
		}
	}
	return true
}
