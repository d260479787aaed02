package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime is an in-memory CRI runtime that records every call.
type fakeRuntime struct {
	mu         sync.Mutex
	calls      []string
	sandboxes  map[string]*fakeSandbox
	containers map[string]*fakeContainer
	images     map[string]bool
	next       int
	// stopExitCode is the exit code of a container stopped by StopContainer.
	stopExitCode int32
	// exitOnStart makes a container with this name exit right after start
	// with the given code.
	exitOnStart map[string]int32
	// execResult is the exit code ExecSync returns for a command's first word.
	execResult map[string]int32
	stops      []string // "id:timeout"
	// pullBlocks makes PullImage wait until its context ends.
	pullBlocks bool
}

type fakeSandbox struct {
	cfg     *runtimeapi.PodSandboxConfig
	state   runtimeapi.PodSandboxState
	created int64
	ip      string
}

type fakeContainer struct {
	sandbox string
	cfg     *runtimeapi.ContainerConfig
	status  *runtimeapi.ContainerStatus
}

func newFakeRuntime(images ...string) *fakeRuntime {
	f := &fakeRuntime{
		sandboxes:    map[string]*fakeSandbox{},
		containers:   map[string]*fakeContainer{},
		images:       map[string]bool{},
		stopExitCode: 143,
		exitOnStart:  map[string]int32{},
		execResult:   map[string]int32{},
	}
	for _, i := range images {
		f.images[i] = true
	}
	return f
}

func (f *fakeRuntime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls whose text starts with prefix.
func (f *fakeRuntime) Calls(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func notFound(what, id string) error {
	return status.Errorf(codes.NotFound, "%s %q not found", what, id)
}

func (f *fakeRuntime) Version(context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "1.0", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) RunPodSandbox(_ context.Context, cfg *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("sb%d", f.next)
	f.record("RunPodSandbox %s/%s", cfg.Metadata.Namespace, cfg.Metadata.Name)
	f.sandboxes[id] = &fakeSandbox{cfg: cfg, state: runtimeapi.PodSandboxState_SANDBOX_READY, created: time.Now().UnixNano(), ip: fmt.Sprintf("10.42.9.%d", f.next)}
	return id, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopPodSandbox %s", id)
	sb := f.sandboxes[id]
	if sb == nil {
		return nil
	}
	sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	for _, c := range f.containers {
		if c.sandbox == id && c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			f.exit(c, 137)
		}
	}
	return nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RemovePodSandbox %s", id)
	delete(f.sandboxes, id)
	for cid, c := range f.containers {
		if c.sandbox == id {
			delete(f.containers, cid)
		}
	}
	return nil
}

func (f *fakeRuntime) PodSandboxStatus(_ context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := f.sandboxes[id]
	if sb == nil {
		return nil, notFound("sandbox", id)
	}
	return &runtimeapi.PodSandboxStatus{Id: id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.created,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: sb.ip}, Labels: sb.cfg.Labels}, nil
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for id, sb := range f.sandboxes {
		if filter != nil && !matches(filter.LabelSelector, sb.cfg.Labels) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{Id: id, Metadata: sb.cfg.Metadata, State: sb.state, CreatedAt: sb.created, Labels: sb.cfg.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sandboxes[sandboxID] == nil {
		return "", notFound("sandbox", sandboxID)
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	f.record("CreateContainer %s attempt=%d", cfg.Metadata.Name, cfg.Metadata.Attempt)
	f.containers[id] = &fakeContainer{sandbox: sandboxID, cfg: cfg, status: &runtimeapi.ContainerStatus{
		Id: id, Metadata: cfg.Metadata, State: runtimeapi.ContainerState_CONTAINER_CREATED,
		CreatedAt: time.Now().UnixNano(), Image: &runtimeapi.ImageSpec{Image: cfg.Image.UserSpecifiedImage},
		ImageRef: "sha256:fake", Labels: cfg.Labels, Annotations: cfg.Annotations,
	}}
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return notFound("container", id)
	}
	f.record("StartContainer %s", c.cfg.Metadata.Name)
	c.status.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.status.StartedAt = time.Now().UnixNano()
	if code, ok := f.exitOnStart[c.cfg.Metadata.Name]; ok {
		f.exit(c, code)
	}
	return nil
}

func (f *fakeRuntime) exit(c *fakeContainer, code int32) {
	c.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
	c.status.ExitCode = code
	c.status.FinishedAt = time.Now().UnixNano()
}

// Exit makes the running container named name exit with code.
func (f *fakeRuntime) Exit(name string, code int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.cfg.Metadata.Name == name && c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			f.exit(c, code)
			return true
		}
	}
	return false
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, timeout int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return notFound("container", id)
	}
	f.record("StopContainer %s timeout=%d", c.cfg.Metadata.Name, timeout)
	if c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.exit(c, f.stopExitCode)
	}
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		f.record("RemoveContainer %s", c.cfg.Metadata.Name)
	}
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) ListContainers(_ context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*runtimeapi.Container
	for id, c := range f.containers {
		if filter != nil && (!matches(filter.LabelSelector, c.cfg.Labels) || (filter.PodSandboxId != "" && filter.PodSandboxId != c.sandbox)) {
			continue
		}
		out = append(out, &runtimeapi.Container{Id: id, PodSandboxId: c.sandbox, Metadata: c.cfg.Metadata, State: c.status.State,
			CreatedAt: c.status.CreatedAt, Labels: c.cfg.Labels, Annotations: c.cfg.Annotations})
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return nil, notFound("container", id)
	}
	cp := *c.status
	return &cp, nil
}

func (f *fakeRuntime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ExecSync %s", strings.Join(cmd, " "))
	if len(cmd) > 0 {
		return nil, nil, f.execResult[cmd[0]], nil
	}
	return nil, nil, 0, nil
}

func (f *fakeRuntime) ImageStatus(_ context.Context, image string) (*runtimeapi.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.images[image] {
		return &runtimeapi.Image{Id: "sha256:" + image, RepoTags: []string{image}}, nil
	}
	return nil, nil
}

func (f *fakeRuntime) PullImage(ctx context.Context, image string, _ *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	f.record("PullImage %s", image)
	block := f.pullBlocks
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", status.Errorf(codes.NotFound, "failed to pull and unpack image %q: not found", image)
}

// addAdopted puts a running sandbox and container for a pod into the
// runtime, as a previous kubelet would have left them.
func (f *fakeRuntime) addAdopted(uid, ns, name, container string, attempt uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	labels := map[string]string{LabelManaged: "true", LabelPodUID: uid, LabelPodName: name, LabelPodNamespace: ns}
	f.next++
	sb := fmt.Sprintf("sb%d", f.next)
	f.sandboxes[sb] = &fakeSandbox{cfg: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid}, Labels: labels},
		state: runtimeapi.PodSandboxState_SANDBOX_READY, created: time.Now().UnixNano(), ip: "10.42.9.200"}
	cl := map[string]string{LabelContainer: container}
	for k, v := range labels {
		cl[k] = v
	}
	f.next++
	id := fmt.Sprintf("c%d", f.next)
	md := &runtimeapi.ContainerMetadata{Name: container, Attempt: attempt}
	f.containers[id] = &fakeContainer{sandbox: sb, cfg: &runtimeapi.ContainerConfig{Metadata: md, Labels: cl, Image: &runtimeapi.ImageSpec{}},
		status: &runtimeapi.ContainerStatus{Id: id, Metadata: md, State: runtimeapi.ContainerState_CONTAINER_RUNNING,
			StartedAt: time.Now().UnixNano(), CreatedAt: time.Now().UnixNano(), Labels: cl, Image: &runtimeapi.ImageSpec{}}}
}

// addForeign adds a container and sandbox bosun did not create.
func (f *fakeRuntime) addForeign() {
	f.mu.Lock()
	defer f.mu.Unlock()
	labels := map[string]string{LabelPodUID: "foreign"}
	f.sandboxes["foreign-sb"] = &fakeSandbox{cfg: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "x", Uid: "foreign"}, Labels: labels},
		state: runtimeapi.PodSandboxState_SANDBOX_READY}
	md := &runtimeapi.ContainerMetadata{Name: "foreign"}
	f.containers["foreign-c"] = &fakeContainer{sandbox: "foreign-sb", cfg: &runtimeapi.ContainerConfig{Metadata: md, Labels: labels},
		status: &runtimeapi.ContainerStatus{Id: "foreign-c", Metadata: md, State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: labels}}
}

func (f *fakeRuntime) Exec(context.Context, *runtimeapi.ExecRequest) (string, error) {
	return "", status.Error(codes.Unimplemented, "fake")
}

func (f *fakeRuntime) Attach(context.Context, *runtimeapi.AttachRequest) (string, error) {
	return "", status.Error(codes.Unimplemented, "fake")
}

func (f *fakeRuntime) PortForward(context.Context, *runtimeapi.PortForwardRequest) (string, error) {
	return "", status.Error(codes.Unimplemented, "fake")
}
