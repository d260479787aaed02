// Package clusterroleaggregation fills the rules of ClusterRoles that have
// an aggregationRule with the rules of every other ClusterRole their
// selectors match (in name order, duplicates dropped), as upstream's
// clusterrole-aggregation controller does. Any ClusterRole change
// re-aggregates every aggregated role.
package clusterroleaggregation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "clusterroleaggregation"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
}

// Controller aggregates ClusterRoles.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	roles  rbaclisters.ClusterRoleLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("clusterroleaggregation: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	inf := cfg.Informers.Rbac().V1().ClusterRoles()
	c := &Controller{client: cfg.Client, log: cfg.Logger.With("controller", Name), roles: inf.Lister(),
		synced: inf.Informer().HasSynced, queue: controllerutil.NewQueue(Name)}
	all := func(any) {
		roles, err := c.roles.List(labels.Everything())
		if err != nil {
			return
		}
		for _, r := range roles {
			if r.AggregationRule != nil {
				c.queue.Add(r.Name)
			}
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: all, UpdateFunc: func(_, n any) { all(n) }, DeleteFunc: all,
	}); err != nil {
		return nil, fmt.Errorf("clusterroleaggregation: %w", err)
	}
	return c, nil
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	var sources []*rbacv1.ClusterRole
	seen := map[string]bool{}
	for _, ls := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			continue
		}
		matches, err := c.roles.List(sel)
		if err != nil {
			return err
		}
		for _, m := range matches {
			if m.Name != role.Name && !seen[m.Name] {
				seen[m.Name] = true
				sources = append(sources, m)
			}
		}
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Name < sources[j].Name })
	var rules []rbacv1.PolicyRule
	for _, s := range sources {
		for _, r := range s.Rules {
			dup := false
			for _, have := range rules {
				if apiequality.Semantic.DeepEqual(have, r) {
					dup = true
					break
				}
			}
			if !dup {
				rules = append(rules, *r.DeepCopy())
			}
		}
	}
	if apiequality.Semantic.DeepEqual(role.Rules, rules) || (len(role.Rules) == 0 && len(rules) == 0) {
		return nil
	}
	cp := role.DeepCopy()
	cp.Rules = rules
	if _, err := c.client.RbacV1().ClusterRoles().Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("aggregate clusterrole %s: %w", name, err)
	}
	return nil
}
