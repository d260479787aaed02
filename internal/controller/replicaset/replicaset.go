package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "replicaset"

// DefaultBurstReplicas caps how many pods one sync creates or deletes.
const DefaultBurstReplicas = 500

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// RCName is the ReplicationController controller's name.
const RCName = "replicationcontroller"

// Event reasons, as upstream.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.Clock
	// BurstReplicas caps creations or deletions per sync (default 500).
	BurstReplicas int
}

// Controller is the ReplicaSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock
	burst    int

	name      string
	k         kind
	podLister corelisters.PodLister
	podIndex  cache.Indexer
	synced    []cache.InformerSynced

	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
}

// New returns the ReplicaSet controller; it validates cfg and registers
// the controller's informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Informers == nil {
		return nil, errors.New("replicaset: Informers is required")
	}
	inf := cfg.Informers.Apps().V1().ReplicaSets()
	return newController(cfg, Name, replicaSets{client: cfg.Client, lister: inf.Lister()}, inf.Informer())
}

// NewReplicationController returns the same controller for
// ReplicationControllers (core/v1, map selectors).
func NewReplicationController(cfg Config) (*Controller, error) {
	if cfg.Informers == nil {
		return nil, errors.New("replicationcontroller: Informers is required")
	}
	inf := cfg.Informers.Core().V1().ReplicationControllers()
	return newController(cfg, RCName, replicationControllers{client: cfg.Client, lister: inf.Lister()}, inf.Informer())
}

func newController(cfg Config, name string, k kind, inf cache.SharedIndexInformer) (*Controller, error) {
	if cfg.Client == nil || cfg.Recorder == nil {
		return nil, fmt.Errorf("%s: Client and Recorder are required", name)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = DefaultBurstReplicas
	}
	podInf := cfg.Informers.Core().V1().Pods()
	if err := controllerutil.AddControllerUIDIndex(podInf.Informer()); err != nil {
		return nil, fmt.Errorf("%s: pod index: %w", name, err)
	}
	c := &Controller{
		client:       cfg.Client,
		recorder:     cfg.Recorder,
		log:          cfg.Logger.With("controller", name),
		clock:        cfg.Clock,
		burst:        cfg.BurstReplicas,
		name:         name,
		k:            k,
		podLister:    podInf.Lister(),
		podIndex:     podInf.Informer().GetIndexer(),
		synced:       []cache.InformerSynced{inf.HasSynced, podInf.Informer().HasSynced},
		queue:        controllerutil.NewQueue(name),
		expectations: controllerutil.NewExpectations(cfg.Clock),
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, c.name, c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) updateRS(oldObj, newObj any) {
	c.enqueue(newObj)
}

func (c *Controller) deleteRS(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.expectations.Delete(key)
		c.queue.Add(key)
	}
}

// resolveRef returns the ReplicaSet that ref names, if it is still the same
// object (same UID).
func (c *Controller) resolveRef(ns string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != c.k.gvk().Kind {
		return nil
	}
	rs, err := c.k.get(ns, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// matchingReplicaSets returns the ReplicaSets whose selector matches pod.
func (c *Controller) matchingReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	if len(pod.Labels) == 0 {
		return nil
	}
	list, err := c.k.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range list {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	return out
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		rs := c.resolveRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key := rs.Namespace + "/" + rs.Name
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	for _, rs := range c.matchingReplicaSets(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	cur, old := newObj.(*corev1.Pod), oldObj.(*corev1.Pod)
	if cur.ResourceVersion == old.ResourceVersion {
		return
	}
	labelsChanged := !reflect.DeepEqual(cur.Labels, old.Labels)
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOfNoCopy(cur), metav1.GetControllerOfNoCopy(old)
	if oldRef != nil && (curRef == nil || curRef.UID != oldRef.UID) {
		if rs := c.resolveRef(old.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolveRef(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// A pod that just became ready becomes available minReadySeconds later.
		if !controllerutil.IsPodReady(old) && controllerutil.IsPodReady(cur) && rs.Spec.MinReadySeconds > 0 {
			key, _ := controllerutil.KeyOf(rs)
			c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || !reflect.DeepEqual(curRef, oldRef) {
		for _, rs := range c.matchingReplicaSets(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	rs := c.resolveRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key := rs.Namespace + "/" + rs.Name
	c.expectations.DeletionObserved(key, controllerutil.PodKey(pod))
	c.queue.Add(key)
}

// sync reconciles the ReplicaSet named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.k.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		c.recorder.Eventf(c.k.ref(rs), corev1.EventTypeWarning, "InvalidSelector", "Invalid selector: %v", err)
		return nil
	}
	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rs, selector, controllerutil.FilterActivePods(all))
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, pods, rs, key)
	}
	rs = rs.DeepCopy()
	newStatus := calculateStatus(rs, pods, manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rs, newStatus)
	if err != nil {
		return err
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicasOf(updated) &&
		updated.Status.AvailableReplicas != replicasOf(updated) {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	m := controllerutil.NewPodRefManager(ctx, c.client, rs, c.k.gvk(), selector, func(ctx context.Context) (metav1.Object, error) {
		return c.k.getLive(ctx, rs.Namespace, rs.Name)
	})
	var claimed []*corev1.Pod
	var errs []error
	for _, pod := range pods {
		ok, err := m.Claim(pod)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, pod)
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *Controller) manageReplicas(ctx context.Context, pods []*corev1.Pod, rs *appsv1.ReplicaSet, key string) error {
	diff := len(pods) - int(replicasOf(rs))
	switch {
	case diff < 0:
		diff = min(-diff, c.burst)
		c.expectations.ExpectCreations(key, diff)
		ref := controllerutil.NewControllerRef(rs, c.k.gvk())
		successes, err := controllerutil.SlowStartBatch(diff, controllerutil.SlowStartInitialBatchSize, func() error {
			pod := controllerutil.PodFromTemplate(&rs.Spec.Template, rs.Namespace, rs.Name, ref)
			created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				c.recorder.Eventf(c.k.ref(rs), corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
				return err
			}
			c.recorder.Eventf(c.k.ref(rs), corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %s", created.Name)
			return nil
		})
		// Creations that were skipped or failed will never be observed.
		for i := 0; i < diff-successes; i++ {
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		diff = min(diff, c.burst)
		related := c.relatedPods(rs)
		victims := podsToDelete(pods, related, diff, c.clock.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = controllerutil.PodKey(p)
		}
		c.expectations.ExpectDeletions(key, keys)
		var wg sync.WaitGroup
		errCh := make(chan error, len(victims))
		for _, p := range victims {
			wg.Add(1)
			go func(p *corev1.Pod) {
				defer wg.Done()
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				if err != nil {
					c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
					if !apierrors.IsNotFound(err) {
						c.recorder.Eventf(c.k.ref(rs), corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
						errCh <- err
					}
					return
				}
				c.recorder.Eventf(c.k.ref(rs), corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %s", p.Name)
			}(p)
		}
		wg.Wait()
		close(errCh)
		return <-errCh
	}
	return nil
}

// relatedPods returns the active pods of every ReplicaSet that shares rs's
// controller (the other ReplicaSets of its Deployment), rs's own included.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	owners := []types.UID{rs.UID}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		list, _ := c.k.list(rs.Namespace)
		for _, other := range list {
			if o := metav1.GetControllerOfNoCopy(other); o != nil && o.UID == ref.UID && other.UID != rs.UID {
				owners = append(owners, other.UID)
			}
		}
	}
	var out []*corev1.Pod
	for _, uid := range owners {
		objs, _ := c.podIndex.ByIndex(controllerutil.ControllerUIDIndex, string(uid))
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok && controllerutil.IsPodActive(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// podsToDelete picks the n least valuable of pods.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		onNode[p.Spec.NodeName]++
	}
	sorted := append([]*corev1.Pod(nil), pods...)
	ranks := make([]int, len(sorted))
	for i, p := range sorted {
		ranks[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(controllerutil.ActivePodsWithRanks{Pods: sorted, Rank: ranks, Now: metav1.NewTime(now)})
	return sorted[:n]
}

// calculateStatus derives rs's status from its claimed active pods.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fully, ready, available int32
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if controllerutil.IsPodReady(p) {
			ready++
			if controllerutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.ObservedGeneration = rs.Generation

	cond := getCondition(st, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && cond == nil:
		reason := "FailedCreate"
		if len(pods) > int(replicasOf(rs)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && cond != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, c := range st.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, c)
			}
		}
		st.Conditions = kept
	}
	return st
}

func getCondition(st appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// updateStatus writes st to rs unless it is already there, retrying once
// against a fresh copy on conflict.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if equality(rs.Status, st) {
		return rs, nil
	}
	var lastErr error
	for i := 0; i < 2; i++ {
		rs.Status = st
		updated, err := c.k.updateStatus(ctx, rs)
		if err == nil {
			return updated, nil
		}
		lastErr = err
		if !apierrors.IsConflict(err) {
			break
		}
		fresh, err := c.k.getLive(ctx, rs.Namespace, rs.Name)
		if err != nil {
			return nil, fmt.Errorf("get replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
		rs = fresh
	}
	return nil, fmt.Errorf("update status of replicaset %s/%s: %w", rs.Namespace, rs.Name, lastErr)
}

func equality(a, b appsv1.ReplicaSetStatus) bool {
	return a.Replicas == b.Replicas && a.FullyLabeledReplicas == b.FullyLabeledReplicas &&
		a.ReadyReplicas == b.ReadyReplicas && a.AvailableReplicas == b.AvailableReplicas &&
		a.ObservedGeneration == b.ObservedGeneration && reflect.DeepEqual(a.Conditions, b.Conditions)
}

// SyncForTest runs one sync of key as if every earlier write had been
// observed. Simulations that load informer caches directly use it.
func (c *Controller) SyncForTest(ctx context.Context, key string) error {
	c.expectations.Delete(key)
	return c.sync(ctx, key)
}

// replicasOf returns spec.replicas, 1 when unset (the API default).
func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}
