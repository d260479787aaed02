package controlplane_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestServiceAccountTokens: the TokenRequest API issues tokens the API server then accepts
// as bearer credentials — until the service account or the pod they are bound to is gone.
func TestServiceAccountTokens(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := s.Client
	sa, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := c.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "worker"},
		Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A client with nothing but the token (and the CA to trust the server).
	as := func(token string) kubernetes.Interface {
		cfg := &rest.Config{Host: s.RESTConfig.Host, BearerToken: token,
			TLSClientConfig: rest.TLSClientConfig{CAData: s.RESTConfig.CAData}}
		return kubernetes.NewForConfigOrDie(cfg)
	}
	// Whether the API takes the token: asking who it is, which every authenticated user may.
	canList := func(token string) error {
		_, err := as(token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err
	}
	request := func(name string, spec authv1.TokenRequestSpec) (*authv1.TokenRequest, error) {
		return c.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	}

	// Unbound, as `kubectl create token builder` asks.
	free, err := request("builder", authv1.TokenRequestSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if free.Status.Token == "" || free.Status.ExpirationTimestamp.IsZero() || len(free.Spec.Audiences) != 1 ||
		*free.Spec.ExpirationSeconds != 3600 {
		t.Errorf("token request answered %+v", free)
	}
	if err := canList(free.Status.Token); err != nil {
		t.Errorf("authenticating with the token: %v", err)
	}

	// Bound to the pod, as the kubelet asks.
	exp := int64(3607)
	bound, err := request("builder", authv1.TokenRequestSpec{ExpirationSeconds: &exp,
		BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "worker", UID: pod.UID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := canList(bound.Status.Token); err != nil {
		t.Errorf("authenticating with the pod-bound token: %v", err)
	}
	// Who the token is (kubectl auth whoami).
	who, err := as(bound.Status.Token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ui := who.Status.UserInfo
	if ui.Username != "system:serviceaccount:default:builder" || ui.UID != string(sa.UID) ||
		strings.Join(ui.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" ||
		len(ui.Extra["authentication.kubernetes.io/pod-name"]) != 1 || ui.Extra["authentication.kubernetes.io/pod-name"][0] != "worker" ||
		ui.Extra["authentication.kubernetes.io/pod-uid"][0] != string(pod.UID) {
		t.Errorf("the bound token is %+v", ui)
	}
	if who, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil ||
		who.Status.UserInfo.Username != "system:admin" {
		t.Errorf("the admin certificate is %+v, %v", who, err)
	}

	// What is refused, and how.
	garbage := c.CoreV1().RESTClient().Post().AbsPath("/api/v1/namespaces/default/serviceaccounts/builder/token").
		SetHeader("Content-Type", "application/json").Body([]byte(`{"spec":`)).Do(ctx).Error()
	if !apierrors.IsBadRequest(garbage) {
		t.Errorf("a malformed TokenRequest: %v, want 400", garbage)
	}
	for _, tc := range []struct {
		what string
		err  error
		ok   func(error) bool
		msg  string
	}{
		{"a garbage token", canList("not-a-token"), apierrors.IsUnauthorized, ""},
		{"a token for another audience", func() error {
			tr, err := request("builder", authv1.TokenRequestSpec{Audiences: []string{"vault"}})
			if err != nil {
				return err
			}
			return canList(tr.Status.Token)
		}(), apierrors.IsUnauthorized, ""},
		{"a 599-second token", func() error {
			short := int64(599)
			_, err := request("builder", authv1.TokenRequestSpec{ExpirationSeconds: &short})
			return err
		}(), apierrors.IsInvalid, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"},
		{"a token for a missing service account", func() error { _, err := request("nobody", authv1.TokenRequestSpec{}); return err }(),
			apierrors.IsNotFound, `serviceaccounts "nobody" not found`},
		{"a token bound to a pod by a stale UID", func() error {
			_, err := request("builder", authv1.TokenRequestSpec{BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", Name: "worker", UID: "stale"}})
			return err
		}(), apierrors.IsConflict, "does not match the UID in record"},
		{"a token bound to a ConfigMap", func() error {
			_, err := request("builder", authv1.TokenRequestSpec{BoundObjectRef: &authv1.BoundObjectReference{Kind: "ConfigMap", Name: "x"}})
			return err
		}(), apierrors.IsInvalid, "spec.boundObjectRef.kind: Unsupported value"},
	} {
		if tc.err == nil || !tc.ok(tc.err) || !strings.Contains(tc.err.Error(), tc.msg) {
			t.Errorf("%s: got %v", tc.what, tc.err)
		}
	}

	// The pod goes: its token stops working; the unbound one still works.
	if err := c.CoreV1().Pods("default").Delete(ctx, "worker", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	// Tokens are checked against the watch cache, a moment behind the deletion.
	refused := func(token string) error {
		var err error
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if err = canList(token); apierrors.IsUnauthorized(err) {
				return err
			}
		}
		return err
	}
	if err := refused(bound.Status.Token); !apierrors.IsUnauthorized(err) {
		t.Errorf("the deleted pod's token: %v, want Unauthorized", err)
	}
	if err := canList(free.Status.Token); err != nil {
		t.Errorf("the unbound token after the pod's deletion: %v", err)
	}
	// The service account goes, and comes back under the same name: no old token works.
	if err := c.CoreV1().ServiceAccounts("default").Delete(ctx, "builder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := refused(free.Status.Token); !apierrors.IsUnauthorized(err) {
		t.Errorf("a token of the deleted service account %s: %v, want Unauthorized", sa.UID, err)
	}
}

// TestPodAdmission: a pod runs as its namespace's default service account, gets the token
// volume in every container and the default tolerations — unless it opts out, or the account
// it names does not exist.
func TestPodAdmission(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	pods := s.Client.CoreV1().Pods("default")
	mk := func(name string, edit func(*corev1.Pod)) (*corev1.Pod, error) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "bosun.local/busybox:1.36"}},
			Containers:     []corev1.Container{{Name: "app", Image: "bosun.local/hello:v1"}}}}
		if edit != nil {
			edit(p)
		}
		return pods.Create(ctx, p, metav1.CreateOptions{})
	}
	p, err := mk("plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "default" || p.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("service account %q/%q", p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount)
	}
	if len(p.Spec.Volumes) != 1 || !strings.HasPrefix(p.Spec.Volumes[0].Name, "kube-api-access-") || p.Spec.Volumes[0].Projected == nil ||
		len(p.Spec.Volumes[0].Projected.Sources) != 3 || p.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("volumes %+v", p.Spec.Volumes)
	}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/var/run/secrets/kubernetes.io/serviceaccount" ||
			!c.VolumeMounts[0].ReadOnly || c.VolumeMounts[0].Name != p.Spec.Volumes[0].Name {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	tolerated := map[string]bool{}
	for _, tol := range p.Spec.Tolerations {
		if tol.Effect == corev1.TaintEffectNoExecute && tol.Operator == corev1.TolerationOpExists && tol.TolerationSeconds != nil && *tol.TolerationSeconds == 300 {
			tolerated[tol.Key] = true
		}
	}
	if !tolerated["node.kubernetes.io/not-ready"] || !tolerated["node.kubernetes.io/unreachable"] {
		t.Errorf("tolerations %+v", p.Spec.Tolerations)
	}
	// The namespace's CA is there for the volume from the start.
	if cm, err := s.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil || !strings.Contains(cm.Data["ca.crt"], "BEGIN CERTIFICATE") {
		t.Errorf("kube-root-ca.crt: %v %v", cm, err)
	}

	no := false
	p, err = mk("opted-out", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = &no })
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Volumes) != 0 || len(p.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("opted-out pod got %+v", p.Spec.Volumes)
	}

	_, err = mk("ghost", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "ghost" })
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `pods "ghost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found`) {
		t.Errorf("pod of a missing service account: %v", err)
	}
}

// TestServiceAccountRBAC: a service account may do only what RBAC grants it — discovery and
// asking who it is from the start, more through Roles and ClusterRoles bound to it — and is
// refused with upstream's message otherwise. Certificate holders are not limited.
func TestServiceAccountRBAC(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := s.Client
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.CoreV1().ServiceAccounts("default").CreateToken(ctx, "reader", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.RESTConfig.Host, BearerToken: tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.RESTConfig.CAData}})

	if _, err := sa.Discovery().ServerGroups(); err != nil {
		t.Errorf("discovery: %v", err)
	}
	_, err = sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods is forbidden: User "system:serviceaccount:default:reader" cannot list resource "pods" in API group "" in the namespace "default"` {
		t.Errorf("list pods unbound: %v", err)
	}
	_, err = sa.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `nodes "n1" is forbidden: User "system:serviceaccount:default:reader" cannot get resource "nodes" in API group "" at the cluster scope`) {
		t.Errorf("get node unbound: %v", err)
	}

	// kubectl auth can-i asks the same authorizer.
	canI := func(c kubernetes.Interface, verb, resource, ns string) bool {
		t.Helper()
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Resource: resource, Namespace: ns}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	if canI(sa, "list", "pods", "default") || !canI(c, "list", "pods", "default") {
		t.Error("can-i list pods: the service account may, or the admin may not")
	}

	// A Role for reading pods and their logs, bound in default.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}}}
	if _, err := c.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"}}
	if _, err := c.RbacV1().RoleBindings("default").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The authorizer reads bindings from the watch cache, a moment behind the write.
	eventually := func(what string, f func() error) {
		t.Helper()
		var err error
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if err = f(); err == nil {
				return
			}
		}
		t.Errorf("%s: %v", what, err)
	}
	eventually("list pods with the role", func() error {
		_, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err
	})
	if !canI(sa, "list", "pods", "default") || canI(sa, "delete", "pods", "default") || canI(sa, "list", "pods", "kube-system") {
		t.Error("can-i with a pod-reading role in default")
	}
	if _, err := sa.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list pods in another namespace: %v", err)
	}
	if err := sa.CoreV1().ConfigMaps("default").Delete(ctx, "kube-root-ca.crt", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete a config map with a pod-reading role: %v", err)
	}

	// cluster-admin for it, cluster-wide.
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: "default"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"}}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("list nodes as cluster-admin", func() error {
		_, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err
	})
	// The admin certificate is not limited.
	if _, err := c.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("admin: %v", err)
	}
}
