// Package testserver starts a real bosun control plane (embedded etcd in a temporary directory,
// the real API server on a free loopback port) for integration tests, and stops it when the
// test ends.
package testserver

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/controlplane"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// Server is a running test control plane.
type Server struct {
	RESTConfig *rest.Config
	Client     kubernetes.Interface
	Kubeconfig string
	URL        string
	DataDir    string

	srv    *controlplane.Server
	cancel context.CancelFunc
	done   chan error
}

// Options adjust a test server.
type Options struct {
	// DataDir reuses a directory (restart tests); "" makes a new temporary one.
	DataDir string
	// StorageTuning adjusts storage settings (e.g. a short bookmark interval).
	StorageTuning func(*storage.Config)
	// EtcdEndpoints uses an external etcd instead of an embedded one.
	EtcdEndpoints []string
	// Logger; nil: warnings and errors to stderr.
	Logger *slog.Logger
}

// Start runs a control plane for t and returns once it is ready. It is stopped (and its data
// removed, unless DataDir was given) when the test ends.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := controlplane.New(controlplane.Config{
		DataDir: dir, BindAddress: "127.0.0.1", HTTPSPort: -1,
		Logger: logger, StorageTuning: o.StorageTuning, EtcdEndpoints: o.EtcdEndpoints,
	})
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{srv: srv, cancel: cancel, done: make(chan error, 1), DataDir: dir, Kubeconfig: srv.KubeconfigPath()}
	go func() { s.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-s.done:
		cancel()
		t.Fatalf("testserver: server stopped before ready: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("testserver: not ready after 60s")
	}
	t.Cleanup(s.Stop)
	s.RESTConfig = srv.RESTConfig()
	s.URL = srv.URL()
	s.Client = kubernetes.NewForConfigOrDie(s.RESTConfig)
	return s
}

// Stop shuts the server down and waits for it (idempotent).
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
}
