package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchPod is a typical workload pod: one container with ports, env, resources, a probe and
// the service-account token volume the admission plugin adds.
func benchPod() *corev1.Pod {
	exp := int64(3607)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c8f6-x2x9z", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			Containers: []corev1.Container{{
				Name: "web", Image: "bosun.local/hello:v1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}},
				VolumeMounts:   []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
				}}}}},
		},
	}
}

// BenchmarkPodCreatePath measures what the API server calls for each pod create: prepare,
// default, validate, and the table row and fields computed for the stored version.
func BenchmarkPodCreatePath(b *testing.B) {
	k := podKind()
	proto := benchPod()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := proto.DeepCopy()
		k.PrepareForCreate(p)
		k.Default(p)
		if errs := k.Validate(p); len(errs) != 0 {
			b.Fatal(errs)
		}
		_ = k.Row(p)
		_ = k.Fields(p)
	}
}

// BenchmarkPodStatusUpdate measures a kubelet status write.
func BenchmarkPodStatusUpdate(b *testing.B) {
	k := podKind()
	old := benchPod()
	k.PrepareForCreate(old)
	k.Default(old)
	upd := old.DeepCopy()
	upd.Status.Phase = corev1.PodRunning
	upd.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}}
	upd.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := upd.DeepCopy()
		if errs := k.ValidateStatusUpdate(p, old); len(errs) != 0 {
			b.Fatal(errs)
		}
		_ = k.Row(p)
		_ = k.Fields(p)
	}
}
