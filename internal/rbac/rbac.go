// Package rbac decides requests from RBAC roles and bindings, as upstream's RBAC authorizer
// does: a request is allowed when a ClusterRoleBinding, or a RoleBinding in the request's
// namespace, names the user (by name, group or service account) and its role has a rule that
// covers the verb, API group, resource (and subresource), name or non-resource path.
//
// It also holds the bootstrap policy every cluster starts with (cluster-admin, admin, edit,
// view and the system roles for discovery and self-review).
package rbac

import (
	"context"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Source reads the roles and bindings (the API server's storage, or a fake in tests).
type Source interface {
	ClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error)
	RoleBindings(ctx context.Context, namespace string) ([]*rbacv1.RoleBinding, error)
	// ClusterRole and Role return nil (no error) when the role does not exist.
	ClusterRole(ctx context.Context, name string) (*rbacv1.ClusterRole, error)
	Role(ctx context.Context, namespace, name string) (*rbacv1.Role, error)
}

// Authorizer is an authorizer.Authorizer over a Source.
type Authorizer struct {
	src Source
}

// New returns an Authorizer reading src.
func New(src Source) *Authorizer { return &Authorizer{src: src} }

// Authorize allows a request some bound rule covers, and has no opinion otherwise (the caller
// denies).
func (a *Authorizer) Authorize(ctx context.Context, attr authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attr.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	crbs, err := a.src.ClusterRoleBindings(ctx)
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	for _, b := range crbs {
		if !appliesTo(u, b.Subjects, "") {
			continue
		}
		if a.clusterRoleAllows(ctx, b.RoleRef, attr) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	ns := attr.GetNamespace()
	if ns == "" || !attr.IsResourceRequest() {
		return authorizer.DecisionNoOpinion, "", nil
	}
	rbs, err := a.src.RoleBindings(ctx, ns)
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	for _, b := range rbs {
		if !appliesTo(u, b.Subjects, ns) {
			continue
		}
		var rules []rbacv1.PolicyRule
		switch b.RoleRef.Kind {
		case "Role":
			r, err := a.src.Role(ctx, ns, b.RoleRef.Name)
			if err == nil && r != nil {
				rules = r.Rules
			}
		case "ClusterRole":
			r, err := a.src.ClusterRole(ctx, b.RoleRef.Name)
			if err == nil && r != nil {
				rules = r.Rules
			}
		}
		if RulesAllow(attr, rules) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func (a *Authorizer) clusterRoleAllows(ctx context.Context, ref rbacv1.RoleRef, attr authorizer.Attributes) bool {
	if ref.Kind != "ClusterRole" {
		return false
	}
	r, err := a.src.ClusterRole(ctx, ref.Name)
	return err == nil && r != nil && RulesAllow(attr, r.Rules)
}

// appliesTo reports whether one of subjects is u. A ServiceAccount subject without a namespace
// takes the binding's.
func appliesTo(u user.Info, subjects []rbacv1.Subject, bindingNamespace string) bool {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if u.GetName() == s.Name {
				return true
			}
		case rbacv1.GroupKind:
			for _, g := range u.GetGroups() {
				if g == s.Name {
					return true
				}
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNamespace
			}
			if ns != "" && u.GetName() == serviceaccount.MakeUsername(ns, s.Name) {
				return true
			}
		}
	}
	return false
}

// RulesAllow reports whether one of rules covers the request.
func RulesAllow(attr authorizer.Attributes, rules []rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(attr, &rules[i]) {
			return true
		}
	}
	return false
}

// RuleAllows reports whether rule covers the request.
func RuleAllows(attr authorizer.Attributes, rule *rbacv1.PolicyRule) bool {
	if !has(rule.Verbs, attr.GetVerb()) {
		return false
	}
	if !attr.IsResourceRequest() {
		return pathMatches(rule.NonResourceURLs, attr.GetPath())
	}
	if !has(rule.APIGroups, attr.GetAPIGroup()) {
		return false
	}
	resource := attr.GetResource()
	if sub := attr.GetSubresource(); sub != "" {
		resource += "/" + sub
	}
	ok := false
	for _, r := range rule.Resources {
		if r == rbacv1.ResourceAll || r == resource ||
			(attr.GetSubresource() != "" && r == "*/"+attr.GetSubresource()) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	return len(rule.ResourceNames) == 0 || (attr.GetName() != "" && has(rule.ResourceNames, attr.GetName()))
}

// has reports whether items holds want or "*".
func has(items []string, want string) bool {
	for _, it := range items {
		if it == "*" || it == want {
			return true
		}
	}
	return false
}

// pathMatches is non-resource URL matching: exact, or a prefix ending in "*".
func pathMatches(patterns []string, path string) bool {
	for _, p := range patterns {
		if p == "*" || p == path || (strings.HasSuffix(p, "*") && strings.HasPrefix(path, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}
