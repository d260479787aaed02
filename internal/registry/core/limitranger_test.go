package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func resList(cpu, mem, eph string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem, corev1.ResourceEphemeralStorage: eph} {
		if v != "" {
			l[name] = resource.MustParse(v)
		}
	}
	return l
}

// TestLimitRanger follows upstream's LimitRange conformance scenario.
func TestLimitRanger(t *testing.T) {
	lr := corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		Min:            resList("50m", "100Mi", "100Gi"),
		Max:            resList("500m", "500Mi", "500Gi"),
		Default:        resList("500m", "500Mi", "500Gi"),
		DefaultRequest: resList("100m", "200Mi", "200Gi"),
	}}}}
	k := kindByResource(t, "pods")
	create := func(req, lim corev1.ResourceList) (*corev1.Pod, error) {
		p := newPod("p", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: req, Limits: lim}
		})
		k.PrepareForCreate(p)
		k.Default(p)
		ApplyLimitRangeDefaults(p, []corev1.LimitRange{lr})
		return p, ValidatePodLimitRanges(p, []corev1.LimitRange{lr})
	}
	same := func(a, b corev1.ResourceList) bool {
		if len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}

	p, err := create(nil, nil)
	if err != nil {
		t.Fatalf("pod without resources: %v", err)
	}
	if r := p.Spec.Containers[0].Resources; !same(r.Requests, resList("100m", "200Mi", "200Gi")) || !same(r.Limits, resList("500m", "500Mi", "500Gi")) {
		t.Errorf("defaults: %+v", r)
	}
	if p.Annotations[limitRangerAnnotation] != "LimitRanger plugin set: cpu, ephemeral-storage, memory request for container app; cpu, ephemeral-storage, memory limit for container app" {
		t.Errorf("annotation %q", p.Annotations[limitRangerAnnotation])
	}

	p, err = create(resList("300m", "", "150Gi"), resList("300m", "", ""))
	if err != nil {
		t.Fatalf("pod with partial resources: %v", err)
	}
	if r := p.Spec.Containers[0].Resources; !same(r.Requests, resList("300m", "200Mi", "150Gi")) || !same(r.Limits, resList("300m", "500Mi", "500Gi")) {
		t.Errorf("partial defaults: %+v", r)
	}

	if _, err := create(resList("10m", "50Mi", "50Gi"), nil); err == nil ||
		err.Error() != "[minimum cpu usage per Container is 50m, but request is 10m, minimum ephemeral-storage usage per Container is 100Gi, but request is 50Gi, minimum memory usage per Container is 100Mi, but request is 50Mi]" {
		t.Errorf("below min: %v", err)
	}
	if _, err := create(resList("600m", "600Mi", "600Gi"), nil); err == nil ||
		err.Error() != "[maximum cpu usage per Container is 500m, but request is 600m, maximum ephemeral-storage usage per Container is 500Gi, but request is 600Gi, maximum memory usage per Container is 500Mi, but request is 600Mi]" {
		t.Errorf("above max: %v", err)
	}

	ratio := corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypePod, MaxLimitRequestRatio: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}}}
	wide := newPod("p", func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: resList("100m", "", ""), Limits: resList("500m", "", "")}
	})
	if err := ValidatePodLimitRanges(wide, []corev1.LimitRange{ratio}); err == nil ||
		err.Error() != "cpu max limit to request ratio per Pod is 2, but provided ratio is 5.000000" {
		t.Errorf("ratio: %v", err)
	}

	claimLimits := corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypePersistentVolumeClaim, Min: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
	small := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("512Mi")}}}}
	if err := ValidatePVCLimitRanges(small, []corev1.LimitRange{claimLimits}); err == nil ||
		err.Error() != "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 512Mi" {
		t.Errorf("claim: %v", err)
	}
}
