package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "nodelifecycle"

// Defaults, as upstream 1.33.
const (
	DefaultMonitorPeriod          = 5 * time.Second
	DefaultGracePeriod            = 50 * time.Second
	DefaultTolerationSeconds      = 300
	ReasonNodeStatusUnknown       = "NodeStatusUnknown"
	MessageNodeStatusUnknown      = "Kubelet stopped posting node status."
	ReasonDeletionByTaintManager  = "DeletionByTaintManager"
	MessageDeletionByTaintManager = "Taint manager: deleting due to NoExecute taint"
	ReasonTaintManagerEviction    = "TaintManagerEviction"
	ReasonNodeNotReady            = "NodeNotReady"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.WithTicker
	// MonitorPeriod (default 5s), GracePeriod (default 50s) and
	// DefaultTolerationSeconds (default 300) tune the reactions.
	MonitorPeriod            time.Duration
	GracePeriod              time.Duration
	DefaultTolerationSeconds int64
}

// heartbeat is what the controller last saw of a node's liveness.
type heartbeat struct {
	ready    metav1.Time
	lease    metav1.MicroTime
	observed time.Time
}

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	period   time.Duration
	grace    time.Duration
	defTol   int64

	nodes  corelisters.NodeLister
	pods   corelisters.PodLister
	leases coordlisters.LeaseLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]

	mu     sync.Mutex
	health map[string]*heartbeat
	// taintSeen remembers when a taint without timeAdded was first seen.
	taintSeen map[string]time.Time
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("nodelifecycle: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MonitorPeriod == 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.DefaultTolerationSeconds == 0 {
		cfg.DefaultTolerationSeconds = DefaultTolerationSeconds
	}
	nodeInf := cfg.Informers.Core().V1().Nodes()
	podInf := cfg.Informers.Core().V1().Pods()
	leaseInf := cfg.Informers.Coordination().V1().Leases()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		period: cfg.MonitorPeriod, grace: cfg.GracePeriod, defTol: cfg.DefaultTolerationSeconds,
		nodes: nodeInf.Lister(), pods: podInf.Lister(), leases: leaseInf.Lister(),
		synced:    []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced, leaseInf.Informer().HasSynced},
		queue:     controllerutil.NewQueue(Name),
		health:    map[string]*heartbeat{},
		taintSeen: map[string]time.Time{},
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNode(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNode(obj) },
		DeleteFunc: func(obj any) {
			if key, ok := controllerutil.KeyOf(obj); ok {
				c.mu.Lock()
				delete(c.health, key)
				c.mu.Unlock()
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNode(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// Run monitors nodes and reconciles taints until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return nil
	}
	go func() {
		t := c.clock.NewTicker(c.period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
			}
			if err := c.monitor(ctx); err != nil && ctx.Err() == nil {
				c.log.Info("node monitor pass incomplete", "err", err)
			}
			if err := c.evict(ctx); err != nil && ctx.Err() == nil {
				c.log.Info("taint eviction pass incomplete", "err", err)
			}
		}
	}()
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.syncTaints, c.synced...)
}

func condition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// monitor marks silent nodes Unknown.
func (c *Controller) monitor(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	now := c.clock.Now()
	var errs []error
	for _, n := range nodes {
		ready := condition(n, corev1.NodeReady)
		var lease *coordv1.Lease
		if l, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name); err == nil {
			lease = l
		}
		if !c.observe(n, ready, lease, now) {
			continue
		}
		if ready != nil && ready.Status == corev1.ConditionUnknown {
			continue
		}
		if err := c.markUnknown(ctx, n, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// observe records n's heartbeat and reports whether it has been silent for
// longer than the grace period.
func (c *Controller) observe(n *corev1.Node, ready *corev1.NodeCondition, lease *coordv1.Lease, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.health[n.Name]
	var readyBeat metav1.Time
	if ready != nil {
		readyBeat = ready.LastHeartbeatTime
	}
	var leaseBeat metav1.MicroTime
	if lease != nil && lease.Spec.RenewTime != nil {
		leaseBeat = *lease.Spec.RenewTime
	}
	if !ok {
		c.health[n.Name] = &heartbeat{ready: readyBeat, lease: leaseBeat, observed: now}
		return false
	}
	if !readyBeat.Equal(&h.ready) || !leaseBeat.Equal(&h.lease) {
		h.ready, h.lease, h.observed = readyBeat, leaseBeat, now
		return false
	}
	return now.Sub(h.observed) > c.grace
}

// markUnknown sets n's health conditions to Unknown and its pods not ready.
func (c *Controller) markUnknown(ctx context.Context, n *corev1.Node, now time.Time) error {
	cp := n.DeepCopy()
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := condition(cp, t)
		if cond == nil {
			cp.Status.Conditions = append(cp.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
				Message: "Kubelet never posted node status.", LastHeartbeatTime: metav1.NewTime(n.CreationTimestamp.Time),
				LastTransitionTime: metav1.NewTime(now),
			})
			continue
		}
		if cond.Status != corev1.ConditionUnknown {
			cond.Status = corev1.ConditionUnknown
			cond.Reason = ReasonNodeStatusUnknown
			cond.Message = MessageNodeStatusUnknown
			cond.LastTransitionTime = metav1.NewTime(now)
		}
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("mark node %s unknown: %w", n.Name, err)
	}
	c.log.Info("node stopped posting status", "node", n.Name)
	ref := &corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID, APIVersion: "v1"}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, ReasonNodeNotReady, "Node %s status is now: %s", n.Name, ReasonNodeNotReady)
	return c.markPodsNotReady(ctx, n.Name, now)
}

func (c *Controller) markPodsNotReady(ctx context.Context, node string, now time.Time) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != node || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		cp := p.DeepCopy()
		changed := false
		for i := range cp.Status.Conditions {
			cond := &cp.Status.Conditions[i]
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
				cond.Status = corev1.ConditionFalse
				cond.LastTransitionTime = metav1.NewTime(now)
				changed = true
			}
		}
		if !changed {
			continue
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", p.Namespace, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// wantedTaints returns the not-ready/unreachable taints n's Ready
// condition calls for.
func wantedTaints(n *corev1.Node) []corev1.Taint {
	ready := condition(n, corev1.NodeReady)
	if ready == nil {
		return nil
	}
	var key string
	switch ready.Status {
	case corev1.ConditionFalse:
		key = corev1.TaintNodeNotReady
	case corev1.ConditionUnknown:
		key = corev1.TaintNodeUnreachable
	default:
		return nil
	}
	return []corev1.Taint{{Key: key, Effect: corev1.TaintEffectNoSchedule}, {Key: key, Effect: corev1.TaintEffectNoExecute}}
}

func managedTaint(t corev1.Taint) bool {
	return (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable) &&
		(t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute)
}

// syncTaints makes node key's not-ready/unreachable taints match its Ready
// condition.
func (c *Controller) syncTaints(ctx context.Context, key string) error {
	n, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	want := wantedTaints(n)
	var kept []corev1.Taint
	have := map[corev1.Taint]bool{}
	for _, t := range n.Spec.Taints {
		if !managedTaint(t) {
			kept = append(kept, t)
			continue
		}
		wanted := false
		for _, w := range want {
			if w.Key == t.Key && w.Effect == t.Effect {
				wanted = true
			}
		}
		if wanted {
			kept = append(kept, t)
			have[corev1.Taint{Key: t.Key, Effect: t.Effect}] = true
		}
	}
	now := metav1.NewTime(c.clock.Now())
	for _, w := range want {
		if !have[w] {
			w := w
			if w.Effect == corev1.TaintEffectNoExecute {
				w.TimeAdded = &now
			}
			kept = append(kept, w)
		}
	}
	if len(kept) == len(n.Spec.Taints) && sameTaints(kept, n.Spec.Taints) {
		return nil
	}
	cp := n.DeepCopy()
	cp.Spec.Taints = kept
	if _, err := c.client.CoreV1().Nodes().Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update taints of node %s: %w", key, err)
	}
	return nil
}

func sameTaints(a, b []corev1.Taint) bool {
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Effect != b[i].Effect || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

// evict deletes pods that no longer tolerate their node's NoExecute taints.
func (c *Controller) evict(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	now := c.clock.Now()
	tainted := map[string][]corev1.Taint{}
	c.mu.Lock()
	seen := map[string]bool{}
	for _, n := range nodes {
		for _, t := range n.Spec.Taints {
			if t.Effect != corev1.TaintEffectNoExecute {
				continue
			}
			tainted[n.Name] = append(tainted[n.Name], t)
			k := n.Name + "/" + t.Key + "=" + t.Value
			seen[k] = true
			if _, ok := c.taintSeen[k]; !ok {
				c.taintSeen[k] = now
			}
		}
	}
	for k := range c.taintSeen {
		if !seen[k] {
			delete(c.taintSeen, k)
		}
	}
	firstSeen := func(node string, t corev1.Taint) time.Time {
		if t.TimeAdded != nil {
			return t.TimeAdded.Time
		}
		return c.taintSeen[node+"/"+t.Key+"="+t.Value]
	}
	c.mu.Unlock()
	if len(tainted) == 0 {
		return nil
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		taints := tainted[p.Spec.NodeName]
		if len(taints) == 0 || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if due, ok := c.evictionDue(p, taints, p.Spec.NodeName, firstSeen, now); ok && !due.After(now) {
			errs = append(errs, c.evictPod(ctx, p, now))
		}
	}
	return errors.Join(errs...)
}

// evictionDue returns when p must leave a node with taints, and false if
// it tolerates them for ever.
func (c *Controller) evictionDue(p *corev1.Pod, taints []corev1.Taint, node string, firstSeen func(string, corev1.Taint) time.Time, now time.Time) (time.Time, bool) {
	var due time.Time
	forever := true
	for i := range taints {
		t := &taints[i]
		tolerated, seconds := false, int64(-1)
		for j := range p.Spec.Tolerations {
			tol := &p.Spec.Tolerations[j]
			if !tol.ToleratesTaint(t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				seconds = -1
				break
			}
			if seconds < 0 || *tol.TolerationSeconds < seconds {
				seconds = *tol.TolerationSeconds
			}
		}
		if !tolerated && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable) && !hasTolerationFor(p, t.Key) {
			tolerated, seconds = true, c.defTol
		}
		if !tolerated {
			return now, true
		}
		if seconds < 0 {
			continue
		}
		forever = false
		d := firstSeen(node, *t).Add(time.Duration(seconds) * time.Second)
		if due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due, !forever
}

func hasTolerationFor(p *corev1.Pod, key string) bool {
	for _, t := range p.Spec.Tolerations {
		if t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists) {
			return true
		}
	}
	return false
}

func (c *Controller) evictPod(ctx context.Context, p *corev1.Pod, now time.Time) error {
	c.recorder.Eventf(p, corev1.EventTypeNormal, ReasonTaintManagerEviction, "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
	cp := p.DeepCopy()
	cp.Status.Conditions = append(cp.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: ReasonDeletionByTaintManager,
		Message: MessageDeletionByTaintManager, LastTransitionTime: metav1.NewTime(now),
	})
	if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		c.log.Debug("could not add DisruptionTarget", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
	uid := p.UID
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
