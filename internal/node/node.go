// Package node assembles one worker node: the network fence (up before any pod), the agent
// (kubelet over a supervised containerd) and the service proxy. `bosun server` runs one in its
// own process unless --disable-agent; a separate `bosun agent` runs the same assembly.
//
// Order: fence installed → agent registers the Node, starts containerd and loads images →
// (BeforeFirstPod waits for the fence) → kubelet runs pods; the proxy programs services
// beside it. On shutdown the proxy and the fence remove their tables.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/agent"
	"github.com/bosun-k8s/bosun/internal/fence"
	"github.com/bosun-k8s/bosun/internal/nodeip"
	"github.com/bosun-k8s/bosun/internal/proxy"
)

// Config configures a node.
type Config struct {
	RESTConfig               *rest.Config
	NodeName                 string // empty: the lower-cased hostname
	NodeIP                   netip.Addr
	DataDir                  string
	ContainerRuntimeEndpoint string
	ClusterCIDR              string
	ServiceCIDR              string
	ClusterDNS               string
	ClusterDomain            string
	KubeletTLS               *tls.Config
	KubeletAddress           string
	// CleanupOnExit removes every pod and the node's network when the node stops (tests,
	// throw-away clusters); otherwise pods keep running and the next start adopts them.
	CleanupOnExit bool
	Logger        *slog.Logger
}

// Node is an assembled worker node.
type Node struct {
	cfg   Config
	agent *agent.Agent
	fence *fence.Fence
	proxy *proxy.Proxy
}

// New builds the parts; it starts nothing.
func New(cfg Config) (*Node, error) {
	if cfg.RESTConfig == nil {
		return nil, errors.New("node: RESTConfig is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !cfg.NodeIP.IsValid() {
		cfg.NodeIP = nodeip.Default()
	}
	client, err := kubernetes.NewForConfig(cfg.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("node: client: %w", err)
	}
	// Without CleanupOnExit the pods outlive the agent, so the fence stays up for them.
	f, err := fence.New(fence.Config{ServiceCIDR: cfg.ServiceCIDR, PodCIDR: cfg.ClusterCIDR, Client: client,
		KeepOnExit: !cfg.CleanupOnExit, Logger: cfg.Logger.With("component", "fence")})
	if err != nil {
		return nil, err
	}
	a, err := agent.New(agent.Config{
		RESTConfig: cfg.RESTConfig, NodeName: cfg.NodeName, NodeIP: cfg.NodeIP.String(), DataDir: cfg.DataDir,
		ContainerRuntimeEndpoint: cfg.ContainerRuntimeEndpoint, ClusterDNS: cfg.ClusterDNS, ClusterDomain: cfg.ClusterDomain,
		Logger: cfg.Logger.With("component", "agent"), BeforeFirstPod: f.WaitReady,
		KubeletTLS: cfg.KubeletTLS, KubeletAddress: cfg.KubeletAddress, RemovePodsOnExit: cfg.CleanupOnExit,
	})
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(proxy.Config{Client: client, NodeName: a.NodeName(), NodeIPs: []netip.Addr{cfg.NodeIP},
		ServiceCIDR: cfg.ServiceCIDR, PodCIDR: cfg.ClusterCIDR, Logger: cfg.Logger.With("component", "proxy")})
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, agent: a, fence: f, proxy: p}, nil
}

// Agent is the node's kubelet side (for readiness and its name).
func (n *Node) Agent() *agent.Agent { return n.agent }

// Run runs the node until ctx ends or a part fails.
func (n *Node) Run(ctx context.Context) error {
	// The fence comes down last: it must stand while any pod (or its teardown) still runs.
	g, ctx := errgroup.WithContext(ctx)
	fenceCtx, stopFence := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFence()
	fenceDone := make(chan error, 1)
	go func() { fenceDone <- n.fence.Run(fenceCtx) }()
	g.Go(func() error {
		select {
		case err := <-fenceDone:
			fenceDone <- err
			if err == nil {
				err = errors.New("network fence stopped")
			}
			return err
		case <-ctx.Done():
			return nil
		}
	})
	g.Go(func() error { return n.agent.Run(ctx) })
	g.Go(func() error { return n.proxy.Run(ctx) })
	err := g.Wait()
	if n.cfg.CleanupOnExit {
		if cerr := n.agent.Cleanup(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("node cleanup: %w", cerr))
		}
	}
	stopFence()
	if ferr := <-fenceDone; ferr != nil && !errors.Is(ferr, context.Canceled) {
		err = errors.Join(err, ferr)
	}
	return err
}
