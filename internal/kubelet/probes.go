package kubelet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// probeManager runs the probes of one pod's running containers: one
// goroutine per (container instance, probe kind). Results are read by the
// pod worker; a change kicks it.
type probeManager struct {
	k *Kubelet
	w *podWorker

	mu      sync.Mutex
	running map[string]*containerProbes // by container ID
}

type containerProbes struct {
	name   string
	cancel context.CancelFunc
	// results, guarded by probeManager.mu
	ready   bool
	started bool
	kill    string // why the container must be killed
}

func newProbeManager(k *Kubelet, w *podWorker) *probeManager {
	return &probeManager{k: k, w: w, running: map[string]*containerProbes{}}
}

// sync starts probes for newly running containers and stops those of
// containers that are no longer running.
func (m *probeManager) sync(ctx context.Context, pod *v1.Pod, cs containerSet, podIPs []string) {
	live := map[string]bool{}
	for name, ins := range cs {
		if len(ins) == 0 || ins[0].st == nil || ins[0].st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		st := ins[0].st
		live[st.Id] = true
		m.mu.Lock()
		_, ok := m.running[st.Id]
		m.mu.Unlock()
		if ok {
			continue
		}
		c := findContainer(pod, name)
		if c == nil {
			continue
		}
		m.start(ctx, pod, c, st, append([]string(nil), podIPs...))
	}
	m.mu.Lock()
	for id, p := range m.running {
		if !live[id] {
			p.cancel()
			delete(m.running, id)
		}
	}
	m.mu.Unlock()
}

func (m *probeManager) start(ctx context.Context, pod *v1.Pod, c *v1.Container, st *runtimeapi.ContainerStatus, podIPs []string) {
	pctx, cancel := context.WithCancel(ctx)
	p := &containerProbes{
		name:    c.Name,
		cancel:  cancel,
		ready:   c.ReadinessProbe == nil,
		started: c.StartupProbe == nil,
	}
	m.mu.Lock()
	m.running[st.Id] = p
	m.mu.Unlock()
	startedAt := time.Unix(0, st.StartedAt)
	if st.StartedAt == 0 {
		startedAt = m.k.clock.Now()
	}
	run := func(kind string, probe *v1.Probe) {
		if probe == nil {
			return
		}
		go m.loop(pctx, pod, c, st.Id, p, kind, probe, startedAt, podIPs)
	}
	run("startup", c.StartupProbe)
	run("liveness", c.LivenessProbe)
	run("readiness", c.ReadinessProbe)
}

// loop runs one probe with its timing fields until ctx ends.
func (m *probeManager) loop(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, p *containerProbes, kind string, probe *v1.Probe, startedAt time.Time, podIPs []string) {
	period := secs(probe.PeriodSeconds, 10)
	timeout := secs(probe.TimeoutSeconds, 1)
	successThreshold := int(max(probe.SuccessThreshold, 1))
	failureThreshold := int(max(probe.FailureThreshold, 1))
	if probe.FailureThreshold == 0 {
		failureThreshold = 3
	}
	delay := startedAt.Add(time.Duration(probe.InitialDelaySeconds) * time.Second).Sub(m.k.clock.Now())
	if delay < 0 {
		delay = 0
	}
	wait := func(d time.Duration) bool {
		t := m.k.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C():
			return true
		}
	}
	if !wait(delay) {
		return
	}
	successes, failures := 0, 0
	for {
		// Liveness and readiness wait for the startup probe.
		m.mu.Lock()
		gated := kind != "startup" && !p.started
		m.mu.Unlock()
		if !gated {
			ok, msg := m.k.probe(ctx, pod, c, id, probe.ProbeHandler, timeout, podIPs)
			if ctx.Err() != nil {
				return
			}
			if !ok {
				m.k.event(pod, c.Name, v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", strings.ToUpper(kind[:1])+kind[1:], msg)
			}
			if ok {
				successes, failures = successes+1, 0
			} else {
				successes, failures = 0, failures+1
			}
			changed := m.record(p, kind, successes, failures, successThreshold, failureThreshold)
			if changed {
				m.w.kick()
			}
			if kind == "startup" && p.isStarted(&m.mu) {
				return
			}
		}
		if !wait(period) {
			return
		}
	}
}

func (p *containerProbes) isStarted(mu *sync.Mutex) bool {
	mu.Lock()
	defer mu.Unlock()
	return p.started
}

// record applies thresholds; it reports whether a result changed.
func (m *probeManager) record(p *containerProbes, kind string, successes, failures, successThreshold, failureThreshold int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch kind {
	case "startup":
		if successes >= 1 && !p.started {
			p.started = true
			return true
		}
		if failures >= failureThreshold && p.kill == "" {
			p.kill = "startup probe failed"
			return true
		}
	case "liveness":
		if failures >= failureThreshold && p.kill == "" {
			p.kill = "liveness probe failed"
			return true
		}
	case "readiness":
		if successes >= successThreshold && !p.ready {
			p.ready = true
			return true
		}
		if failures >= failureThreshold && p.ready {
			p.ready = false
			return true
		}
	}
	return false
}

func secs(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

// killReason is non-empty when the container's liveness or startup probe
// failed.
func (m *probeManager) killReason(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.running[id]; p != nil {
		return p.kill
	}
	return ""
}

// results returns readiness and started for a running container instance.
func (m *probeManager) results(id string) (ready, started, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.running[id]
	if p == nil {
		return false, false, false
	}
	return p.ready && p.started && p.kill == "", p.started, true
}

func (m *probeManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, p := range m.running {
		p.cancel()
		delete(m.running, id)
	}
}

// probe runs one probe handler once.
func (k *Kubelet) probe(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, h v1.ProbeHandler, timeout time.Duration, podIPs []string) (bool, string) {
	switch {
	case h.Exec != nil:
		_, stderr, code, err := k.runtime.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			return false, err.Error()
		}
		return code == 0, string(stderr)
	case h.HTTPGet != nil:
		return k.httpGet(ctx, pod, c, h.HTTPGet, timeout, podIPs)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = firstIP(podIPs)
		}
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	case h.GRPC != nil:
		host := firstIP(podIPs)
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(h.GRPC.Port))))
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	}
	return false, "no probe handler"
}

func firstIP(ips []string) string {
	if len(ips) > 0 {
		return ips[0]
	}
	return "127.0.0.1"
}

func (k *Kubelet) httpGet(ctx context.Context, pod *v1.Pod, c *v1.Container, g *v1.HTTPGetAction, timeout time.Duration, podIPs []string) (bool, string) {
	host := g.Host
	if host == "" {
		host = firstIP(podIPs)
	}
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	full := u.String() + path
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, full, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.33")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return false, err.Error()
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// resolvePort turns a number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c *v1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("no port named %q", p.StrVal)
}

// runHook runs a postStart or preStop handler.
func (w *podWorker) runHook(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, h *v1.LifecycleHandler, grace int64) error {
	timeout := time.Duration(grace) * time.Second
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	switch {
	case h.Exec != nil:
		_, stderr, code, err := w.k.runtime.ExecSync(ctx, id, h.Exec.Command, timeout)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, stderr)
		}
	case h.HTTPGet != nil:
		if ok, msg := w.k.httpGet(ctx, pod, c, h.HTTPGet, timeout, w.podIPs); !ok {
			return fmt.Errorf("http hook: %s", msg)
		}
	case h.Sleep != nil:
		t := w.k.clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C():
		}
	}
	return nil
}
