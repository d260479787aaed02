package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// affinityTerm is a parsed pod (anti-)affinity term.
type affinityTerm struct {
	namespaces        sets.Set[string]
	namespaceSelector labels.Selector // nil: only the namespaces listed
	selector          labels.Selector
	topologyKey       string
	weight            int32 // preferred terms only
}

// matches reports whether pod (whose namespace carries nsLabels) is selected by the term.
func (t *affinityTerm) matches(pod *v1.Pod, nsLabels labels.Set) bool {
	if !t.namespaces.Has(pod.Namespace) {
		if t.namespaceSelector == nil || !t.namespaceSelector.Matches(nsLabels) {
			return false
		}
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

// PodInfo is a pod with everything the scheduler derives from its spec computed once.
type PodInfo struct {
	Pod *v1.Pod
	// Requests and NonZeroRequests are the pod's effective requests, the second with the
	// scoring defaults for containers that ask for no cpu or memory.
	Requests        Resources
	NonZeroRequests Resources

	requiredAffinity      []affinityTerm
	requiredAntiAffinity  []affinityTerm
	preferredAffinity     []affinityTerm
	preferredAntiAffinity []affinityTerm
	hostPorts             []hostPort
	// parseErr records a term that could not be parsed; such a pod cannot be scheduled.
	parseErr error
}

// hasScoringTerms reports whether the pod has terms that weigh on where other pods go
// when scoring: required affinity, preferred affinity or anti-affinity.
func (p *PodInfo) hasScoringTerms() bool {
	return len(p.requiredAffinity)+len(p.preferredAffinity)+len(p.preferredAntiAffinity) > 0
}

type hostPort struct {
	protocol v1.Protocol
	ip       string // "" stands for every address
	port     int32
}

func (a hostPort) conflicts(b hostPort) bool {
	return a.port == b.port && a.protocol == b.protocol && (a.ip == "" || b.ip == "" || a.ip == b.ip)
}

// NewPodInfo derives the scheduler's view of pod. The pod must not be modified afterwards.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod}
	pi.Requests, pi.NonZeroRequests = podRequests(pod)
	if a := pod.Spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			pi.requiredAffinity = pi.parseTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, nil)
			pi.preferredAffinity = pi.parseTerms(nil, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.requiredAntiAffinity = pi.parseTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, nil)
			pi.preferredAntiAffinity = pi.parseTerms(nil, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	addPorts := func(cs []v1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				hp := p.HostPort
				if hp == 0 && pod.Spec.HostNetwork {
					hp = p.ContainerPort
				}
				if hp <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = v1.ProtocolTCP
				}
				ip := p.HostIP
				if ip == "0.0.0.0" || ip == "::" {
					ip = ""
				}
				pi.hostPorts = append(pi.hostPorts, hostPort{protocol: proto, ip: ip, port: hp})
			}
		}
	}
	addPorts(pod.Spec.Containers)
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			addPorts(pod.Spec.InitContainers[i : i+1])
		}
	}
	return pi
}

func (pi *PodInfo) parseTerms(required []v1.PodAffinityTerm, preferred []v1.WeightedPodAffinityTerm) []affinityTerm {
	var out []affinityTerm
	add := func(t *v1.PodAffinityTerm, w int32) {
		at, err := newAffinityTerm(pi.Pod, t)
		if err != nil {
			pi.parseErr = err
			return
		}
		at.weight = w
		out = append(out, at)
	}
	for i := range required {
		add(&required[i], 0)
	}
	for i := range preferred {
		add(&preferred[i].PodAffinityTerm, preferred[i].Weight)
	}
	return out
}

func newAffinityTerm(pod *v1.Pod, t *v1.PodAffinityTerm) (affinityTerm, error) {
	at := affinityTerm{topologyKey: t.TopologyKey}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return at, fmt.Errorf("pod affinity term label selector: %w", err)
	}
	// matchLabelKeys / mismatchLabelKeys take their values from the pod's own labels.
	for _, k := range t.MatchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			if r, err := labels.NewRequirement(k, "in", []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	for _, k := range t.MismatchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			if r, err := labels.NewRequirement(k, "notin", []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	at.selector = sel
	at.namespaces = sets.New(t.Namespaces...)
	if t.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return at, fmt.Errorf("pod affinity term namespace selector: %w", err)
		}
		at.namespaceSelector = nsSel
	} else if len(t.Namespaces) == 0 {
		at.namespaces.Insert(pod.Namespace)
	}
	return at, nil
}
