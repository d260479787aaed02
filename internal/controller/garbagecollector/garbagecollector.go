package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "garbagecollector"

// Config configures the collector.
type Config struct {
	Metadata metadata.Interface
	// Resources lists the server's resources (preferred versions); default:
	// discovery through Discovery.
	Resources func() ([]*metav1.APIResourceList, error)
	Discovery discovery.DiscoveryInterface
	Logger    *slog.Logger
	// RediscoverPeriod is how often new resources are looked for (default 30s).
	RediscoverPeriod time.Duration
	// SyncTimeout bounds the wait for the first sync of all monitors before
	// the collector starts acting (default 60s).
	SyncTimeout time.Duration
}

// mapping is what the collector knows of one kind.
type mapping struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// GarbageCollector is the garbage collector.
type GarbageCollector struct {
	meta             metadata.Interface
	resources        func() ([]*metav1.APIResourceList, error)
	log              *slog.Logger
	rediscoverPeriod time.Duration
	syncTimeout      time.Duration

	factory metadatainformer.SharedInformerFactory

	mapMu    sync.RWMutex
	kinds    map[schema.GroupKind]mapping
	monitors map[schema.GroupVersionResource]cache.SharedIndexInformer

	graphMu sync.RWMutex
	nodes   map[types.UID]*node

	graphChanges    workqueue.TypedInterface[*event]
	attemptToDelete workqueue.TypedRateLimitingInterface[string]
	attemptToOrphan workqueue.TypedRateLimitingInterface[string]

	absentMu sync.Mutex
	absent   map[types.UID]struct{}
}

// New validates cfg. It starts nothing.
func New(cfg Config) (*GarbageCollector, error) {
	if cfg.Metadata == nil {
		return nil, errors.New("garbagecollector: Metadata is required")
	}
	if cfg.Resources == nil {
		if cfg.Discovery == nil {
			return nil, errors.New("garbagecollector: Resources or Discovery is required")
		}
		d := cfg.Discovery
		cfg.Resources = func() ([]*metav1.APIResourceList, error) { return discovery.ServerPreferredResources(d) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RediscoverPeriod == 0 {
		cfg.RediscoverPeriod = 30 * time.Second
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = 60 * time.Second
	}
	return &GarbageCollector{
		meta:             cfg.Metadata,
		resources:        cfg.Resources,
		log:              cfg.Logger.With("controller", Name),
		rediscoverPeriod: cfg.RediscoverPeriod,
		syncTimeout:      cfg.SyncTimeout,
		factory:          metadatainformer.NewSharedInformerFactory(cfg.Metadata, 0),
		kinds:            map[schema.GroupKind]mapping{},
		monitors:         map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		nodes:            map[types.UID]*node{},
		graphChanges:     workqueue.NewTyped[*event](),
		attemptToDelete:  controllerutil.NewQueue("garbage_collector_attempt_to_delete"),
		attemptToOrphan:  controllerutil.NewQueue("garbage_collector_attempt_to_orphan"),
		absent:           map[types.UID]struct{}{},
	}, nil
}

// ignored reports resources that are never collected.
func ignored(gr schema.GroupResource) bool {
	switch gr.Group {
	case "authorization.k8s.io", "authentication.k8s.io":
		return true
	case "", "events.k8s.io":
		return gr.Resource == "events" || (gr.Group == "" && (gr.Resource == "bindings" || gr.Resource == "componentstatuses"))
	}
	return false
}

// discover refreshes the kind mappings and starts monitors for new
// resources.
func (gc *GarbageCollector) discover(stop <-chan struct{}) error {
	lists, err := gc.resources()
	if err != nil && (!discovery.IsGroupDiscoveryFailedError(err) || len(lists) == 0) {
		return fmt.Errorf("garbagecollector: discovery: %w", err)
	}
	gc.mapMu.Lock()
	defer gc.mapMu.Unlock()
	added := 0
	for _, rl := range lists {
		gv, perr := schema.ParseGroupVersion(rl.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range rl.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			gc.kinds[gk] = mapping{gvr: gvr, namespaced: r.Namespaced}
			if ignored(gvr.GroupResource()) {
				continue
			}
			if !hasVerbs(r.Verbs, "list", "watch", "delete") {
				continue
			}
			if _, ok := gc.monitors[gvr]; ok {
				continue
			}
			gvk := gv.WithKind(r.Kind)
			inf := gc.factory.ForResource(gvr).Informer()
			if _, herr := inf.AddEventHandler(gc.handler(gvk)); herr != nil {
				return fmt.Errorf("garbagecollector: monitor %s: %w", gvr, herr)
			}
			gc.monitors[gvr] = inf
			added++
		}
	}
	if added > 0 {
		gc.factory.Start(stop)
	}
	return err
}

func hasVerbs(verbs metav1.Verbs, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(verbs, w) {
			return false
		}
	}
	return true
}

func (gc *GarbageCollector) handler(gvk schema.GroupVersionKind) cache.ResourceEventHandler {
	push := func(typ eventType, obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return
		}
		gc.graphChanges.Add(&event{typ: typ, gvk: gvk, obj: m})
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { push(addEvent, obj) },
		UpdateFunc: func(_, obj any) { push(updateEvent, obj) },
		DeleteFunc: func(obj any) { push(deleteEvent, obj) },
	}
}

func (gc *GarbageCollector) synced() bool {
	gc.mapMu.RLock()
	defer gc.mapMu.RUnlock()
	for _, inf := range gc.monitors {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Run discovers resources, builds the graph, and collects garbage with
// workers goroutines per queue until ctx ends.
func (gc *GarbageCollector) Run(ctx context.Context, workers int) error {
	defer gc.attemptToDelete.ShutDown()
	defer gc.attemptToOrphan.ShutDown()
	defer gc.graphChanges.ShutDown()
	defer gc.factory.Shutdown()

	if err := gc.discover(ctx.Done()); err != nil {
		gc.log.Warn("initial discovery incomplete", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for gc.processGraphChange() {
		}
	}()
	syncCtx, cancel := context.WithTimeout(ctx, gc.syncTimeout)
	if !cache.WaitForCacheSync(syncCtx.Done(), gc.synced) && ctx.Err() == nil {
		gc.log.Warn("not every monitor synced; collecting anyway", "timeout", gc.syncTimeout)
	}
	cancel()
	if ctx.Err() != nil {
		gc.graphChanges.ShutDown()
		wg.Wait()
		return nil
	}
	// Let the initial events reach the graph before acting on it.
	for gc.graphChanges.Len() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	gc.log.Info("garbage collector started", "resources", len(gc.monitors), "workers", workers)
	for i := 0; i < workers; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for gc.processQueue(ctx, gc.attemptToDelete, gc.attemptToDeleteItem) {
			}
		}()
		go func() {
			defer wg.Done()
			for gc.processQueue(ctx, gc.attemptToOrphan, gc.attemptToOrphanItem) {
			}
		}()
	}
	ticker := time.NewTicker(gc.rediscoverPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			gc.attemptToDelete.ShutDown()
			gc.attemptToOrphan.ShutDown()
			gc.graphChanges.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C:
			if err := gc.discover(ctx.Done()); err != nil {
				gc.log.Debug("rediscovery incomplete", "err", err)
			}
		}
	}
}

func (gc *GarbageCollector) processQueue(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], fn func(context.Context, types.UID) error) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	err := fn(ctx, types.UID(key))
	switch {
	case err == nil:
		q.Forget(key)
	case q.NumRequeues(key) < controllerutil.MaxRetries:
		gc.log.Debug("retrying", "uid", key, "err", err)
		q.AddRateLimited(key)
	default:
		gc.log.Warn("giving up on object", "uid", key, "err", err)
		q.Forget(key)
	}
	return true
}

// processGraphChange folds one event into the graph.
func (gc *GarbageCollector) processGraphChange() bool {
	e, quit := gc.graphChanges.Get()
	if quit {
		return false
	}
	defer gc.graphChanges.Done(e)
	obj := e.obj
	gc.graphMu.Lock()
	defer gc.graphMu.Unlock()
	existing := gc.nodes[obj.UID]
	if existing != nil && existing.virtual && e.typ != deleteEvent {
		existing.virtual = false
		existing.ref = objectRef{gvk: e.gvk, namespace: obj.Namespace, name: obj.Name, uid: obj.UID}
	}
	switch {
	case e.typ != deleteEvent && existing == nil:
		n := &node{
			ref:        objectRef{gvk: e.gvk, namespace: obj.Namespace, name: obj.Name, uid: obj.UID},
			owners:     append([]metav1.OwnerReference(nil), obj.OwnerReferences...),
			dependents: map[*node]struct{}{},
		}
		gc.setDeletionState(n, obj)
		gc.nodes[n.ref.uid] = n
		gc.linkOwners(n, n.owners)
		gc.processTransitions(n)
	case e.typ != deleteEvent:
		added, removed, changed := ownersDiff(existing.owners, obj.OwnerReferences)
		if len(added)+len(removed)+len(changed) > 0 {
			// An owner waiting for its dependents may be unblocked now.
			for _, r := range append(removed, changed...) {
				if o := gc.nodes[r.UID]; o != nil && o.deletingDependents {
					gc.attemptToDelete.Add(string(o.ref.uid))
				}
			}
			for _, r := range removed {
				if o := gc.nodes[r.UID]; o != nil {
					delete(o.dependents, existing)
				}
			}
			existing.owners = append([]metav1.OwnerReference(nil), obj.OwnerReferences...)
			gc.linkOwners(existing, added)
		}
		gc.setDeletionState(existing, obj)
		gc.processTransitions(existing)
	case existing == nil:
		// Deletion of an object never observed.
	default:
		if e.virtual && !existing.virtual {
			// The object was observed meanwhile; keep it.
			return true
		}
		delete(gc.nodes, existing.ref.uid)
		for _, r := range existing.owners {
			if o := gc.nodes[r.UID]; o != nil {
				delete(o.dependents, existing)
				if o.deletingDependents {
					gc.attemptToDelete.Add(string(o.ref.uid))
				}
			}
		}
		for dep := range existing.dependents {
			gc.attemptToDelete.Add(string(dep.ref.uid))
		}
		gc.rememberAbsent(existing.ref.uid)
	}
	return true
}

func (gc *GarbageCollector) setDeletionState(n *node, obj *metav1.PartialObjectMetadata) {
	n.finalizers = append([]string(nil), obj.Finalizers...)
	n.beingDeleted = obj.DeletionTimestamp != nil
	n.deletingDependents = n.beingDeleted && n.hasFinalizer(metav1.FinalizerDeleteDependents)
}

// linkOwners records n as a dependent of each of refs, creating virtual
// owners that have not been observed (and asking for them to be checked).
func (gc *GarbageCollector) linkOwners(n *node, refs []metav1.OwnerReference) {
	for _, r := range refs {
		o := gc.nodes[r.UID]
		if o == nil {
			gv, _ := schema.ParseGroupVersion(r.APIVersion)
			ns := n.ref.namespace
			if m, ok := gc.mappingFor(gv.WithKind(r.Kind)); ok && !m.namespaced {
				ns = ""
			}
			o = &node{
				ref:        objectRef{gvk: gv.WithKind(r.Kind), namespace: ns, name: r.Name, uid: r.UID},
				dependents: map[*node]struct{}{},
				virtual:    true,
			}
			gc.nodes[r.UID] = o
			gc.attemptToDelete.Add(string(r.UID))
		}
		o.dependents[n] = struct{}{}
		if o.deletingDependents {
			// Its owner is deleting dependents in the foreground: so is it.
			gc.attemptToDelete.Add(string(n.ref.uid))
		}
	}
}

// processTransitions queues work for objects being deleted with the
// orphan or foreground policies.
func (gc *GarbageCollector) processTransitions(n *node) {
	if !n.beingDeleted {
		return
	}
	if n.hasFinalizer(metav1.FinalizerOrphanDependents) {
		gc.attemptToOrphan.Add(string(n.ref.uid))
	}
	if n.deletingDependents {
		for dep := range n.dependents {
			gc.attemptToDelete.Add(string(dep.ref.uid))
		}
		gc.attemptToDelete.Add(string(n.ref.uid))
	}
}

func (gc *GarbageCollector) mappingFor(gvk schema.GroupVersionKind) (mapping, bool) {
	gc.mapMu.RLock()
	defer gc.mapMu.RUnlock()
	m, ok := gc.kinds[gvk.GroupKind()]
	return m, ok
}

func (gc *GarbageCollector) rememberAbsent(uid types.UID) {
	gc.absentMu.Lock()
	defer gc.absentMu.Unlock()
	if len(gc.absent) > 10000 {
		clear(gc.absent)
	}
	gc.absent[uid] = struct{}{}
}

func (gc *GarbageCollector) knownAbsent(uid types.UID) bool {
	gc.absentMu.Lock()
	defer gc.absentMu.Unlock()
	_, ok := gc.absent[uid]
	return ok
}

// errUnknownKind means an object's kind has no resource the collector knows.
var errUnknownKind = errors.New("unknown kind")

func (gc *GarbageCollector) client(ref objectRef) (metadata.ResourceInterface, error) {
	m, ok := gc.mappingFor(ref.gvk)
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref.gvk, errUnknownKind)
	}
	if m.namespaced {
		return gc.meta.Resource(m.gvr).Namespace(ref.namespace), nil
	}
	return gc.meta.Resource(m.gvr), nil
}

// getLive reads ref from the API; nil without error if it is gone or has
// been replaced by another object of the same name.
func (gc *GarbageCollector) getLive(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	c, err := gc.client(ref)
	if err != nil {
		return nil, err
	}
	obj, err := c.Get(ctx, ref.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s/%s: %w", ref.gvk.Kind, ref.namespace, ref.name, err)
	}
	if obj.UID != ref.uid {
		return nil, nil
	}
	return obj, nil
}

type ownerState int

const (
	solid ownerState = iota
	dangling
	waiting
)

// classifyOwner decides whether the owner behind ref (of an object in
// namespace ns) exists, is gone, or is deleting its dependents first.
func (gc *GarbageCollector) classifyOwner(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerState, error) {
	if gc.knownAbsent(ref.UID) {
		return dangling, nil
	}
	gc.graphMu.RLock()
	o := gc.nodes[ref.UID]
	var known, deleting bool
	if o != nil && !o.virtual {
		known, deleting = true, o.deletingDependents
	}
	gc.graphMu.RUnlock()
	if known {
		if deleting {
			return waiting, nil
		}
		return solid, nil
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return dangling, nil
	}
	gvk := gv.WithKind(ref.Kind)
	m, ok := gc.mappingFor(gvk)
	if !ok {
		// A kind the server does not serve (yet): keep the reference.
		return solid, nil
	}
	if !m.namespaced {
		ns = ""
	}
	live, err := gc.getLive(ctx, objectRef{gvk: gvk, namespace: ns, name: ref.Name, uid: ref.UID})
	if err != nil {
		return solid, err
	}
	if live == nil {
		gc.rememberAbsent(ref.UID)
		return dangling, nil
	}
	if live.DeletionTimestamp != nil && slices.Contains(live.Finalizers, metav1.FinalizerDeleteDependents) {
		return waiting, nil
	}
	return solid, nil
}

// attemptToDeleteItem decides the fate of one object (see the package doc).
func (gc *GarbageCollector) attemptToDeleteItem(ctx context.Context, uid types.UID) error {
	gc.graphMu.RLock()
	n := gc.nodes[uid]
	if n == nil {
		gc.graphMu.RUnlock()
		return nil
	}
	ref, virtual, beingDeleted, deletingDeps := n.ref, n.virtual, n.beingDeleted, n.deletingDependents
	hasDependents := len(n.dependents) > 0
	var depsDeleting bool
	for d := range n.dependents {
		depsDeleting = depsDeleting || d.deletingDependents
	}
	gc.graphMu.RUnlock()

	if virtual {
		return gc.checkVirtual(ctx, ref)
	}
	if beingDeleted && !deletingDeps {
		return nil
	}
	if deletingDeps {
		return gc.processDeletingDependents(ctx, uid)
	}
	latest, err := gc.getLive(ctx, ref)
	if errors.Is(err, errUnknownKind) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest == nil {
		gc.graphChanges.Add(&event{typ: deleteEvent, gvk: ref.gvk, obj: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: uid, Namespace: ref.namespace, Name: ref.name}}, virtual: true})
		return nil
	}
	if latest.DeletionTimestamp != nil && slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return gc.processDeletingDependents(ctx, uid)
	}
	if len(latest.OwnerReferences) == 0 {
		return nil
	}
	var solidRefs, danglingRefs, waitingRefs []metav1.OwnerReference
	for _, r := range latest.OwnerReferences {
		st, err := gc.classifyOwner(ctx, latest.Namespace, r)
		if err != nil {
			return err
		}
		switch st {
		case solid:
			solidRefs = append(solidRefs, r)
		case dangling:
			danglingRefs = append(danglingRefs, r)
		case waiting:
			waitingRefs = append(waitingRefs, r)
		}
	}
	c, err := gc.client(ref)
	if err != nil {
		return nil
	}
	switch {
	case len(solidRefs) > 0:
		if len(danglingRefs)+len(waitingRefs) == 0 {
			return nil
		}
		drop := map[types.UID]bool{}
		for _, r := range append(danglingRefs, waitingRefs...) {
			drop[r.UID] = true
		}
		var keep []metav1.OwnerReference
		for _, r := range latest.OwnerReferences {
			if !drop[r.UID] {
				keep = append(keep, r)
			}
		}
		return gc.patchOwners(ctx, c, latest, keep)
	case len(waitingRefs) > 0 && hasDependents:
		if depsDeleting {
			// A dependent is itself deleting its dependents: unblock our
			// owners rather than deadlock.
			refs := append([]metav1.OwnerReference(nil), latest.OwnerReferences...)
			f := false
			for i := range refs {
				for _, w := range waitingRefs {
					if refs[i].UID == w.UID {
						refs[i].BlockOwnerDeletion = &f
					}
				}
			}
			if err := gc.patchOwners(ctx, c, latest, refs); err != nil {
				return err
			}
		}
		return gc.deleteObject(ctx, c, latest, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return gc.deleteObject(ctx, c, latest, policy)
	}
}

// checkVirtual drops a virtual node whose object does not exist, so its
// dependents are collected.
func (gc *GarbageCollector) checkVirtual(ctx context.Context, ref objectRef) error {
	live, err := gc.getLive(ctx, ref)
	if errors.Is(err, errUnknownKind) {
		// Treat as absent only if the kind is truly unknown to the server.
		return nil
	}
	if err != nil {
		return err
	}
	if live != nil {
		return nil
	}
	gc.rememberAbsent(ref.uid)
	gc.graphChanges.Add(&event{typ: deleteEvent, gvk: ref.gvk, obj: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: ref.uid, Namespace: ref.namespace, Name: ref.name}}, virtual: true})
	return nil
}

// processDeletingDependents finishes a foreground deletion once nothing
// blocks it, or pushes the blocking dependents along.
func (gc *GarbageCollector) processDeletingDependents(ctx context.Context, uid types.UID) error {
	gc.graphMu.RLock()
	n := gc.nodes[uid]
	if n == nil {
		gc.graphMu.RUnlock()
		return nil
	}
	ref := n.ref
	var pending []types.UID
	blocking := n.blockingDependents()
	for _, d := range blocking {
		if !d.deletingDependents {
			pending = append(pending, d.ref.uid)
		}
	}
	gc.graphMu.RUnlock()
	if len(blocking) == 0 {
		return gc.removeFinalizer(ctx, ref, metav1.FinalizerDeleteDependents)
	}
	for _, d := range pending {
		gc.attemptToDelete.Add(string(d))
	}
	return nil
}

// attemptToOrphanItem removes an owner's reference from its dependents,
// then its orphan finalizer.
func (gc *GarbageCollector) attemptToOrphanItem(ctx context.Context, uid types.UID) error {
	gc.graphMu.RLock()
	n := gc.nodes[uid]
	if n == nil {
		gc.graphMu.RUnlock()
		return nil
	}
	ref := n.ref
	var deps []objectRef
	for d := range n.dependents {
		deps = append(deps, d.ref)
	}
	gc.graphMu.RUnlock()
	for _, d := range deps {
		c, err := gc.client(d)
		if err != nil {
			continue
		}
		live, err := gc.getLive(ctx, d)
		if err != nil {
			return err
		}
		if live == nil {
			continue
		}
		var keep []metav1.OwnerReference
		found := false
		for _, r := range live.OwnerReferences {
			if r.UID == uid {
				found = true
				continue
			}
			keep = append(keep, r)
		}
		if !found {
			continue
		}
		if err := gc.patchOwners(ctx, c, live, keep); err != nil {
			return err
		}
	}
	return gc.removeFinalizer(ctx, ref, metav1.FinalizerOrphanDependents)
}

// patchOwners sets obj's ownerReferences to refs, guarded by obj's
// resourceVersion.
func (gc *GarbageCollector) patchOwners(ctx context.Context, c metadata.ResourceInterface, obj *metav1.PartialObjectMetadata, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": refs, "resourceVersion": obj.ResourceVersion, "uid": obj.UID,
	}})
	if err != nil {
		return err
	}
	_, err = c.Patch(ctx, obj.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update owner references of %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	return nil
}

func (gc *GarbageCollector) removeFinalizer(ctx context.Context, ref objectRef, finalizer string) error {
	c, err := gc.client(ref)
	if err != nil {
		return nil
	}
	live, err := gc.getLive(ctx, ref)
	if err != nil || live == nil {
		return err
	}
	var keep []string
	for _, f := range live.Finalizers {
		if f != finalizer {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(live.Finalizers) {
		return nil
	}
	if keep == nil {
		keep = []string{}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": keep, "resourceVersion": live.ResourceVersion, "uid": live.UID,
	}})
	if err != nil {
		return err
	}
	_, err = c.Patch(ctx, live.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove finalizer %s from %s/%s: %w", finalizer, live.Namespace, live.Name, err)
	}
	return nil
}

func (gc *GarbageCollector) deleteObject(ctx context.Context, c metadata.ResourceInterface, obj *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	uid := obj.UID
	err := c.Delete(ctx, obj.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete %s/%s: %w", obj.Namespace, obj.Name, err)
}
