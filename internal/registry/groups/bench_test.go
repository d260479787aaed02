package groups

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// BenchmarkDeploymentRow measures the table row the watch cache computes per stored version.
func BenchmarkDeploymentRow(b *testing.B) {
	k := kindFor(b, "apps", "deployments")
	d := newDeployment()
	create(k, d)
	d.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}
	b.ReportAllocs()
	for b.Loop() {
		k.Row(d)
	}
}

// BenchmarkDeploymentCreateHooks measures defaulting and validating a new deployment.
func BenchmarkDeploymentCreateHooks(b *testing.B) {
	k := kindFor(b, "apps", "deployments")
	b.ReportAllocs()
	for b.Loop() {
		if errs := create(k, newDeployment()); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkJobCreateHooks measures selector generation, defaulting and validating a new job.
func BenchmarkJobCreateHooks(b *testing.B) {
	k := kindFor(b, "batch", "jobs")
	b.ReportAllocs()
	for b.Loop() {
		if errs := create(k, &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: podTemplate(nil, corev1.RestartPolicyNever)}}); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
