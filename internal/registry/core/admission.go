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

// Names upstream's ServiceAccount admission plugin uses.
const (
	// ServiceAccountVolumePrefix starts the name of the token volume ("kube-api-access-xxxxx").
	ServiceAccountVolumePrefix = "kube-api-access-"
	// ServiceAccountTokenMountPath is where containers find the token, CA and namespace.
	ServiceAccountTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// serviceAccountTokenSeconds is the token lifetime the volume asks for.
	serviceAccountTokenSeconds = 3607
)

// ShouldAutomountToken reports whether a pod gets the service account token volume: the
// pod's automountServiceAccountToken decides, else the service account's, else yes.
func ShouldAutomountToken(sa *corev1.ServiceAccount, p *corev1.Pod) bool {
	if p.Spec.AutomountServiceAccountToken != nil {
		return *p.Spec.AutomountServiceAccountToken
	}
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// ServiceAccountTokenVolumeSource is the projected volume upstream mounts for the service
// account: a bound token, the cluster CA from the kube-root-ca.crt config map, and the
// namespace.
func ServiceAccountTokenVolumeSource() *corev1.ProjectedVolumeSource {
	mode := int32(corev1.ProjectedVolumeSourceDefaultMode)
	exp := int64(serviceAccountTokenSeconds)
	return &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}

// MountServiceAccountToken does the volume part of upstream's ServiceAccount admission for a
// pod that should get the token: every init and regular container without a mount at
// ServiceAccountTokenMountPath gets a read-only one, backed by the pod's existing
// kube-api-access-* volume or a new one named newVolumeName (the caller picks the random
// suffix). Ephemeral containers are left alone, as upstream does.
func MountServiceAccountToken(p *corev1.Pod, newVolumeName string) {
	name, have := "", false
	for _, v := range p.Spec.Volumes {
		if len(v.Name) > len(ServiceAccountVolumePrefix) && v.Name[:len(ServiceAccountVolumePrefix)] == ServiceAccountVolumePrefix {
			name, have = v.Name, true
			break
		}
	}
	if name == "" {
		name = newVolumeName
	}
	needed := false
	mount := func(cs []corev1.Container) {
		for i := range cs {
			mounted := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == ServiceAccountTokenMountPath {
					mounted = true
					break
				}
			}
			if !mounted {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountTokenMountPath})
				needed = true
			}
		}
	}
	mount(p.Spec.InitContainers)
	mount(p.Spec.Containers)
	if !have && needed {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: ServiceAccountTokenVolumeSource()}})
	}
}
