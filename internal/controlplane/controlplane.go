// Package controlplane assembles the API server side of `bosun server`: certificates, etcd
// (embedded or external), storage, the API server with its admission (service IPs) and
// kubelet proxy, and the objects every cluster starts with. The components that are API
// clients (scheduler, controllers, the local node) are run by internal/server through
// Config.Components, so they stop before the API does.
//
// Start order (each step waits for the one before, all run under one errgroup so the first
// failure stops everything):
//
//	certs + kubeconfig → listener → etcd ready → storage caches primed → HTTPS serving →
//	bootstrap objects (namespaces) → ready → components
package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/apiserver"
	"github.com/bosun-k8s/bosun/internal/certs"
	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/etcd"
	"github.com/bosun-k8s/bosun/internal/kubeletproxy"
	"github.com/bosun-k8s/bosun/internal/nodeip"
	"github.com/bosun-k8s/bosun/internal/openapi"
	"github.com/bosun-k8s/bosun/internal/rbac"
	"github.com/bosun-k8s/bosun/internal/registry/all"
	"github.com/bosun-k8s/bosun/internal/registry/groups"
	"github.com/bosun-k8s/bosun/internal/satoken"
	"github.com/bosun-k8s/bosun/internal/servicealloc"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// Config configures a server.
type Config struct {
	DataDir       string
	BindAddress   string // default 0.0.0.0
	HTTPSPort     int    // default 6443; -1 picks a free port (tests)
	EtcdEndpoints []string
	ClusterCIDR   string // pods, default 10.42.0.0/16
	ServiceCIDR   string // default 10.43.0.0/16
	// NodeIP is this machine's address, advertised as the kubernetes service's endpoint when
	// the API listens on every address; invalid: the source address of the default route.
	NodeIP netip.Addr
	Logger *slog.Logger
	// Components runs the API's clients once the API is ready, until ctx ends; the API keeps
	// serving until it returns. nil: none.
	Components func(ctx context.Context, admin *rest.Config) error
	// StorageTuning overrides storage defaults (tests shorten bookmark intervals).
	StorageTuning func(*storage.Config)
}

// Server is a running (or ready to run) control plane.
type Server struct {
	cfg   Config
	log   *slog.Logger
	ready chan struct{}

	mu         sync.Mutex
	url        string
	port       int
	restConfig *rest.Config
	kubeconfig string
	api        *apiserver.Server
	getter     storageGetter
	bound      boundObjects // for service account tokens
	rbacRes    rbacResources
	etcd       *etcd.Etcd
}

// DefaultDataDir is /var/lib/bosun for root, else ~/.bosun.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/bosun"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".bosun"
	}
	return filepath.Join(home, ".bosun")
}

// New validates the configuration and fills defaults; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	if cfg.BindAddress == "" {
		cfg.BindAddress = "0.0.0.0"
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = 6443
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if net.ParseIP(cfg.BindAddress) == nil {
		return nil, fmt.Errorf("invalid --bind-address %q", cfg.BindAddress)
	}
	for _, c := range []string{cfg.ClusterCIDR, cfg.ServiceCIDR} {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return nil, fmt.Errorf("invalid CIDR %q: %w", c, err)
		}
	}
	return &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}, nil
}

// Ready is closed once the API answers and the bootstrap objects exist.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// URL is the API server's address (valid after Ready).
func (s *Server) URL() string { s.mu.Lock(); defer s.mu.Unlock(); return s.url }

// KubeconfigPath is the admin kubeconfig written at start.
func (s *Server) KubeconfigPath() string { return filepath.Join(s.cfg.DataDir, "kubeconfig") }

// RESTConfig is an admin client configuration (valid after Ready).
func (s *Server) RESTConfig() *rest.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rest.CopyConfig(s.restConfig)
}

// Run starts everything and blocks until ctx ends or a part fails.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	tlsDir := filepath.Join(s.cfg.DataDir, "tls")
	ca, err := certs.LoadOrCreateCA(tlsDir, "bosun-server-ca")
	if err != nil {
		return err
	}
	ln, err := s.listen()
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s.port = port
	serving, err := ca.Issue(tlsDir, "serving", servingLeaf(s.cfg.ServiceCIDR))
	if err != nil {
		ln.Close()
		return err
	}
	if _, err := ca.Issue(tlsDir, "admin", certs.Leaf{CommonName: "system:admin", Organization: []string{"system:masters"}, Client: true}); err != nil {
		ln.Close()
		return err
	}
	kubeletClient, err := ca.Issue(tlsDir, "apiserver-kubelet-client", certs.Leaf{CommonName: "kube-apiserver-kubelet-client",
		Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		ln.Close()
		return err
	}
	saKey, err := certs.LoadOrCreateKey(filepath.Join(tlsDir, "service-account.key"))
	if err != nil {
		ln.Close()
		return err
	}
	issuer, err := satoken.New(saKey, "")
	if err != nil {
		ln.Close()
		return err
	}
	toks := &tokens{issuer: issuer, s: s, now: time.Now}
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	if err := ca.WriteKubeconfig(s.KubeconfigPath(), url, tlsDir, "admin"); err != nil {
		ln.Close()
		return err
	}
	restCfg := &rest.Config{
		Host: url,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   ca.CertPEM,
			CertFile: filepath.Join(tlsDir, "admin.crt"),
			KeyFile:  filepath.Join(tlsDir, "admin.key"),
		},
		QPS: 1000, Burst: 2000,
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		ln.Close()
		return fmt.Errorf("build scheme: %w", err)
	}
	toks.decoder = serializer.NewCodecFactory(scheme).UniversalDeserializer()
	et, err := etcd.New(etcd.Config{DataDir: filepath.Join(s.cfg.DataDir, "etcd"), Endpoints: s.cfg.EtcdEndpoints, Logger: s.log})
	if err != nil {
		ln.Close()
		return err
	}
	// Shutdown runs in the reverse order of start: components first (they release their
	// leases and stop their pods through the API), then the API server and storage, then etcd.
	signal := ctx
	g, ctx := errgroup.WithContext(ctx)
	etcdCtx, stopEtcd := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEtcd()
	g.Go(func() error {
		err := et.Run(etcdCtx)
		if ctx.Err() == nil && err == nil {
			err = errors.New("etcd stopped")
		}
		return err
	})
	g.Go(func() error {
		defer stopEtcd()
		defer ln.Close()
		select {
		case <-et.Ready():
		case <-ctx.Done():
			return nil
		}
		stCfg := storage.Config{Client: et.Client(), Scheme: scheme, Logger: s.log}
		if s.cfg.StorageTuning != nil {
			s.cfg.StorageTuning(&stCfg)
		}
		store, err := storage.New(stCfg)
		if err != nil {
			return err
		}
		reg := all.Registry()
		alloc, err := servicealloc.New(servicealloc.Config{ServiceCIDR: netip.MustParsePrefix(s.cfg.ServiceCIDR)})
		if err != nil {
			return err
		}
		svcAdmission := &serviceAdmission{alloc: alloc}
		subs := servedSubresources()
		oapi, err := openapi.New(reg, openapi.WithSubresources(subs...), openapi.WithLogger(s.log))
		if err != nil {
			return err
		}
		subresources := map[string]apiserver.SubresourceHandler{"serviceaccounts/token": toks.serveTokenRequest}
		podProxy, err := kubeletproxy.New(kubeletproxy.Config{
			Getter: &lazyGetter{s: s},
			TLS:    &tls.Config{Certificates: []tls.Certificate{kubeletClient}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
			Logger: s.log,
		})
		if err != nil {
			return err
		}
		for k, h := range podProxy.Handlers() {
			subresources[k] = h
		}
		api, err := apiserver.New(apiserver.Config{
			Subresources: subresources,
			Registry:     reg, Store: store, Scheme: scheme, Logger: s.log,
			Listener: ln, ServingCert: serving, ClientCA: ca.Pool(),
			Healthy:   et.Healthy,
			Discovery: discovery.New(reg, discovery.WithSubresources(subs...)),
			OpenAPIV2: http.HandlerFunc(oapi.ServeV2), OpenAPIV3: http.HandlerFunc(oapi.ServeV3),
			Extra: map[string]http.Handler{"/debug/pprof/": profiling()},
			Admit: svcAdmission.admit, Released: svcAdmission.released,
			AuthenticateToken: toks.authenticate,
			Mutate:            (&podAdmission{tokens: toks}).mutate,
			Authorizer:        serviceAccountAuthorizer{rbac: rbac.New(rbacStorage{s: s})},
			ReadyChecks: map[string]func() error{"poststarthook/bootstrap": func() error {
				select {
				case <-s.ready:
					return nil
				default:
					return errors.New("bootstrap objects not created yet")
				}
			}},
		})
		if err != nil {
			return err
		}
		podKind, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
		nodeKind, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("nodes"))
		s.mu.Lock()
		s.url, s.restConfig, s.api, s.etcd = url, restCfg, api, et
		s.getter = storageGetter{pods: api.Resource(podKind), nodes: api.Resource(nodeKind)}
		saKind, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("serviceaccounts"))
		secretKind, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("secrets"))
		s.bound = boundObjects{serviceAccounts: api.Resource(saKind), pods: api.Resource(podKind),
			secrets: api.Resource(secretKind), nodes: api.Resource(nodeKind)}
		rbacKind := func(resource string) *storage.Resource {
			k, _ := reg.Lookup(rbacv1.SchemeGroupVersion.WithResource(resource))
			return api.Resource(k)
		}
		s.rbacRes = rbacResources{clusterRoles: rbacKind("clusterroles"), roles: rbacKind("roles"),
			clusterRoleBindings: rbacKind("clusterrolebindings"), roleBindings: rbacKind("rolebindings")}
		s.mu.Unlock()
		sg, sctx := errgroup.WithContext(ctx)
		apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(sctx))
		defer stopAPI()
		go func() {
			<-sctx.Done()
			if signal.Err() == nil {
				stopAPI() // a part failed: stop at once
			}
		}()
		allocReady := make(chan struct{})
		sg.Go(func() error { return store.Run(apiCtx) })
		svcKind, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("services"))
		svcRes := api.Resource(svcKind)
		sg.Go(func() error {
			select {
			case <-store.Ready():
			case <-sctx.Done():
				return nil
			}
			svcs, err := storedServices(sctx, svcRes)
			if err != nil {
				return err
			}
			alloc.Rebuild(svcs)
			close(allocReady)
			return api.Serve(apiCtx)
		})
		sg.Go(func() error {
			select {
			case <-allocReady:
			case <-sctx.Done():
				return nil
			}
			return svcAdmission.repairLoop(sctx, svcRes)
		})
		sg.Go(func() error {
			defer stopAPI() // the API outlives the components
			select {
			case <-allocReady:
			case <-sctx.Done():
				return nil
			}
			if err := s.bootstrap(sctx, restCfg); err != nil {
				return err
			}
			close(s.ready)
			s.log.Info("bosun server is ready", "url", url, "kubeconfig", s.KubeconfigPath())
			if s.cfg.Components == nil {
				<-sctx.Done()
				return nil
			}
			return s.cfg.Components(sctx, restCfg)
		})
		return sg.Wait()
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (s *Server) listen() (net.Listener, error) {
	port := s.cfg.HTTPSPort
	if port < 0 {
		port = 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on %s:%d: %w", s.cfg.BindAddress, port, err)
	}
	return ln, nil
}

// advertiseAddress is the address the kubernetes service's endpoint points at: the bind
// address when it is a specific routable one, else the node address.
func (s *Server) advertiseAddress() netip.Addr {
	if a, err := netip.ParseAddr(s.cfg.BindAddress); err == nil && !a.IsUnspecified() && !a.IsLoopback() {
		return a
	}
	if s.cfg.NodeIP.IsValid() {
		return s.cfg.NodeIP
	}
	return nodeip.Default()
}

// servingLeaf names every address the API server is reached at.
func servingLeaf(serviceCIDR string) certs.Leaf {
	leaf := certs.Leaf{
		CommonName: "kube-apiserver",
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPs:    []net.IP{net.ParseIP("127.0.0.1")},
		Server: true,
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		leaf.DNSNames = append(leaf.DNSNames, h)
	}
	if ip := firstServiceIP(serviceCIDR); ip != nil {
		leaf.IPs = append(leaf.IPs, ip)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				leaf.IPs = append(leaf.IPs, ipn.IP)
			}
		}
	}
	return leaf
}

// firstServiceIP is the service CIDR's first address, the `kubernetes` service's ClusterIP.
func firstServiceIP(cidr string) net.IP {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil
	}
	ip := n.IP.To4()
	if ip == nil {
		return nil
	}
	out := append(net.IP(nil), ip...)
	out[3]++
	return out
}

// bootstrap creates the namespaces every cluster starts with.
func (s *Server) bootstrap(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := s.bootstrapNamespaces(ctx, client); err != nil {
		return err
	}
	// The system namespaces get their default service account and the cluster CA at once, so
	// that pods can be admitted there before the controllers that keep them (serviceaccount,
	// rootcacert) first run.
	for _, ns := range systemNamespaces() {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
		if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create service account %s/default: %w", ns, err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: ns},
			Data: map[string]string{"ca.crt": string(cfg.CAData)}}
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create config map %s/kube-root-ca.crt: %w", ns, err)
		}
	}
	for _, r := range rbac.BootstrapClusterRoles() {
		if _, err := client.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create cluster role %s: %w", r.Name, err)
		}
	}
	for _, b := range rbac.BootstrapClusterRoleBindings() {
		if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create cluster role binding %s: %w", b.Name, err)
		}
	}
	for _, pc := range groups.SystemPriorityClasses() {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create priority class %s: %w", pc.Name, err)
		}
	}
	return ensureKubernetesService(ctx, client, firstServiceIP(s.cfg.ServiceCIDR).String(), s.advertiseAddress(), int32(s.port))
}

// bootstrapNamespaces creates the namespaces every cluster starts with.
// systemNamespaces are the namespaces every cluster starts with.
func systemNamespaces() []string {
	return []string{"default", "kube-system", "kube-public", "kube-node-lease"}
}

func (s *Server) bootstrapNamespaces(ctx context.Context, client kubernetes.Interface) error {
	for _, name := range systemNamespaces() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for attempt := 0; ; attempt++ {
			_, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			if attempt > 50 || ctx.Err() != nil {
				return fmt.Errorf("create namespace %s: %w", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// profiling serves Go's profiles at /debug/pprof/ (authenticated users only, as upstream's
// --profiling default).
func profiling() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
