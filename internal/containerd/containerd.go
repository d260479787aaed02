package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// SandboxImage is the pause image every pod sandbox runs.
const SandboxImage = "bosun.local/pause:3.10"

// Config configures a Supervisor.
type Config struct {
	// DataDir is the node's data dir; containerd lives in DataDir/containerd
	// and the CNI config in DataDir/cni. The socket path must stay under the
	// 108-byte limit of unix sockets.
	DataDir string
	// PodCIDR is the node's pod subnet, e.g. 10.42.0.0/24.
	PodCIDR string
	// Logger; nil discards.
	Logger *slog.Logger
	// Binary is the containerd executable; empty: "containerd" from PATH.
	Binary string
	// CNIBinDir; empty: the first of /usr/lib/cni, /opt/cni/bin that exists.
	CNIBinDir string
	// Bridge is the CNI bridge name; empty: bosun0.
	Bridge string
	// StopTimeout is how long containerd gets after SIGTERM; 0: 10s.
	StopTimeout time.Duration
}

// Supervisor runs one containerd.
type Supervisor struct {
	cfg   Config
	log   *slog.Logger
	dir   string
	ready chan struct{}
	once  sync.Once

	mu  sync.Mutex
	pid int
}

// New validates cfg and fills defaults. It starts nothing.
func New(cfg Config) (*Supervisor, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("containerd: DataDir is required")
	}
	if _, _, err := net.ParseCIDR(cfg.PodCIDR); err != nil {
		return nil, fmt.Errorf("containerd: PodCIDR %q: %w", cfg.PodCIDR, err)
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	cfg.DataDir = abs
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Binary == "" {
		cfg.Binary = "containerd"
	}
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("containerd: %w (install containerd and runc)", err)
	}
	if cfg.CNIBinDir == "" {
		for _, d := range []string{"/usr/lib/cni", "/opt/cni/bin"} {
			if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
				cfg.CNIBinDir = d
				break
			}
		}
		if cfg.CNIBinDir == "" {
			return nil, errors.New("containerd: no CNI plugins in /usr/lib/cni or /opt/cni/bin (install containernetworking-plugins)")
		}
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "bosun0"
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger, dir: filepath.Join(cfg.DataDir, "containerd"), ready: make(chan struct{})}
	if n := len(s.Endpoint()); n > 100 {
		return nil, fmt.Errorf("containerd: socket path %s is %d bytes, too long for a unix socket", s.Endpoint(), n)
	}
	return s, nil
}

// Endpoint is the path of containerd's socket (CRI and containerd API).
func (s *Supervisor) Endpoint() string { return filepath.Join(s.dir, "containerd.sock") }

// Ready is closed once the CRI first answers.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// PID is the running containerd's process id, 0 when none runs.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// ConfigPath is the generated config.toml.
func (s *Supervisor) ConfigPath() string { return filepath.Join(s.dir, "config.toml") }

// CNIConfDir holds the generated conflist.
func (s *Supervisor) CNIConfDir() string { return filepath.Join(s.cfg.DataDir, "cni", "net.d") }

// Run writes the configuration, runs containerd until ctx ends, restarting
// it when it dies, and stops it when ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	if err := s.writeConfig(); err != nil {
		return err
	}
	if err := s.installMasquerade(); err != nil {
		return err
	}
	s.killStale()
	backoff := time.Second
	for {
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("containerd exited; restarting", "err", err, "backoff", backoff)
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (s *Supervisor) pidFile() string { return filepath.Join(s.dir, "containerd.pid") }

// killStale stops a containerd left running on this data dir by an earlier
// agent (it would hold the metadata lock), identified by the pid file and its
// command line.
func (s *Supervisor) killStale() {
	b, err := os.ReadFile(s.pidFile())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), s.ConfigPath()) {
		return
	}
	s.log.Info("stopping stale containerd", "pid", pid)
	stopPID(pid, s.cfg.StopTimeout)
}

// stopPID sends SIGTERM, waits up to timeout for the process to go, then
// sends SIGKILL. It is for processes that are not our children.
func stopPID(pid int, timeout time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func (s *Supervisor) runOnce(ctx context.Context) error {
	_ = os.Remove(s.Endpoint())
	logFile, err := os.OpenFile(filepath.Join(s.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("containerd: log file: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.cfg.Binary, "--config", s.ConfigPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = s.dir
	// Own process group: a ^C to the agent's terminal does not reach it;
	// the agent stops it itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("containerd: start: %w", err)
	}
	pid := cmd.Process.Pid
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
	_ = os.WriteFile(s.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644)
	s.log.Info("containerd started", "pid", pid, "socket", s.Endpoint())

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	waitCtx, cancelWait := context.WithCancel(ctx)
	go func() {
		if err := WaitCRI(waitCtx, s.Endpoint()); err == nil {
			s.log.Info("containerd CRI ready", "pid", pid)
			s.once.Do(func() { close(s.ready) })
		}
	}()
	defer cancelWait()

	select {
	case err := <-exited:
		s.clearPID()
		return fmt.Errorf("containerd: exited: %w", err)
	case <-ctx.Done():
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(s.cfg.StopTimeout):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-exited
		}
		s.clearPID()
		s.log.Info("containerd stopped", "pid", pid)
		return nil
	}
}

func (s *Supervisor) clearPID() {
	s.mu.Lock()
	s.pid = 0
	s.mu.Unlock()
	_ = os.Remove(s.pidFile())
}

// WaitCRI polls the CRI runtime service at the unix socket path until a
// Version call succeeds or ctx ends.
func WaitCRI(ctx context.Context, socket string) error {
	// gRPC's default reconnect back-off starts at 1 s: a first attempt
	// before containerd listens would cost the node a second.
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 100 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return fmt.Errorf("containerd: dial %s: %w", socket, err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := rs.Version(cctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd: CRI at %s not ready: %w", socket, err)
		case <-tick.C:
		}
	}
}

func (s *Supervisor) writeConfig() error {
	for _, d := range []string{s.dir, filepath.Join(s.dir, "root"), filepath.Join(s.dir, "state"), s.CNIConfDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.WriteFile(s.ConfigPath(), []byte(s.configTOML()), 0o644); err != nil {
		return fmt.Errorf("containerd: write config: %w", err)
	}
	conflist, err := s.conflist()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.CNIConfDir(), "10-bosun.conflist"), conflist, 0o644); err != nil {
		return fmt.Errorf("containerd: write CNI config: %w", err)
	}
	return nil
}

func (s *Supervisor) configTOML() string {
	q := strconv.Quote
	return `# Generated by bosun; rewritten on every start.
version = 2
root = ` + q(filepath.Join(s.dir, "root")) + `
state = ` + q(filepath.Join(s.dir, "state")) + `
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ` + q(s.Endpoint()) + `

[ttrpc]
  address = ` + q(filepath.Join(s.dir, "containerd.sock.ttrpc")) + `

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ` + q(filepath.Join(s.dir, "opt")) + `

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ` + q(SandboxImage) + `
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ` + q(s.cfg.CNIBinDir) + `
    conf_dir = ` + q(s.CNIConfDir()) + `
    max_conf_num = 1
`
}

func (s *Supervisor) conflist() ([]byte, error) {
	_, subnet, err := net.ParseCIDR(s.cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("containerd: PodCIDR: %w", err)
	}
	type m = map[string]any
	list := m{
		"cniVersion": "1.0.0",
		"name":       "bosun",
		"plugins": []m{
			{
				"type":        "bridge",
				"bridge":      s.cfg.Bridge,
				"isGateway":   true,
				"ipMasq":      false, // see masq.go
				"hairpinMode": true,
				"ipam": m{
					"type":    "host-local",
					"ranges":  [][]m{{{"subnet": subnet.String()}}},
					"routes":  []m{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(s.cfg.DataDir, "cni", "ipam"),
				},
			},
			{"type": "portmap", "capabilities": m{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("containerd: CNI config: %w", err)
	}
	return b, nil
}
