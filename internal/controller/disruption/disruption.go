// Package disruption keeps PodDisruptionBudget status current, as
// upstream's disruption controller does: the pods a budget selects, how
// many are healthy (Ready and not being deleted), how many must stay
// healthy (minAvailable, or expected pods minus maxUnavailable — with
// percentages and maxUnavailable the expected count comes from the scale
// of the pods' controllers: ReplicaSets, Deployments, StatefulSets and
// ReplicationControllers), and so how many disruptions are allowed, with
// the DisruptionAllowed condition the eviction API reads. Entries of
// status.disruptedPods that the eviction API recorded expire after two
// minutes or once their pod is gone.
package disruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "disruption"

// DeletionTimeout is how long a disrupted pod entry is kept.
const DeletionTimeout = 2 * time.Minute

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Controller maintains PodDisruptionBudget status.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.Clock
	pdbs   policylisters.PodDisruptionBudgetLister
	pods   corelisters.PodLister
	rcs    corelisters.ReplicationControllerLister
	rss    appslisters.ReplicaSetLister
	ds     appslisters.DeploymentLister
	sts    appslisters.StatefulSetLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("disruption: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := cfg.Informers
	c := &Controller{
		client: cfg.Client, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		pdbs: f.Policy().V1().PodDisruptionBudgets().Lister(), pods: f.Core().V1().Pods().Lister(),
		rcs: f.Core().V1().ReplicationControllers().Lister(), rss: f.Apps().V1().ReplicaSets().Lister(),
		ds: f.Apps().V1().Deployments().Lister(), sts: f.Apps().V1().StatefulSets().Lister(),
		queue: controllerutil.NewQueue(Name),
	}
	for _, inf := range []cache.SharedIndexInformer{f.Policy().V1().PodDisruptionBudgets().Informer(), f.Core().V1().Pods().Informer(),
		f.Core().V1().ReplicationControllers().Informer(), f.Apps().V1().ReplicaSets().Informer(),
		f.Apps().V1().Deployments().Informer(), f.Apps().V1().StatefulSets().Informer()} {
		c.synced = append(c.synced, inf.HasSynced)
	}
	if _, err := f.Policy().V1().PodDisruptionBudgets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
	}); err != nil {
		return nil, fmt.Errorf("disruption: %w", err)
	}
	if _, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(_, n any) { c.podChanged(n) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("disruption: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// podChanged queues the budgets selecting the pod.
func (c *Controller) podChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	list, err := c.pdbs.PodDisruptionBudgets(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range list {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(p.Labels)) {
			c.enqueue(pdb)
		}
	}
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pdb := cached.DeepCopy()
	now := c.clock.Now()
	st, next, computeErr := c.compute(pdb, now)
	if computeErr != nil {
		st = pdb.Status
		st.DisruptionsAllowed = 0
		st.ObservedGeneration = pdb.Generation
		setCondition(&st, metav1.ConditionFalse, policyv1.SyncFailedReason, computeErr.Error(), pdb.Generation, now)
	}
	if next > 0 {
		c.queue.AddAfter(key, next)
	}
	if apiequality.Semantic.DeepEqual(pdb.Status, st) {
		return nil
	}
	pdb.Status = st
	if _, err := c.client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of pdb %s: %w", key, err)
	}
	return nil
}

// compute derives the status; next is when a disrupted-pod entry expires.
func (c *Controller) compute(pdb *policyv1.PodDisruptionBudget, now time.Time) (policyv1.PodDisruptionBudgetStatus, time.Duration, error) {
	st := *pdb.Status.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return st, 0, fmt.Errorf("invalid selector: %w", err)
	}
	var pods []*corev1.Pod
	if !sel.Empty() {
		if pods, err = c.pods.Pods(pdb.Namespace).List(sel); err != nil {
			return st, 0, err
		}
	}
	// Expire disrupted-pod entries.
	var next time.Duration
	live := map[string]*corev1.Pod{}
	for _, p := range pods {
		live[p.Name] = p
	}
	for name, at := range st.DisruptedPods {
		p := live[name]
		expires := at.Add(DeletionTimeout)
		if p == nil || p.DeletionTimestamp != nil || !now.Before(expires) {
			delete(st.DisruptedPods, name)
			continue
		}
		if d := expires.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	if len(st.DisruptedPods) == 0 {
		st.DisruptedPods = nil
	}
	var healthy int32
	for _, p := range pods {
		if p.DeletionTimestamp == nil && controllerutil.IsPodReady(p) {
			if _, disrupted := st.DisruptedPods[p.Name]; !disrupted {
				healthy++
			}
		}
	}
	var expected, desired int32
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if expected, err = c.expectedScale(pods); err != nil {
			return st, next, err
		}
		mu, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return st, next, err
		}
		desired = max(expected-int32(mu), 0)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		expected, desired = int32(len(pods)), pdb.Spec.MinAvailable.IntVal
	case pdb.Spec.MinAvailable != nil:
		if expected, err = c.expectedScale(pods); err != nil {
			return st, next, err
		}
		ma, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return st, next, err
		}
		desired = int32(ma)
	}
	allowed := healthy - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed = healthy, desired, expected, allowed
	st.ObservedGeneration = pdb.Generation
	if allowed > 0 {
		setCondition(&st, metav1.ConditionTrue, policyv1.SufficientPodsReason, "", pdb.Generation, now)
	} else {
		setCondition(&st, metav1.ConditionFalse, policyv1.InsufficientPodsReason, "", pdb.Generation, now)
	}
	return st, next, nil
}

func setCondition(st *policyv1.PodDisruptionBudgetStatus, s metav1.ConditionStatus, reason, msg string, gen int64, now time.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != policyv1.DisruptionAllowedCondition {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.ObservedGeneration = s, reason, msg, gen
		return
	}
	st.Conditions = append(st.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: s,
		Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)})
}

// expectedScale sums the scale of the controllers behind pods (each
// counted once); every pod must have one.
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	var total int32
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			return 0, fmt.Errorf("found no controller ref for pod %q", p.Name)
		}
		uid, scale, err := c.scaleOf(p.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += scale
		}
	}
	return total, nil
}

func (c *Controller) scaleOf(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	replicas := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, fmt.Errorf("replicaset %s not found", ref.Name)
		}
		// A Deployment's ReplicaSet counts as the Deployment.
		if dref := metav1.GetControllerOfNoCopy(rs); dref != nil && dref.Kind == "Deployment" {
			d, err := c.ds.Deployments(ns).Get(dref.Name)
			if err == nil && d.UID == dref.UID {
				return d.UID, replicas(d.Spec.Replicas), nil
			}
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case "StatefulSet":
		s, err := c.sts.StatefulSets(ns).Get(ref.Name)
		if err != nil || s.UID != ref.UID {
			return "", 0, fmt.Errorf("statefulset %s not found", ref.Name)
		}
		return s.UID, replicas(s.Spec.Replicas), nil
	case "ReplicationController":
		rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, fmt.Errorf("replicationcontroller %s not found", ref.Name)
		}
		return rc.UID, replicas(rc.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("pods of %s %s have no scale", ref.Kind, ref.Name)
}
