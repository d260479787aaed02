package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// TTL of every answer, in seconds.
const TTL = 5

// Config configures the server.
type Config struct {
	Client kubernetes.Interface
	// Domain is the cluster domain (default "cluster.local").
	Domain string
	// Listen is the UDP and TCP address to serve on (default
	// "10.43.0.10:53"); a port of 0 picks a free one, the same for both.
	Listen string
	// Upstreams are the resolvers ("host:port") for other names; nil
	// reads /etc/resolv.conf.
	Upstreams []string
	// PacketConn and Listener, when both set, are served instead of
	// binding Listen (sockets made elsewhere, e.g. in another network
	// namespace). Run closes them.
	PacketConn net.PacketConn
	Listener   net.Listener
	// Informers, when set, is shared with other components; Run starts it.
	Informers informers.SharedInformerFactory
	// Clients, when set, are the only sources answered (the pod range and the node itself);
	// others get REFUSED, so a node address never serves as an open resolver.
	Clients []netip.Prefix
	Logger  *slog.Logger
}

// Server is the cluster DNS server.
type Server struct {
	domain    string // fqdn, lower case
	listen    string
	upstreams []string
	log       *slog.Logger
	factory   informers.SharedInformerFactory
	services  cache.Indexer
	slices    cache.Indexer
	synced    []cache.InformerSynced
	client    *dns.Client

	clients  []netip.Prefix
	pc       net.PacketConn
	ln       net.Listener
	requests *prometheus.CounterVec
	ready    chan struct{}
	mu       sync.Mutex
	addr     string
}

const (
	indexServiceIP = "clusterIP"
	indexService   = "service"
	indexAddress   = "address"
)

// New validates cfg and registers informers; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("dns: Client is required")
	}
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if _, ok := dns.IsDomainName(cfg.Domain); !ok {
		return nil, fmt.Errorf("dns: bad domain %q", cfg.Domain)
	}
	if cfg.Listen == "" {
		cfg.Listen = "10.43.0.10:53"
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("dns: listen address: %w", err)
	}
	if cfg.Upstreams == nil {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("dns: upstreams: %w", err)
		}
		for _, s := range cc.Servers {
			cfg.Upstreams = append(cfg.Upstreams, net.JoinHostPort(s, cc.Port))
		}
	}
	// Never forward to ourselves (a resolv.conf naming the cluster DNS).
	cfg.Upstreams = slices.DeleteFunc(slices.Clone(cfg.Upstreams), func(u string) bool { return u == cfg.Listen })
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svcInf := cfg.Informers.Core().V1().Services().Informer()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices().Informer()
	if err := svcInf.AddIndexers(cache.Indexers{indexServiceIP: serviceIPs}); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if err := sliceInf.AddIndexers(cache.Indexers{indexService: sliceService, indexAddress: sliceAddresses}); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &Server{
		domain:    strings.ToLower(dns.Fqdn(cfg.Domain)),
		listen:    cfg.Listen,
		upstreams: cfg.Upstreams,
		log:       cfg.Logger,
		factory:   cfg.Informers,
		services:  svcInf.GetIndexer(),
		slices:    sliceInf.GetIndexer(),
		synced:    []cache.InformerSynced{svcInf.HasSynced, sliceInf.HasSynced},
		client:    &dns.Client{Timeout: 5 * time.Second},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bosun_dns_requests_total", Help: "DNS requests by who answered (cluster or upstream) and response code.",
		}, []string{"source", "rcode"}),
		clients: cfg.Clients,
		pc:      cfg.PacketConn,
		ln:      cfg.Listener,
		ready:   make(chan struct{}),
	}, nil
}

func serviceIPs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []string
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			out = append(out, a.String())
		}
	}
	return out, nil
}

func sliceService(obj any) ([]string, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || sl.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{sl.Namespace + "/" + sl.Labels[discoveryv1.LabelServiceName]}, nil
}

func sliceAddresses(obj any) ([]string, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, e := range sl.Endpoints {
		for _, a := range e.Addresses {
			if p, err := netip.ParseAddr(a); err == nil {
				out = append(out, p.String())
			}
		}
	}
	return out, nil
}

// Collectors returns the server's metrics, for the caller to register.
func (s *Server) Collectors() []prometheus.Collector { return []prometheus.Collector{s.requests} }

// Ready is closed once the server answers.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address served (valid once Ready is closed).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		if s.pc != nil {
			s.pc.Close()
		}
		if s.ln != nil {
			s.ln.Close()
		}
		return nil
	}
	pc, ln := s.pc, s.ln
	if pc == nil || ln == nil {
		var err error
		if pc, ln, err = listen(s.listen); err != nil {
			return fmt.Errorf("dns: %w", err)
		}
	}
	s.mu.Lock()
	s.addr = pc.LocalAddr().String()
	s.mu.Unlock()
	handler := dns.HandlerFunc(s.serve)
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	errc := make(chan error, 2)
	var err error
	var started sync.WaitGroup
	started.Add(2)
	udp.NotifyStartedFunc = started.Done
	tcp.NotifyStartedFunc = started.Done
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()
	go func() { started.Wait(); close(s.ready) }()
	s.log.Info("cluster DNS serving", "addr", s.addr, "domain", s.domain)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err1 := udp.ShutdownContext(sctx)
	err2 := tcp.ShutdownContext(sctx)
	if err != nil {
		return fmt.Errorf("dns: serve: %w", err)
	}
	if ctx.Err() == nil {
		return errors.Join(err1, err2)
	}
	return nil
}

// listen binds UDP and TCP on the same port.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt > 20 {
			return nil, nil, err
		}
	}
}
