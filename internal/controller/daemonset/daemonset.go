package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "daemonset"

// Labels on daemon pods and revisions.
const (
	RevisionHashLabel          = appsv1.ControllerRevisionHashLabelKey
	templateGenerationLabel    = appsv1.DeprecatedTemplateGeneration
	defaultRevisionHistoryKeep = 10
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Controller is the DaemonSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock

	dsLister  appslisters.DaemonSetLister
	crLister  appslisters.ControllerRevisionLister
	podLister corelisters.PodLister
	nodes     corelisters.NodeLister
	synced    []cache.InformerSynced

	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("daemonset: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	dsInf := cfg.Informers.Apps().V1().DaemonSets()
	crInf := cfg.Informers.Apps().V1().ControllerRevisions()
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		dsLister: dsInf.Lister(), crLister: crInf.Lister(), podLister: podInf.Lister(), nodes: nodeInf.Lister(),
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, crInf.Informer().HasSynced,
			podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		queue:        controllerutil.NewQueue(Name),
		expectations: controllerutil.NewExpectations(cfg.Clock),
	}
	if _, err := dsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: func(obj any) {
			if key, ok := controllerutil.KeyOf(obj); ok {
				c.expectations.Delete(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("daemonset: %w", err)
	}
	podEvent := func(obj any, deleted bool) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || ref.Kind != dsKind.Kind {
			return
		}
		key := p.Namespace + "/" + ref.Name
		if deleted {
			c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
		}
		c.queue.Add(key)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == dsKind.Kind {
					c.expectations.CreationObserved(p.Namespace + "/" + ref.Name)
				}
			}
			podEvent(obj, false)
		},
		UpdateFunc: func(_, n any) { podEvent(n, false) },
		DeleteFunc: func(obj any) { podEvent(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("daemonset: %w", err)
	}
	nodeEvent := func(any) {
		all, err := c.dsLister.List(labels.Everything())
		if err != nil {
			return
		}
		for _, ds := range all {
			c.enqueue(ds)
		}
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: nodeEvent,
		UpdateFunc: func(o, n any) {
			on, nn := o.(*corev1.Node), n.(*corev1.Node)
			if !equalNodeForDaemons(on, nn) {
				nodeEvent(n)
			}
		},
		DeleteFunc: nodeEvent,
	}); err != nil {
		return nil, fmt.Errorf("daemonset: %w", err)
	}
	return c, nil
}

func equalNodeForDaemons(a, b *corev1.Node) bool {
	if !labels.Equals(a.Labels, b.Labels) || len(a.Spec.Taints) != len(b.Spec.Taints) {
		return false
	}
	for i := range a.Spec.Taints {
		if !a.Spec.Taints[i].MatchTaint(&b.Spec.Taints[i]) {
			return false
		}
	}
	return true
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

// sync reconciles the DaemonSet named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	ds := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, ds, sel)
	if err != nil {
		return err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if n := targetNode(p); n != "" {
			byNode[n] = append(byNode[n], p)
		}
	}
	if ds.DeletionTimestamp != nil {
		return c.updateStatus(ctx, ds, nodes, byNode, "")
	}
	hash, err := c.syncHistory(ctx, ds, pods)
	if err != nil {
		return err
	}
	var manageErr error
	if c.expectations.Satisfied(key) {
		manageErr = c.manage(ctx, ds, key, nodes, byNode, hash)
	}
	if err := c.updateStatus(ctx, ds, nodes, byNode, hash); err != nil {
		return err
	}
	return manageErr
}

func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	m := controllerutil.NewPodRefManager(ctx, c.client, ds, dsKind, sel, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	})
	var out []*corev1.Pod
	var errs []error
	for _, p := range all {
		if p.DeletionTimestamp != nil && metav1.GetControllerOfNoCopy(p) == nil {
			continue
		}
		ok, err := m.Claim(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// revisionPatch is the ControllerRevision data for ds's template: a patch
// that restores it, which `kubectl rollout undo` applies.
func revisionPatch(ds *appsv1.DaemonSet) ([]byte, error) {
	tmpl, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// syncHistory makes sure the current template has the newest
// ControllerRevision and trims old unused ones; it returns the current hash.
func (c *Controller) syncHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod) (string, error) {
	hash := controllerutil.ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	data, err := revisionPatch(ds)
	if err != nil {
		return "", err
	}
	all, err := c.crLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return "", err
	}
	var owned []*appsv1.ControllerRevision
	var cur *appsv1.ControllerRevision
	var maxRev int64
	for _, cr := range all {
		if ref := metav1.GetControllerOfNoCopy(cr); ref == nil || ref.UID != ds.UID {
			continue
		}
		owned = append(owned, cr)
		maxRev = max(maxRev, cr.Revision)
		if cr.Labels[RevisionHashLabel] == hash && bytes.Equal(cr.Data.Raw, data) {
			cur = cr
		}
	}
	switch {
	case cur == nil:
		labelsCopy := map[string]string{}
		for k, v := range ds.Spec.Template.Labels {
			labelsCopy[k] = v
		}
		labelsCopy[RevisionHashLabel] = hash
		cr := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name: ds.Name + "-" + hash, Namespace: ds.Namespace, Labels: labelsCopy,
				OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(ds, dsKind)},
			},
			Data:     runtime.RawExtension{Raw: data},
			Revision: maxRev + 1,
		}
		created, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, cr, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			existing, gerr := c.client.AppsV1().ControllerRevisions(ds.Namespace).Get(ctx, cr.Name, metav1.GetOptions{})
			if gerr != nil {
				return "", gerr
			}
			ref := metav1.GetControllerOfNoCopy(existing)
			if ref == nil || ref.UID != ds.UID || !bytes.Equal(existing.Data.Raw, data) {
				// A hash collision: pick another name next time.
				if ds.Status.CollisionCount == nil {
					ds.Status.CollisionCount = new(int32)
				}
				*ds.Status.CollisionCount++
				if _, uerr := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); uerr != nil {
					return "", uerr
				}
				return "", fmt.Errorf("controller revision %s exists with other data", cr.Name)
			}
			created, err = existing, nil
		}
		if err != nil {
			return "", fmt.Errorf("create controller revision: %w", err)
		}
		cur = created
		owned = append(owned, created)
	case cur.Revision < maxRev:
		cp := cur.DeepCopy()
		cp.Revision = maxRev + 1
		if _, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return "", fmt.Errorf("bump controller revision: %w", err)
		}
	}
	// Trim: keep revisions live pods use, and the newest limit others.
	limit := defaultRevisionHistoryKeep
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	live := map[string]bool{hash: true}
	for _, p := range pods {
		live[p.Labels[RevisionHashLabel]] = true
	}
	var old []*appsv1.ControllerRevision
	for _, cr := range owned {
		if !live[cr.Labels[RevisionHashLabel]] {
			old = append(old, cr)
		}
	}
	if extra := len(old) - limit; extra > 0 {
		sort.Slice(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
		for _, cr := range old[:extra] {
			err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, cr.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return "", fmt.Errorf("delete old controller revision: %w", err)
			}
		}
	}
	return hash, nil
}

func podActive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded
}

// manage creates and deletes daemon pods.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, key string, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	var createOn []string
	var remove []*corev1.Pod
	nodeNames := map[string]bool{}
	for _, n := range nodes {
		nodeNames[n.Name] = true
		run, keep := shouldRun(n, ds)
		pods := byNode[n.Name]
		var active []*corev1.Pod
		for _, p := range pods {
			switch {
			case p.Status.Phase == corev1.PodFailed && p.DeletionTimestamp == nil:
				remove = append(remove, p)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, n.Name)
			case podActive(p):
				active = append(active, p)
			}
		}
		switch {
		case run && len(active) == 0 && !hasTerminating(pods):
			createOn = append(createOn, n.Name)
		case keep && len(active) > 1:
			sort.Sort(controllerutil.PodsByCreation(active))
			remove = append(remove, active[1:]...)
		case !keep:
			remove = append(remove, active...)
		}
	}
	// Pods pinned to nodes that no longer exist.
	for node, pods := range byNode {
		if !nodeNames[node] {
			for _, p := range pods {
				if podActive(p) {
					remove = append(remove, p)
				}
			}
		}
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		remove = append(remove, c.rollingVictims(ds, nodes, byNode, hash)...)
	}
	remove = dedup(remove)

	var errs []error
	if len(remove) > 0 {
		// Deletions first; creations follow on a later sync.
		keys := make([]string, len(remove))
		for i, p := range remove {
			keys[i] = controllerutil.PodKey(p)
		}
		c.expectations.ExpectDeletions(key, keys)
		for _, p := range remove {
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil {
				c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
				if !apierrors.IsNotFound(err) {
					c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					errs = append(errs, err)
				}
				continue
			}
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}
		return errors.Join(errs...)
	}
	if len(createOn) == 0 {
		return nil
	}
	c.expectations.ExpectCreations(key, len(createOn))
	ref := controllerutil.NewControllerRef(ds, dsKind)
	next := make(chan string, len(createOn))
	for _, n := range createOn {
		next <- n
	}
	close(next)
	created, err := controllerutil.SlowStartBatch(len(createOn), controllerutil.SlowStartInitialBatchSize, func() error {
		node := <-next
		pod := controllerutil.PodFromTemplate(&ds.Spec.Template, ds.Namespace, ds.Name, ref)
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Labels[RevisionHashLabel] = hash
		pod.Labels[templateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
		addTolerations(&pod.Spec)
		pinToNode(&pod.Spec, node)
		p, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.Name)
		return nil
	})
	for i := 0; i < len(createOn)-created; i++ {
		c.expectations.CreationObserved(key)
	}
	return err
}

func hasTerminating(pods []*corev1.Pod) bool {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			return true
		}
	}
	return false
}

func dedup(pods []*corev1.Pod) []*corev1.Pod {
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	for _, p := range pods {
		if !seen[p.UID] {
			seen[p.UID] = true
			out = append(out, p)
		}
	}
	return out
}

// rollingVictims picks old pods to replace: all old pods that are not
// available, then available ones while at most maxUnavailable nodes lack
// an available pod.
func (c *Controller) rollingVictims(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) []*corev1.Pod {
	now := c.clock.Now()
	desired := 0
	unavailable := 0
	var oldAvailable, oldUnavailable []*corev1.Pod
	for _, n := range nodes {
		run, _ := shouldRun(n, ds)
		if !run {
			continue
		}
		desired++
		var active *corev1.Pod
		for _, p := range byNode[n.Name] {
			if podActive(p) {
				active = p
				break
			}
		}
		if active == nil {
			unavailable++
			continue
		}
		avail := controllerutil.IsPodAvailable(active, ds.Spec.MinReadySeconds, now)
		if !avail {
			unavailable++
		}
		if active.Labels[RevisionHashLabel] == hash {
			continue
		}
		if avail {
			oldAvailable = append(oldAvailable, active)
		} else {
			oldUnavailable = append(oldUnavailable, active)
		}
	}
	maxUnavailable := 1
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true)
		if err == nil {
			maxUnavailable = v
		}
	}
	if maxUnavailable == 0 {
		maxUnavailable = 1
	}
	victims := append([]*corev1.Pod(nil), oldUnavailable...)
	sort.Sort(controllerutil.PodsByCreation(oldAvailable))
	for _, p := range oldAvailable {
		if unavailable >= maxUnavailable {
			break
		}
		victims = append(victims, p)
		unavailable++
	}
	return victims
}

// updateStatus writes the DaemonSet's status counts.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	now := c.clock.Now()
	var st appsv1.DaemonSetStatus
	for _, n := range nodes {
		run, _ := shouldRun(n, ds)
		var active []*corev1.Pod
		for _, p := range byNode[n.Name] {
			if podActive(p) {
				active = append(active, p)
			}
		}
		if run {
			st.DesiredNumberScheduled++
		}
		if len(active) == 0 {
			continue
		}
		if !run {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		sort.Sort(controllerutil.PodsByCreation(active))
		p := active[0]
		if controllerutil.IsPodReady(p) {
			st.NumberReady++
			if controllerutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		if hash != "" && p.Labels[RevisionHashLabel] == hash {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	st.ObservedGeneration = ds.Generation
	st.CollisionCount = ds.Status.CollisionCount
	st.Conditions = ds.Status.Conditions
	if ds.Spec.MinReadySeconds > 0 && st.NumberReady > st.NumberAvailable {
		c.queue.AddAfter(ds.Namespace+"/"+ds.Name, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if statusEqual(ds.Status, st) {
		return nil
	}
	ds.Status = st
	if _, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

func statusEqual(a, b appsv1.DaemonSetStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
