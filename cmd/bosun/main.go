// Command bosun is a Kubernetes in one binary: `bosun server` runs the control plane (and a
// node agent), `bosun version` prints what it is. This file parses flags and dispatches; the
// roles are assembled in internal/server and internal/agent.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // CronJob time zones on hosts without zoneinfo

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/bosun-k8s/bosun/internal/server"
	"github.com/bosun-k8s/bosun/internal/version"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "bosun",
		Short:         "bosun: a Kubernetes in one binary",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newServerCmd(), newVersionCmd())
	return root
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	klog.SetSlogLogger(logger)
	return logger
}

func newServerCmd() *cobra.Command {
	var cfg server.Config
	var etcdEndpoints, logLevel string
	var disableScheduler, disableControllers bool
	var nodeIP string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API server on embedded etcd, scheduler, controllers) and a local node agent",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Logger = newLogger(logLevel)
			for _, c := range server.AllComponents() {
				if (c == server.ComponentScheduler && disableScheduler) || (c == server.ComponentControllers && disableControllers) {
					continue
				}
				cfg.Components = append(cfg.Components, c)
			}
			if cfg.Components == nil {
				cfg.Components = []string{}
			}
			if nodeIP != "" {
				ip, err := netip.ParseAddr(nodeIP)
				if err != nil {
					return fmt.Errorf("invalid --node-ip: %w", err)
				}
				cfg.NodeIP = ip
			}
			if etcdEndpoints != "" {
				cfg.EtcdEndpoints = strings.Split(etcdEndpoints, ",")
			}
			if os.Getenv("GOGC") == "" {
				// Keep the heap within 1.3× the live data (upstream Go default: 2×): the watch
				// cache is most of the live data, and a small footprint matters on small machines.
				debug.SetGCPercent(30)
			}
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			go func() {
				select {
				case <-srv.Ready():
					fmt.Fprintf(os.Stderr, "bosun is ready at %s\nUse it with:\n  export KUBECONFIG=%s\n  kubectl get nodes\n",
						srv.URL(), srv.KubeconfigPath())
				case <-ctx.Done():
				}
			}()
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", server.DefaultDataDir(), "directory holding etcd data, certificates and the admin kubeconfig")
	f.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&cfg.HTTPSPort, "https-port", 6443, "port the API server listens on (HTTPS)")
	f.StringVar(&etcdEndpoints, "etcd-endpoints", "", "comma-separated endpoints of an external etcd cluster (default: embedded etcd)")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "do not run a node agent (kubelet, proxy) in this process")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod IP range")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "service ClusterIP range")
	f.StringVar(&cfg.SchedulerScoring, "scheduler-scoring", "LeastAllocated", "how the scheduler scores nodes: LeastAllocated (spread load) or MostAllocated (bin packing)")
	f.BoolVar(&disableScheduler, "disable-scheduler", false, "do not run the scheduler in this process")
	f.BoolVar(&disableControllers, "disable-controller-manager", false, "do not run the controller manager in this process")
	f.StringVar(&nodeIP, "node-ip", "", "this node's address (default: the source address of the default route)")
	f.StringVar(&cfg.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "socket of a running containerd (default: the agent supervises its own)")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "", "cluster DNS service address (default: the tenth address of the service CIDR, 10.43.0.10)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "cluster DNS domain")
	f.BoolVar(&cfg.CleanupOnExit, "cleanup-on-exit", false, "remove the local node's pods and pod network when the server stops (default: pods keep running and are adopted on the next start)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			v := version.Info()
			fmt.Fprintf(cmd.OutOrStdout(), "bosun version %s (Kubernetes %s.%s, %s)\n", v.GitVersion, v.Major, v.Minor, v.GoVersion)
		},
	}
}
