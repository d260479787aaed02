package kubelet

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// statusInput is everything a pod's status is computed from. buildStatus
// is a pure function of it.
type statusInput struct {
	pod       *v1.Pod
	now       time.Time
	nodeIP    string
	podIPs    []string
	startTime time.Time
	// containers are the runtime's instances by name, newest first.
	containers containerSet
	// waiting holds why containers are not running (back-off, pull and
	// config errors), set by the last sync.
	waiting map[string]waitingInfo
	// probe reports readiness and started of a running container
	// instance; known is false when its probes have not started yet.
	probe func(id string) (ready, started, known bool)
	// terminal: the pod was stopped (deleted or finished) and nothing
	// will restart.
	terminal bool
}

// Condition types the kubelet owns.
var kubeletConditions = map[v1.PodConditionType]bool{
	v1.PodReadyToStartContainers: true,
	v1.PodInitialized:            true,
	v1.PodReady:                  true,
	v1.ContainersReady:           true,
}

func (w *podWorker) computeStatus(pod *v1.Pod, cs containerSet, terminal bool) v1.PodStatus {
	st := buildStatus(statusInput{
		pod:        pod,
		now:        w.k.clock.Now(),
		nodeIP:     w.k.cfg.NodeIP,
		podIPs:     w.podIPs,
		startTime:  w.startTime,
		containers: cs,
		waiting:    w.waiting,
		probe:      w.probes.results,
		terminal:   terminal,
	})
	if w.failReason != "" {
		st.Phase, st.Reason, st.Message = v1.PodFailed, w.failReason, w.failMessage
		for i := range st.Conditions {
			if c := &st.Conditions[i]; c.Type == v1.PodReady || c.Type == v1.ContainersReady {
				c.Status, c.Reason, c.Message = v1.ConditionFalse, "PodFailed", ""
			}
		}
	}
	return st
}

func seconds(t time.Time) metav1.Time { return metav1.NewTime(time.Unix(t.Unix(), 0)) }

func nanos(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(ns/1e9, 0))
}

// buildStatus computes a pod's status the way the upstream kubelet writes it.
func buildStatus(in statusInput) v1.PodStatus {
	pod := in.pod
	st := v1.PodStatus{
		QOSClass:          qosClass(pod),
		NominatedNodeName: pod.Status.NominatedNodeName,
	}
	if in.nodeIP != "" {
		st.HostIP = in.nodeIP
		st.HostIPs = []v1.HostIP{{IP: in.nodeIP}}
	}
	for _, ip := range in.podIPs {
		st.PodIPs = append(st.PodIPs, v1.PodIP{IP: ip})
	}
	if len(in.podIPs) > 0 {
		st.PodIP = in.podIPs[0]
	}
	if !in.startTime.IsZero() {
		t := seconds(in.startTime)
		st.StartTime = &t
	}

	// Init containers: done when each finished with 0; or when an app
	// container already ran (init containers may have been removed).
	appStarted := false
	for _, c := range pod.Spec.Containers {
		if in.containers.latest(c.Name) != nil {
			appStarted = true
		}
	}
	initDone, initFailed := true, false
	var incompleteInit, unready []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cst := in.containerStatus(c, true, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cst)
		if isSidecar(c) {
			// Sidecars count towards readiness, and initialization
			// waits until they started.
			if !cst.Ready {
				unready = append(unready, c.Name)
			}
			if !appStarted && (cst.Started == nil || !*cst.Started) {
				initDone = false
				incompleteInit = append(incompleteInit, c.Name)
			}
			continue
		}
		if appStarted {
			continue
		}
		if t := cst.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		initDone = false
		incompleteInit = append(incompleteInit, c.Name)
		if t := cst.State.Terminated; t != nil && t.ExitCode != 0 && (pod.Spec.RestartPolicy == v1.RestartPolicyNever || in.terminal) {
			initFailed = true
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cst := in.containerStatus(c, false, initDone)
		st.ContainerStatuses = append(st.ContainerStatuses, cst)
		if !cst.Ready {
			unready = append(unready, c.Name)
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		c := v1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, in.containerStatus(&c, false, true))
	}
	st.Phase = podPhase(pod, st.ContainerStatuses, !initDone, initFailed, in.terminal)

	// Conditions, in the order upstream lists them.
	completed := st.Phase == v1.PodSucceeded || st.Phase == v1.PodFailed
	var conds []v1.PodCondition
	add := func(t v1.PodConditionType, ok bool, reason, msg string) {
		s := v1.ConditionFalse
		if ok {
			s = v1.ConditionTrue
		}
		conds = append(conds, v1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg})
	}
	add(v1.PodReadyToStartContainers, len(in.podIPs) > 0 && !in.terminal, "", "")
	switch {
	case completed && initDone:
		add(v1.PodInitialized, true, "PodCompleted", "")
	case initDone:
		add(v1.PodInitialized, true, "", "")
	default:
		add(v1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incompleteInit, " ")))
	}
	containersReady, crReason, crMsg := len(unready) == 0, "", ""
	if completed {
		containersReady, crReason = false, "PodCompleted"
	} else if !containersReady {
		crReason, crMsg = "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	ready, rReason, rMsg := containersReady, crReason, crMsg
	if ready {
		for _, g := range pod.Spec.ReadinessGates {
			c := findCondition(pod.Status.Conditions, g.ConditionType)
			switch {
			case c == nil:
				ready, rReason, rMsg = false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType)
			case c.Status != v1.ConditionTrue:
				ready, rReason, rMsg = false, "ReadinessGatesNotReady", fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %s", g.ConditionType, c.Status)
			}
			if !ready {
				break
			}
		}
	}
	add(v1.PodReady, ready, rReason, rMsg)
	add(v1.ContainersReady, containersReady, crReason, crMsg)
	for i := range conds {
		c := &conds[i]
		if old := findCondition(pod.Status.Conditions, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = seconds(in.now)
		}
	}
	if findCondition(pod.Status.Conditions, v1.PodScheduled) == nil {
		conds = append(conds, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: seconds(in.now)})
	}
	st.Conditions = mergeForeignConditions(pod.Status.Conditions, conds)
	return st
}

func findCondition(conds []v1.PodCondition, t v1.PodConditionType) *v1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// mergeForeignConditions returns ours plus every condition of existing the
// kubelet does not own (PodScheduled, readiness gates, DisruptionTarget…),
// keeping the foreign ones in their place.
func mergeForeignConditions(existing, ours []v1.PodCondition) []v1.PodCondition {
	out := make([]v1.PodCondition, 0, len(existing)+len(ours))
	out = append(out, ours...)
	for _, c := range existing {
		if !kubeletConditions[c.Type] && findCondition(ours, c.Type) == nil {
			out = append(out, c)
		}
	}
	return out
}

// containerStatus is one container's status. initDone matters for app
// containers: they wait in PodInitializing while init containers run.
func (in *statusInput) containerStatus(c *v1.Container, init, initDone bool) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	latest := in.containers.latest(c.Name)
	if latest == nil {
		reason, msg := "ContainerCreating", ""
		if !init && !initDone {
			reason = "PodInitializing"
		}
		if w, ok := in.waiting[c.Name]; ok {
			reason, msg = w.reason, w.message
		}
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: reason, Message: msg}
		return cs
	}
	cs.RestartCount = int32(latest.GetMetadata().GetAttempt())
	cs.ContainerID = "containerd://" + latest.Id
	cs.ImageID = latest.ImageRef
	if img := latest.GetImage().GetImage(); img != "" && !strings.HasPrefix(img, "sha256:") {
		cs.Image = img
	}
	if prev := in.containers.previous(c.Name); prev != nil && prev.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		cs.LastTerminationState.Terminated = terminated(prev)
	}
	switch latest.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: nanos(latest.StartedAt)}
		ready, started, known := false, false, false
		if in.probe != nil {
			ready, started, known = in.probe(latest.Id)
		}
		if !known {
			started = c.StartupProbe == nil
			ready = started && c.ReadinessProbe == nil
		}
		cs.Ready = ready && !in.terminal
		*cs.Started = started
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		reason, msg := "ContainerCreating", ""
		if w, ok := in.waiting[c.Name]; ok {
			reason, msg = w.reason, w.message
		}
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: reason, Message: msg}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		term := terminated(latest)
		if w, ok := in.waiting[c.Name]; ok && !in.terminal {
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
			cs.LastTerminationState = v1.ContainerState{Terminated: term}
		} else {
			cs.State.Terminated = term
		}
	default:
		cs.State.Terminated = &v1.ContainerStateTerminated{
			ExitCode: 137, Reason: "ContainerStatusUnknown",
			Message:     "The container could not be located when the pod was terminated",
			ContainerID: "containerd://" + latest.Id,
		}
	}
	return cs
}

func terminated(st *runtimeapi.ContainerStatus) *v1.ContainerStateTerminated {
	reason := st.Reason
	if reason == "" {
		reason = "Error"
		if st.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &v1.ContainerStateTerminated{
		ExitCode:    st.ExitCode,
		Reason:      reason,
		Message:     st.Message,
		StartedAt:   nanos(st.StartedAt),
		FinishedAt:  nanos(st.FinishedAt),
		ContainerID: "containerd://" + st.Id,
	}
}

// podPhase is upstream's phase rule over the app containers' states.
func podPhase(pod *v1.Pod, statuses []v1.ContainerStatus, pendingInit, failedInit, terminal bool) v1.PodPhase {
	if failedInit {
		return v1.PodFailed
	}
	var running, waiting, stopped, succeeded, unknown int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	policy := pod.Spec.RestartPolicy
	if terminal {
		policy = v1.RestartPolicyNever
	}
	switch {
	case pendingInit:
		if terminal {
			return v1.PodFailed
		}
		return v1.PodPending
	case waiting > 0:
		if terminal {
			return v1.PodFailed
		}
		return v1.PodPending
	case running > 0 && unknown == 0:
		return v1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if policy == v1.RestartPolicyAlways {
			return v1.PodRunning
		}
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		if policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		return v1.PodRunning
	default:
		if terminal {
			return v1.PodFailed
		}
		return v1.PodPending
	}
}
