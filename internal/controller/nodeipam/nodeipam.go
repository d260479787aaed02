package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

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

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "nodeipam"

// Defaults for Config.
const (
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultMaskSize    = 24
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// ClusterCIDR is the pod range to split (default 10.42.0.0/16).
	ClusterCIDR string
	// NodeMaskSize is each Node's block size (default 24).
	NodeMaskSize int
}

// Controller allocates pod CIDRs to Nodes.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	lister   corelisters.NodeLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	mu       sync.Mutex
	set      *cidrSet
	assigned map[string]*net.IPNet // node name → block this controller gave it
	loaded   bool
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("nodeipam: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if cfg.NodeMaskSize == 0 {
		cfg.NodeMaskSize = DefaultMaskSize
	}
	_, cluster, err := net.ParseCIDR(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: cluster CIDR: %w", err)
	}
	set, err := newCIDRSet(cluster, cfg.NodeMaskSize)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	inf := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name),
		lister: inf.Lister(), synced: inf.Informer().HasSynced, queue: controllerutil.NewQueue(Name),
		set: set, assigned: map[string]*net.IPNet{},
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.deleteNode,
	}); err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR == "" {
		c.queue.Add(n.Name)
	}
}

func (c *Controller) deleteNode(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if n, ok = tomb.Obj.(*corev1.Node); !ok {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		return
	}
	for _, s := range podCIDRs(n) {
		if _, cidr, err := net.ParseCIDR(s); err == nil {
			_ = c.set.release(cidr)
		}
	}
	if cidr, ok := c.assigned[n.Name]; ok {
		_ = c.set.release(cidr)
		delete(c.assigned, n.Name)
	}
}

func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// Run rebuilds the used set from the existing Nodes, then allocates until
// ctx ends. One worker: allocation is serial by design.
func (c *Controller) Run(ctx context.Context, _ int) error {
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced) {
		return ctx.Err()
	}
	if err := c.load(); err != nil {
		return err
	}
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, 1, c.sync, c.synced)
}

// load marks the blocks of every existing Node used.
func (c *Controller) load() error {
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("nodeipam: list nodes: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		for _, s := range podCIDRs(n) {
			_, cidr, err := net.ParseCIDR(s)
			if err != nil {
				continue
			}
			if err := c.set.occupy(cidr); err != nil {
				c.log.Warn("node has a pod CIDR outside the cluster CIDR", "node", n.Name, "cidr", s, "err", err)
			}
		}
	}
	c.loaded = true
	return nil
}

// sync gives Node name a block if it has none.
func (c *Controller) sync(ctx context.Context, name string) error {
	n, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Spec.PodCIDR != "" {
		c.mu.Lock()
		delete(c.assigned, name)
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	cidr, ok := c.assigned[name]
	if !ok {
		cidr, err = c.set.allocateNext()
		if err != nil {
			c.mu.Unlock()
			c.recorder.Eventf(n, corev1.EventTypeNormal, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
			return fmt.Errorf("allocate pod CIDR for node %s: %w", name, err)
		}
		c.assigned[name] = cidr
	}
	c.mu.Unlock()

	patch, err := json.Marshal(map[string]any{"spec": map[string]any{
		"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()},
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		_ = c.set.release(cidr)
		delete(c.assigned, name)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		c.recorder.Eventf(n, corev1.EventTypeWarning, "CIDRAssignmentFailed", "Node %s status is now: CIDRAssignmentFailed", name)
		return fmt.Errorf("set pod CIDR of node %s: %w", name, err)
	}
	c.log.Info("assigned pod CIDR", "node", name, "cidr", cidr.String())
	return nil
}
