package kubelet

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// workerState is where a pod worker is in its life (see doc.go).
type workerState int

const (
	stateSyncing workerState = iota
	stateTerminating
	stateTerminated
)

func (s workerState) String() string {
	return [...]string{"syncing", "terminating", "terminated"}[s]
}

// waitingInfo is why a container is not running, as the status shows it.
type waitingInfo struct {
	reason, message string
}

// podWorker owns one pod UID. Only its goroutine touches the fields below
// mu's; update/markGone/kick are called from other goroutines.
type podWorker struct {
	k   *Kubelet
	uid types.UID

	started bool // guarded by k.mu
	kickCh  chan struct{}

	mu         sync.Mutex
	pod        *v1.Pod // latest seen; kept after the pod is gone
	gone       bool
	syncCancel context.CancelFunc // cancels the running sync, if any

	// runCtx is the worker's own context (probes live as long as it);
	// set once when run starts.
	runCtx context.Context

	// Owned by the worker goroutine.
	state       workerState
	sandboxID   string
	sandboxCfg  *runtimeapi.PodSandboxConfig
	podIPs      []string
	startTime   time.Time
	waiting     map[string]waitingInfo
	exited      map[string]*runtimeapi.ContainerStatus // immutable statuses of exited containers by ID
	probes      *probeManager
	lastStatus  *v1.PodStatus
	deleted     bool // pod object deleted by us
	failedInit  bool
	volumePaths map[string]string
	pullFailed  map[string]time.Time // container name → last failed pull
	backingOff  map[string]bool      // containers whose BackOff event was sent
	// failReason and failMessage force phase Failed (activeDeadlineSeconds).
	failReason, failMessage string
	// keepStatus: the pod was already terminal in the API when this
	// worker first saw it; the kubelet does not rewrite its status.
	keepStatus bool
}

func newPodWorker(k *Kubelet, uid types.UID) *podWorker {
	w := &podWorker{
		k:          k,
		uid:        uid,
		kickCh:     make(chan struct{}, 1),
		waiting:    map[string]waitingInfo{},
		exited:     map[string]*runtimeapi.ContainerStatus{},
		pullFailed: map[string]time.Time{},
		backingOff: map[string]bool{},
	}
	w.probes = newProbeManager(k, w)
	return w
}

func (w *podWorker) update(pod *v1.Pod, kick bool) {
	w.mu.Lock()
	w.pod = pod
	if pod.DeletionTimestamp != nil && w.syncCancel != nil {
		// A sync stuck in a long call (an image pull) must not delay
		// the pod's termination.
		w.syncCancel()
	}
	w.mu.Unlock()
	if kick {
		w.kick()
	}
}

func (w *podWorker) markGone() {
	w.mu.Lock()
	w.markGoneLocked()
	if w.syncCancel != nil {
		w.syncCancel()
	}
	w.mu.Unlock()
	w.kick()
}

func (w *podWorker) markGoneLocked() { w.gone = true }

func (w *podWorker) kick() {
	select {
	case w.kickCh <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

// run is the worker's loop: one step of the state machine per wake-up.
func (w *podWorker) run(ctx context.Context) {
	w.runCtx = ctx
	defer w.probes.stopAll()
	log := w.k.log.With("uid", w.uid)
	for {
		pod, gone := w.snapshot()
		if pod != nil {
			log = w.k.log.With("pod", pod.Namespace+"/"+pod.Name)
		}
		var next time.Duration // 0: wait for a kick
		switch w.state {
		case stateSyncing:
			if gone || pod == nil || pod.DeletionTimestamp != nil {
				w.state = stateTerminating
				continue
			}
			sctx, cancel := context.WithCancel(ctx)
			w.mu.Lock()
			w.syncCancel = cancel
			w.mu.Unlock()
			resync, terminal, err := w.sync(sctx, pod)
			w.mu.Lock()
			w.syncCancel = nil
			w.mu.Unlock()
			canceled := sctx.Err() != nil
			cancel()
			if err != nil && !canceled {
				log.Warn("sync pod", "err", err)
			}
			if terminal {
				log.Info("pod finished", "phase", w.lastPhase())
				w.state = stateTerminating
				continue
			}
			next = resync
		case stateTerminating:
			if err := w.terminate(ctx, pod, gone); err != nil {
				if ctx.Err() == nil {
					log.Warn("terminate pod", "err", err)
				}
				next = time.Second
				break
			}
			w.state = stateTerminated
			continue
		case stateTerminated:
			if gone || pod == nil || pod.DeletionTimestamp != nil {
				if err := w.finish(ctx, pod, gone); err != nil {
					if ctx.Err() == nil {
						log.Warn("clean up pod", "err", err)
					}
					next = time.Second
					break
				}
				if gone || pod == nil {
					log.Info("pod cleaned up")
					return
				}
				next = 5 * time.Second // until the informer reports the deletion
			}
		}
		if ctx.Err() != nil {
			return
		}
		var timer <-chan time.Time
		var t clock.Timer
		if next > 0 {
			t = w.k.clock.NewTimer(next)
			timer = t.C()
		}
		select {
		case <-ctx.Done():
		case <-w.kickCh:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (w *podWorker) lastPhase() v1.PodPhase {
	if w.lastStatus == nil {
		return ""
	}
	return w.lastStatus.Phase
}
