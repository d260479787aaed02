// Package servicealloc hands out Service ClusterIPs from the service CIDR and NodePorts from
// their range, as the API server's admission of Services does upstream.
//
// State is kept in memory and rebuilt from the stored Services when the server starts, so
// nothing leaks across restarts: an address is in use exactly when a stored Service holds it.
// Every allocation is owned by a Service (namespace/name), which makes Allocate idempotent for
// retried updates; Repair frees what no stored Service holds any more (for example after a
// write that failed after admission).
package servicealloc

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Config configures an Allocator.
type Config struct {
	ServiceCIDR   netip.Prefix
	NodePortFirst int // default 30000
	NodePortLast  int // default 32767
	Now           func() time.Time
}

// Allocator assigns ClusterIPs and NodePorts.
type Allocator struct {
	cfg   Config
	first netip.Addr // first assignable address (network address + 1)
	size  int        // assignable addresses

	mu    sync.Mutex
	ips   map[netip.Addr]owner
	ports map[int]owner
}

type owner struct {
	key  string // namespace/name
	when time.Time
}

// ErrFull means the range has no free address or port left.
var ErrFull = errors.New("range is full")

// New returns an empty allocator for the configured ranges.
func New(cfg Config) (*Allocator, error) {
	if !cfg.ServiceCIDR.IsValid() || !cfg.ServiceCIDR.Addr().Is4() {
		return nil, fmt.Errorf("servicealloc: invalid IPv4 service CIDR %v", cfg.ServiceCIDR)
	}
	if cfg.NodePortFirst == 0 {
		cfg.NodePortFirst, cfg.NodePortLast = 30000, 32767
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	bits := 32 - cfg.ServiceCIDR.Bits()
	if bits < 2 {
		return nil, fmt.Errorf("servicealloc: service CIDR %v is too small", cfg.ServiceCIDR)
	}
	size := (1 << bits) - 2 // no network or broadcast address
	return &Allocator{cfg: cfg, first: cfg.ServiceCIDR.Masked().Addr().Next(), size: size,
		ips: map[netip.Addr]owner{}, ports: map[int]owner{}}, nil
}

// ServiceIP returns the n-th assignable address of the range (0 is the `kubernetes` service's,
// 9 the DNS service's).
func (a *Allocator) ServiceIP(n int) netip.Addr {
	return offset(a.first, n)
}

func offset(ip netip.Addr, n int) netip.Addr {
	b := ip.As4()
	v := new(big.Int).SetBytes(b[:])
	v.Add(v, big.NewInt(int64(n)))
	out := v.FillBytes(make([]byte, 4))
	return netip.AddrFrom4([4]byte(out))
}

func key(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// Allocate fills and reserves the ClusterIP and NodePorts of svc (created or updated; old is
// the stored version or nil). It returns field errors worded as upstream when a requested value
// is out of range or taken. With dryRun it checks without reserving.
func (a *Allocator) Allocate(svc, old *corev1.Service, dryRun bool) field.ErrorList {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := key(svc)
	var errs field.ErrorList
	var took []func()
	undo := func() {
		for _, f := range took {
			f()
		}
	}
	// ClusterIP
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		ip := svc.Spec.ClusterIP
		if ip == "" && old != nil && old.Spec.ClusterIP != "" && old.Spec.ClusterIP != corev1.ClusterIPNone {
			ip = old.Spec.ClusterIP
		}
		switch {
		case ip == corev1.ClusterIPNone:
			svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		case ip == "":
			got, err := a.nextIP()
			if err != nil {
				errs = append(errs, field.InternalError(field.NewPath("spec", "clusterIPs"), fmt.Errorf("failed to allocate a serviceIP: %w", err)))
				break
			}
			if !dryRun {
				a.ips[got] = owner{k, a.cfg.Now()}
				took = append(took, func() { delete(a.ips, got) })
			}
			svc.Spec.ClusterIP = got.String()
			svc.Spec.ClusterIPs = []string{got.String()}
		default:
			addr, err := netip.ParseAddr(ip)
			path := field.NewPath("spec", "clusterIPs")
			if err != nil {
				errs = append(errs, field.Invalid(path, []string{ip}, "must be a valid IP address"))
				break
			}
			if !a.inRange(addr) {
				errs = append(errs, field.Invalid(path, []string{ip}, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, a.cfg.ServiceCIDR)))
				break
			}
			if o, taken := a.ips[addr]; taken && o.key != k {
				errs = append(errs, field.Invalid(path, []string{ip}, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
				break
			}
			if _, mine := a.ips[addr]; !mine && !dryRun {
				a.ips[addr] = owner{k, a.cfg.Now()}
				took = append(took, func() { delete(a.ips, addr) })
			}
			svc.Spec.ClusterIP = addr.String()
			svc.Spec.ClusterIPs = []string{addr.String()}
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone && len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
		if svc.Spec.IPFamilyPolicy == nil {
			p := corev1.IPFamilyPolicySingleStack
			svc.Spec.IPFamilyPolicy = &p
		}
	}
	// NodePorts
	needPorts := svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeLoadBalancer && (svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
	oldPorts := map[string]int32{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				oldPorts[portKey(p)] = p.NodePort
			}
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if !needPorts {
			if p.NodePort != 0 && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
				p.NodePort = 0
			}
			continue
		}
		if p.NodePort == 0 {
			if prev, ok := oldPorts[portKey(*p)]; ok {
				p.NodePort = prev
			}
		}
		if p.NodePort == 0 {
			got, err := a.nextPort()
			if err != nil {
				errs = append(errs, field.InternalError(path, fmt.Errorf("failed to allocate a nodePort: %w", err)))
				continue
			}
			if !dryRun {
				a.ports[got] = owner{k, a.cfg.Now()}
				took = append(took, func() { delete(a.ports, got) })
			}
			p.NodePort = int32(got)
			continue
		}
		n := int(p.NodePort)
		if n < a.cfg.NodePortFirst || n > a.cfg.NodePortLast {
			errs = append(errs, field.Invalid(path, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.cfg.NodePortFirst, a.cfg.NodePortLast)))
			continue
		}
		if o, taken := a.ports[n]; taken && o.key != k {
			errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
			continue
		}
		if _, mine := a.ports[n]; !mine && !dryRun {
			a.ports[n] = owner{k, a.cfg.Now()}
			took = append(took, func() { delete(a.ports, n) })
		}
	}
	if len(errs) > 0 {
		undo()
	}
	return errs
}

func portKey(p corev1.ServicePort) string { return fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol) }

// Release frees everything svc holds.
func (a *Allocator) Release(svc *corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := key(svc)
	for ip, o := range a.ips {
		if o.key == k {
			delete(a.ips, ip)
		}
	}
	for p, o := range a.ports {
		if o.key == k {
			delete(a.ports, p)
		}
	}
}

// Rebuild replaces the state with what the given stored services hold.
func (a *Allocator) Rebuild(services []*corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ips, a.ports = map[netip.Addr]owner{}, map[int]owner{}
	a.hold(services, time.Time{})
}

func (a *Allocator) hold(services []*corev1.Service, when time.Time) {
	for _, svc := range services {
		k := key(svc)
		if addr, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && a.inRange(addr) {
			a.ips[addr] = owner{k, when}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				a.ports[int(p.NodePort)] = owner{k, when}
			}
		}
	}
}

// Repair frees allocations that no stored service holds and that are older than grace (so
// allocations of writes still in flight are kept).
func (a *Allocator) Repair(services []*corev1.Service, grace time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	held := &Allocator{ips: map[netip.Addr]owner{}, ports: map[int]owner{}, first: a.first, size: a.size, cfg: a.cfg}
	held.hold(services, time.Time{})
	cutoff := a.cfg.Now().Add(-grace)
	for ip, o := range a.ips {
		if h, ok := held.ips[ip]; (!ok || h.key != o.key) && o.when.Before(cutoff) {
			delete(a.ips, ip)
		}
	}
	for p, o := range a.ports {
		if h, ok := held.ports[p]; (!ok || h.key != o.key) && o.when.Before(cutoff) {
			delete(a.ports, p)
		}
	}
	for ip, o := range held.ips {
		if _, ok := a.ips[ip]; !ok {
			a.ips[ip] = o
		}
	}
	for p, o := range held.ports {
		if _, ok := a.ports[p]; !ok {
			a.ports[p] = o
		}
	}
}

func (a *Allocator) inRange(ip netip.Addr) bool {
	if !a.cfg.ServiceCIDR.Contains(ip) {
		return false
	}
	return ip != a.cfg.ServiceCIDR.Masked().Addr() && ip != offset(a.first, a.size)
}

// nextIP picks a random free address, skipping the first ten (reserved for well-known services
// as upstream's lower band is preferred for static assignment).
func (a *Allocator) nextIP() (netip.Addr, error) {
	const reserved = 10
	if len(a.ips) >= a.size {
		return netip.Addr{}, ErrFull
	}
	span := a.size - reserved
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		ip := offset(a.first, reserved+(start+i)%span)
		if _, taken := a.ips[ip]; !taken {
			return ip, nil
		}
	}
	return netip.Addr{}, ErrFull
}

func (a *Allocator) nextPort() (int, error) {
	span := a.cfg.NodePortLast - a.cfg.NodePortFirst + 1
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		p := a.cfg.NodePortFirst + (start+i)%span
		if _, taken := a.ports[p]; !taken {
			return p, nil
		}
	}
	return 0, ErrFull
}
