package resourcequota

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func podWith(name string, phase corev1.PodPhase, cpu string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: phase}}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return p
}

func TestUsage(t *testing.T) {
	hard := corev1.ResourceList{
		corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("2"),
		corev1.ResourceLimitsCPU: resource.MustParse("2"), corev1.ResourceConfigMaps: resource.MustParse("5"),
		corev1.ResourceServicesNodePorts: resource.MustParse("3"), "count/deployments.apps": resource.MustParse("4"),
	}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	bestEffort := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "be", Namespace: "team"}, Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}, Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}}}
	objs := []runtime.Object{quota, bestEffort,
		podWith("running", corev1.PodRunning, "250m"), podWith("pending", corev1.PodPending, "500m"),
		podWith("done", corev1.PodSucceeded, "1"), podWith("plain", corev1.PodRunning, ""),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "team"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "other"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "team"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}, {Port: 81, NodePort: 30081}}}},
	}
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(x)
		case *corev1.ConfigMap:
			_ = factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(x)
		case *corev1.Service:
			_ = factory.Core().V1().Services().Informer().GetIndexer().Add(x)
		case *corev1.ResourceQuota:
			_ = factory.Core().V1().ResourceQuotas().Informer().GetIndexer().Add(x)
		}
	}
	for _, key := range []string{"team/q", "team/be"} {
		if err := c.sync(context.Background(), key); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := client.CoreV1().ResourceQuotas("team").Get(context.Background(), "q", metav1.GetOptions{})
	want := map[corev1.ResourceName]string{
		corev1.ResourcePods: "3", corev1.ResourceRequestsCPU: "750m", corev1.ResourceLimitsCPU: "750m",
		corev1.ResourceConfigMaps: "1", corev1.ResourceServicesNodePorts: "2", "count/deployments.apps": "0",
	}
	for r, w := range want {
		v, ok := got.Status.Used[r]
		if !ok || v.Cmp(resource.MustParse(w)) != 0 {
			t.Errorf("used[%s] = %v (present %v), want %s", r, v.String(), ok, w)
		}
	}
	if len(got.Status.Used) != len(hard) || !got.Status.Hard[corev1.ResourcePods].Equal(hard[corev1.ResourcePods]) {
		t.Errorf("status = %+v", got.Status)
	}
	be, _ := client.CoreV1().ResourceQuotas("team").Get(context.Background(), "be", metav1.GetOptions{})
	if v := be.Status.Used[corev1.ResourcePods]; v.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("BestEffort quota counts %s pods, want 1", v.String())
	}
}
