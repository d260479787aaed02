package fence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

// Names of the fence's nftables objects.
const (
	TableName         = "bosun-fence"
	SetNodeSubnetsKey = "node-subnets"
	CounterService    = "svc-rejected"
	CounterPod        = "pod-rejected"
)

// Config configures a Fence.
type Config struct {
	// ServiceCIDR and PodCIDR are the cluster's ranges (same family).
	ServiceCIDR string
	PodCIDR     string
	// Client, when set, lets Run follow the Nodes' pod subnets.
	Client kubernetes.Interface
	// NetNSPath, when set, is the network namespace to program (a
	// /run/netns path); empty means the current one.
	NetNSPath string
	// KeepOnExit leaves the table in place when Run ends (pods that keep running after the
	// agent stops stay fenced; the next Install replaces the table).
	KeepOnExit bool
	Logger     *slog.Logger
}

// Fence owns the bosun-fence table.
type Fence struct {
	svc, pod netip.Prefix
	client   kubernetes.Interface
	nsPath   string
	keep     bool
	log      *slog.Logger

	ready     chan struct{}
	readyOnce sync.Once

	mu        sync.Mutex
	installed bool
	subnets   []netip.Prefix
}

// New validates cfg. It touches nothing.
func New(cfg Config) (*Fence, error) {
	svc, err := netip.ParsePrefix(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("fence: service CIDR: %w", err)
	}
	pod, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("fence: pod CIDR: %w", err)
	}
	if svc.Addr().Is4() != pod.Addr().Is4() {
		return nil, errors.New("fence: service and pod CIDRs must be of the same family")
	}
	if svc.Overlaps(pod) {
		return nil, fmt.Errorf("fence: service CIDR %s overlaps pod CIDR %s", svc, pod)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fence{svc: svc.Masked(), pod: pod.Masked(), client: cfg.Client, nsPath: cfg.NetNSPath, keep: cfg.KeepOnExit,
		log: log, ready: make(chan struct{})}, nil
}

// Rules returns the rules of the fence chain (for tests and logs).
func (f *Fence) Rules() []nftx.Rule {
	is6 := f.svc.Addr().Is6()
	return []nftx.Rule{
		{nftx.NfProto{IPv6: is6}, nftx.AddrIn{Field: nftx.Daddr, Prefix: f.svc}, nftx.CtStatusDNATSet{Not: true}, nftx.Goto{Chain: "reject-svc"}},
		{nftx.NfProto{IPv6: is6}, nftx.AddrIn{Field: nftx.Daddr, Prefix: f.pod}, nftx.AddrInSet{Field: nftx.Daddr, IPv6: is6, Set: SetNodeSubnetsKey, Not: true}, nftx.Goto{Chain: "reject-pod"}},
	}
}

func rejectRules(counter string) []nftx.Rule {
	return []nftx.Rule{
		{nftx.CounterRef{Name: counter}},
		{nftx.L4Proto{Proto: 6}, nftx.RejectTCPReset{}},
		{nftx.RejectAdminProhibited{}},
	}
}

func (f *Fence) conn() (*nftables.Conn, func(), error) {
	return nftx.Conn(f.nsPath)
}

func (f *Fence) table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

func (f *Fence) set() *nftables.Set {
	kt := nftables.TypeIPAddr
	if f.pod.Addr().Is6() {
		kt = nftables.TypeIP6Addr
	}
	return &nftables.Set{Table: f.table(), Name: SetNodeSubnetsKey, KeyType: kt, Interval: true}
}

// Install creates (or atomically replaces) the fence table.
func (f *Fence) Install(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	defer done()
	t := f.table()
	// add + delete + add: replaces an old table in one transaction
	// whether or not it exists.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	c.AddObj(&nftables.CounterObj{Table: t, Name: CounterService})
	c.AddObj(&nftables.CounterObj{Table: t, Name: CounterPod})
	b := &nftx.Batch{Conn: c, Table: t}
	if err := b.AddSet(f.set(), elements(f.subnets)); err != nil {
		return fmt.Errorf("fence: set: %w", err)
	}
	chains := map[string]*nftables.Chain{}
	for _, name := range []string{"reject-svc", "reject-pod", "fence"} {
		chains[name] = c.AddChain(&nftables.Chain{Name: name, Table: t})
	}
	accept := nftables.ChainPolicyAccept
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"forward", nftables.ChainHookForward}, {"output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Name: h.name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: h.hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		if err := b.AddRule(ch, nftx.Rule{nftx.Jump{Chain: "fence"}}); err != nil {
			return fmt.Errorf("fence: %w", err)
		}
	}
	add := func(chain string, rules []nftx.Rule) error {
		for _, r := range rules {
			if err := b.AddRule(chains[chain], r); err != nil {
				return fmt.Errorf("fence: %w", err)
			}
		}
		return nil
	}
	if err := errors.Join(add("reject-svc", rejectRules(CounterService)), add("reject-pod", rejectRules(CounterPod)), add("fence", f.Rules())); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("fence: install table: %w", err)
	}
	f.installed = true
	return nil
}

// elements turns prefixes into interval set elements.
func elements(ps []netip.Prefix) []nftables.SetElement {
	var out []nftables.SetElement
	for _, p := range ps {
		first, last := rangeOf(p)
		out = append(out, nftables.SetElement{Key: first.AsSlice()})
		if next := last.Next(); next.IsValid() {
			out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

func rangeOf(p netip.Prefix) (first, last netip.Addr) {
	first = p.Masked().Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	return first, last
}

// normalize drops prefixes of the wrong family or outside the pod range,
// and prefixes contained in others, and sorts the rest, so the interval set
// never receives overlapping elements.
func (f *Fence) normalize(in []netip.Prefix) []netip.Prefix {
	var ps []netip.Prefix
	for _, p := range in {
		p = p.Masked()
		if p.Addr().Is4() != f.pod.Addr().Is4() || !f.pod.Overlaps(p) || p.Bits() < f.pod.Bits() {
			continue
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// SetNodeSubnets makes subnets the pod subnets traffic may go to, replacing
// the previous list. Before Install it only records them.
func (f *Fence) SetNodeSubnets(subnets []netip.Prefix) error {
	ps := f.normalize(subnets)
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Equal(ps, f.subnets) {
		return nil
	}
	if !f.installed {
		f.subnets = ps
		return nil
	}
	c, done, err := f.conn()
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	defer done()
	s := f.set()
	c.FlushSet(s)
	if len(ps) > 0 {
		if err := c.SetAddElements(s, elements(ps)); err != nil {
			return fmt.Errorf("fence: subnets: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("fence: update subnets: %w", err)
	}
	f.subnets = ps
	return nil
}

// Remove deletes the fence table (nothing if it is absent).
func (f *Fence) Remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	defer done()
	t := f.table()
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("fence: remove table: %w", err)
	}
	f.installed = false
	return nil
}

// Counters returns how many packets the fence refused for the service and
// the pod range since Install.
func (f *Fence) Counters() (svcRejected, podRejected uint64, err error) {
	c, done, err := f.conn()
	if err != nil {
		return 0, 0, fmt.Errorf("fence: %w", err)
	}
	defer done()
	read := func(name string) (uint64, error) {
		o, err := c.GetObject(&nftables.CounterObj{Table: f.table(), Name: name})
		if err != nil {
			return 0, fmt.Errorf("fence: counter %s: %w", name, err)
		}
		switch o := o.(type) {
		case *nftables.CounterObj:
			return o.Packets, nil
		case *nftables.NamedObj:
			if ctr, ok := o.Obj.(*expr.Counter); ok {
				return ctr.Packets, nil
			}
		}
		return 0, fmt.Errorf("fence: counter %s: unexpected object %T", name, o)
	}
	svc, err := read(CounterService)
	if err != nil {
		return 0, 0, err
	}
	pod, err := read(CounterPod)
	return svc, pod, err
}

// Ready is closed once Run has installed the fence and, with a Client, set
// the node subnets known when the Node informer synced.
func (f *Fence) Ready() <-chan struct{} { return f.ready }

// WaitReady blocks until Ready is closed or ctx ends; it fits the agent's
// BeforeFirstPod hook.
func (f *Fence) WaitReady(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fence: not installed: %w", ctx.Err())
	}
}

func (f *Fence) markReady() { f.readyOnce.Do(func() { close(f.ready) }) }

// Run installs the fence, keeps node-subnets in step with the Nodes'
// spec.podCIDRs when a Client is configured, and removes the table when ctx
// ends.
func (f *Fence) Run(ctx context.Context) error {
	if err := f.Install(ctx); err != nil {
		return err
	}
	f.log.Info("network fence installed", "serviceCIDR", f.svc, "podCIDR", f.pod)
	if f.client != nil {
		factory := informers.NewSharedInformerFactory(f.client, 0)
		nodes := factory.Core().V1().Nodes()
		kick := make(chan struct{}, 1)
		notify := func(any) {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: notify, DeleteFunc: notify, UpdateFunc: func(_, n any) { notify(n) },
		}); err != nil {
			return errors.Join(fmt.Errorf("fence: node handler: %w", err), f.Remove())
		}
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		lister := nodes.Lister()
		if cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
			notify(nil)
		}
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-kick:
			}
			if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
				break loop
			}
			list, err := lister.List(labels.Everything())
			if err != nil {
				f.log.Error("fence: list nodes", "err", err)
				continue
			}
			if err := f.SetNodeSubnets(NodeSubnets(list)); err != nil {
				f.log.Error("fence: update node subnets", "err", err)
				time.AfterFunc(time.Second, func() { notify(nil) })
				continue
			}
			f.markReady()
		}
	} else {
		f.markReady()
		<-ctx.Done()
	}
	if f.keep {
		f.log.Info("network fence kept for the pods that keep running")
		return nil
	}
	if err := f.Remove(); err != nil {
		return err
	}
	f.log.Info("network fence removed")
	return nil
}

// NodeSubnets collects the pod subnets of nodes.
func NodeSubnets(nodes []*corev1.Node) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range nodes {
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
