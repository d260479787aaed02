package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "namespace"

// ErrContentRemaining is returned by a sync that must wait for objects in
// the namespace to go away.
var ErrContentRemaining = errors.New("content remains in namespace")

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Metadata  metadata.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
	Clock     clock.Clock
	// Resources lists the server's namespaced resources; default: discovery
	// of Client (preferred versions).
	Resources func() ([]*metav1.APIResourceList, error)
}

// Controller deletes namespaces' content and finalizes them.
type Controller struct {
	client    kubernetes.Interface
	meta      metadata.Interface
	log       *slog.Logger
	clock     clock.Clock
	resources func() ([]*metav1.APIResourceList, error)
	lister    corelisters.NamespaceLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Metadata == nil || cfg.Informers == nil {
		return nil, errors.New("namespace: Client, Metadata and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Resources == nil {
		d := cfg.Client.Discovery()
		cfg.Resources = cachedFor(10*time.Second, cfg.Clock, func() ([]*metav1.APIResourceList, error) {
			return discovery.ServerPreferredNamespacedResources(d)
		})
	}
	inf := cfg.Informers.Core().V1().Namespaces()
	c := &Controller{
		client: cfg.Client, meta: cfg.Metadata, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		resources: cfg.Resources, lister: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 5*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Name}),
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
	}); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
		c.queue.Add(ns.Name)
	}
}

// contentRecheck is how often a namespace whose content is still going
// away (pods terminating gracefully, finalizers) is looked at again.
const contentRecheck = time.Second

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.syncOrRecheck, c.synced)
}

// syncOrRecheck runs sync; waiting for content to go is not a failure, so it
// is rechecked on a timer rather than given up after the retry limit.
func (c *Controller) syncOrRecheck(ctx context.Context, key string) error {
	err := c.sync(ctx, key)
	if errors.Is(err, ErrContentRemaining) {
		c.queue.AddAfter(key, contentRecheck)
		return nil
	}
	return err
}

func hasFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

// sync drives the deletion of namespace name one step.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns = ns.DeepCopy()
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("mark namespace %s terminating: %w", name, err)
		}
	}
	if !hasFinalizer(ns) {
		return c.deleteNamespace(ctx, ns)
	}

	remaining, conds, contentErr := c.deleteContent(ctx, name)
	if err := c.setConditions(ctx, ns, conds); err != nil {
		return err
	}
	if contentErr != nil {
		return contentErr
	}
	if remaining > 0 {
		return fmt.Errorf("namespace %s: %d objects left: %w", name, remaining, ErrContentRemaining)
	}

	fin := ns.DeepCopy()
	var kept []corev1.FinalizerName
	for _, f := range fin.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			kept = append(kept, f)
		}
	}
	fin.Spec.Finalizers = kept
	result, err := c.client.CoreV1().Namespaces().Finalize(ctx, fin, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	if len(result.Spec.Finalizers) == 0 {
		return c.deleteNamespace(ctx, result)
	}
	return nil
}

func (c *Controller) deleteNamespace(ctx context.Context, ns *corev1.Namespace) error {
	uid := ns.UID
	err := c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete namespace %s: %w", ns.Name, err)
	}
	return nil
}

// deleteContent deletes every namespaced object in ns and returns how many
// remain, and the conditions describing the attempt.
func (c *Controller) deleteContent(ctx context.Context, ns string) (int, []corev1.NamespaceCondition, error) {
	now := metav1.NewTime(c.clock.Now())
	cond := func(t corev1.NamespaceConditionType, failed bool, okReason, badReason, msg string) corev1.NamespaceCondition {
		if failed {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: msg, LastTransitionTime: now}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, LastTransitionTime: now}
	}
	lists, discErr := c.resources()
	var discMsg string
	if discErr != nil {
		if !discovery.IsGroupDiscoveryFailedError(discErr) || len(lists) == 0 {
			return 0, []corev1.NamespaceCondition{cond(corev1.NamespaceDeletionDiscoveryFailure, true, "", "DiscoveryFailed", discErr.Error())}, fmt.Errorf("discover resources: %w", discErr)
		}
		discMsg = discErr.Error()
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "delete"}}, lists)
	var contentErrs []string
	remaining := 0
	remainingByResource := map[string]int{}
	finalizersByName := map[string]int{}
	for _, rl := range deletable {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range rl.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			n, fins, err := c.deleteResource(ctx, ns, gvr, hasVerb(r.Verbs, "deletecollection"))
			if err != nil {
				contentErrs = append(contentErrs, err.Error())
				continue
			}
			if n > 0 {
				remaining += n
				remainingByResource[gvr.GroupResource().String()] += n
			}
			for f, k := range fins {
				finalizersByName[f] += k
			}
		}
	}
	conds := []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, discMsg != "", "ResourcesDiscovered", "DiscoveryFailed", discMsg),
		cond(corev1.NamespaceDeletionContentFailure, len(contentErrs) > 0, "ContentDeleted", "ContentDeletionFailed", strings.Join(contentErrs, "; ")),
		cond(corev1.NamespaceContentRemaining, remaining > 0, "ContentRemoved", "SomeResourcesRemain", "Some resources are remaining: "+describe(remainingByResource, "instances")),
		cond(corev1.NamespaceFinalizersRemaining, len(finalizersByName) > 0, "ContentHasNoFinalizers", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "+describe(finalizersByName, "resource instances")),
	}
	var err error
	if len(contentErrs) > 0 {
		err = fmt.Errorf("delete content of namespace %s: %s", ns, strings.Join(contentErrs, "; "))
	}
	return remaining, conds, err
}

func describe(m map[string]int, unit string) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s has %d %s", k, n, unit))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// deleteResource deletes every gvr object in ns and returns how many are
// still there afterwards and their finalizers.
func (c *Controller) deleteResource(ctx context.Context, ns string, gvr schema.GroupVersionResource, collection bool) (int, map[string]int, error) {
	client := c.meta.Resource(gvr).Namespace(ns)
	deleted := false
	if collection {
		err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		switch {
		case err == nil:
			deleted = true
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
		default:
			return 0, nil, fmt.Errorf("deletecollection %s: %w", gvr, err)
		}
	}
	if !deleted {
		list, err := client.List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			return 0, nil, nil
		}
		if err != nil {
			return 0, nil, fmt.Errorf("list %s: %w", gvr, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			if item.DeletionTimestamp != nil {
				continue
			}
			uid := item.UID
			err := client.Delete(ctx, item.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return 0, nil, fmt.Errorf("delete %s %s/%s: %w", gvr, ns, item.Name, err)
			}
		}
	}
	// What is left is waiting for finalizers or graceful termination.
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("list %s: %w", gvr, err)
	}
	fins := map[string]int{}
	for i := range list.Items {
		for _, f := range list.Items[i].Finalizers {
			fins[f]++
		}
	}
	return len(list.Items), fins, nil
}

// setConditions writes conds onto ns when they differ (ignoring times).
func (c *Controller) setConditions(ctx context.Context, ns *corev1.Namespace, conds []corev1.NamespaceCondition) error {
	cp := ns.DeepCopy()
	changed := false
	for _, nc := range conds {
		found := false
		for i := range cp.Status.Conditions {
			oc := &cp.Status.Conditions[i]
			if oc.Type != nc.Type {
				continue
			}
			found = true
			if oc.Status != nc.Status || oc.Reason != nc.Reason || oc.Message != nc.Message {
				if oc.Status == nc.Status {
					nc.LastTransitionTime = oc.LastTransitionTime
				}
				*oc = nc
				changed = true
			}
		}
		if !found {
			cp.Status.Conditions = append(cp.Status.Conditions, nc)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update conditions of namespace %s: %w", ns.Name, err)
	}
	*ns = *updated
	return nil
}

// cachedFor remembers fetch's successful answer for ttl, so a namespace
// being retried does not rediscover the whole API each time.
func cachedFor(ttl time.Duration, clk clock.PassiveClock, fetch func() ([]*metav1.APIResourceList, error)) func() ([]*metav1.APIResourceList, error) {
	var (
		mu    sync.Mutex
		at    time.Time
		lists []*metav1.APIResourceList
	)
	return func() ([]*metav1.APIResourceList, error) {
		mu.Lock()
		defer mu.Unlock()
		if lists != nil && clk.Since(at) < ttl {
			return lists, nil
		}
		l, err := fetch()
		if err != nil {
			return l, err
		}
		lists, at = l, clk.Now()
		return lists, nil
	}
}
