package controlplane

import (
	"context"
	"encoding/json"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/bosun-k8s/bosun/internal/rbac"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// serviceAccountAuthorizer applies RBAC to service accounts — the credentials pods carry —
// and trusts the holders of the cluster CA's client certificates (the admin, the components,
// the nodes) as before, until their roles are written too.
type serviceAccountAuthorizer struct {
	rbac *rbac.Authorizer
}

func (a serviceAccountAuthorizer) Authorize(ctx context.Context, attr authorizer.Attributes) (authorizer.Decision, string, error) {
	if u := attr.GetUser(); u == nil || !strings.HasPrefix(u.GetName(), "system:serviceaccount:") {
		return authorizer.DecisionAllow, "", nil
	}
	return a.rbac.Authorize(ctx, attr)
}

// rbacStorage reads roles and bindings from the API server's storage (its watch cache).
type rbacStorage struct{ s *Server }

func (r rbacStorage) res() (rbacResources, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.rbacRes.clusterRoles == nil {
		return rbacResources{}, apierrors.NewServiceUnavailable("the API server is starting")
	}
	return r.s.rbacRes, nil
}

type rbacResources struct {
	clusterRoles, roles, clusterRoleBindings, roleBindings *storage.Resource
}

func list[T any](ctx context.Context, res *storage.Resource, namespace string) ([]*T, error) {
	l, err := res.List(ctx, storage.ListOptions{Namespace: namespace, ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(l.Entries))
	for _, e := range l.Entries {
		v := new(T)
		if err := json.Unmarshal(e.JSON, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (r rbacStorage) ClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	res, err := r.res()
	if err != nil {
		return nil, err
	}
	return list[rbacv1.ClusterRoleBinding](ctx, res.clusterRoleBindings, "")
}

func (r rbacStorage) RoleBindings(ctx context.Context, namespace string) ([]*rbacv1.RoleBinding, error) {
	res, err := r.res()
	if err != nil {
		return nil, err
	}
	return list[rbacv1.RoleBinding](ctx, res.roleBindings, namespace)
}

func (r rbacStorage) ClusterRole(ctx context.Context, name string) (*rbacv1.ClusterRole, error) {
	res, err := r.res()
	if err != nil {
		return nil, err
	}
	obj, err := res.clusterRoles.Get(ctx, "", name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj.(*rbacv1.ClusterRole), nil
}

func (r rbacStorage) Role(ctx context.Context, namespace, name string) (*rbacv1.Role, error) {
	res, err := r.res()
	if err != nil {
		return nil, err
	}
	obj, err := res.roles.Get(ctx, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj.(*rbacv1.Role), nil
}
