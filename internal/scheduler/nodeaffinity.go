package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodeTerm is a parsed NodeSelectorTerm.
type nodeTerm struct {
	labelSel labels.Selector
	names    []nameReq // matchFields on metadata.name
	valid    bool      // false: the term matches no node
	weight   int32
}

type nameReq struct {
	in     bool
	values []string
}

func (t *nodeTerm) matches(node *v1.Node, nodeLabels labels.Set) bool {
	if !t.valid {
		return false
	}
	for _, r := range t.names {
		found := false
		for _, v := range r.values {
			if v == node.Name {
				found = true
				break
			}
		}
		if found != r.in {
			return false
		}
	}
	return t.labelSel.Matches(nodeLabels)
}

var nodeSelectorOps = map[v1.NodeSelectorOperator]selection.Operator{
	v1.NodeSelectorOpIn:           selection.In,
	v1.NodeSelectorOpNotIn:        selection.NotIn,
	v1.NodeSelectorOpExists:       selection.Exists,
	v1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	v1.NodeSelectorOpGt:           selection.GreaterThan,
	v1.NodeSelectorOpLt:           selection.LessThan,
}

func parseNodeTerm(t *v1.NodeSelectorTerm) nodeTerm {
	out := nodeTerm{labelSel: labels.Everything()}
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return out // an empty term matches nothing
	}
	sel := labels.NewSelector()
	for _, e := range t.MatchExpressions {
		op, ok := nodeSelectorOps[e.Operator]
		if !ok {
			return out
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return out
		}
		sel = sel.Add(*r)
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" {
			return out
		}
		switch f.Operator {
		case v1.NodeSelectorOpIn:
			out.names = append(out.names, nameReq{in: true, values: f.Values})
		case v1.NodeSelectorOpNotIn:
			out.names = append(out.names, nameReq{in: false, values: f.Values})
		default:
			return out
		}
	}
	out.labelSel = sel
	out.valid = true
	return out
}

// nodeAffinity is a pod's required node placement: spec.nodeSelector and the required
// node affinity terms (any of which must match).
type nodeAffinity struct {
	selector  labels.Selector // nil when the pod has no nodeSelector
	required  []nodeTerm
	hasTerms  bool
	preferred []nodeTerm
}

func newNodeAffinity(pod *v1.Pod) nodeAffinity {
	var na nodeAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		na.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			na.hasTerms = true
			for i := range r.NodeSelectorTerms {
				na.required = append(na.required, parseNodeTerm(&r.NodeSelectorTerms[i]))
			}
		}
		for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			t := parseNodeTerm(&p.Preference)
			t.weight = p.Weight
			na.preferred = append(na.preferred, t)
		}
	}
	return na
}

// matches reports whether the node satisfies the pod's required placement.
func (na *nodeAffinity) matches(ni *NodeInfo) bool {
	if na.selector != nil && !na.selector.Matches(ni.labels) {
		return false
	}
	if !na.hasTerms {
		return true
	}
	for i := range na.required {
		if na.required[i].matches(ni.Node, ni.labels) {
			return true
		}
	}
	return false
}

// preferredScore sums the weights of the preferred terms the node matches.
func (na *nodeAffinity) preferredScore(ni *NodeInfo) int64 {
	var s int64
	for i := range na.preferred {
		if na.preferred[i].matches(ni.Node, ni.labels) {
			s += int64(na.preferred[i].weight)
		}
	}
	return s
}

// tolerates reports whether a toleration matches a taint.
func tolerates(tol *v1.Toleration, taint *v1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case v1.TolerationOpExists:
		return true
	case v1.TolerationOpEqual, "":
		return tol.Value == taint.Value
	}
	return false
}

func toleratedBy(tols []v1.Toleration, taint *v1.Taint) bool {
	for i := range tols {
		if tolerates(&tols[i], taint) {
			return true
		}
	}
	return false
}

// untoleratedTaint returns the first NoSchedule/NoExecute taint the pod does not tolerate.
func untoleratedTaint(taints []v1.Taint, tols []v1.Toleration) (*v1.Taint, bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !toleratedBy(tols, t) {
			return t, true
		}
	}
	return nil, false
}

func taintReason(t *v1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}
