package controllerutil

import (
	"fmt"
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodDeletionCostAnnotation lets users say which pods of a ReplicaSet to
// delete first when it scales down: lower cost goes first.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// PodKey returns "namespace/name" for pod.
func PodKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// IsPodActive reports whether pod is neither finished nor being deleted.
func IsPodActive(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed &&
		pod.DeletionTimestamp == nil
}

// FilterActivePods returns the active pods of pods.
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// PodReadyCondition returns pod's Ready condition, or nil.
func PodReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	c := PodReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether pod has been ready for at least
// minReadySeconds at now.
func IsPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := PodReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	d := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(d).Before(now)
}

// phaseOrdinal orders phases for deletion: Pending, Unknown, Running.
func phaseOrdinal(p corev1.PodPhase) int {
	switch p {
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 0
}

// ActivePodsWithRanks sorts pods so that those best deleted come first:
// unscheduled before scheduled; Pending before Unknown before Running; not
// ready before ready; lower pod-deletion-cost first; more co-located
// related pods (Rank) first; ready for less time first; more restarts first;
// newer before older. Times are compared on a logarithmic scale relative to
// Now, with ties broken by UID so that scale-down spreads over similar pods.
type ActivePodsWithRanks struct {
	Pods []*corev1.Pod
	Rank []int
	Now  metav1.Time
}

func (s ActivePodsWithRanks) Len() int { return len(s.Pods) }

func (s ActivePodsWithRanks) Swap(i, j int) {
	s.Pods[i], s.Pods[j] = s.Pods[j], s.Pods[i]
	s.Rank[i], s.Rank[j] = s.Rank[j], s.Rank[i]
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, c := range p.Status.ContainerStatuses {
		m = max(m, c.RestartCount)
	}
	return m
}

func podReadyTime(p *corev1.Pod) *metav1.Time {
	if c := PodReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
		return &c.LastTransitionTime
	}
	return &metav1.Time{}
}

// logRank is floor(log2(now - t)) in seconds, so times in the same
// power-of-two bucket compare equal.
func logRank(t, now metav1.Time) int64 {
	d := now.Sub(t.Time)
	if d < time.Second {
		return 0
	}
	return int64(math.Log2(float64(d) / float64(time.Second)))
}

func (s ActivePodsWithRanks) Less(i, j int) bool {
	a, b := s.Pods[i], s.Pods[j]
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrdinal(a.Status.Phase), phaseOrdinal(b.Status.Phase); pa != pb {
		return pa < pb
	}
	if IsPodReady(a) != IsPodReady(b) {
		return !IsPodReady(a)
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if s.Rank[i] != s.Rank[j] {
		return s.Rank[i] > s.Rank[j]
	}
	if IsPodReady(a) && IsPodReady(b) {
		ta, tb := podReadyTime(a), podReadyTime(b)
		if !ta.Equal(tb) {
			if s.Now.IsZero() || ta.IsZero() || tb.IsZero() {
				return afterOrZero(ta, tb)
			}
			if ra, rb := logRank(*ta, s.Now), logRank(*tb, s.Now); ra != rb {
				return ra < rb
			}
		}
	}
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		if s.Now.IsZero() || a.CreationTimestamp.IsZero() || b.CreationTimestamp.IsZero() {
			return afterOrZero(&a.CreationTimestamp, &b.CreationTimestamp)
		}
		if ra, rb := logRank(a.CreationTimestamp, s.Now), logRank(b.CreationTimestamp, s.Now); ra != rb {
			return ra < rb
		}
	}
	if s.Now.IsZero() {
		return false
	}
	return a.UID < b.UID
}

// afterOrZero reports whether t1 is zero or later than t2 (zero counts as
// newest).
func afterOrZero(t1, t2 *metav1.Time) bool {
	if t1.Time.IsZero() || t2.Time.IsZero() {
		return t1.Time.IsZero()
	}
	return t1.After(t2.Time)
}

// PodsByCreation sorts pods oldest first (name breaks ties).
type PodsByCreation []*corev1.Pod

func (o PodsByCreation) Len() int      { return len(o) }
func (o PodsByCreation) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o PodsByCreation) Less(i, j int) bool {
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}

// PodFromTemplate builds a pod for owner from template, with a generated
// name prefixed by owner's name and a controller reference to owner.
func PodFromTemplate(template *corev1.PodTemplateSpec, namespace, ownerName string, ref *metav1.OwnerReference) *corev1.Pod {
	prefix := ownerName + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    namespace,
			Labels:       copyMap(template.Labels),
			Annotations:  copyMap(template.Annotations),
			Finalizers:   append([]string(nil), template.Finalizers...),
		},
	}
	if ref != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	pod.Spec = *template.Spec.DeepCopy()
	return pod
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// DescribeErr renders err for an Event message.
func DescribeErr(verb string, err error) string { return fmt.Sprintf("Error %s: %v", verb, err) }
