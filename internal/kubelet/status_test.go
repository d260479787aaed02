package kubelet

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func inst(name string, attempt uint32, state runtimeapi.ContainerState, exit int32) instance {
	st := &runtimeapi.ContainerStatus{Id: name + "-id", Metadata: &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
		State: state, ExitCode: exit, StartedAt: 1e9, Image: &runtimeapi.ImageSpec{}}
	if state == runtimeapi.ContainerState_CONTAINER_EXITED {
		st.FinishedAt = 2e9
	}
	return instance{c: &runtimeapi.Container{Id: st.Id, Metadata: st.Metadata, State: state}, st: st}
}

const (
	run  = runtimeapi.ContainerState_CONTAINER_RUNNING
	done = runtimeapi.ContainerState_CONTAINER_EXITED
)

func TestBuildStatusPhases(t *testing.T) {
	cases := []struct {
		name      string
		policy    v1.RestartPolicy
		init      []string
		set       containerSet
		waiting   map[string]waitingInfo
		terminal  bool
		phase     v1.PodPhase
		ready     v1.ConditionStatus
		initCond  v1.ConditionStatus
		appReason string // waiting reason of container "a"
	}{
		{name: "nothing yet", policy: v1.RestartPolicyAlways, set: containerSet{},
			phase: v1.PodPending, ready: v1.ConditionFalse, initCond: v1.ConditionTrue, appReason: "ContainerCreating"},
		{name: "running", policy: v1.RestartPolicyAlways, set: containerSet{"a": {inst("a", 0, run, 0)}},
			phase: v1.PodRunning, ready: v1.ConditionTrue, initCond: v1.ConditionTrue},
		{name: "init running", policy: v1.RestartPolicyAlways, init: []string{"i"}, set: containerSet{"i": {inst("i", 0, run, 0)}},
			phase: v1.PodPending, ready: v1.ConditionFalse, initCond: v1.ConditionFalse, appReason: "PodInitializing"},
		{name: "init failed, Never", policy: v1.RestartPolicyNever, init: []string{"i"}, set: containerSet{"i": {inst("i", 0, done, 2)}},
			phase: v1.PodFailed, ready: v1.ConditionFalse, initCond: v1.ConditionFalse, appReason: "PodInitializing"},
		{name: "completed 0, Never", policy: v1.RestartPolicyNever, set: containerSet{"a": {inst("a", 0, done, 0)}},
			phase: v1.PodSucceeded, ready: v1.ConditionFalse, initCond: v1.ConditionTrue},
		{name: "failed, Never", policy: v1.RestartPolicyNever, set: containerSet{"a": {inst("a", 0, done, 1)}},
			phase: v1.PodFailed, ready: v1.ConditionFalse, initCond: v1.ConditionTrue},
		{name: "failed, OnFailure, backing off", policy: v1.RestartPolicyOnFailure, set: containerSet{"a": {inst("a", 1, done, 1)}},
			waiting: map[string]waitingInfo{"a": {"CrashLoopBackOff", "back-off"}},
			phase:   v1.PodRunning, ready: v1.ConditionFalse, initCond: v1.ConditionTrue, appReason: "CrashLoopBackOff"},
		{name: "exited 0, Always, backing off", policy: v1.RestartPolicyAlways, set: containerSet{"a": {inst("a", 3, done, 0)}},
			waiting: map[string]waitingInfo{"a": {"CrashLoopBackOff", "back-off"}},
			phase:   v1.PodRunning, ready: v1.ConditionFalse, initCond: v1.ConditionTrue, appReason: "CrashLoopBackOff"},
		{name: "deleted after SIGTERM exit 143", policy: v1.RestartPolicyAlways, set: containerSet{"a": {inst("a", 0, done, 143)}},
			terminal: true, phase: v1.PodFailed, ready: v1.ConditionFalse, initCond: v1.ConditionTrue},
		{name: "image pull error", policy: v1.RestartPolicyAlways, set: containerSet{},
			waiting: map[string]waitingInfo{"a": {"ErrImagePull", "nope"}},
			phase:   v1.PodPending, ready: v1.ConditionFalse, initCond: v1.ConditionTrue, appReason: "ErrImagePull"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pod := testPod("p", "a")
			pod.Spec.RestartPolicy = c.policy
			for _, n := range c.init {
				pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: n, Image: "x"})
			}
			st := buildStatus(statusInput{pod: pod, now: time.Unix(100, 0), nodeIP: "192.0.2.1", podIPs: []string{"10.42.0.5"},
				startTime: time.Unix(50, 0), containers: c.set, waiting: c.waiting, terminal: c.terminal})
			if st.Phase != c.phase {
				t.Errorf("phase %s, want %s", st.Phase, c.phase)
			}
			if got := findCondition(st.Conditions, v1.PodReady).Status; got != c.ready {
				t.Errorf("Ready %s, want %s", got, c.ready)
			}
			if got := findCondition(st.Conditions, v1.PodInitialized).Status; got != c.initCond {
				t.Errorf("Initialized %s, want %s", got, c.initCond)
			}
			a := st.ContainerStatuses[0]
			gotReason := ""
			if a.State.Waiting != nil {
				gotReason = a.State.Waiting.Reason
			}
			if gotReason != c.appReason {
				t.Errorf("container waiting reason %q, want %q", gotReason, c.appReason)
			}
			if st.PodIP != "10.42.0.5" || st.HostIP != "192.0.2.1" || st.StartTime == nil || st.QOSClass != v1.PodQOSBestEffort {
				t.Errorf("podIP %s hostIP %s startTime %v qos %s", st.PodIP, st.HostIP, st.StartTime, st.QOSClass)
			}
		})
	}
}

func TestBackoffSequence(t *testing.T) {
	now := time.Unix(1000, 0)
	clk := &fakeNow{t: now}
	b := newBackoff(clk, 10*time.Second, 5*time.Minute)
	var waits []time.Duration
	for i := 0; i < 8; i++ {
		// The container just finished; how long until it may restart?
		waits = append(waits, b.wait("k", clk.Now()))
		b.next("k")
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("restart %d waits %v, want %v", i, waits[i], want[i])
		}
	}
	// Forgotten after 2×max without a restart.
	clk.t = clk.t.Add(11 * time.Minute)
	if w := b.wait("k", clk.Now()); w != 0 {
		t.Errorf("after a long run the wait is %v, want 0", w)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	cases := map[string]string{
		"plain":       "plain",
		"$(A)":        "1",
		"x$(A)y$(B)z": "x1ytwoz",
		"$(C)":        "$(C)",
		"$$(A)":       "$(A)",
		"$$":          "$",
		"$(A":         "$(A",
		"a$b":         "a$b",
		"$":           "$",
	}
	for in, want := range cases {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
