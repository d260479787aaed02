package groups

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry/core"
)

// defaultPodTemplate fills the pod defaults of a workload's template.
func defaultPodTemplate(t *corev1.PodTemplateSpec) { core.DefaultPodTemplateSpec(t) }

// validatePodTemplate validates a workload's pod template as a pod template (metadata and pod
// spec, paths under p).
func validatePodTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	return core.ValidatePodTemplateSpec(t, p)
}
