package controlplane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/bosun-k8s/bosun/internal/apiserver"
	"github.com/bosun-k8s/bosun/internal/registry/core"
)

// podAdmission is upstream's mutating admission for pods being created:
//   - ServiceAccount: the pod runs as its namespace's "default" service account unless it
//     names one; that account must exist; unless automounting is turned off, every container
//     gets the account's token, the cluster CA and the namespace in a projected
//     kube-api-access-xxxxx volume at /var/run/secrets/kubernetes.io/serviceaccount;
//   - DefaultTolerationSeconds: the pod tolerates a not-ready or unreachable node for 300 s.
type podAdmission struct {
	tokens *tokens // for the service accounts' storage
}

func (a *podAdmission) mutate(ctx context.Context, at *apiserver.Attributes) error {
	if at.Verb != "create" || at.Subresource != "" || at.Kind.GVK.Group != "" || at.Kind.Resource != "pods" {
		return nil
	}
	pod, ok := at.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	objs, err := a.tokens.objects()
	if err != nil {
		return err
	}
	sa, err := cachedGet[corev1.ServiceAccount](ctx, objs.serviceAccounts, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, fmt.Errorf(
				"error looking up service account %s/%s: serviceaccount %q not found", pod.Namespace, pod.Spec.ServiceAccountName, pod.Spec.ServiceAccountName))
		}
		return err
	}
	if core.ShouldAutomountToken(sa, pod) {
		core.MountServiceAccountToken(pod, core.ServiceAccountVolumePrefix+utilrand.String(5))
	}
	core.AddDefaultTolerations(pod)
	return nil
}
