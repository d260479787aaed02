package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResize(t *testing.T) {
	k := kindByResource(t, "pods")
	res := func(cpu, mem string) corev1.ResourceRequirements {
		l := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
		return corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}
	}
	old := newPod("p", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("100m", "64Mi") })
	k.PrepareForCreate(old)
	k.Default(old)
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"grow cpu and memory", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("200m", "128Mi") }, ""},
		{"other fields ignored", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = res("200m", "128Mi")
			p.Spec.Containers[0].Image = "other"
		}, ""},
		{"shrink memory limit", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("100m", "32Mi") },
			"spec.containers[0].resources.limits[memory]: Forbidden: memory limits cannot be decreased unless resizePolicy is RestartContainer"},
		{"change QoS", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
		},
			`spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of resizing`},
		{"remove requests", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = corev1.ResourceRequirements{} },
			"spec: Invalid value: \"Guaranteed\": Pod QOS Class may not change as a result of resizing\n" +
				"spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed\n" +
				"spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := old.DeepCopy()
			tt.mutate(p)
			PrepareResize(p, old)
			if p.Spec.Containers[0].Image != old.Spec.Containers[0].Image {
				t.Errorf("non-resource change kept")
			}
			if got := joinErrs(errStrings(ValidateResize(p, old))); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	running := old.DeepCopy()
	running.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	p := running.DeepCopy()
	p.Spec.Containers[0].Resources = res("200m", "128Mi")
	PrepareResize(p, running)
	if got := joinErrs(errStrings(ValidateResize(p, running))); got != "spec: Forbidden: Pod running on node without support for resize" {
		t.Errorf("node without resize support: %q", got)
	}
}
