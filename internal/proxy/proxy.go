package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

// Config configures a Proxy.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// NodeIPs are the addresses node ports answer on (with 127.0.0.1).
	// Empty: every local address.
	NodeIPs     []netip.Addr
	ServiceCIDR string
	PodCIDR     string
	// NetNSPath, when set, is the network namespace to program (a
	// /run/netns path); empty means the current one.
	NetNSPath string
	// MinSyncInterval is the least time between the starts of two syncs;
	// changes arriving meanwhile are written together. Zero (the
	// default) adapts it to twice the last sync's duration, so the proxy
	// answers at once while syncs are cheap and spends at most about half
	// a core under constant churn.
	MinSyncInterval time.Duration
	Logger          *slog.Logger
}

// Proxy programs the bosun-proxy nftables table from Services and
// EndpointSlices.
type Proxy struct {
	cfg     Config
	podCIDR netip.Prefix
	log     *slog.Logger
	prog    *programmer

	ready     chan struct{}
	readyOnce sync.Once
	metrics   metrics

	mu        sync.Mutex
	syncs     int
	writes    int
	lastError error
}

// New validates cfg. It touches nothing.
func New(cfg Config) (*Proxy, error) {
	if cfg.Client == nil {
		return nil, errors.New("proxy: Client is required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("proxy: NodeName is required")
	}
	if _, err := netip.ParsePrefix(cfg.ServiceCIDR); err != nil {
		return nil, fmt.Errorf("proxy: service CIDR: %w", err)
	}
	pod, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("proxy: pod CIDR: %w", err)
	}
	if !pod.Addr().Is4() {
		return nil, errors.New("proxy: only IPv4 pod CIDRs are supported")
	}
	if cfg.MinSyncInterval < 0 {
		return nil, errors.New("proxy: negative MinSyncInterval")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, podCIDR: pod.Masked(), log: log, ready: make(chan struct{}), metrics: newMetrics()}
	p.prog = &programmer{conn: p.conn}
	if len(cfg.NodeIPs) > 0 {
		p.prog.nodeIPs = slices.Clone(cfg.NodeIPs)
	}
	return p, nil
}

func (p *Proxy) conn() (*nftables.Conn, func(), error) {
	return nftx.Conn(p.cfg.NetNSPath)
}

// Syncs returns how many syncs have succeeded (for tests and metrics).
func (p *Proxy) Syncs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.syncs
}

// Ready is closed after the first successful sync: every Service known
// when the informers synced is programmed.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// LastError returns the error of the last sync (nil when it succeeded), for
// health checks.
func (p *Proxy) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastError
}

// Writes returns how many syncs had something to write to the kernel.
func (p *Proxy) Writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// Run watches Services and EndpointSlices and keeps the table in step until
// ctx ends, then removes it.
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.enableRouteLocalnet(); err != nil {
		return err
	}
	// As kube-proxy: services handed to another proxy and the slices of
	// headless services are not even cached.
	svcFactory := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "!" + labelServiceProxyName
	}))
	sliceFactory := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "!" + corev1.IsHeadlessService
	}))
	svcInf := svcFactory.Core().V1().Services()
	sliceInf := sliceFactory.Discovery().V1().EndpointSlices()
	kick := make(chan struct{}, 1)
	notify := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: notify, DeleteFunc: notify, UpdateFunc: func(_, n any) { notify(n) }}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("proxy: event handler: %w", err)
		}
	}
	svcFactory.Start(ctx.Done())
	sliceFactory.Start(ctx.Done())
	defer svcFactory.Shutdown()
	defer sliceFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced) {
		return p.shutdown(nil)
	}
	notify(nil)
	retry := time.Second
	var last time.Time
	var took time.Duration
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return p.shutdown(nil)
		case <-kick:
		}
		// Gather the burst this event belongs to (a Service and its
		// EndpointSlice arrive together), and keep syncs MinSyncInterval
		// apart.
		interval := p.cfg.MinSyncInterval
		if interval == 0 {
			interval = 2 * took
		}
		wait := syncDebounce
		if d := interval - time.Since(last); d > wait {
			wait = d
		}
		if !sleep(wait) {
			return p.shutdown(nil)
		}
		select {
		case <-kick:
		default:
		}
		last = time.Now()
		err := p.sync(svcInf.Lister(), sliceInf.Lister())
		took = time.Since(last)
		p.metrics.syncSeconds.Observe(took.Seconds())
		if err != nil {
			p.metrics.syncErrors.Inc()
		}
		p.mu.Lock()
		p.lastError = err
		p.mu.Unlock()
		if err != nil {
			p.log.Error("proxy sync failed", "err", err)
			notify(nil)
			if !sleep(retry) {
				return p.shutdown(nil)
			}
			retry = min(2*retry, 30*time.Second)
		} else {
			retry = time.Second
		}
	}
}

// syncDebounce is how long a sync waits after the event that triggers it.
const syncDebounce = 5 * time.Millisecond

func (p *Proxy) shutdown(err error) error {
	if rmErr := p.prog.remove(); rmErr != nil {
		return errors.Join(err, rmErr)
	}
	p.log.Info("service proxy rules removed")
	return err
}

// sync computes the desired state from the listers and writes it.
func (p *Proxy) sync(services corelisters.ServiceLister, slices_ discoverylisters.EndpointSliceLister) error {
	svcs, err := services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("proxy: list services: %w", err)
	}
	// Sorted, so that conflicting external addresses resolve the same way
	// on every sync and every node.
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	in := ruleInput{PodCIDR: p.podCIDR, UseNodeIPSet: p.prog.nodeIPs != nil}
	for _, svc := range svcs {
		ports := servicePorts(svc)
		if len(ports) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
		sls, err := slices_.EndpointSlices(svc.Namespace).List(sel)
		if err != nil {
			return fmt.Errorf("proxy: list endpointslices: %w", err)
		}
		for i := range ports {
			in.Ports = append(in.Ports, portEndpoints{Port: ports[i], Endpoints: endpointsFor(&ports[i], sls, p.cfg.NodeName)})
		}
	}
	st := build(in)
	stale := staleUDPBetween(p.prog.applied, st)
	wrote, err := p.prog.write(st)
	if err != nil {
		return err
	}
	if !stale.empty() {
		if err := p.clearConntrack(stale); err != nil {
			// The rules are right; entries will time out. Say so and go on.
			p.log.Warn("proxy: stale UDP conntrack entries left", "err", err)
		}
	}
	p.readyOnce.Do(func() { close(p.ready) })
	if wrote {
		p.metrics.writes.Inc()
	}
	p.metrics.servicePorts.Set(float64(len(in.Ports)))
	p.mu.Lock()
	p.syncs++
	if wrote {
		p.writes++
	}
	p.mu.Unlock()
	return nil
}

// enableRouteLocalnet lets node ports answer on 127.0.0.1: without it the
// kernel drops packets from 127.0.0.1 routed to a pod.
func (p *Proxy) enableRouteLocalnet() error {
	write := func() error {
		return os.WriteFile("/proc/sys/net/ipv4/conf/all/route_localnet", []byte("1"), 0o644)
	}
	if p.cfg.NetNSPath == "" {
		if err := write(); err != nil {
			return fmt.Errorf("proxy: route_localnet: %w", err)
		}
		return nil
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("proxy: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(p.cfg.NetNSPath)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("proxy: %w", err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("proxy: enter netns: %w", err)
	}
	werr := write()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("proxy: leave netns: %w", err) // thread stays locked and dies
	}
	runtime.UnlockOSThread()
	if werr != nil {
		return fmt.Errorf("proxy: route_localnet: %w", werr)
	}
	return nil
}

// describe renders a state as text, chain by chain (for tests and debug
// logs).
func describe(st *state) string {
	var b strings.Builder
	for _, name := range sortedKeys(st.Chains) {
		fmt.Fprintf(&b, "chain %s\n", name)
		for _, r := range st.Chains[name] {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	for _, k := range sortedKeys(st.ServiceIPs) {
		fmt.Fprintf(&b, "service-ips %s : goto %s\n", k, st.ServiceIPs[k].Chain)
	}
	for _, k := range sortedKeys(st.NodePorts) {
		fmt.Fprintf(&b, "service-nodeports %s : goto %s\n", k, st.NodePorts[k].Chain)
	}
	for _, k := range sortedKeys(st.NoEndpoints) {
		fmt.Fprintf(&b, "no-endpoint-services %s : goto %s\n", k, st.NoEndpoints[k].Chain)
	}
	for _, k := range sortedKeys(st.NoEndpointPorts) {
		fmt.Fprintf(&b, "no-endpoint-nodeports %s : goto %s\n", k, st.NoEndpointPorts[k].Chain)
	}
	for _, k := range sortedKeys(st.Affinity) {
		fmt.Fprintf(&b, "set %s timeout %s\n", k, st.Affinity[k])
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
