package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Aggregation labels: ClusterRoles carrying them are folded into admin, edit and view by the
// clusterroleaggregation controller.
const (
	AggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

func rule(verbs, groups, resources []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

// workloads are what view reads and edit writes, by API group.
func workloads() map[string][]string {
	return map[string][]string{
		"": {"pods", "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/scale",
			"replicationcontrollers/status", "services", "services/status", "endpoints", "persistentvolumeclaims",
			"persistentvolumeclaims/status", "configmaps", "serviceaccounts", "events", "limitranges", "resourcequotas",
			"resourcequotas/status", "namespaces", "namespaces/status", "bindings"},
		"apps": {"daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale",
			"statefulsets/status", "controllerrevisions"},
		"autoscaling":         {"horizontalpodautoscalers", "horizontalpodautoscalers/status"},
		"batch":               {"cronjobs", "cronjobs/status", "jobs", "jobs/status"},
		"policy":              {"poddisruptionbudgets", "poddisruptionbudgets/status"},
		"networking.k8s.io":   {"ingresses", "ingresses/status", "networkpolicies"},
		"discovery.k8s.io":    {"endpointslices"},
		"events.k8s.io":       {"events"},
		"coordination.k8s.io": {"leases"},
	}
}

// BootstrapClusterRoles are the roles every cluster starts with, as upstream's defaults:
// cluster-admin (everything), admin/edit/view (aggregated from the system:aggregate-to-*
// roles), system:discovery, system:basic-user and system:public-info-viewer.
func BootstrapClusterRoles() []*rbacv1.ClusterRole {
	read := []string{"get", "list", "watch"}
	write := []string{"create", "delete", "deletecollection", "patch", "update"}
	all := []string{"get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"}
	bootstrap := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	role := func(name string, extra map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		labels := map[string]string{}
		for k, v := range bootstrap {
			labels[k] = v
		}
		for k, v := range extra {
			labels[k] = v
		}
		return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels,
			Annotations: map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}}, Rules: rules}
	}
	aggregated := func(name, label string) *rbacv1.ClusterRole {
		r := role(name, nil)
		r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}}
		return r
	}

	var view, edit []rbacv1.PolicyRule
	for group, resources := range workloads() {
		var readable []string
		for _, r := range resources {
			if r != "bindings" {
				readable = append(readable, r)
			}
		}
		view = append(view, rule(read, []string{group}, readable))
		var writable []string
		for _, r := range resources {
			switch r {
			case "pods/log", "namespaces", "namespaces/status", "limitranges", "resourcequotas", "resourcequotas/status",
				"controllerrevisions", "bindings":
			default:
				writable = append(writable, r)
			}
		}
		edit = append(edit, rule(write, []string{group}, writable))
	}
	edit = append(edit,
		rule(all, []string{""}, []string{"secrets"}),
		rule([]string{"create", "get"}, []string{""}, []string{"pods/exec", "pods/attach", "pods/portforward", "pods/proxy"}),
		rule([]string{"create"}, []string{""}, []string{"serviceaccounts/token"}),
		rule([]string{"impersonate"}, []string{""}, []string{"serviceaccounts"}),
	)
	admin := []rbacv1.PolicyRule{
		rule(all, []string{"rbac.authorization.k8s.io"}, []string{"roles", "rolebindings"}),
		rule([]string{"create"}, []string{"authorization.k8s.io"}, []string{"localsubjectaccessreviews"}),
	}
	discovery := []string{"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/",
		"/healthz", "/livez", "/readyz"}
	return []*rbacv1.ClusterRole{
		role("cluster-admin", nil,
			rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}),
		aggregated("admin", AggregateToAdmin),
		aggregated("edit", AggregateToEdit),
		aggregated("view", AggregateToView),
		role("system:aggregate-to-admin", map[string]string{AggregateToAdmin: "true"}, admin...),
		role("system:aggregate-to-edit", map[string]string{AggregateToEdit: "true", AggregateToAdmin: "true"}, edit...),
		role("system:aggregate-to-view", map[string]string{AggregateToView: "true", AggregateToEdit: "true", AggregateToAdmin: "true"}, view...),
		role("system:discovery", nil, rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: discovery}),
		role("system:public-info-viewer", nil, rbacv1.PolicyRule{Verbs: []string{"get"},
			NonResourceURLs: []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}}),
		role("system:basic-user", nil, rule([]string{"create"}, []string{"authorization.k8s.io"},
			[]string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
			rule([]string{"create"}, []string{"authentication.k8s.io"}, []string{"selfsubjectreviews"})),
	}
}

// BootstrapClusterRoleBindings bind cluster-admin to system:masters and the system roles to
// every authenticated user, as upstream's defaults.
func BootstrapClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	bind := func(name, role string, groups ...string) *rbacv1.ClusterRoleBinding {
		b := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"},
				Annotations: map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		}
		for _, g := range groups {
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
		}
		return b
	}
	return []*rbacv1.ClusterRoleBinding{
		bind("cluster-admin", "cluster-admin", "system:masters"),
		bind("system:discovery", "system:discovery", "system:authenticated"),
		bind("system:basic-user", "system:basic-user", "system:authenticated"),
		bind("system:public-info-viewer", "system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
	}
}
