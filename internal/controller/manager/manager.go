package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"github.com/bosun-k8s/bosun/internal/controller/clusterroleaggregation"
	"github.com/bosun-k8s/bosun/internal/controller/cronjob"
	"github.com/bosun-k8s/bosun/internal/controller/daemonset"
	"github.com/bosun-k8s/bosun/internal/controller/deployment"
	"github.com/bosun-k8s/bosun/internal/controller/disruption"
	"github.com/bosun-k8s/bosun/internal/controller/garbagecollector"
	"github.com/bosun-k8s/bosun/internal/controller/job"
	"github.com/bosun-k8s/bosun/internal/controller/namespace"
	"github.com/bosun-k8s/bosun/internal/controller/nodeipam"
	"github.com/bosun-k8s/bosun/internal/controller/nodelifecycle"
	"github.com/bosun-k8s/bosun/internal/controller/podgc"
	"github.com/bosun-k8s/bosun/internal/controller/replicaset"
	"github.com/bosun-k8s/bosun/internal/controller/resourcequota"
	"github.com/bosun-k8s/bosun/internal/controller/rootcacert"
	"github.com/bosun-k8s/bosun/internal/controller/serviceaccount"
	"github.com/bosun-k8s/bosun/internal/controller/statefulset"
)

// Lease coordinates.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "kube-controller-manager"
)

// AllControllers names every controller the manager can run, in start
// order.
func AllControllers() []string {
	return []string{
		replicaset.Name, replicaset.RCName, deployment.Name, daemonset.Name, statefulset.Name,
		job.Name, cronjob.Name, garbagecollector.Name, namespace.Name, serviceaccount.Name,
		rootcacert.Name, resourcequota.Name, disruption.Name, clusterroleaggregation.Name,
		nodeipam.Name, nodelifecycle.Name, podgc.Name,
	}
}

// Config configures the manager.
type Config struct {
	// Client talks to the API server.
	Client kubernetes.Interface
	// RESTConfig builds the metadata client the namespace controller and
	// the garbage collector use; required when either runs.
	RESTConfig *rest.Config
	// Metadata overrides the client built from RESTConfig (tests).
	Metadata metadata.Interface
	Logger   *slog.Logger
	// LeaderElect takes the Lease before running the controllers.
	LeaderElect bool
	// Identity names this manager in the Lease (default: hostname + random).
	Identity string
	// ClusterCIDR and NodeCIDRMaskSize configure node IPAM (defaults
	// 10.42.0.0/16 and 24).
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// NodeMonitorPeriod and NodeMonitorGracePeriod tune node lifecycle
	// (defaults 5s and 50s).
	NodeMonitorPeriod      time.Duration
	NodeMonitorGracePeriod time.Duration
	// RootCA is the CA bundle published as kube-root-ca.crt in every
	// namespace; default: RESTConfig's CA. Without one, that publisher is
	// left out of the default set.
	RootCA []byte
	// Controllers to run; nil runs all of AllControllers().
	Controllers []string
	// ResyncPeriod of the shared informers (default 0: no periodic resync).
	ResyncPeriod time.Duration
}

type runner interface {
	Run(ctx context.Context, workers int) error
}

type namedRunner struct {
	name    string
	workers int
	r       runner
}

// Manager runs the controllers.
type Manager struct {
	cfg         Config
	log         *slog.Logger
	informers   informers.SharedInformerFactory
	broadcaster record.EventBroadcaster
	controllers []namedRunner
	starters    []func(stop <-chan struct{})
}

// New validates cfg and builds the selected controllers. It starts nothing.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("manager: Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	explicit := cfg.Controllers != nil
	all := AllControllers()
	if cfg.Controllers == nil {
		cfg.Controllers = all
	}
	if len(cfg.RootCA) == 0 && cfg.RESTConfig != nil {
		cfg.RootCA = cfg.RESTConfig.CAData
		if len(cfg.RootCA) == 0 && cfg.RESTConfig.CAFile != "" {
			data, err := os.ReadFile(cfg.RESTConfig.CAFile)
			if err != nil {
				return nil, fmt.Errorf("manager: read CA file: %w", err)
			}
			cfg.RootCA = data
		}
	}
	for _, name := range cfg.Controllers {
		if !slices.Contains(all, name) {
			return nil, fmt.Errorf("manager: unknown controller %q", name)
		}
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s_%d", host, time.Now().UnixNano())
	}
	m := &Manager{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "controller-manager"),
		informers:   informers.NewSharedInformerFactory(cfg.Client, cfg.ResyncPeriod),
		broadcaster: record.NewBroadcaster(),
	}
	m.starters = append(m.starters, m.informers.Start)
	recorder := func(component string) record.EventRecorder {
		return m.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
	}
	meta := cfg.Metadata
	needMeta := slices.Contains(cfg.Controllers, namespace.Name) || slices.Contains(cfg.Controllers, garbagecollector.Name)
	if meta == nil && needMeta {
		if cfg.RESTConfig == nil {
			return nil, errors.New("manager: RESTConfig is required for the namespace controller and garbage collector")
		}
		var err error
		if meta, err = metadata.NewForConfig(cfg.RESTConfig); err != nil {
			return nil, fmt.Errorf("manager: metadata client: %w", err)
		}
	}
	for _, name := range cfg.Controllers {
		var (
			r       runner
			err     error
			workers = 5
		)
		switch name {
		case replicaset.Name:
			r, err = replicaset.New(replicaset.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("replicaset-controller"), Logger: cfg.Logger})
		case replicaset.RCName:
			r, err = replicaset.NewReplicationController(replicaset.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("replication-controller"), Logger: cfg.Logger})
		case daemonset.Name:
			r, err = daemonset.New(daemonset.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("daemonset-controller"), Logger: cfg.Logger})
		case statefulset.Name:
			r, err = statefulset.New(statefulset.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("statefulset-controller"), Logger: cfg.Logger})
		case deployment.Name:
			r, err = deployment.New(deployment.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("deployment-controller"), Logger: cfg.Logger})
		case serviceaccount.Name:
			workers = 1
			r, err = serviceaccount.New(serviceaccount.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger})
		case namespace.Name:
			workers = 10
			r, err = namespace.New(namespace.Config{Client: cfg.Client, Metadata: meta, Informers: m.informers, Logger: cfg.Logger})
		case garbagecollector.Name:
			workers = 20
			r, err = garbagecollector.New(garbagecollector.Config{Metadata: meta, Discovery: cfg.Client.Discovery(), Logger: cfg.Logger})
		case cronjob.Name:
			r, err = cronjob.New(cronjob.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("cronjob-controller"), Logger: cfg.Logger})
		case job.Name:
			r, err = job.New(job.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("job-controller"), Logger: cfg.Logger})
		case podgc.Name:
			workers = 1
			r, err = podgc.New(podgc.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger})
		case nodelifecycle.Name:
			workers = 2
			r, err = nodelifecycle.New(nodelifecycle.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("node-controller"), Logger: cfg.Logger,
				MonitorPeriod: cfg.NodeMonitorPeriod, GracePeriod: cfg.NodeMonitorGracePeriod})
		case rootcacert.Name:
			if len(cfg.RootCA) == 0 && !explicit {
				continue
			}
			workers = 1
			r, err = rootcacert.New(rootcacert.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger, RootCA: cfg.RootCA})
		case resourcequota.Name:
			r, err = resourcequota.New(resourcequota.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger})
		case disruption.Name:
			r, err = disruption.New(disruption.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger})
		case clusterroleaggregation.Name:
			workers = 1
			r, err = clusterroleaggregation.New(clusterroleaggregation.Config{Client: cfg.Client, Informers: m.informers, Logger: cfg.Logger})
		case nodeipam.Name:
			workers = 1
			r, err = nodeipam.New(nodeipam.Config{Client: cfg.Client, Informers: m.informers,
				Recorder: recorder("node-ipam-controller"), Logger: cfg.Logger,
				ClusterCIDR: cfg.ClusterCIDR, NodeMaskSize: cfg.NodeCIDRMaskSize})
		}
		if err != nil {
			return nil, fmt.Errorf("manager: %w", err)
		}
		m.controllers = append(m.controllers, namedRunner{name: name, workers: workers, r: r})
	}
	return m, nil
}

// Run runs the controllers until ctx ends (nil) or leadership is lost or a
// controller fails (an error).
func (m *Manager) Run(ctx context.Context) error {
	m.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.cfg.Client.CoreV1().Events("")})
	defer m.broadcaster.Shutdown()
	if !m.cfg.LeaderElect {
		return m.runControllers(ctx)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta: metav1.ObjectMeta{Namespace: LeaseNamespace, Name: LeaseName},
		Client:    m.cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{
			Identity:      m.cfg.Identity,
			EventRecorder: m.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kube-controller-manager"}),
		},
	}
	leCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan context.Context, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			// The leading context ends when the lease is lost or released.
			OnStartedLeading: func(c context.Context) { started <- c },
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != m.cfg.Identity {
					m.log.Info("another controller manager leads", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("manager: leader election: %w", err)
	}
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		elector.Run(leCtx)
	}()
	select {
	case leading := <-started:
		m.log.Info("became leader", "identity", m.cfg.Identity)
		runErr := m.runControllers(leading)
		cancel() // release the lease
		<-electorDone
		if runErr != nil {
			return runErr
		}
	case <-electorDone:
	}
	if ctx.Err() == nil {
		return errors.New("manager: leader election lost")
	}
	return nil
}

func (m *Manager) runControllers(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range m.controllers {
		g.Go(func() error {
			if err := c.r.Run(ctx, c.workers); err != nil && ctx.Err() == nil {
				return fmt.Errorf("controller %s: %w", c.name, err)
			}
			return nil
		})
	}
	for _, start := range m.starters {
		start(ctx.Done())
	}
	err := g.Wait()
	m.informers.Shutdown()
	return err
}
