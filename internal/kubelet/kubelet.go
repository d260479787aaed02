package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Labels the kubelet puts on every sandbox and container it creates.
const (
	LabelManaged      = "bosun.dev/managed"
	LabelPodUID       = "io.kubernetes.pod.uid"
	LabelPodName      = "io.kubernetes.pod.name"
	LabelPodNamespace = "io.kubernetes.pod.namespace"
	LabelContainer    = "io.kubernetes.container.name"
	LabelInit         = "bosun.dev/init"
)

// Config configures a Kubelet.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	// NodeIP is reported as the pods' hostIP.
	NodeIP string
	// Runtime is the CRI runtime.
	Runtime Runtime
	// DataDir holds pod directories (volumes, logs): DataDir/pods/<uid>.
	DataDir string
	// ClusterDNS is the nameserver of ClusterFirst pods (10.43.0.10).
	ClusterDNS string
	// ClusterDomain, e.g. cluster.local.
	ClusterDomain string
	Logger        *slog.Logger
	Clock         clock.WithTicker
	// ResyncInterval is how often a running pod is synced without a
	// change (volume contents follow configMap and secret updates). 0: 10s.
	ResyncInterval time.Duration
	// RelistInterval is how often the runtime is listed to notice
	// container state changes (an exited init container lets the next one
	// start only then). 0: 250ms — one cheap ListContainers call.
	RelistInterval time.Duration
	// HTTPClient runs httpGet probes and hooks; nil: a default client.
	HTTPClient *http.Client
	// MaxParallelStarts bounds how many pods are brought up (sandbox and
	// first containers) at once. On a busy node, starting everything at
	// once makes every pod wait for all; a bound lets pods finish in turn
	// (lower median, same total). 0: 2 per CPU; negative: no bound.
	MaxParallelStarts int
}

// Kubelet runs the pods of one node.
type Kubelet struct {
	cfg     Config
	log     *slog.Logger
	clock   clock.WithTicker
	runtime Runtime
	client  kubernetes.Interface

	podLister  corelisters.PodLister
	synced     cache.InformerSynced
	factory    informers.SharedInformerFactory
	svcFactory informers.SharedInformerFactory
	svcLister  corelisters.ServiceLister
	svcSynced  cache.InformerSynced

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	ctx     context.Context
	wg      sync.WaitGroup
	// noted holds the states workers brought sandboxes and containers to
	// themselves, so that relist does not wake a worker for its own work.
	noted map[string]int32

	backoff  *backoff
	http     *http.Client
	recorder record.EventRecorder // set in Run before any worker starts

	starts  chan struct{} // semaphore of MaxParallelStarts; nil: unbounded
	started chan struct{} // closed once caches are synced and workers run

	tokensMu sync.Mutex
	tokens   map[string]cachedToken // service account tokens by pod UID/SA/audience/expiry
}

// New validates cfg and fills defaults. It starts nothing.
func New(cfg Config) (*Kubelet, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("kubelet: Client is required")
	case cfg.NodeName == "":
		return nil, errors.New("kubelet: NodeName is required")
	case cfg.Runtime == nil:
		return nil, errors.New("kubelet: Runtime is required")
	case cfg.DataDir == "":
		return nil, errors.New("kubelet: DataDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 10 * time.Second
	}
	if cfg.RelistInterval == 0 {
		cfg.RelistInterval = 250 * time.Millisecond
	}
	if cfg.MaxParallelStarts == 0 {
		cfg.MaxParallelStarts = 2 * runtime.NumCPU()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	cfg.DataDir = abs
	factory := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	pods := factory.Core().V1().Pods()
	svcFactory := informers.NewSharedInformerFactory(cfg.Client, 0)
	svcs := svcFactory.Core().V1().Services()
	k := &Kubelet{
		svcFactory: svcFactory,
		svcLister:  svcs.Lister(),
		svcSynced:  svcs.Informer().HasSynced,
		cfg:        cfg,
		log:        cfg.Logger,
		clock:      cfg.Clock,
		runtime:    cfg.Runtime,
		client:     cfg.Client,
		podLister:  pods.Lister(),
		synced:     pods.Informer().HasSynced,
		factory:    factory,
		workers:    map[types.UID]*podWorker{},
		noted:      map[string]int32{},
		tokens:     map[string]cachedToken{},
		started:    make(chan struct{}),
		backoff:    newBackoff(cfg.Clock, 10*time.Second, 5*time.Minute),
		http:       cfg.HTTPClient,
	}
	if cfg.MaxParallelStarts > 0 {
		k.starts = make(chan struct{}, cfg.MaxParallelStarts)
	}
	_, err = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { k.podChanged(obj, true) },
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(*v1.Pod)
			n, ok2 := obj.(*v1.Pod)
			k.podChanged(obj, !ok1 || !ok2 || needsSync(o, n))
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				k.podGone(pod.UID)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	return k, nil
}

// Started is closed once Run has synced its caches and runs pod workers.
func (k *Kubelet) Started() <-chan struct{} { return k.started }

// Run runs the kubelet until ctx ends. Pods keep running when it returns:
// a restarted kubelet adopts them.
func (k *Kubelet) Run(ctx context.Context) error {
	k.startEvents(ctx)
	k.factory.Start(ctx.Done())
	k.svcFactory.Start(ctx.Done())
	defer k.svcFactory.Shutdown()
	// Polled every 10 ms rather than cache.WaitForCacheSync's 100 ms: the
	// node reports Ready only once this returns.
	err := wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) {
		return k.synced() && k.svcSynced(), nil
	})
	if err != nil {
		k.factory.Shutdown()
		return ctx.Err()
	}
	k.log.Info("kubelet started", "node", k.cfg.NodeName)
	// Workers start only now, with every cache synced; those created by
	// informer events meanwhile start here.
	k.mu.Lock()
	k.ctx = ctx
	for _, w := range k.workers {
		k.startWorker(w)
	}
	k.mu.Unlock()
	close(k.started)

	k.housekeeping(ctx)
	relist := k.clock.NewTicker(k.cfg.RelistInterval)
	defer relist.Stop()
	house := k.clock.NewTicker(30 * time.Second)
	defer house.Stop()
	prev := map[string]int32{}
	for {
		select {
		case <-ctx.Done():
			k.factory.Shutdown()
			k.wg.Wait()
			return nil
		case <-relist.C():
			prev = k.relist(ctx, prev)
		case <-house.C():
			k.housekeeping(ctx)
		}
	}
}

// needsSync says whether an update changed anything the kubelet acts on;
// the kubelet's own status writes come back as updates and must not cause
// another sync each.
func needsSync(old, cur *v1.Pod) bool {
	if !equality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!equality.Semantic.DeepEqual(old.DeletionTimestamp, cur.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(old.DeletionGracePeriodSeconds, cur.DeletionGracePeriodSeconds) ||
		!equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!equality.Semantic.DeepEqual(old.Annotations, cur.Annotations) {
		return true
	}
	foreign := func(p *v1.Pod) []v1.PodCondition {
		var out []v1.PodCondition
		for _, c := range p.Status.Conditions {
			if !kubeletConditions[c.Type] {
				out = append(out, c)
			}
		}
		return out
	}
	return !equality.Semantic.DeepEqual(foreign(old), foreign(cur))
}

func (k *Kubelet) podChanged(obj any, kick bool) {
	pod, ok := obj.(*v1.Pod)
	if !ok || pod.Spec.NodeName != k.cfg.NodeName {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	w := k.workers[pod.UID]
	if w == nil {
		w = newPodWorker(k, pod.UID)
		k.workers[pod.UID] = w
		k.startWorker(w)
		kick = true
	}
	w.update(pod, kick)
}

func (k *Kubelet) podGone(uid types.UID) {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w != nil {
		w.markGone()
	}
}

// startWorker starts w's goroutine once the kubelet runs. Callers hold k.mu.
func (k *Kubelet) startWorker(w *podWorker) {
	if k.ctx == nil || w.started {
		return
	}
	w.started = true
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		w.run(k.ctx)
		k.mu.Lock()
		if k.workers[w.uid] == w {
			delete(k.workers, w.uid)
		}
		k.mu.Unlock()
	}()
}

func (k *Kubelet) kick(uid types.UID) {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w != nil {
		w.kick()
	}
}

var managedFilter = map[string]string{LabelManaged: "true"}

// relist notices container and sandbox state changes (exits, starts, a
// dead pause process) and kicks the workers concerned: the kubelet's "pod
// lifecycle event generator". prev maps IDs to their last state.
func (k *Kubelet) relist(ctx context.Context, prev map[string]int32) map[string]int32 {
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
	if err != nil {
		k.log.Warn("relist containers", "err", err)
		return prev
	}
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
	if err != nil {
		k.log.Warn("relist sandboxes", "err", err)
		return prev
	}
	next := make(map[string]int32, len(cs)+len(sbs))
	kicked := map[types.UID]bool{}
	k.mu.Lock()
	noted := k.noted
	k.noted = map[string]int32{}
	k.mu.Unlock()
	see := func(id string, state int32, labels map[string]string) {
		next[id] = state
		uid := types.UID(labels[LabelPodUID])
		old, ok := prev[id]
		if ok && old == state {
			return
		}
		if n, ok := noted[id]; ok && n == state {
			return // the worker made this change and knows it
		}
		if !kicked[uid] {
			kicked[uid] = true
			k.kick(uid)
		}
	}
	for _, c := range cs {
		see(c.Id, int32(c.State), c.Labels)
	}
	for _, sb := range sbs {
		see(sb.Id, int32(sb.State), sb.Labels)
	}
	return next
}

// note records that a worker brought a sandbox or container to state, for
// the next relist.
func (k *Kubelet) note(id string, state int32) {
	k.mu.Lock()
	k.noted[id] = state
	k.mu.Unlock()
}

// housekeeping terminates sandboxes whose pod the kubelet has no worker
// for: pods deleted while the kubelet was down.
func (k *Kubelet) housekeeping(ctx context.Context) {
	sbs, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: managedFilter})
	if err != nil {
		k.log.Warn("housekeeping: list sandboxes", "err", err)
		return
	}
	cs, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: managedFilter})
	if err != nil {
		k.log.Warn("housekeeping: list containers", "err", err)
		return
	}
	uids := map[types.UID]bool{}
	for _, sb := range sbs {
		uids[types.UID(sb.Labels[LabelPodUID])] = true
	}
	for _, c := range cs {
		uids[types.UID(c.Labels[LabelPodUID])] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for uid := range uids {
		if uid == "" || k.workers[uid] != nil {
			continue
		}
		k.log.Info("cleaning up pod that no longer exists", "uid", uid)
		w := newPodWorker(k, uid)
		w.markGoneLocked()
		k.workers[uid] = w
		k.startWorker(w)
		w.kick()
	}
}

// podDir is where a pod's volumes and logs live.
func (k *Kubelet) podDir(uid types.UID) string {
	return filepath.Join(k.cfg.DataDir, "pods", string(uid))
}
