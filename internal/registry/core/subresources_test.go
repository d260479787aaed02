package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSubresourceChecks(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"binding to a node", errStrings(ValidateBinding(&corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}})), ""},
		{"binding to nothing", errStrings(ValidateBinding(&corev1.Binding{Target: corev1.ObjectReference{Kind: "Pod"}})),
			"target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"\ntarget.name: Required value"},
		{"finalize", errStrings(ValidateNamespaceFinalize(&corev1.Namespace{Spec: corev1.NamespaceSpec{
			Finalizers: []corev1.FinalizerName{"kubernetes", "custom", "example.com/x"}}})),
			`spec.finalizers[1]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified`},
		{"metadata finalizers", errStrings(ValidateKubeFinalizerNames(&metav1.ObjectMeta{
			Finalizers: []string{"orphan", "foregroundDeletion", "example.com/x", "mine"}})),
			`metadata.finalizers[3]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := joinErrs(tt.got); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
