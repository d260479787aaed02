package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// SchedulerName is the name of the scheduler pods ask for by default.
const SchedulerName = v1.DefaultSchedulerName

// ErrLostLeadership is returned by Run when the scheduler's lease was taken over.
var ErrLostLeadership = errors.New("scheduler: lost leadership")

// Binder performs the side effect of a decision: binding a pod to a node.
// Bind must return an error if the pod could not be bound; it may be called from several
// goroutines at once.
type Binder interface {
	Bind(ctx context.Context, pod *v1.Pod, node string) error
}

// APIBinder binds through the pods/binding subresource.
type APIBinder struct{ Client kubernetes.Interface }

// Bind creates the pod's Binding.
func (b APIBinder) Bind(ctx context.Context, pod *v1.Pod, node string) error {
	return b.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

// Config configures a Scheduler.
type Config struct {
	// Client talks to the API server. Its rate limit should allow a few thousand
	// requests a second (a bind, an event and sometimes a status patch per pod).
	Client kubernetes.Interface
	Logger *slog.Logger
	// Scoring is LeastAllocated (default: spread load) or MostAllocated (bin packing).
	Scoring string
	// Identity names this scheduler in its lease (e.g. the host name).
	Identity string
	// LeaderElect takes the kube-system/kube-scheduler Lease before scheduling.
	LeaderElect bool
	// Recorder records Events; nil: one writing core/v1 Events through Client.
	Recorder record.EventRecorder
	// Binder binds pods; nil: APIBinder through Client.
	Binder Binder
	// Clock drives backoff and leases; nil: the real clock.
	Clock clock.WithTicker
	// Rand breaks score ties; nil: a randomly seeded one.
	Rand *rand.Rand
	// BindWorkers bounds the bindings (and status updates) in flight; 0: 64.
	BindWorkers int
	// PercentageOfNodesToScore: 0 adapts to the cluster size like upstream.
	PercentageOfNodesToScore int
	// LeaseNamespace and LeaseName name the lock; defaults kube-system/kube-scheduler.
	LeaseNamespace, LeaseName string
	// LeaseDuration, RenewDeadline, RetryPeriod: defaults 15 s, 10 s, 2 s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Scheduler assigns pending pods to nodes. See the package documentation.
type Scheduler struct {
	cfg      Config
	log      *slog.Logger
	client   kubernetes.Interface
	cache    *Cache
	queue    *Queue
	algo     *Algorithm
	binder   Binder
	recorder record.EventRecorder
	sem      chan struct{}
	wg       sync.WaitGroup
	synced   chan struct{}
}

// New validates cfg and returns a scheduler; it starts nothing.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil {
		return nil, errors.New("scheduler: Client is required")
	}
	switch cfg.Scoring {
	case "":
		cfg.Scoring = LeastAllocated
	case LeastAllocated, MostAllocated:
	default:
		return nil, fmt.Errorf("scheduler: unknown scoring strategy %q (want %s or %s)", cfg.Scoring, LeastAllocated, MostAllocated)
	}
	if cfg.LeaderElect && cfg.Identity == "" {
		return nil, errors.New("scheduler: Identity is required with LeaderElect")
	}
	if cfg.PercentageOfNodesToScore < 0 || cfg.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("scheduler: PercentageOfNodesToScore %d is outside 0..100", cfg.PercentageOfNodesToScore)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.BindWorkers <= 0 {
		cfg.BindWorkers = 64
	}
	if cfg.Binder == nil {
		cfg.Binder = APIBinder{Client: cfg.Client}
	}
	if cfg.LeaseNamespace == "" {
		cfg.LeaseNamespace = metav1.NamespaceSystem
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = "kube-scheduler"
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 15 * time.Second
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = 10 * time.Second
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = 2 * time.Second
	}
	return &Scheduler{
		cfg:      cfg,
		log:      cfg.Logger,
		client:   cfg.Client,
		cache:    NewCache(),
		queue:    NewQueue(cfg.Clock),
		algo:     &Algorithm{Scoring: cfg.Scoring, PercentageOfNodesToScore: cfg.PercentageOfNodesToScore, Rand: cfg.Rand},
		binder:   cfg.Binder,
		recorder: cfg.Recorder,
		sem:      make(chan struct{}, cfg.BindWorkers),
		synced:   make(chan struct{}),
	}, nil
}

// Pending reports how many pods wait in the queue: active, backing off, unschedulable.
func (s *Scheduler) Pending() (active, backoff, unschedulable int) { return s.queue.Lengths() }

// Synced is closed once the scheduler's informers have synced (after it leads).
func (s *Scheduler) Synced() <-chan struct{} { return s.synced }

// Run schedules until ctx ends. With LeaderElect it first takes the lease and returns
// ErrLostLeadership if the lease is lost.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.cfg.LeaderElect {
		return s.run(ctx)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: s.cfg.LeaseNamespace, Name: s.cfg.LeaseName},
		Client:     s.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.cfg.Identity},
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leading := make(chan context.Context, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   s.cfg.LeaseDuration,
		RenewDeadline:   s.cfg.RenewDeadline,
		RetryPeriod:     s.cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            s.cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			// The lead context ends when the lease is lost or ctx ends.
			OnStartedLeading: func(lctx context.Context) { leading <- lctx },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("scheduler: leader election: %w", err)
	}
	elected := make(chan struct{})
	go func() {
		defer close(elected)
		le.Run(ctx)
	}()
	select {
	case lctx := <-leading:
		s.log.Info("scheduler leads", "identity", s.cfg.Identity)
		runErr := s.run(lctx)
		cancel()
		<-elected
		if runErr != nil {
			return runErr
		}
	case <-elected:
	}
	if parent.Err() != nil {
		return nil
	}
	return ErrLostLeadership
}

func (s *Scheduler) run(ctx context.Context) error {
	if s.recorder == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
		defer b.Shutdown()
		s.recorder = b.NewRecorder(scheme.Scheme, v1.EventSource{Component: SchedulerName})
	}
	factory := informers.NewSharedInformerFactory(s.client, 0)
	podInf := factory.Core().V1().Pods().Informer()
	nodeInf := factory.Core().V1().Nodes().Informer()
	nsInf := factory.Core().V1().Namespaces().Informer()
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onPodAdd(o) },
		UpdateFunc: s.onPodUpdate,
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return fmt.Errorf("scheduler: pod handler: %w", err)
	}
	if _, err := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNodeAdd,
		UpdateFunc: s.onNodeUpdate,
		DeleteFunc: s.onNodeDelete,
	}); err != nil {
		return fmt.Errorf("scheduler: node handler: %w", err)
	}
	if _, err := nsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onNamespace(o, false) },
		UpdateFunc: func(_, o any) { s.onNamespace(o, false) },
		DeleteFunc: func(o any) { s.onNamespace(o, true) },
	}); err != nil {
		return fmt.Errorf("scheduler: namespace handler: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("scheduler: informer for %v did not sync", typ)
		}
	}
	close(s.synced)
	s.log.Info("scheduler started", "scoring", s.cfg.Scoring)

	queueDone := make(chan struct{})
	go func() {
		defer close(queueDone)
		s.queue.Run(ctx)
	}()
	for {
		pod, cycle, ok := s.queue.Pop(ctx)
		if !ok {
			break
		}
		s.scheduleOne(ctx, pod, cycle)
	}
	<-queueDone
	s.wg.Wait()
	return nil
}

// responsible reports whether the pod is one this scheduler should place.
func responsible(pod *v1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.Spec.SchedulerName == SchedulerName &&
		pod.DeletionTimestamp == nil && len(pod.Spec.SchedulingGates) == 0 &&
		pod.Status.Phase != v1.PodSucceeded && pod.Status.Phase != v1.PodFailed
}

func terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func (s *Scheduler) onPodAdd(o any) {
	pod, ok := o.(*v1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName != "" {
		if terminal(pod) {
			return
		}
		s.cache.AddPod(pod)
		s.queue.Delete(pod.UID)
		if hasLabels(pod) {
			s.queue.MoveAll(hasRequiredPodAffinity)
		}
		return
	}
	if responsible(pod) {
		s.queue.Add(pod)
	}
}

func hasLabels(p *v1.Pod) bool { return len(p.Labels) > 0 }

func hasRequiredPodAffinity(p *v1.Pod) bool {
	a := p.Spec.Affinity
	return a != nil && a.PodAffinity != nil && len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Pod)
	pod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if pod.Spec.NodeName != "" {
		s.queue.Delete(pod.UID)
		if terminal(pod) {
			// A finished pod no longer holds its node's resources.
			s.cache.RemovePod(pod.UID)
			if !terminal(old) {
				s.queue.MoveAll(nil)
			}
			return
		}
		s.cache.AddPod(pod)
		if old.Spec.NodeName == "" {
			if hasLabels(pod) {
				s.queue.MoveAll(hasRequiredPodAffinity)
			}
		} else if !equality.Semantic.DeepEqual(old.Labels, pod.Labels) {
			s.queue.MoveAll(nil)
		}
		return
	}
	if responsible(pod) {
		s.queue.Update(pod)
	} else {
		s.queue.Delete(pod.UID)
	}
}

func (s *Scheduler) onPodDelete(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*v1.Pod)
	if !ok {
		return
	}
	s.queue.Delete(pod.UID)
	wasAssigned := pod.Spec.NodeName != "" || s.cache.IsAssumed(pod.UID)
	s.cache.RemovePod(pod.UID)
	if wasAssigned {
		s.queue.MoveAll(nil)
	}
}

func (s *Scheduler) onNodeAdd(o any) {
	node, ok := o.(*v1.Node)
	if !ok {
		return
	}
	s.cache.AddNode(node)
	s.queue.MoveAll(nil)
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Node)
	node, ok2 := newObj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.AddNode(node)
	if nodeSchedulingChanged(old, node) {
		s.queue.MoveAll(nil)
	}
}

// nodeSchedulingChanged reports whether an update could let a pod fit that did not
// (heartbeats and other status churn do not).
func nodeSchedulingChanged(old, node *v1.Node) bool {
	if old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) {
		return true
	}
	ready := func(n *v1.Node) v1.ConditionStatus {
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady {
				return c.Status
			}
		}
		return ""
	}
	return ready(old) != ready(node)
}

func (s *Scheduler) onNodeDelete(o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	if node, ok := o.(*v1.Node); ok {
		s.cache.RemoveNode(node.Name)
	}
}

func (s *Scheduler) onNamespace(o any, deleted bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	ns, ok := o.(*v1.Namespace)
	if !ok {
		return
	}
	if deleted {
		s.cache.RemoveNamespace(ns.Name)
		return
	}
	s.cache.SetNamespace(ns)
}

// scheduleOne decides for one pod and, on success, assumes it and binds it asynchronously.
func (s *Scheduler) scheduleOne(ctx context.Context, pod *v1.Pod, cycle int64) {
	pi := NewPodInfo(pod)
	s.cache.RLock()
	node, err := s.algo.Schedule(s.cache, pi)
	s.cache.RUnlock()
	if err != nil {
		s.failed(ctx, pod, cycle, err)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = node
	api := *pi
	api.Pod = assumed
	if err := s.cache.AssumePod(&api); err != nil {
		// The informer already reports the pod bound: nothing left to do.
		s.queue.Done(pod.UID)
		return
	}
	s.async(ctx, func(ctx context.Context) {
		if err := s.binder.Bind(ctx, assumed, node); err != nil {
			s.cache.ForgetPod(pod.UID)
			// Try again after a backoff. If the pod was deleted or bound meanwhile, the
			// informer's event takes it out of the queue.
			s.queue.Backoff(pod.UID)
			if apierrors.IsNotFound(err) {
				return
			}
			s.log.Warn("binding failed", "pod", pod.Namespace+"/"+pod.Name, "node", node, "err", err)
			s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
			return
		}
		s.queue.Done(pod.UID)
		s.recorder.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	})
}

// failed requeues a pod that could not be placed and tells the user why.
func (s *Scheduler) failed(ctx context.Context, pod *v1.Pod, cycle int64, err error) {
	reason := v1.PodReasonUnschedulable
	var fe *FitError
	if errors.As(err, &fe) {
		s.queue.Unschedulable(pod.UID, cycle)
	} else {
		reason = v1.PodReasonSchedulerError
		s.queue.Backoff(pod.UID)
	}
	msg := err.Error()
	s.log.Debug("pod unschedulable", "pod", pod.Namespace+"/"+pod.Name, "reason", msg)
	s.recorder.Event(pod, v1.EventTypeWarning, "FailedScheduling", msg)
	if c := podScheduledCondition(pod); c != nil && c.Status == v1.ConditionFalse && c.Reason == reason && c.Message == msg {
		return
	}
	s.async(ctx, func(ctx context.Context) {
		if err := s.setUnschedulable(ctx, pod, reason, msg); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("updating pod condition", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	})
}

func podScheduledCondition(pod *v1.Pod) *v1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == v1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// setUnschedulable sets the pod's PodScheduled condition to False with a strategic
// merge patch of its status (conditions merge by type).
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *v1.Pod, reason, msg string) error {
	cond := map[string]any{
		"type":          v1.PodScheduled,
		"status":        v1.ConditionFalse,
		"reason":        reason,
		"message":       msg,
		"lastProbeTime": nil,
	}
	if old := podScheduledCondition(pod); old == nil || old.Status != v1.ConditionFalse {
		cond["lastTransitionTime"] = metav1.NewTime(s.cfg.Clock.Now()).Rfc3339Copy()
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   map[string]any{"conditions": []any{cond}},
	})
	if err != nil {
		return fmt.Errorf("encode condition patch: %w", err)
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch pod %s/%s status: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// async runs f on a bounded pool of goroutines (bindings and status updates).
func (s *Scheduler) async(ctx context.Context, f func(context.Context)) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.wg.Add(1)
	go func() {
		defer func() {
			<-s.sem
			s.wg.Done()
		}()
		f(ctx)
	}()
}
