// Package server assembles the `bosun server` role: the control plane (internal/controlplane:
// certificates, etcd, storage, the API server) and, as ordinary API clients run beside it, the
// scheduler, the controllers, cluster DNS and — unless disabled — a local node.
//
// Start order: control plane ready → components. Shutdown runs the other way: components stop
// (leases released, the node's pods handled) before the API server and etcd.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/controller/manager"
	"github.com/bosun-k8s/bosun/internal/controlplane"
	"github.com/bosun-k8s/bosun/internal/dns"
	"github.com/bosun-k8s/bosun/internal/endpoints"
	"github.com/bosun-k8s/bosun/internal/nodeip"
	"github.com/bosun-k8s/bosun/internal/proxy/loadbalancer"
	"github.com/bosun-k8s/bosun/internal/scheduler"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// Config configures a server.
type Config struct {
	DataDir       string
	BindAddress   string // default 0.0.0.0
	HTTPSPort     int    // default 6443; -1 picks a free port (tests)
	EtcdEndpoints []string
	DisableAgent  bool
	ClusterCIDR   string // pods, default 10.42.0.0/16
	ServiceCIDR   string // default 10.43.0.0/16
	Logger        *slog.Logger
	// Components to run beside the API server; nil: all. An empty, non-nil slice runs the API
	// server alone.
	Components []string
	// NodeIP is this machine's address for the local node and cluster DNS; invalid: the source
	// address of the default route.
	NodeIP netip.Addr
	// ClusterDNS is the kube-dns Service address (default: the service CIDR's tenth address,
	// 10.43.0.10); ClusterDomain the cluster's DNS domain (default cluster.local).
	ClusterDNS    string
	ClusterDomain string
	// LoadBalancerPool holds the addresses LoadBalancer services get; empty: the node addresses.
	LoadBalancerPool []netip.Prefix
	// ContainerRuntimeEndpoint points the local node at a running containerd; empty: the node
	// supervises its own.
	ContainerRuntimeEndpoint string
	// CleanupOnExit makes the local node remove its pods and network on shutdown.
	CleanupOnExit bool
	// SchedulerScoring is LeastAllocated (default, spreads load) or MostAllocated (packs).
	SchedulerScoring string
	// StorageTuning overrides storage defaults (tests shorten bookmark intervals).
	StorageTuning func(*storage.Config)
}

// Server is a control plane with its components.
type Server struct {
	*controlplane.Server
	cfg Config
	log *slog.Logger
}

// DefaultDataDir is /var/lib/bosun for root, else ~/.bosun.
func DefaultDataDir() string { return controlplane.DefaultDataDir() }

// New validates the configuration and fills defaults; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.ClusterDNS == "" {
		p, err := netip.ParsePrefix(cfg.ServiceCIDR)
		if err != nil {
			return nil, fmt.Errorf("invalid service CIDR %q: %w", cfg.ServiceCIDR, err)
		}
		a := p.Masked().Addr()
		for i := 0; i < 10; i++ {
			a = a.Next()
		}
		cfg.ClusterDNS = a.String()
	}
	if !cfg.NodeIP.IsValid() {
		cfg.NodeIP = nodeip.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	cp, err := controlplane.New(controlplane.Config{
		DataDir: cfg.DataDir, BindAddress: cfg.BindAddress, HTTPSPort: cfg.HTTPSPort,
		EtcdEndpoints: cfg.EtcdEndpoints, ClusterCIDR: cfg.ClusterCIDR, ServiceCIDR: cfg.ServiceCIDR,
		NodeIP: cfg.NodeIP, Logger: cfg.Logger, StorageTuning: cfg.StorageTuning,
		Components: s.runComponents,
	})
	if err != nil {
		return nil, err
	}
	s.Server = cp
	if s.cfg.DataDir == "" {
		s.cfg.DataDir = controlplane.DefaultDataDir()
	}
	return s, nil
}

// Components bosun server runs beside the API server.
const (
	ComponentScheduler   = "scheduler"
	ComponentControllers = "controllers"
	ComponentDNS         = "dns"
	ComponentAgent       = "agent"
)

// DNSPort is where cluster DNS listens on the node address; the proxy sends 10.43.0.10:53
// there through the kube-dns Service.
const DNSPort = 10053

// AllComponents lists every component bosun server can run beside the API server.
func AllComponents() []string {
	return []string{ComponentScheduler, ComponentControllers, ComponentDNS, ComponentAgent}
}

func (s *Server) wants(name string) bool {
	if (name == ComponentAgent || name == ComponentDNS) && s.cfg.DisableAgent {
		return false // cluster DNS is reached through a node's service proxy
	}
	if s.cfg.Components == nil {
		return true
	}
	for _, c := range s.cfg.Components {
		if c == name {
			return true
		}
	}
	return false
}

// runComponents runs the control-plane components, each an ordinary API client, until ctx
// ends or one fails.
func (s *Server) runComponents(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	identity, _ := os.Hostname()
	g, ctx := errgroup.WithContext(ctx)
	if s.wants(ComponentScheduler) {
		// The scheduler binds and records an event per pod: its own client, with room for
		// hundreds of pods a second.
		schedCfg := rest.CopyConfig(cfg)
		schedCfg.QPS, schedCfg.Burst = 5000, 10000
		schedClient, err := kubernetes.NewForConfig(schedCfg)
		if err != nil {
			return err
		}
		sched, err := scheduler.New(scheduler.Config{Client: schedClient, Logger: s.log.With("component", "scheduler"),
			Scoring: s.cfg.SchedulerScoring, Identity: identity, LeaderElect: true})
		if err != nil {
			return fmt.Errorf("scheduler: %w", err)
		}
		g.Go(func() error { return sched.Run(ctx) })
	}
	if s.wants(ComponentControllers) {
		cm, err := manager.New(manager.Config{Client: client, RESTConfig: cfg, Logger: s.log.With("component", "controller-manager"),
			LeaderElect: true, Identity: identity, ClusterCIDR: s.cfg.ClusterCIDR})
		if err != nil {
			return fmt.Errorf("controller manager: %w", err)
		}
		g.Go(func() error { return cm.Run(ctx) })
		ep, err := endpoints.New(endpoints.Config{Client: client, Logger: s.log.With("component", "endpoints")})
		if err != nil {
			return fmt.Errorf("endpoints controllers: %w", err)
		}
		g.Go(func() error { return ep.Run(ctx) })
		lb, err := loadbalancer.New(loadbalancer.Config{Client: client, Pool: s.cfg.LoadBalancerPool, Logger: s.log.With("component", "loadbalancer")})
		if err != nil {
			return fmt.Errorf("load balancer controller: %w", err)
		}
		g.Go(func() error { return lb.Run(ctx) })
	}
	nodeIP := s.cfg.NodeIP
	if s.wants(ComponentDNS) {
		listen := netip.AddrPortFrom(nodeIP, DNSPort)
		// Answer pods and the node itself only: the node address must not be an open resolver.
		clients := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.PrefixFrom(nodeIP, nodeIP.BitLen())}
		if p, err := netip.ParsePrefix(s.cfg.ClusterCIDR); err == nil {
			clients = append(clients, p)
		}
		d, err := dns.New(dns.Config{Client: client, Domain: s.cfg.ClusterDomain, Listen: listen.String(), Clients: clients,
			Logger: s.log.With("component", "dns")})
		if err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		g.Go(func() error { return d.Run(ctx) })
		g.Go(func() error {
			return dns.EnsureKubeDNS(ctx, client, netip.MustParseAddr(s.cfg.ClusterDNS), []netip.AddrPort{listen})
		})
	}
	if s.wants(ComponentAgent) {
		n, err := s.newNode(cfg, nodeIP)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		g.Go(func() error { return n.Run(ctx) })
	}
	g.Go(func() error { <-ctx.Done(); return nil })
	return g.Wait()
}
