// Package etcd gives the API server one etcd v3 client, whether etcd runs embedded in this
// process (go.etcd.io/etcd/server/v3/embed, data in a directory) or as an external cluster
// reached through endpoints.
//
// Embedded etcd listens only on loopback ports picked free at start (no fixed ports, so several
// can run at once) and the API server talks to it through an in-process client (no network
// hop). It is tuned for a single-node control plane: quiet logs routed to slog, snapshots every
// 10,000 entries, an 8 GiB backend quota and periodic auto-compaction keeping five minutes of
// history (the same window kube-apiserver's own compactor keeps, long enough for paginated lists
// and watch resumption under heavy write load, while bounding history by time rather than by
// write rate).
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config configures New.
type Config struct {
	// DataDir holds the embedded etcd's data. Required unless Endpoints is set.
	DataDir string
	// Endpoints of an external etcd cluster. When non-empty no etcd is embedded.
	Endpoints []string
	// TLS for the connection to an external etcd; nil for plain connections.
	TLS *tls.Config
	// Logger receives etcd's warnings and errors. nil: slog.Default().
	Logger *slog.Logger
	// ClientListen, for embedded etcd, is the address etcd's client port listens on, e.g.
	// "127.0.0.1:2379" to let other programs reach it. "" picks a free loopback port.
	ClientListen string
	// DialTimeout bounds connecting to an external etcd. Default 5 s.
	DialTimeout time.Duration
	// HealthTimeout bounds Healthy. Default 2 s.
	HealthTimeout time.Duration
	// TickMs is embedded etcd's raft tick (heartbeat); the election timeout is ten ticks.
	// Default 10 ms, which suits a single member.
	TickMs time.Duration
}

// Etcd runs (or connects to) etcd and hands out the client.
type Etcd struct {
	cfg    Config
	log    *slog.Logger
	ready  chan struct{}
	mu     sync.Mutex
	client *clientv3.Client
	url    string
}

// New validates cfg. It starts nothing.
func New(cfg Config) (*Etcd, error) {
	if len(cfg.Endpoints) == 0 && cfg.DataDir == "" {
		return nil, errors.New("etcd: DataDir or Endpoints is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.TickMs < time.Millisecond {
		cfg.TickMs = 10 * time.Millisecond
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 2 * time.Second
	}
	return &Etcd{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}, nil
}

// Ready is closed once Client may be used.
func (e *Etcd) Ready() <-chan struct{} { return e.ready }

// Client returns the etcd client. Valid after Ready is closed, until Run returns.
func (e *Etcd) Client() *clientv3.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.client
}

// ClientURL is the URL of the embedded etcd's client port ("" for external etcd). Valid after
// Ready.
func (e *Etcd) ClientURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

// Healthy performs a linearizable read with a short timeout; nil means etcd has a leader and
// answers.
func (e *Etcd) Healthy(ctx context.Context) error {
	c := e.Client()
	if c == nil {
		return errors.New("etcd: not started")
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HealthTimeout)
	defer cancel()
	if _, err := c.Get(ctx, "health", clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("etcd: health read: %w", err)
	}
	return nil
}

// Run starts embedded etcd (or connects to the external one) and blocks until ctx ends, then
// closes the client and stops etcd.
func (e *Etcd) Run(ctx context.Context) error {
	if len(e.cfg.Endpoints) > 0 {
		return e.runExternal(ctx)
	}
	return e.runEmbedded(ctx)
}

func (e *Etcd) runExternal(ctx context.Context) error {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            e.cfg.Endpoints,
		TLS:                  e.cfg.TLS,
		DialTimeout:          e.cfg.DialTimeout,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		Logger:               zap.New(newSlogCore(e.log, zapcore.WarnLevel)),
		MaxCallRecvMsgSize:   1 << 30,
		Context:              ctx,
	})
	if err != nil {
		return fmt.Errorf("etcd: connect to %v: %w", e.cfg.Endpoints, err)
	}
	defer c.Close()
	e.mu.Lock()
	e.client = c
	e.mu.Unlock()
	// Wait for the first successful read so that Ready means usable.
	for {
		if err := e.Healthy(ctx); err == nil {
			break
		} else if ctx.Err() != nil {
			return nil
		} else {
			e.log.Warn("waiting for external etcd", "endpoints", e.cfg.Endpoints, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	close(e.ready)
	<-ctx.Done()
	return nil
}

// freeLoopbackURL reserves a free loopback TCP port and returns it as an http URL. The port is
// released before etcd binds it; the window is tiny and the kernel does not hand out a port it
// just gave away to another bind(0) soon after.
func freeLoopbackURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	addr := l.Addr().String()
	l.Close()
	return url.URL{Scheme: "http", Host: addr}, nil
}

func (e *Etcd) runEmbedded(ctx context.Context) error {
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("etcd: data dir: %w", err)
	}
	if err := os.Chmod(e.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("etcd: data dir: %w", err)
	}
	var (
		srv    *embed.Etcd
		client url.URL
		err    error
	)
	// The free ports are found before etcd binds them; if another process takes one in that
	// instant, try again with new ones.
	for attempt := 0; ; attempt++ {
		var cfg *embed.Config
		cfg, client, err = e.embedConfig()
		if err != nil {
			return err
		}
		srv, err = embed.StartEtcd(cfg)
		if err == nil {
			break
		}
		if attempt < 3 && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) {
			e.log.Warn("etcd: port taken, retrying", "err", err)
			continue
		}
		return fmt.Errorf("etcd: start: %w", err)
	}
	defer srv.Close()
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		return nil
	}
	c := v3client.New(srv.Server)
	defer c.Close()
	e.mu.Lock()
	e.client = c
	e.url = client.String()
	e.mu.Unlock()
	close(e.ready)
	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.Err():
		return fmt.Errorf("etcd: %w", err)
	}
}

// embedConfig is the embedded etcd's configuration, on free loopback ports unless
// ClientListen is set.
func (e *Etcd) embedConfig() (*embed.Config, url.URL, error) {
	cfg := embed.NewConfig()
	cfg.Name = "bosun"
	cfg.Dir = e.cfg.DataDir
	peer, err := freeLoopbackURL()
	if err != nil {
		return nil, url.URL{}, fmt.Errorf("etcd: peer port: %w", err)
	}
	var client url.URL
	if e.cfg.ClientListen != "" {
		client = url.URL{Scheme: "http", Host: e.cfg.ClientListen}
	} else if client, err = freeLoopbackURL(); err != nil {
		return nil, url.URL{}, fmt.Errorf("etcd: client port: %w", err)
	}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.InitialClusterToken = "bosun"
	// A single member elects itself: short ticks make that (and so start-up) take tens of
	// milliseconds instead of up to a second. Members of a multi-server cluster on a loaded
	// machine would want etcd's defaults (100 ms / 1 s); see Config.TickMs.
	cfg.TickMs = uint(e.cfg.TickMs / time.Millisecond)
	cfg.ElectionMs = 10 * cfg.TickMs
	// The raft log lives in memory until a snapshot compacts it, plus the entries kept for
	// slow followers: 1,000 + 100 entries of a single-node cluster keep it to a couple of MB
	// (etcd's defaults keep up to 105,000 writes in RAM). A snapshot of a member's raft state
	// is small (the data lives in bbolt), so taking one every 1,000 writes costs little.
	cfg.SnapshotCount = 1000
	cfg.SnapshotCatchUpEntries = 100
	cfg.QuotaBackendBytes = 8 << 30
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.ExperimentalWatchProgressNotifyInterval = 5 * time.Second
	cfg.EnableGRPCGateway = false
	cfg.Metrics = "basic"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(e.log, zapcore.WarnLevel)))
	return cfg, client, nil
}
