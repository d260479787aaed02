package core

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Kinds returns the core/v1 kinds bosun serves. Each call builds fresh values, so callers
// may adjust them.
func Kinds() []*registry.Kind {
	return []*registry.Kind{
		namespaceKind(),
		podKind(),
		serviceKind(),
		endpointsKind(),
		configMapKind(),
		secretKind(),
		serviceAccountKind(),
		eventKind(),
		nodeKind(),
		persistentVolumeKind(),
		persistentVolumeClaimKind(),
		resourceQuotaKind(),
		limitRangeKind(),
		podTemplateKind(),
		replicationControllerKind(),
	}
}

// age is the AGE cell of an object.
func age(m *metav1.ObjectMeta) registry.Since {
	return registry.Since(m.CreationTimestamp.Time)
}

// createdAtColumn is the column upstream's default table shows for kinds without a printer.
func createdAtColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Created At", Type: "date", Description: registry.AgeColumn.Description}
}

func createdAt(m *metav1.ObjectMeta) string {
	return m.CreationTimestamp.Time.UTC().Format(time.RFC3339)
}
