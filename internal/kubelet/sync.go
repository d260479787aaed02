package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// instance is one container the runtime has for a pod, with its status.
type instance struct {
	c  *runtimeapi.Container
	st *runtimeapi.ContainerStatus
}

// containerSet groups a pod's containers by name, newest first.
type containerSet map[string][]instance

func (cs containerSet) latest(name string) *runtimeapi.ContainerStatus {
	if in := cs[name]; len(in) > 0 {
		return in[0].st
	}
	return nil
}

func (cs containerSet) previous(name string) *runtimeapi.ContainerStatus {
	if in := cs[name]; len(in) > 1 {
		return in[1].st
	}
	return nil
}

func (w *podWorker) uidFilter() map[string]string {
	return map[string]string{LabelManaged: "true", LabelPodUID: string(w.uid)}
}

// listContainers returns the pod's containers with the statuses of the two
// newest instances of each name (exited statuses are cached: they never
// change).
func (w *podWorker) listContainers(ctx context.Context) (containerSet, error) {
	list, err := w.k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: w.uidFilter()})
	if err != nil {
		return nil, err
	}
	set := containerSet{}
	for _, c := range list {
		name := c.Labels[LabelContainer]
		if name == "" && c.Metadata != nil {
			name = c.Metadata.Name
		}
		set[name] = append(set[name], instance{c: c})
	}
	for name, ins := range set {
		sort.Slice(ins, func(i, j int) bool {
			ai, aj := ins[i].c.GetMetadata().GetAttempt(), ins[j].c.GetMetadata().GetAttempt()
			if ai != aj {
				return ai > aj
			}
			return ins[i].c.CreatedAt > ins[j].c.CreatedAt
		})
		for i := range ins {
			if i > 1 {
				break
			}
			st, err := w.containerStatus(ctx, ins[i].c.Id)
			if err != nil {
				return nil, err
			}
			ins[i].st = st
		}
		set[name] = ins
	}
	return set, nil
}

func (w *podWorker) containerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	if st := w.exited[id]; st != nil {
		return st, nil
	}
	st, err := w.k.runtime.ContainerStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		w.fillTerminationMessage(st)
		w.exited[id] = st
	}
	return st, nil
}

// fillTerminationMessage reads the container's termination message file
// (or the tail of its log, per terminationMessagePolicy) into st.Message.
func (w *podWorker) fillTerminationMessage(st *runtimeapi.ContainerStatus) {
	path := st.Annotations[annTerminationLog]
	if path != "" {
		if b, err := readLimited(path, 4096); err == nil && len(b) > 0 {
			st.Message = string(b)
			return
		}
	}
	if st.Annotations[annTerminationPolicy] == string(v1.TerminationMessageFallbackToLogsOnError) && st.ExitCode != 0 && st.LogPath != "" {
		st.Message = tailLog(st.LogPath, 80, 2048)
	}
}

// sync makes the runtime match pod and writes its status. It returns when
// to sync again without a kick, and whether the pod reached a terminal phase.
func (w *podWorker) sync(ctx context.Context, pod *v1.Pod) (time.Duration, bool, error) {
	k := w.k
	resync := k.cfg.ResyncInterval
	if w.startTime.IsZero() {
		w.startTime = k.clock.Now()
		if pod.Status.StartTime != nil {
			w.startTime = pod.Status.StartTime.Time
		}
	}
	// A pod the API already shows finished never runs again (e.g. after
	// a restart that lost its containers); its status stays as it is.
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		if w.lastStatus == nil {
			w.keepStatus = true
		}
		return 0, true, nil
	}
	clear(w.waiting)
	soon := func(d time.Duration) {
		if d > 0 && d < resync {
			resync = d
		}
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		left := time.Duration(*d)*time.Second - k.clock.Since(w.startTime)
		if left <= 0 {
			w.failReason, w.failMessage = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
			k.event(pod, "", v1.EventTypeNormal, "DeadlineExceeded", "%s", w.failMessage)
			return 0, true, nil
		}
		soon(left)
	}

	// A pod being brought up takes one of the start slots until its first
	// containers run.
	if w.sandboxID == "" && k.starts != nil {
		select {
		case k.starts <- struct{}{}:
			defer func() { <-k.starts }()
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}

	// The sandbox.
	sandboxErr := w.ensureSandbox(ctx, pod)
	if sandboxErr != nil {
		soon(2 * time.Second)
		if errors.Is(sandboxErr, errVolumes) {
			k.event(pod, "", v1.EventTypeWarning, "FailedMount", "%v", sandboxErr)
		} else {
			k.event(pod, "", v1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", sandboxErr)
		}
	}

	containers, err := w.listContainers(ctx)
	if err != nil {
		return time.Second, false, err
	}

	var syncErr error
	if sandboxErr == nil {
		acted, wake, err := w.syncContainers(ctx, pod, containers)
		syncErr = err
		soon(wake)
		if acted {
			soon(time.Second)
			if containers, err = w.listContainers(ctx); err != nil {
				return time.Second, false, err
			}
		}
		w.probes.sync(w.runCtx, pod, containers, w.podIPs) // probes outlive this sync
	}

	status := w.computeStatus(pod, containers, false)
	if err := w.writeStatus(ctx, pod, status); err != nil {
		syncErr = errors.Join(syncErr, err)
		soon(time.Second)
	}
	terminal := status.Phase == v1.PodSucceeded || status.Phase == v1.PodFailed
	return resync, terminal, errors.Join(sandboxErr, syncErr)
}

// ensureSandbox finds the pod's ready sandbox or creates one, and prepares
// volumes and the hosts file.
func (w *podWorker) ensureSandbox(ctx context.Context, pod *v1.Pod) error {
	k := w.k
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: w.uidFilter()})
	if err != nil {
		return err
	}
	var ready *runtimeapi.PodSandbox
	var attempt uint32
	for _, sb := range sbs {
		if a := sb.GetMetadata().GetAttempt(); a+1 > attempt {
			attempt = a + 1
		}
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY && (ready == nil || sb.CreatedAt > ready.CreatedAt) {
			ready = sb
		}
	}
	if paths, err := k.setupVolumes(ctx, pod, w.podIPs); err != nil {
		w.volumePaths = nil
		return fmt.Errorf("%w: %w", errVolumes, err)
	} else {
		w.volumePaths = paths
	}
	if ready != nil {
		if w.sandboxID != ready.Id {
			cfg, err := k.sandboxConfig(pod, ready.GetMetadata().GetAttempt())
			if err != nil {
				return err
			}
			st, err := k.runtime.PodSandboxStatus(ctx, ready.Id)
			if err != nil {
				return err
			}
			w.sandboxID, w.sandboxCfg, w.podIPs = ready.Id, cfg, sandboxIPs(st)
			if pod.Spec.HostNetwork && k.cfg.NodeIP != "" {
				w.podIPs = []string{k.cfg.NodeIP}
			}
			if err := k.writeHostsFile(pod, w.podIPs); err != nil {
				return err
			}
		}
		return nil
	}
	// No ready sandbox: a new pod, or its sandbox died (then its
	// containers are stopped and everything starts again).
	if len(sbs) > 0 {
		k.event(pod, "", v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
	}
	for _, sb := range sbs {
		if err := w.stopSandboxContainers(ctx, sb.Id, 0); err != nil {
			return err
		}
		_ = k.runtime.StopPodSandbox(ctx, sb.Id)
	}
	cfg, err := k.sandboxConfig(pod, attempt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	t0 := k.clock.Now()
	id, err := k.runtime.RunPodSandbox(ctx, cfg)
	if err != nil {
		return err
	}
	k.note(id, int32(runtimeapi.PodSandboxState_SANDBOX_READY))
	k.log.Debug("sandbox started", "pod", pod.Namespace+"/"+pod.Name, "took", k.clock.Since(t0))
	st, err := k.runtime.PodSandboxStatus(ctx, id)
	if err != nil {
		return err
	}
	w.sandboxID, w.sandboxCfg, w.podIPs = id, cfg, sandboxIPs(st)
	if pod.Spec.HostNetwork && k.cfg.NodeIP != "" {
		w.podIPs = []string{k.cfg.NodeIP}
	}
	if err := k.writeHostsFile(pod, w.podIPs); err != nil {
		return err
	}
	// The newest dead sandbox stays (stopped) so that its containers keep
	// giving restart counts and lastState; older ones go.
	var newest *runtimeapi.PodSandbox
	for _, sb := range sbs {
		if newest == nil || sb.CreatedAt > newest.CreatedAt {
			newest = sb
		}
	}
	for _, sb := range sbs {
		if sb != newest {
			_ = k.runtime.RemovePodSandbox(ctx, sb.Id)
		}
	}
	return nil
}

func sandboxIPs(st *runtimeapi.PodSandboxStatus) []string {
	n := st.GetNetwork()
	if n == nil || n.Ip == "" {
		return nil
	}
	ips := []string{n.Ip}
	for _, a := range n.AdditionalIps {
		ips = append(ips, a.Ip)
	}
	return ips
}

// syncContainers runs init containers in order, then the app containers,
// restarting per policy. acted says it started or stopped something; wake
// is when a back-off ends.
func (w *podWorker) syncContainers(ctx context.Context, pod *v1.Pod, cs containerSet) (acted bool, wake time.Duration, err error) {
	// Once an app container exists the pod is initialized: regular init
	// containers never run again; sidecars keep being restarted.
	initialized := false
	for _, c := range pod.Spec.Containers {
		if cs.latest(c.Name) != nil {
			initialized = true
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st := cs.latest(c.Name)
		if isSidecar(c) {
			a, d, e := w.syncSidecar(ctx, pod, c, cs)
			acted = acted || a
			if d > 0 && (wake == 0 || d < wake) {
				wake = d
			}
			err = errors.Join(err, e)
			if initialized {
				continue
			}
			if st == nil || st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				return acted, wake, err
			}
			if _, started, known := w.probes.results(st.Id); (known && !started) || (!known && c.StartupProbe != nil) {
				return acted, wake, err // wait until the sidecar started
			}
			continue
		}
		if initialized {
			continue
		}
		switch {
		case st == nil:
			return true, wake, errors.Join(err, w.startContainer(ctx, pod, c, 0, true))
		case st.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			return acted, wake, err
		case st.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			return true, wake, errors.Join(err, w.startCreated(ctx, pod, c, st))
		case st.State == runtimeapi.ContainerState_CONTAINER_EXITED && st.ExitCode == 0:
			continue
		default: // exited with an error (or unknown)
			if pod.Spec.RestartPolicy == v1.RestartPolicyNever {
				return acted, wake, err // computeStatus reports the pod Failed
			}
			a, d, e := w.restart(ctx, pod, c, cs, true)
			return acted || a, max(wake, d), errors.Join(err, e)
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := cs.latest(c.Name)
		var a bool
		var d time.Duration
		var e error
		switch {
		case st == nil:
			a, e = true, w.startContainer(ctx, pod, c, 0, false)
		case st.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			a, e = true, w.startCreated(ctx, pod, c, st)
		case st.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			if reason := w.killReason(c, st); reason != "" {
				w.k.log.Info("killing container", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "reason", reason)
				a, e = true, w.killContainer(ctx, pod, c, st.Id, gracePeriod(pod), fmt.Sprintf("Container %s %s, will be restarted", c.Name, reason))
			}
		default:
			if shouldRestart(pod.Spec.RestartPolicy, st.ExitCode) {
				a, d, e = w.restart(ctx, pod, c, cs, false)
			}
		}
		acted = acted || a
		if d > 0 && (wake == 0 || d < wake) {
			wake = d
		}
		err = errors.Join(err, e)
	}
	// Ephemeral containers (kubectl debug) start once and never restart.
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		if cs.latest(ec.Name) != nil {
			continue
		}
		c := v1.Container(ec.EphemeralContainerCommon)
		acted = true
		err = errors.Join(err, w.startContainer(ctx, pod, &c, 0, false))
	}
	return acted, wake, err
}

// isSidecar: an init container with restartPolicy Always runs beside the
// app containers for the pod's whole life.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// syncSidecar keeps a sidecar running: started, restarted with back-off
// whatever its exit code, killed when its probes say so.
func (w *podWorker) syncSidecar(ctx context.Context, pod *v1.Pod, c *v1.Container, cs containerSet) (bool, time.Duration, error) {
	st := cs.latest(c.Name)
	switch {
	case st == nil:
		return true, 0, w.startContainer(ctx, pod, c, 0, true)
	case st.State == runtimeapi.ContainerState_CONTAINER_CREATED:
		return true, 0, w.startCreated(ctx, pod, c, st)
	case st.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
		if reason := w.killReason(c, st); reason != "" {
			return true, 0, w.killContainer(ctx, pod, c, st.Id, gracePeriod(pod), fmt.Sprintf("Container %s %s, will be restarted", c.Name, reason))
		}
		return false, 0, nil
	default:
		return w.restart(ctx, pod, c, cs, true)
	}
}

func shouldRestart(policy v1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// killReason says why a running container must be killed: a failed
// liveness or startup probe, or a changed image.
func (w *podWorker) killReason(c *v1.Container, st *runtimeapi.ContainerStatus) string {
	if img := st.Annotations[annImage]; img != "" && img != c.Image {
		return "image changed to " + c.Image
	}
	return w.probes.killReason(st.Id)
}

// restart starts the next instance of c unless it is in back-off.
func (w *podWorker) restart(ctx context.Context, pod *v1.Pod, c *v1.Container, cs containerSet, init bool) (bool, time.Duration, error) {
	st := cs.latest(c.Name)
	key := backoffKey(pod, c.Name)
	finished := time.Unix(0, st.FinishedAt)
	if st.FinishedAt == 0 {
		finished = w.k.clock.Now()
	}
	if d := w.k.backoff.wait(key, finished); d > 0 {
		if _, already := w.backingOff[c.Name]; !already {
			w.backingOff[c.Name] = true
			w.k.event(pod, c.Name, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
		}
		w.waiting[c.Name] = waitingInfo{
			reason: "CrashLoopBackOff",
			message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				w.k.backoff.delay(key), c.Name, pod.Name, pod.Namespace, pod.UID),
		}
		return false, d, nil
	}
	w.k.backoff.next(key)
	delete(w.backingOff, c.Name)
	// Keep only the instance that becomes the previous one (for
	// lastState and logs --previous).
	for _, in := range cs[c.Name][1:] {
		if err := w.k.runtime.RemoveContainer(ctx, in.c.Id); err != nil {
			w.k.log.Warn("remove old container", "id", in.c.Id, "err", err)
		}
		delete(w.exited, in.c.Id)
	}
	return true, 0, w.startContainer(ctx, pod, c, st.GetMetadata().GetAttempt()+1, init)
}

// errVolumes marks a failure to set up the pod's volumes.
var errVolumes = errors.New("volumes")

func backoffKey(pod *v1.Pod, name string) string { return string(pod.UID) + "/" + name }

// startCreated starts a container that was created but never started (an
// earlier start failed half-way): it is removed and created again.
func (w *podWorker) startCreated(ctx context.Context, pod *v1.Pod, c *v1.Container, st *runtimeapi.ContainerStatus) error {
	if err := w.k.runtime.RemoveContainer(ctx, st.Id); err != nil {
		return err
	}
	isInit := false
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			isInit = true
		}
	}
	return w.startContainer(ctx, pod, c, st.GetMetadata().GetAttempt(), isInit)
}

// startContainer pulls per policy, creates and starts one container and
// runs its postStart hook. Failures become the container's waiting reason.
func (w *podWorker) startContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, attempt uint32, init bool) error {
	k := w.k
	imageRef, err := w.ensureImage(ctx, pod, c)
	if err != nil {
		return err
	}
	cfg, err := k.containerConfig(ctx, pod, c, attempt, imageRef, init, w.podIPs, w.volumePaths)
	if err != nil {
		w.waiting[c.Name] = waitingInfo{"CreateContainerConfigError", err.Error()}
		k.event(pod, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return err
	}
	if target := ephemeralTarget(pod, c.Name); target != "" {
		// Share the target container's process namespace.
		if tid, err := w.latestID(ctx, target); err == nil && tid != "" {
			cfg.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_TARGET
			cfg.Linux.SecurityContext.NamespaceOptions.TargetId = tid
		}
	}
	t0 := k.clock.Now()
	id, err := k.runtime.CreateContainer(ctx, w.sandboxID, cfg, w.sandboxCfg)
	t1 := k.clock.Now()
	if err != nil {
		w.waiting[c.Name] = waitingInfo{"CreateContainerError", err.Error()}
		k.event(pod, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return err
	}
	k.event(pod, c.Name, v1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if err := k.runtime.StartContainer(ctx, id); err != nil {
		w.waiting[c.Name] = waitingInfo{"RunContainerError", err.Error()}
		k.event(pod, c.Name, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return err
	}
	k.note(id, int32(runtimeapi.ContainerState_CONTAINER_RUNNING))
	k.event(pod, c.Name, v1.EventTypeNormal, "Started", "Started container %s", c.Name)
	k.log.Debug("container started", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "create", t1.Sub(t0), "start", k.clock.Since(t1))
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := w.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, gracePeriod(pod)); err != nil {
			k.event(pod, c.Name, v1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			k.log.Info("postStart hook failed; killing container", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
			_ = k.runtime.StopContainer(ctx, id, gracePeriod(pod))
			return fmt.Errorf("postStart hook of %s: %w", c.Name, err)
		}
	}
	return nil
}

// ensureImage makes the image present per imagePullPolicy and returns the
// reference to create the container from.
func (w *podWorker) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container) (string, error) {
	k := w.k
	img, err := k.runtime.ImageStatus(ctx, c.Image)
	if err != nil {
		w.waiting[c.Name] = waitingInfo{"ErrImagePull", err.Error()}
		return "", err
	}
	local := strings.HasPrefix(c.Image, "bosun.local/")
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = v1.PullIfNotPresent
	}
	if img != nil && (policy != v1.PullAlways || local) {
		k.event(pod, c.Name, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return img.Id, nil
	}
	if img == nil && policy == v1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.waiting[c.Name] = waitingInfo{"ErrImageNeverPull", msg}
		k.event(pod, c.Name, v1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
		return "", errors.New(msg)
	}
	key := "pull/" + backoffKey(pod, c.Name)
	if d := k.backoff.wait(key, w.pullFailed[c.Name]); d > 0 {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		w.waiting[c.Name] = waitingInfo{"ImagePullBackOff", msg}
		k.event(pod, c.Name, v1.EventTypeNormal, "BackOff", "%s", msg)
		return "", errors.New(msg)
	}
	k.event(pod, c.Name, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	var ref string
	if local {
		err = fmt.Errorf("failed to pull and unpack image %q: not found: bosun.local images are built by bosun, no registry serves them", c.Image)
	} else {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		ref, err = k.runtime.PullImage(pctx, c.Image, w.sandboxCfg)
		cancel()
	}
	if err != nil {
		k.backoff.next(key)
		w.pullFailed[c.Name] = k.clock.Now()
		w.waiting[c.Name] = waitingInfo{"ErrImagePull", err.Error()}
		k.event(pod, c.Name, v1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return "", err
	}
	k.event(pod, c.Name, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q", c.Image)
	k.backoff.reset(key)
	delete(w.pullFailed, c.Name)
	return ref, nil
}

// killContainer runs the preStop hook and stops the container with the
// grace period (SIGTERM, SIGKILL when it ends).
func (w *podWorker) killContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, grace int64, msg string) error {
	start := w.k.clock.Now()
	if c != nil {
		if msg == "" {
			msg = "Stopping container " + c.Name
		}
		w.k.event(pod, c.Name, v1.EventTypeNormal, "Killing", "%s", msg)
	}
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if err := w.runHook(ctx, pod, c, id, c.Lifecycle.PreStop, grace); err != nil {
			w.k.event(pod, c.Name, v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
			w.k.log.Info("preStop hook failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
		}
		grace -= int64(w.k.clock.Since(start) / time.Second)
		if grace < 2 {
			grace = 2
		}
	}
	return w.k.runtime.StopContainer(ctx, id, grace)
}

func gracePeriod(pod *v1.Pod) int64 {
	if pod == nil {
		return 2
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// stopSandboxContainers stops every running container of one sandbox.
func (w *podWorker) stopSandboxContainers(ctx context.Context, sandboxID string, grace int64) error {
	list, err := w.k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sandboxID, LabelSelector: w.uidFilter()})
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			if err := w.k.runtime.StopContainer(ctx, c.Id, grace); err != nil {
				return err
			}
		}
	}
	return nil
}

// terminate stops the pod: preStop hooks and SIGTERM to every running
// container in parallel, SIGKILL after the grace period, then the sandbox.
// A pod that finished (not deleted) keeps its containers; the final status
// is written unless the pod is gone.
func (w *podWorker) terminate(ctx context.Context, pod *v1.Pod, gone bool) error {
	k := w.k
	w.probes.stopAll()
	grace := gracePeriod(pod)
	if gone && (pod == nil || pod.DeletionGracePeriodSeconds == nil) {
		grace = 2
	}
	cs, err := w.listContainers(ctx)
	if err != nil {
		return err
	}
	// App containers (and regular init containers) first, then sidecars.
	for _, sidecars := range []bool{false, true} {
		errc := make(chan error, len(cs))
		n := 0
		for name, ins := range cs {
			spec := findContainer(pod, name)
			if (spec != nil && isSidecar(spec)) != sidecars {
				continue
			}
			for _, in := range ins {
				if in.c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
					continue
				}
				n++
				go func(id string) { errc <- w.killContainer(ctx, pod, spec, id, grace, "") }(in.c.Id)
			}
		}
		var errs error
		for ; n > 0; n-- {
			errs = errors.Join(errs, <-errc)
		}
		if errs != nil {
			return errs
		}
	}
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: w.uidFilter()})
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if err := k.runtime.StopPodSandbox(ctx, sb.Id); err != nil {
				return err
			}
		}
	}
	if pod != nil && !gone && !w.keepStatus {
		if cs, err = w.listContainers(ctx); err != nil {
			return err
		}
		status := w.computeStatus(pod, cs, true)
		if err := w.writeStatus(ctx, pod, status); err != nil {
			return err
		}
	}
	return nil
}

// ephemeralTarget is the targetContainerName of an ephemeral container.
func ephemeralTarget(pod *v1.Pod, name string) string {
	for _, ec := range pod.Spec.EphemeralContainers {
		if ec.Name == name {
			return ec.TargetContainerName
		}
	}
	return ""
}

// latestID is the ID of the newest instance of a container.
func (w *podWorker) latestID(ctx context.Context, name string) (string, error) {
	sel := w.uidFilter()
	sel[LabelContainer] = name
	list, err := w.k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return "", err
	}
	best := ""
	var bestAttempt uint32
	for _, c := range list {
		if a := c.GetMetadata().GetAttempt(); best == "" || a > bestAttempt {
			best, bestAttempt = c.Id, a
		}
	}
	return best, nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	if pod == nil {
		return nil
	}
	for i := range pod.Spec.EphemeralContainers {
		if ec := &pod.Spec.EphemeralContainers[i]; ec.Name == name {
			c := v1.Container(ec.EphemeralContainerCommon)
			return &c
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// finish removes what is left of a deleted pod — containers, sandboxes,
// volumes, logs — and deletes the pod object (grace 0, UID precondition).
func (w *podWorker) finish(ctx context.Context, pod *v1.Pod, gone bool) error {
	k := w.k
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: w.uidFilter()})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := k.runtime.RemoveContainer(ctx, c.Id); err != nil {
			return err
		}
	}
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: w.uidFilter()})
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		// A sandbox terminate already stopped is not stopped again: each
		// stop tears the pod network down through every CNI plugin anew.
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if err := k.runtime.StopPodSandbox(ctx, sb.Id); err != nil {
				return err
			}
		}
		if err := k.runtime.RemovePodSandbox(ctx, sb.Id); err != nil {
			return err
		}
	}
	if err := k.teardownVolumes(w.uid); err != nil {
		return err
	}
	// Log dirs are <ns>_<name>_<uid>.
	if dirs, err := filepath.Glob(filepath.Join(k.cfg.DataDir, "logs", "*_"+string(w.uid))); err == nil {
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
	}
	k.forgetTokens(w.uid)
	k.backoff.forgetPrefix(string(w.uid) + "/")
	k.backoff.forgetPrefix("pull/" + string(w.uid) + "/")
	if !gone && pod != nil && !w.deleted {
		uid := pod.UID
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod: %w", err)
		}
		w.deleted = true
	}
	return nil
}

// writeStatus writes status to pods/status when it differs from what the
// pod shows and from what this worker wrote last.
func (w *podWorker) writeStatus(ctx context.Context, pod *v1.Pod, status v1.PodStatus) error {
	if w.lastStatus != nil && equality.Semantic.DeepEqual(*w.lastStatus, status) {
		return nil
	}
	if equality.Semantic.DeepEqual(pod.Status, status) {
		w.lastStatus = &status
		return nil
	}
	pods := w.k.client.CoreV1().Pods(pod.Namespace)
	upd := pod.DeepCopy()
	upd.Status = status
	_, err := pods.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		var latest *v1.Pod
		latest, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil {
			if latest.UID != pod.UID {
				return nil
			}
			status.Conditions = mergeForeignConditions(latest.Status.Conditions, status.Conditions)
			latest.Status = status
			_, err = pods.UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		}
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	w.lastStatus = &status
	return nil
}
