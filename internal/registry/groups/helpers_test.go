package groups

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// kindFor returns the kind serving group/resource.
func kindFor(t testing.TB, group, resource string) *registry.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.GVK.Group == group && k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind for %s/%s", group, resource)
	return nil
}

// create runs a new object through the hooks in the API server's order and returns the
// validation errors as the strings a 422 would carry.
func create(k *registry.Kind, obj runtime.Object) []string {
	if k.PrepareForCreate != nil {
		k.PrepareForCreate(obj)
	}
	if k.Default != nil {
		k.Default(obj)
	}
	if k.Validate == nil {
		return nil
	}
	return errStrings(k.Validate(obj))
}

// update runs an update through the hooks in the API server's order.
func update(k *registry.Kind, obj, old runtime.Object) []string {
	if k.PrepareForUpdate != nil {
		k.PrepareForUpdate(obj, old)
	}
	if k.Default != nil {
		k.Default(obj)
	}
	var errs field.ErrorList
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj)...)
	}
	if k.ValidateUpdate != nil {
		errs = append(errs, k.ValidateUpdate(obj, old)...)
	}
	return errStrings(errs)
}

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// wantErrs checks that got holds exactly the errors want lists (order free); want entries
// are matched in full.
func wantErrs(t *testing.T, got []string, want ...string) {
	t.Helper()
	left := append([]string(nil), got...)
	for _, w := range want {
		found := false
		for i, g := range left {
			if g == w {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing error %q\n got: %s", w, strings.Join(got, "\n      "))
		}
	}
	for _, g := range left {
		t.Errorf("unexpected error %q", g)
	}
}

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-1", CreationTimestamp: created}
}

// podTemplate is a minimal valid template with the given labels and restart policy.
func podTemplate(labels map[string]string, restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: restart,
			Containers:    []corev1.Container{{Name: "web", Image: "bosun.local/hello:v1"}, {Name: "side", Image: "bosun.local/busybox:1.36"}},
		},
	}
}
