package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkDesired measures computing the Endpoints subsets and the slice
// groups of one service selecting 10,000 pods.
func BenchmarkDesired(b *testing.B) {
	svc := service()
	var pods = make([]*corev1.Pod, 0, 10000)
	for i := 0; i < 10000; i++ {
		pods = append(pods, pod(fmt.Sprintf("p%05d", i), fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)))
	}
	b.Run("subsets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			desiredSubsets(svc, pods)
		}
	})
	b.Run("slices", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			desiredSlices(svc, pods)
		}
	})
}
