package statefulset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
const Name = "statefulset"

// Pod labels, as upstream.
const (
	PodNameLabel      = appsv1.StatefulSetPodNameLabel
	PodIndexLabel     = appsv1.PodIndexLabel
	RevisionHashLabel = appsv1.ControllerRevisionHashLabelKey
	defaultHistory    = 10
)

var stsKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Controller is the StatefulSet controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock

	setLister appslisters.StatefulSetLister
	crLister  appslisters.ControllerRevisionLister
	podLister corelisters.PodLister
	pvcLister corelisters.PersistentVolumeClaimLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("statefulset: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	setInf := cfg.Informers.Apps().V1().StatefulSets()
	crInf := cfg.Informers.Apps().V1().ControllerRevisions()
	podInf := cfg.Informers.Core().V1().Pods()
	pvcInf := cfg.Informers.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		setLister: setInf.Lister(), crLister: crInf.Lister(), podLister: podInf.Lister(), pvcLister: pvcInf.Lister(),
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, crInf.Informer().HasSynced,
			podInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		queue: controllerutil.NewQueue(Name),
	}
	if _, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
	}); err != nil {
		return nil, fmt.Errorf("statefulset: %w", err)
	}
	podEvent := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if p, ok := obj.(*corev1.Pod); ok {
			if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == stsKind.Kind {
				c.queue.Add(p.Namespace + "/" + ref.Name)
			}
		}
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    podEvent,
		UpdateFunc: func(_, n any) { podEvent(n) },
		DeleteFunc: podEvent,
	}); err != nil {
		return nil, fmt.Errorf("statefulset: %w", err)
	}
	return c, nil
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

// ordinalOf returns the ordinal of a pod named <set>-<n>.
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && controllerutil.IsPodReady(p)
}

// sync reconciles the StatefulSet named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	pods, err := c.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	if set.DeletionTimestamp != nil {
		return nil
	}
	cur, upd, err := c.syncRevisions(ctx, set, pods)
	if err != nil {
		return err
	}
	manageErr := c.manage(ctx, set, pods, cur, upd)
	// Status reflects the pods as last observed; the changes just made come
	// back as events and another sync.
	if err := c.updateStatus(ctx, set, pods, cur, upd); err != nil {
		return err
	}
	return manageErr
}

func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	m := controllerutil.NewPodRefManager(ctx, c.client, set, stsKind, sel, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	})
	var out []*corev1.Pod
	var errs []error
	for _, p := range all {
		if _, ok := ordinalOf(set, p); !ok {
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

type revision struct {
	name     string
	template corev1.PodTemplateSpec
}

func revisionPatch(set *appsv1.StatefulSet) ([]byte, error) {
	tmpl, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&set.Spec.Template)
	if err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// templateOf decodes a revision's template.
func templateOf(cr *appsv1.ControllerRevision) (corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	err := json.Unmarshal(cr.Data.Raw, &patch)
	return patch.Spec.Template, err
}

// syncRevisions returns the current and update revisions, creating the
// update revision (or renumbering a matching old one) and trimming unused
// old ones.
func (c *Controller) syncRevisions(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod) (cur, upd revision, err error) {
	data, err := revisionPatch(set)
	if err != nil {
		return cur, upd, err
	}
	hash := controllerutil.ComputeHash(&set.Spec.Template, set.Status.CollisionCount)
	all, err := c.crLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return cur, upd, err
	}
	var owned []*appsv1.ControllerRevision
	var match *appsv1.ControllerRevision
	var maxRev int64
	for _, cr := range all {
		if ref := metav1.GetControllerOfNoCopy(cr); ref == nil || ref.UID != set.UID {
			continue
		}
		owned = append(owned, cr)
		maxRev = max(maxRev, cr.Revision)
		if bytes.Equal(cr.Data.Raw, data) {
			match = cr
		}
	}
	switch {
	case match == nil:
		lbls := map[string]string{}
		for k, v := range set.Spec.Template.Labels {
			lbls[k] = v
		}
		lbls[RevisionHashLabel] = hash
		cr := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: set.Name + "-" + hash, Namespace: set.Namespace, Labels: lbls,
				OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(set, stsKind)}},
			Data: runtime.RawExtension{Raw: data}, Revision: maxRev + 1,
		}
		created, cerr := c.client.AppsV1().ControllerRevisions(set.Namespace).Create(ctx, cr, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(cerr) {
			if set.Status.CollisionCount == nil {
				set.Status.CollisionCount = new(int32)
			}
			*set.Status.CollisionCount++
			if _, uerr := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{}); uerr != nil {
				return cur, upd, uerr
			}
			return cur, upd, fmt.Errorf("controller revision %s exists with other data", cr.Name)
		}
		if cerr != nil {
			return cur, upd, fmt.Errorf("create controller revision: %w", cerr)
		}
		match = created
		owned = append(owned, created)
	case match.Revision < maxRev:
		cp := match.DeepCopy()
		cp.Revision = maxRev + 1
		if _, err := c.client.AppsV1().ControllerRevisions(set.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return cur, upd, fmt.Errorf("bump controller revision: %w", err)
		}
	}
	upd = revision{name: match.Name, template: set.Spec.Template}
	cur = upd
	for _, cr := range owned {
		if cr.Name == set.Status.CurrentRevision && cr.Name != upd.name {
			if t, err := templateOf(cr); err == nil {
				cur = revision{name: cr.Name, template: t}
			}
		}
	}
	// Trim unused revisions beyond the history limit.
	limit := defaultHistory
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	live := map[string]bool{cur.name: true, upd.name: true}
	for _, p := range pods {
		live[p.Labels[RevisionHashLabel]] = true
	}
	var old []*appsv1.ControllerRevision
	for _, cr := range owned {
		if !live[cr.Name] {
			old = append(old, cr)
		}
	}
	if extra := len(old) - limit; extra > 0 {
		sort.Slice(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
		for _, cr := range old[:extra] {
			if err := c.client.AppsV1().ControllerRevisions(set.Namespace).Delete(ctx, cr.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return cur, upd, err
			}
		}
	}
	return cur, upd, nil
}

// partition returns the RollingUpdate partition (0 by default).
func partition(set *appsv1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// manage creates, deletes and replaces pods; see the package doc.
func (c *Controller) manage(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, cur, upd revision) error {
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	start, n := startOrdinal(set), replicas(set)
	byOrdinal := map[int]*corev1.Pod{}
	var condemned []*corev1.Pod
	for _, p := range pods {
		o, _ := ordinalOf(set, p)
		if o >= start && o < start+n {
			byOrdinal[o] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	healthy := true
	for o := start; o < start+n; o++ {
		p := byOrdinal[o]
		switch {
		case p == nil:
			rev := upd
			if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && o-start < partition(set) {
				rev = cur
			}
			if err := c.createPod(ctx, set, o, rev); err != nil {
				return err
			}
			if ordered {
				return nil
			}
			healthy = false
		case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
			if p.DeletionTimestamp == nil {
				if err := c.deletePod(ctx, set, p, "delete"); err != nil {
					return err
				}
			}
			if ordered {
				return nil
			}
			healthy = false
		case p.DeletionTimestamp != nil, !runningAndReady(p):
			if ordered {
				return nil
			}
			healthy = false
		}
	}
	// Scale down: highest ordinal first.
	sort.Slice(condemned, func(i, j int) bool {
		a, _ := ordinalOf(set, condemned[i])
		b, _ := ordinalOf(set, condemned[j])
		return a > b
	})
	for _, p := range condemned {
		if p.DeletionTimestamp != nil {
			if ordered {
				return nil
			}
			continue
		}
		if ordered && !healthy {
			return nil
		}
		if retainPolicy(set).WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			if err := c.giveClaimsToPod(ctx, set, p); err != nil {
				return err
			}
		}
		if err := c.deletePod(ctx, set, p, "delete"); err != nil {
			return err
		}
		if ordered {
			return nil
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || !healthy {
		return nil
	}
	// Rolling update: highest ordinal down to the partition, one at a time.
	for o := start + n - 1; o >= start+partition(set); o-- {
		p := byOrdinal[o]
		if p == nil {
			return nil
		}
		if p.Labels[RevisionHashLabel] != upd.name {
			if p.DeletionTimestamp == nil {
				return c.deletePod(ctx, set, p, "update")
			}
			return nil
		}
		if !runningAndReady(p) {
			return nil
		}
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, ordinal int, rev revision) error {
	name := fmt.Sprintf("%s-%d", set.Name, ordinal)
	pod := controllerutil.PodFromTemplate(&rev.template, set.Namespace, set.Name, controllerutil.NewControllerRef(set, stsKind))
	pod.GenerateName = ""
	pod.Name = name
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[PodNameLabel] = name
	pod.Labels[PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[RevisionHashLabel] = rev.name
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	for _, tmpl := range set.Spec.VolumeClaimTemplates {
		claim := tmpl.Name + "-" + name
		if err := c.ensureClaim(ctx, set, tmpl, claim); err != nil {
			return err
		}
		vol := corev1.Volume{Name: tmpl.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
		replaced := false
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == tmpl.Name {
				pod.Spec.Volumes[i] = vol
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	if err != nil {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", name, set.Name, err)
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", name, set.Name)
	return nil
}

func (c *Controller) ensureClaim(ctx context.Context, set *appsv1.StatefulSet, tmpl corev1.PersistentVolumeClaim, name string) error {
	if _, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(name); err == nil {
		return nil
	}
	pvc := tmpl.DeepCopy()
	pvc.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: set.Namespace, Labels: map[string]string{},
		Annotations: tmpl.Annotations}
	for k, v := range tmpl.Labels {
		pvc.Labels[k] = v
	}
	if set.Spec.Selector != nil {
		for k, v := range set.Spec.Selector.MatchLabels {
			pvc.Labels[k] = v
		}
	}
	pvc.Status = corev1.PersistentVolumeClaimStatus{}
	if retainPolicy(set).WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		pvc.OwnerReferences = []metav1.OwnerReference{plainOwnerRef(set.Name, set.UID, stsKind.GroupVersion().String(), stsKind.Kind)}
	}
	_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
	if err == nil {
		c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s for Pod %s in StatefulSet %s success",
			name, strings.TrimPrefix(name, tmpl.Name+"-"), set.Name)
		return nil
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for StatefulSet %s failed error: %v", name, set.Name, err)
	return fmt.Errorf("create claim %s: %w", name, err)
}

func (c *Controller) deletePod(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod, why string) error {
	uid := p.UID
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err)
		return fmt.Errorf("%s pod %s: %w", why, p.Name, err)
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.Name, set.Name)
	return nil
}

// updateStatus writes replica counts and revisions.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, cur, upd revision) error {
	now := c.clock.Now()
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation, CollisionCount: set.Status.CollisionCount,
		CurrentRevision: cur.name, UpdateRevision: upd.name, Conditions: set.Status.Conditions,
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		st.Replicas++
		if runningAndReady(p) {
			st.ReadyReplicas++
			if controllerutil.IsPodAvailable(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		switch p.Labels[RevisionHashLabel] {
		case upd.name:
			st.UpdatedReplicas++
			if cur.name == upd.name {
				st.CurrentReplicas++
			}
		case cur.name:
			st.CurrentReplicas++
		}
	}
	// A finished rolling update makes the update revision current.
	if cur.name != upd.name && st.UpdatedReplicas == int32(replicas(set)) && st.ReadyReplicas == st.UpdatedReplicas &&
		st.Replicas == st.UpdatedReplicas {
		st.CurrentRevision = upd.name
		st.CurrentReplicas = st.UpdatedReplicas
	}
	ja, _ := json.Marshal(set.Status)
	jb, _ := json.Marshal(st)
	if bytes.Equal(ja, jb) {
		return nil
	}
	set.Status = st
	if _, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}

// retainPolicy returns the claim retention policy (Retain by default).
func retainPolicy(set *appsv1.StatefulSet) appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	if r := set.Spec.PersistentVolumeClaimRetentionPolicy; r != nil {
		if r.WhenDeleted != "" {
			p.WhenDeleted = r.WhenDeleted
		}
		if r.WhenScaled != "" {
			p.WhenScaled = r.WhenScaled
		}
	}
	return p
}

func plainOwnerRef(name string, uid types.UID, apiVersion, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid}
}

// giveClaimsToPod makes a condemned pod own its claims instead of the set,
// so the garbage collector removes them with it (whenScaled: Delete).
func (c *Controller) giveClaimsToPod(ctx context.Context, set *appsv1.StatefulSet, p *corev1.Pod) error {
	for _, tmpl := range set.Spec.VolumeClaimTemplates {
		name := tmpl.Name + "-" + p.Name
		pvc, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get claim %s: %w", name, err)
		}
		// The pod becomes the only owner among the two: the set lets go.
		owned := false
		var refs []metav1.OwnerReference
		for _, r := range pvc.OwnerReferences {
			owned = owned || r.UID == p.UID
			if r.UID != set.UID {
				refs = append(refs, r)
			}
		}
		if owned && len(refs) == len(pvc.OwnerReferences) {
			continue
		}
		if !owned {
			refs = append(refs, plainOwnerRef(p.Name, p.UID, "v1", "Pod"))
		}
		pvc.OwnerReferences = refs
		if _, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("hand claim %s to its pod: %w", name, err)
		}
	}
	return nil
}
