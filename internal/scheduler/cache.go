package scheduler

import (
	"fmt"
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// Taint keys the scheduler sets on its own view of a node that is not Ready, like the
// node lifecycle controller does on the object.
const (
	taintNodeNotReady    = "node.kubernetes.io/not-ready"
	taintNodeUnreachable = "node.kubernetes.io/unreachable"
	taintUnschedulable   = "node.kubernetes.io/unschedulable"
	labelZone            = "topology.kubernetes.io/zone"
	labelRegion          = "topology.kubernetes.io/region"
)

// NodeInfo is a node with the pods assigned (or assumed) to it and their sums.
type NodeInfo struct {
	// Node is nil while pods are known on a node whose object is not (yet) seen.
	Node *v1.Node
	Pods []*PodInfo
	// Requested is the sum of the pods' requests; NonZeroRequested the same with the
	// scoring defaults. Requested.Pods counts the pods.
	Requested        Resources
	NonZeroRequested Resources
	Allocatable      Resources
	// Taints are the node's taints plus the implicit not-ready/unreachable taint of a
	// node whose Ready condition is not True.
	Taints []v1.Taint

	usedPorts []hostPort
	labels    labels.Set
}

func (n *NodeInfo) setNode(node *v1.Node) {
	n.Node = node
	n.Allocatable = resourcesFromList(node.Status.Allocatable)
	n.labels = labels.Set(node.Labels)
	n.Taints = effectiveTaints(node)
}

func effectiveTaints(node *v1.Node) []v1.Taint {
	status := v1.ConditionUnknown
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			status = c.Status
		}
	}
	if status == v1.ConditionTrue {
		return node.Spec.Taints
	}
	key := taintNodeNotReady
	if status == v1.ConditionUnknown {
		key = taintNodeUnreachable
	}
	for _, t := range node.Spec.Taints {
		if t.Key == key && (t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute) {
			return node.Spec.Taints
		}
	}
	out := make([]v1.Taint, 0, len(node.Spec.Taints)+1)
	out = append(out, node.Spec.Taints...)
	return append(out, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
}

func (n *NodeInfo) addPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	n.Requested.add(&pi.Requests)
	n.Requested.Pods++
	n.NonZeroRequested.add(&pi.NonZeroRequests)
	n.usedPorts = append(n.usedPorts, pi.hostPorts...)
}

func (n *NodeInfo) removePod(pi *PodInfo) {
	for i, p := range n.Pods {
		if p == pi {
			last := len(n.Pods) - 1
			n.Pods[i] = n.Pods[last]
			n.Pods[last] = nil
			n.Pods = n.Pods[:last]
			n.Requested.sub(&pi.Requests)
			n.Requested.Pods--
			n.NonZeroRequested.sub(&pi.NonZeroRequests)
			if len(pi.hostPorts) > 0 {
				n.usedPorts = n.usedPorts[:0]
				for _, q := range n.Pods {
					n.usedPorts = append(n.usedPorts, q.hostPorts...)
				}
			}
			return
		}
	}
}

// Name returns the node's name.
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

type podEntry struct {
	info    *PodInfo
	node    *NodeInfo
	assumed bool
}

// Cache is the scheduler's picture of the cluster: nodes, the pods assigned to them
// (including pods assumed bound but not yet seen so by the informer), namespace labels,
// and indexes over pod labels for the affinity and spreading rules.
//
// Writers (informer handlers, the binder) call its exported methods, which lock. The
// scheduling algorithm reads it while holding RLock, which makes it a consistent
// read-only snapshot for the length of one scheduling decision.
type Cache struct {
	mu sync.RWMutex

	nodes    map[string]*NodeInfo
	nodeList []*NodeInfo // nodes with an object, interleaved by zone
	pods     map[types.UID]*podEntry
	// byLabel indexes assigned pods: label key → value → pods.
	byLabel map[string]map[string]map[*PodInfo]*NodeInfo
	// withAffinity holds assigned pods with required affinity or preferred
	// (anti-)affinity terms (those that weigh on scoring other pods).
	withAffinity map[*PodInfo]*NodeInfo
	// antiByLabel indexes assigned pods with required anti-affinity by the label
	// (key, value) each term requires of the pods it selects; antiAny holds those with a
	// term that requires no particular label value.
	antiByLabel map[labelKV]map[*PodInfo]*NodeInfo
	antiAny     map[*PodInfo]*NodeInfo
	nsLabels    map[string]labels.Set
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{
		nodes:        map[string]*NodeInfo{},
		pods:         map[types.UID]*podEntry{},
		byLabel:      map[string]map[string]map[*PodInfo]*NodeInfo{},
		withAffinity: map[*PodInfo]*NodeInfo{},
		antiByLabel:  map[labelKV]map[*PodInfo]*NodeInfo{},
		antiAny:      map[*PodInfo]*NodeInfo{},
		nsLabels:     map[string]labels.Set{},
	}
}

// RLock and RUnlock bracket a scheduling decision.
func (c *Cache) RLock()   { c.mu.RLock() }
func (c *Cache) RUnlock() { c.mu.RUnlock() }

// AddNode adds or replaces a node.
func (c *Cache) AddNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodes[node.Name]
	if ni == nil {
		ni = &NodeInfo{}
		c.nodes[node.Name] = ni
	}
	rebuild := ni.Node == nil || ni.Node.Labels[labelZone] != node.Labels[labelZone] ||
		ni.Node.Labels[labelRegion] != node.Labels[labelRegion]
	ni.setNode(node)
	if rebuild {
		c.rebuildNodeList()
	}
}

// RemoveNode forgets a node object; pods still assigned to it are kept until deleted.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodes[name]
	if ni == nil {
		return
	}
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		ni.Node = nil
		ni.labels = nil
		ni.Taints = nil
		ni.Allocatable = Resources{}
	}
	c.rebuildNodeList()
}

// rebuildNodeList orders the nodes by name within each zone and interleaves the zones,
// so that scoring a sample of the nodes still spans every zone.
func (c *Cache) rebuildNodeList() {
	zones := map[string][]*NodeInfo{}
	var zoneNames []string
	for _, ni := range c.nodes {
		if ni.Node == nil {
			continue
		}
		z := ni.Node.Labels[labelRegion] + ":\x00:" + ni.Node.Labels[labelZone]
		if _, ok := zones[z]; !ok {
			zoneNames = append(zoneNames, z)
		}
		zones[z] = append(zones[z], ni)
	}
	sort.Strings(zoneNames)
	for _, z := range zoneNames {
		l := zones[z]
		sort.Slice(l, func(i, j int) bool { return l[i].Node.Name < l[j].Node.Name })
	}
	c.nodeList = c.nodeList[:0]
	for i := 0; ; i++ {
		added := false
		for _, z := range zoneNames {
			if l := zones[z]; i < len(l) {
				c.nodeList = append(c.nodeList, l[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
}

// SetNamespace records a namespace's labels (for namespaceSelector in affinity terms).
func (c *Cache) SetNamespace(ns *v1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nsLabels[ns.Name] = labels.Set(ns.Labels)
}

// RemoveNamespace forgets a namespace.
func (c *Cache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nsLabels, name)
}

// AddPod records an assigned pod as the API reports it, replacing an assumed or older copy.
func (c *Cache) AddPod(pod *v1.Pod) {
	if pod.Spec.NodeName == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addPodLocked(NewPodInfo(pod), false)
}

// AssumePod records that pi.Pod (a copy whose Spec.NodeName is the chosen node) is being
// bound, so that it counts against the node until the informer reports the binding.
func (c *Cache) AssumePod(pi *PodInfo) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pi.Pod.UID]; ok {
		return fmt.Errorf("pod %s/%s is already in the cache", pi.Pod.Namespace, pi.Pod.Name)
	}
	c.addPodLocked(pi, true)
	return nil
}

// ForgetPod removes an assumed pod whose binding failed. A pod the informer already
// reported bound is kept.
func (c *Cache) ForgetPod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.pods[uid]; ok && e.assumed {
		c.removePodLocked(uid)
	}
}

// IsAssumed reports whether a pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid types.UID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.pods[uid]
	return ok && e.assumed
}

// RemovePod forgets a pod (deleted, or finished so that it no longer holds resources).
func (c *Cache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removePodLocked(uid)
}

func (c *Cache) addPodLocked(pi *PodInfo, assumed bool) {
	uid := pi.Pod.UID
	if _, ok := c.pods[uid]; ok {
		c.removePodLocked(uid)
	}
	ni := c.nodes[pi.Pod.Spec.NodeName]
	if ni == nil {
		ni = &NodeInfo{}
		c.nodes[pi.Pod.Spec.NodeName] = ni
	}
	ni.addPod(pi)
	c.pods[uid] = &podEntry{info: pi, node: ni, assumed: assumed}
	for k, v := range pi.Pod.Labels {
		vals := c.byLabel[k]
		if vals == nil {
			vals = map[string]map[*PodInfo]*NodeInfo{}
			c.byLabel[k] = vals
		}
		set := vals[v]
		if set == nil {
			set = map[*PodInfo]*NodeInfo{}
			vals[v] = set
		}
		set[pi] = ni
	}
	if pi.hasScoringTerms() {
		c.withAffinity[pi] = ni
	}
	for _, kv := range pi.antiAnchors() {
		if kv == nil {
			c.antiAny[pi] = ni
			continue
		}
		set := c.antiByLabel[*kv]
		if set == nil {
			set = map[*PodInfo]*NodeInfo{}
			c.antiByLabel[*kv] = set
		}
		set[pi] = ni
	}
}

func (c *Cache) removePodLocked(uid types.UID) {
	e, ok := c.pods[uid]
	if !ok {
		return
	}
	delete(c.pods, uid)
	pi := e.info
	e.node.removePod(pi)
	if e.node.Node == nil && len(e.node.Pods) == 0 {
		delete(c.nodes, pi.Pod.Spec.NodeName)
	}
	for k, v := range pi.Pod.Labels {
		if vals := c.byLabel[k]; vals != nil {
			if set := vals[v]; set != nil {
				delete(set, pi)
				if len(set) == 0 {
					delete(vals, v)
				}
			}
			if len(vals) == 0 {
				delete(c.byLabel, k)
			}
		}
	}
	delete(c.withAffinity, pi)
	for _, kv := range pi.antiAnchors() {
		if kv == nil {
			delete(c.antiAny, pi)
			continue
		}
		if set := c.antiByLabel[*kv]; set != nil {
			delete(set, pi)
			if len(set) == 0 {
				delete(c.antiByLabel, *kv)
			}
		}
	}
}

type labelKV struct{ key, value string }

// antiAnchors returns, for each required anti-affinity term, the label values one of
// which a pod must carry to be selected (nil: any pod may be). Terms whose selector has an
// equality or "in" requirement are anchored on it.
func (pi *PodInfo) antiAnchors() []*labelKV {
	var out []*labelKV
	for i := range pi.requiredAntiAffinity {
		reqs, _ := pi.requiredAntiAffinity[i].selector.Requirements()
		anchored := false
		for _, r := range reqs {
			switch r.Operator() {
			case selection.In, selection.Equals, selection.DoubleEquals:
			default:
				continue
			}
			for v := range r.Values() {
				out = append(out, &labelKV{r.Key(), v})
			}
			anchored = true
			break
		}
		if !anchored {
			out = append(out, nil)
		}
	}
	return out
}

// forEachAntiAffinityCandidate calls fn for every assigned pod with required
// anti-affinity whose terms may select pod (at most once per pod); fn must still check.
func (c *Cache) forEachAntiAffinityCandidate(pod *v1.Pod, fn func(pi *PodInfo, ni *NodeInfo)) {
	var seen map[*PodInfo]struct{}
	visit := func(pi *PodInfo, ni *NodeInfo) {
		if seen == nil {
			seen = map[*PodInfo]struct{}{}
		}
		if _, ok := seen[pi]; ok {
			return
		}
		seen[pi] = struct{}{}
		fn(pi, ni)
	}
	for pi, ni := range c.antiAny {
		visit(pi, ni)
	}
	if len(c.antiByLabel) == 0 {
		return
	}
	for k, v := range pod.Labels {
		for pi, ni := range c.antiByLabel[labelKV{k, v}] {
			visit(pi, ni)
		}
	}
}

// Read side (caller holds RLock).

// Nodes returns the nodes in scheduling order. The slice must not be modified.
func (c *Cache) Nodes() []*NodeInfo { return c.nodeList }

// NodeInfo returns a node by name, or nil.
func (c *Cache) NodeInfo(name string) *NodeInfo {
	if ni := c.nodes[name]; ni != nil && ni.Node != nil {
		return ni
	}
	return nil
}

// namespaceLabels returns a namespace's labels.
func (c *Cache) namespaceLabels(ns string) labels.Set { return c.nsLabels[ns] }

// forEachCandidate calls fn for every assigned pod that may match sel: when the selector
// has an equality or "in" requirement only the pods carrying one of those values are
// visited (the smallest such set), otherwise every pod. fn must still check the selector.
func (c *Cache) forEachCandidate(sel labels.Selector, fn func(pi *PodInfo, ni *NodeInfo)) {
	reqs, _ := sel.Requirements()
	best := -1
	bestSize := len(c.pods) + 1
	for i, r := range reqs {
		switch r.Operator() {
		case selection.In, selection.Equals, selection.DoubleEquals:
		default:
			continue
		}
		size := 0
		vals := c.byLabel[r.Key()]
		for v := range r.Values() {
			size += len(vals[v])
		}
		if size < bestSize {
			best, bestSize = i, size
		}
	}
	if best < 0 {
		for _, e := range c.pods {
			fn(e.info, e.node)
		}
		return
	}
	r := reqs[best]
	vals := c.byLabel[r.Key()]
	for v := range r.Values() {
		for pi, ni := range vals[v] {
			fn(pi, ni)
		}
	}
}
