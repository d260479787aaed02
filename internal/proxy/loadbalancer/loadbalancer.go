// Package loadbalancer is bosun's built-in load-balancer controller: it
// gives every Service of type LoadBalancer (without a loadBalancerClass)
// addresses in status.loadBalancer.ingress, which the service proxy on
// every node then serves.
//
// With a pool (Config.Pool), each service gets one address of its own,
// spec.loadBalancerIP when it asks for a free one in the pool, else the
// first free one; the assignment is kept in the status, so a restarted
// controller finds it again, and freed when the service goes or changes
// type. A service that finds the pool empty waits for an address to be
// freed. Without a pool, as k3s's ServiceLB, every service gets the
// addresses of the nodes (ExternalIP, else InternalIP).
package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name of the controller in logs.
const Name = "loadbalancer"

// Config configures the controller.
type Config struct {
	Client kubernetes.Interface
	// Pool holds the addresses to hand out (each prefix's every address);
	// empty: services get the nodes' addresses.
	Pool []netip.Prefix
	// Informers, when set, is shared; Run starts it.
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
}

// Controller assigns load-balancer addresses.
type Controller struct {
	client   kubernetes.Interface
	pool     []netip.Prefix
	factory  informers.SharedInformerFactory
	log      *slog.Logger
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	owner   map[netip.Addr]string // pool address → namespace/name
	waiting map[string]bool       // services the empty pool turned away
}

// New validates cfg and registers informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("loadbalancer: Client is required")
	}
	for _, p := range cfg.Pool {
		if !p.IsValid() {
			return nil, errors.New("loadbalancer: invalid pool prefix")
		}
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svcInf := cfg.Informers.Core().V1().Services()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	c := &Controller{
		client: cfg.Client, pool: cfg.Pool, factory: cfg.Informers, log: cfg.Logger,
		services: svcInf.Lister(), nodes: nodeInf.Lister(),
		synced:  []cache.InformerSynced{svcInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		queue:   controllerutil.NewQueue(Name),
		owner:   map[netip.Addr]string{},
		waiting: map[string]bool{},
	}
	enqueue := func(obj any) {
		if key, ok := controllerutil.KeyOf(obj); ok {
			c.queue.Add(key)
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("loadbalancer: %w", err)
	}
	if len(cfg.Pool) == 0 {
		all := func(any) { c.enqueueAll() }
		if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: all, UpdateFunc: func(_, n any) { all(n) }, DeleteFunc: all,
		}); err != nil {
			return nil, fmt.Errorf("loadbalancer: %w", err)
		}
	}
	return c, nil
}

func (c *Controller) enqueueAll() {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// Run assigns addresses until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	// Take back the assignments recorded in the statuses before handing
	// out anything.
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("loadbalancer: %w", err)
	}
	c.mu.Lock()
	for _, s := range svcs {
		if !wants(s) {
			continue
		}
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && c.inPool(a) {
				if _, taken := c.owner[a]; !taken {
					c.owner[a] = s.Namespace + "/" + s.Name
				}
			}
		}
	}
	c.mu.Unlock()
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, 2, c.sync, c.synced...)
}

func wants(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

func (c *Controller) inPool(a netip.Addr) bool {
	for _, p := range c.pool {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// release frees key's pool address and wakes the services waiting for one.
func (c *Controller) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	freed := false
	for a, k := range c.owner {
		if k == key {
			delete(c.owner, a)
			freed = true
		}
	}
	if freed {
		for k := range c.waiting {
			c.queue.Add(k)
		}
		clear(c.waiting)
	}
}

// assign returns key's pool address, taking one if it has none.
func (c *Controller) assign(key string, s *corev1.Service) (netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, k := range c.owner {
		if k == key {
			return a, true
		}
	}
	take := func(a netip.Addr) bool {
		if _, taken := c.owner[a]; taken || !c.inPool(a) {
			return false
		}
		c.owner[a] = key
		delete(c.waiting, key)
		return true
	}
	if a, err := netip.ParseAddr(s.Spec.LoadBalancerIP); err == nil && take(a) {
		return a, true
	}
	for _, p := range c.pool {
		p = p.Masked()
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			if p.Bits() < p.Addr().BitLen()-1 && (a == p.Addr() || !p.Contains(a.Next())) {
				continue // network and broadcast addresses of a subnet
			}
			if take(a) {
				return a, true
			}
		}
	}
	c.waiting[key] = true
	return netip.Addr{}, false
}

// nodeAddresses returns each node's ExternalIP, else InternalIP, sorted.
func (c *Controller) nodeAddresses() ([]netip.Addr, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, n := range nodes {
		var ext, in []netip.Addr
		for _, a := range n.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			switch a.Type {
			case corev1.NodeExternalIP:
				ext = append(ext, ip)
			case corev1.NodeInternalIP:
				in = append(in, ip)
			}
		}
		if len(ext) > 0 {
			out = append(out, ext...)
		} else {
			out = append(out, in...)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.release(key)
		return nil
	}
	if err != nil {
		return err
	}
	var want []corev1.LoadBalancerIngress
	switch {
	case !wants(s):
		c.release(key)
		if s.Spec.LoadBalancerClass != nil && s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			return nil // another implementation's
		}
	case len(c.pool) > 0:
		if a, ok := c.assign(key, s); ok {
			want = []corev1.LoadBalancerIngress{ingress(a)}
		}
	default:
		addrs, err := c.nodeAddresses()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			want = append(want, ingress(a))
		}
	}
	if sameIngress(s.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	upd := s.DeepCopy()
	upd.Status.LoadBalancer.Ingress = want
	if _, err := c.client.CoreV1().Services(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of %s: %w", key, err)
	}
	return nil
}

func ingress(a netip.Addr) corev1.LoadBalancerIngress {
	vip := corev1.LoadBalancerIPModeVIP
	return corev1.LoadBalancerIngress{IP: a.String(), IPMode: &vip}
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname
	})
}
