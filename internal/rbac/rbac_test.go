package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

type fakeSource struct {
	crbs  []*rbacv1.ClusterRoleBinding
	rbs   map[string][]*rbacv1.RoleBinding
	crs   map[string]*rbacv1.ClusterRole
	roles map[string]*rbacv1.Role // ns/name
}

func (f *fakeSource) ClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return f.crbs, nil
}
func (f *fakeSource) RoleBindings(_ context.Context, ns string) ([]*rbacv1.RoleBinding, error) {
	return f.rbs[ns], nil
}
func (f *fakeSource) ClusterRole(_ context.Context, name string) (*rbacv1.ClusterRole, error) {
	return f.crs[name], nil
}
func (f *fakeSource) Role(_ context.Context, ns, name string) (*rbacv1.Role, error) {
	return f.roles[ns+"/"+name], nil
}

func TestAuthorize(t *testing.T) {
	crs := map[string]*rbacv1.ClusterRole{}
	for _, r := range BootstrapClusterRoles() {
		crs[r.Name] = r
	}
	// The aggregation controller's work, for view.
	crs["view"].Rules = crs["system:aggregate-to-view"].Rules
	src := &fakeSource{
		crbs: BootstrapClusterRoleBindings(),
		crs:  crs,
		rbs: map[string][]*rbacv1.RoleBinding{"team": {
			{ObjectMeta: metav1.ObjectMeta{Name: "ci-logs"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci"}},
				RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "logs"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "devs-view"}, Subjects: []rbacv1.Subject{{Kind: "Group", Name: "devs"}},
				RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}},
		}},
		roles: map[string]*rbacv1.Role{"team/logs": {Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}},
			{Verbs: []string{"get", "update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"ci-state"}},
		}}},
	}
	a := New(src)
	ci := &user.DefaultInfo{Name: "system:serviceaccount:team:ci", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	dev := &user.DefaultInfo{Name: "dana", Groups: []string{"devs", "system:authenticated"}}
	admin := &user.DefaultInfo{Name: "root", Groups: []string{"system:masters"}}
	res := func(u user.Info, verb, group, resource, sub, ns, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub,
			Namespace: ns, Name: name, ResourceRequest: true}
	}
	path := func(u user.Info, p string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: "get", Path: p}
	}
	for _, tc := range []struct {
		what string
		attr authorizer.AttributesRecord
		want bool
	}{
		{"the service account reads a pod's log in its namespace", res(ci, "get", "", "pods", "log", "team", "web"), true},
		{"but not the pod itself", res(ci, "get", "", "pods", "", "team", "web"), false},
		{"nor a log elsewhere", res(ci, "get", "", "pods", "log", "other", "web"), false},
		{"it updates the one named config map", res(ci, "update", "", "configmaps", "", "team", "ci-state"), true},
		{"not another", res(ci, "update", "", "configmaps", "", "team", "other"), false},
		{"nor lists them (no name)", res(ci, "list", "", "configmaps", "", "team", ""), false},
		{"discovery for everyone authenticated", path(ci, "/apis/apps/v1"), true},
		{"not other paths", path(ci, "/metrics"), false},
		{"who am I", res(ci, "create", "authentication.k8s.io", "selfsubjectreviews", "", "", ""), true},
		{"the group's view role lists deployments", res(dev, "list", "apps", "deployments", "", "team", ""), true},
		{"and reads scale", res(dev, "get", "apps", "deployments", "scale", "team", "web"), true},
		{"but does not read secrets", res(dev, "get", "", "secrets", "", "team", "s"), false},
		{"nor write", res(dev, "delete", "apps", "deployments", "", "team", "web"), false},
		{"system:masters may do anything", res(admin, "delete", "", "nodes", "", "", "n1"), true},
		{"and any path", path(admin, "/metrics"), true},
	} {
		d, _, err := a.Authorize(context.Background(), tc.attr)
		if err != nil {
			t.Fatal(err)
		}
		if got := d == authorizer.DecisionAllow; got != tc.want {
			t.Errorf("%s: allowed %v, want %v", tc.what, got, tc.want)
		}
	}
}

func TestRuleAllowsWildcards(t *testing.T) {
	r := &rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}}
	a := authorizer.AttributesRecord{Verb: "get", APIGroup: "apps", Resource: "deployments", Subresource: "status", ResourceRequest: true}
	if !RuleAllows(a, r) {
		t.Error("*/status does not cover deployments/status")
	}
	a.Subresource = ""
	if RuleAllows(a, r) {
		t.Error("*/status covers deployments")
	}
	p := &rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz/*"}}
	if !RuleAllows(authorizer.AttributesRecord{Verb: "get", Path: "/healthz/etcd"}, p) || RuleAllows(authorizer.AttributesRecord{Verb: "get", Path: "/livez"}, p) {
		t.Error("non-resource prefix matching")
	}
}
