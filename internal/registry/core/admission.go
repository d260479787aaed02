package core

import corev1 "k8s.io/api/core/v1"

// defaultTolerationSeconds is how long pods stay on a not-ready or unreachable node by
// default (upstream's --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds).
const defaultTolerationSeconds = 300

// AddDefaultTolerations does what upstream's DefaultTolerationSeconds admission plugin does
// to a pod being created: unless the pod already tolerates them, it tolerates the NoExecute
// taints node.kubernetes.io/not-ready and node.kubernetes.io/unreachable for 300 seconds.
// It is an admission step, not a default: the API server calls it on pod creation only.
func AddDefaultTolerations(p *corev1.Pod) {
	notReady, unreachable := false, false
	for _, t := range p.Spec.Tolerations {
		noExec := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		if (t.Key == corev1.TaintNodeNotReady || t.Key == "") && noExec {
			notReady = true
		}
		if (t.Key == corev1.TaintNodeUnreachable || t.Key == "") && noExec {
			unreachable = true
		}
	}
	add := func(key string) {
		secs := int64(defaultTolerationSeconds)
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs})
	}
	if !notReady {
		add(corev1.TaintNodeNotReady)
	}
	if !unreachable {
		add(corev1.TaintNodeUnreachable)
	}
}
