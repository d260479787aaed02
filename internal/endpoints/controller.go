package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Names of the controllers, as in logs.
const (
	EndpointsName = "endpoints"
	SliceName     = "endpointslice"
	MirrorName    = "endpointslicemirroring"
)

// Upstream's managed-by values and labels.
const (
	ManagedBySlices    = "endpointslice-controller.k8s.io"
	ManagedByMirroring = "endpointslicemirroring-controller.k8s.io"
	LabelSkipMirror    = "endpointslice.kubernetes.io/skip-mirror"
	LabelHeadless      = "service.kubernetes.io/headless"
)

// Config configures the controllers.
type Config struct {
	Client kubernetes.Interface
	// Informers, when set, is shared with other controllers; Run starts
	// it (starting a started factory only starts new informers).
	Informers informers.SharedInformerFactory
	// Workers per controller (default 4).
	Workers int
	Logger  *slog.Logger
}

// Controller runs the Endpoints, EndpointSlice and mirroring controllers.
type Controller struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	workers int
	log     *slog.Logger

	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced

	epQueue, sliceQueue, mirrorQueue workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("endpoints: Client is required")
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svcInf := cfg.Informers.Core().V1().Services()
	podInf := cfg.Informers.Core().V1().Pods()
	epInf := cfg.Informers.Core().V1().Endpoints()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices()
	c := &Controller{
		client: cfg.Client, factory: cfg.Informers, workers: cfg.Workers, log: cfg.Logger,
		services: svcInf.Lister(), pods: podInf.Lister(), endpoints: epInf.Lister(), slices: sliceInf.Lister(),
		synced: []cache.InformerSynced{
			svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
			epInf.Informer().HasSynced, sliceInf.Informer().HasSynced,
		},
		epQueue:     controllerutil.NewQueue(EndpointsName),
		sliceQueue:  controllerutil.NewQueue(SliceName),
		mirrorQueue: controllerutil.NewQueue(MirrorName),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.enqueueAll, UpdateFunc: func(_, n any) { c.enqueueAll(n) }, DeleteFunc: c.enqueueAll}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.podChanged, UpdateFunc: c.podUpdated, DeleteFunc: c.podChanged}},
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.endpointsChanged, UpdateFunc: func(_, n any) { c.endpointsChanged(n) }, DeleteFunc: c.endpointsChanged}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: c.sliceChanged, UpdateFunc: func(_, n any) { c.sliceChanged(n) }, DeleteFunc: c.sliceChanged}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpoints: %w", err)
		}
	}
	return c, nil
}

// Run runs the three controllers until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.factory.Start(ctx.Done())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return controllerutil.RunWorkers(ctx, c.log, EndpointsName, c.epQueue, c.workers, c.syncEndpoints, c.synced...)
	})
	g.Go(func() error {
		return controllerutil.RunWorkers(ctx, c.log, SliceName, c.sliceQueue, c.workers, c.syncSlices, c.synced...)
	})
	g.Go(func() error {
		return controllerutil.RunWorkers(ctx, c.log, MirrorName, c.mirrorQueue, c.workers, c.syncMirror, c.synced...)
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// enqueueAll queues the namespace/name key of a Service in every
// controller.
func (c *Controller) enqueueAll(obj any) {
	key, ok := controllerutil.KeyOf(obj)
	if !ok {
		return
	}
	c.epQueue.Add(key)
	c.sliceQueue.Add(key)
	c.mirrorQueue.Add(key)
}

// endpointsChanged queues an Endpoints object's service for the Endpoints
// controller (to repair changes made by others) and for mirroring; the
// slice controller does not read Endpoints.
func (c *Controller) endpointsChanged(obj any) {
	key, ok := controllerutil.KeyOf(obj)
	if !ok {
		return
	}
	c.epQueue.Add(key)
	c.mirrorQueue.Add(key)
}

func (c *Controller) sliceChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	svc := sl.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return
	}
	key := sl.Namespace + "/" + svc
	switch sl.Labels[discoveryv1.LabelManagedBy] {
	case ManagedBySlices:
		c.sliceQueue.Add(key)
	case ManagedByMirroring:
		c.mirrorQueue.Add(key)
	}
}

func (c *Controller) podUpdated(old, cur any) {
	o, ok1 := old.(*corev1.Pod)
	n, ok2 := cur.(*corev1.Pod)
	if ok1 && ok2 && !endpointRelevantChange(o, n) {
		return
	}
	c.podChanged(cur)
	if ok1 && ok2 && !labels.Equals(o.Labels, n.Labels) {
		c.podChanged(old)
	}
}

// endpointRelevantChange reports whether an update changes anything the
// controllers read from a pod (most pod updates, say container restarts
// counted in the status, do not).
func endpointRelevantChange(o, n *corev1.Pod) bool {
	if !labels.Equals(o.Labels, n.Labels) || o.Status.PodIP != n.Status.PodIP || isPodReady(o) != isPodReady(n) ||
		o.Status.Phase != n.Status.Phase || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
		o.Spec.NodeName != n.Spec.NodeName || o.Spec.Hostname != n.Spec.Hostname || o.Spec.Subdomain != n.Spec.Subdomain ||
		len(o.Status.PodIPs) != len(n.Status.PodIPs) {
		return true
	}
	for i := range o.Status.PodIPs {
		if o.Status.PodIPs[i].IP != n.Status.PodIPs[i].IP {
			return true
		}
	}
	// Named ports resolve against the containers' ports.
	return !equality.Semantic.DeepEqual(containerPorts(o), containerPorts(n))
}

func containerPorts(p *corev1.Pod) [][]corev1.ContainerPort {
	out := make([][]corev1.ContainerPort, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		out[i] = c.Ports
	}
	return out
}

// podChanged queues the services whose selector matches the pod.
func (c *Controller) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	svcs, err := c.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	set := labels.Set(pod.Labels)
	for _, s := range svcs {
		if s.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(set) {
			key := s.Namespace + "/" + s.Name
			c.epQueue.Add(key)
			c.sliceQueue.Add(key)
		}
	}
}

// selectedPods lists the pods of svc's selector.
func (c *Controller) selectedPods(svc *corev1.Service) ([]*corev1.Pod, error) {
	pods, err := c.pods.Pods(svc.Namespace).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return pods, nil
}
