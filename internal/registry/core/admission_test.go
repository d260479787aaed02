package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAddDefaultTolerations(t *testing.T) {
	tests := []struct {
		name string
		have []corev1.Toleration
		want int // tolerations after
	}{
		{"none", nil, 2},
		{"tolerates everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, 1},
		{"tolerates not-ready", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, 2},
		{"NoSchedule only", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.have}}
			AddDefaultTolerations(p)
			if len(p.Spec.Tolerations) != tt.want {
				t.Fatalf("tolerations %+v", p.Spec.Tolerations)
			}
			for _, tol := range p.Spec.Tolerations[len(tt.have):] {
				if tol.TolerationSeconds == nil || *tol.TolerationSeconds != 300 || tol.Effect != corev1.TaintEffectNoExecute {
					t.Errorf("added toleration %+v", tol)
				}
			}
			if errs := validateTolerations(p.Spec.Tolerations, nil); len(errs) != 0 {
				t.Errorf("added tolerations invalid: %v", errs)
			}
		})
	}
}

func TestMountServiceAccountToken(t *testing.T) {
	no := false
	p := newPod("p", func(p *corev1.Pod) {
		p.Spec.ServiceAccountName = "default"
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "own", Image: "x",
			VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: ServiceAccountTokenMountPath}}})
		p.Spec.Volumes = []corev1.Volume{{Name: "mine"}}
	})
	if !ShouldAutomountToken(&corev1.ServiceAccount{}, p) || ShouldAutomountToken(&corev1.ServiceAccount{AutomountServiceAccountToken: &no}, p) {
		t.Errorf("automount decision wrong")
	}
	MountServiceAccountToken(p, "kube-api-access-abcde")
	MountServiceAccountToken(p, "kube-api-access-zzzzz") // a second pass changes nothing
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[1].Name != "kube-api-access-abcde" {
		t.Fatalf("volumes %+v", p.Spec.Volumes)
	}
	if m := p.Spec.InitContainers[0].VolumeMounts; len(m) != 1 || m[0].Name != "kube-api-access-abcde" || !m[0].ReadOnly {
		t.Errorf("init container mounts %+v", m)
	}
	if m := p.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "mine" {
		t.Errorf("a container with its own mount there got another: %+v", m)
	}
	k := kindByResource(t, "pods")
	k.PrepareForCreate(p)
	k.Default(p)
	if errs := k.Validate(p); len(errs) != 0 {
		t.Errorf("pod with the token volume invalid: %v", errs)
	}
}
