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
