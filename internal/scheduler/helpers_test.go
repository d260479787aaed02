package scheduler

import (
	"fmt"
	"math/rand/v2"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// nodeOpt and podOpt adjust test objects.
type nodeOpt func(*v1.Node)
type podOpt func(*v1.Pod)

// mkNode returns a Ready node with 4 cpu, 8Gi memory, 110 pods and the hostname label.
func mkNode(name string, opts ...nodeOpt) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: v1.NodeStatus{
			Allocatable: v1.ResourceList{
				v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi"),
				v1.ResourcePods: resource.MustParse("110"), v1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func alloc(name v1.ResourceName, q string) nodeOpt {
	return func(n *v1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}
func nodeLabel(k, v string) nodeOpt { return func(n *v1.Node) { n.Labels[k] = v } }
func taint(k, v string, e v1.TaintEffect) nodeOpt {
	return func(n *v1.Node) { n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: k, Value: v, Effect: e}) }
}
func cordoned(n *v1.Node) { n.Spec.Unschedulable = true }
func notReady(n *v1.Node) {
	n.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionFalse}}
}

var podSeq int

// mkPod returns a pending pod in "default" with one container and no requests.
func mkPod(name string, opts ...podOpt) *v1.Pod {
	podSeq++
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(fmt.Sprintf("uid-%s-%d", name, podSeq)), Labels: map[string]string{}},
		Spec: v1.PodSpec{
			SchedulerName: v1.DefaultSchedulerName,
			Containers:    []v1.Container{{Name: "c", Image: "bosun.local/hello:v1"}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func req(kv ...string) podOpt {
	return func(p *v1.Pod) {
		rl := v1.ResourceList{}
		for i := 0; i+1 < len(kv); i += 2 {
			rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		p.Spec.Containers[0].Resources.Requests = rl
	}
}
func initReq(kv ...string) podOpt {
	return func(p *v1.Pod) {
		rl := v1.ResourceList{}
		for i := 0; i+1 < len(kv); i += 2 {
			rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, v1.Container{Name: fmt.Sprintf("init%d", len(p.Spec.InitContainers)), Resources: v1.ResourceRequirements{Requests: rl}})
	}
}
func on(node string) podOpt       { return func(p *v1.Pod) { p.Spec.NodeName = node } }
func podLabel(k, v string) podOpt { return func(p *v1.Pod) { p.Labels[k] = v } }
func selector(k, v string) podOpt {
	return func(p *v1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector[k] = v
	}
}
func tolerate(k, op, v string, e v1.TaintEffect) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, v1.Toleration{Key: k, Operator: v1.TolerationOperator(op), Value: v, Effect: e})
	}
}
func hostPortOpt(port int32, proto v1.Protocol) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto})
	}
}
func affinity(a *v1.Affinity) podOpt { return func(p *v1.Pod) { p.Spec.Affinity = a } }

func nodeAffinityReq(exprs ...v1.NodeSelectorRequirement) *v1.Affinity {
	return &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: exprs}},
	}}}
}

func expr(k string, op v1.NodeSelectorOperator, vals ...string) v1.NodeSelectorRequirement {
	return v1.NodeSelectorRequirement{Key: k, Operator: op, Values: vals}
}

func podTerm(topologyKey string, kv ...string) v1.PodAffinityTerm {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return v1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: m}, TopologyKey: topologyKey}
}

func spread(maxSkew int32, key string, when v1.UnsatisfiableConstraintAction, kv ...string) podOpt {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(p *v1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: m},
		})
	}
}

// newTestCache builds a cache from nodes and assigned pods.
func newTestCache(nodes []*v1.Node, pods []*v1.Pod) *Cache {
	c := NewCache()
	c.SetNamespace(&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	for _, n := range nodes {
		c.AddNode(n)
	}
	for _, p := range pods {
		c.AddPod(p)
	}
	return c
}

func newTestAlgorithm(scoring string, seed uint64) *Algorithm {
	return &Algorithm{Scoring: scoring, Rand: rand.New(rand.NewPCG(seed, seed+1))}
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }
