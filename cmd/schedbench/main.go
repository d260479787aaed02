// Command schedbench measures the scheduler: it starts a control plane (embedded etcd and the
// API server in a temporary directory) and bosun's scheduler in this process, creates Node
// objects (no kubelet) and then pods with mixed requests, node selectors and anti-affinity,
// and prints, one figure per line, the pods bound per second and the p50/p99 time from a
// pod's creation to its binding (seen through a watch).
//
//	go run ./cmd/schedbench -nodes 1000 -pods 10000
//
// Two runs are made by default, each in its own namespace: one creating pods as fast as the
// API takes them (the scheduler's throughput), then one creating them at a fixed rate
// (-rate: latency while the scheduler keeps up) on top of the first run's pods.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/bosun-k8s/bosun/internal/scheduler"
	"github.com/bosun-k8s/bosun/internal/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "schedbench:", err)
		os.Exit(1)
	}
}

type options struct {
	nodes, pods, workers int
	rate                 float64
	scoring              string
	runs                 string
}

func run() error {
	var o options
	flag.IntVar(&o.nodes, "nodes", 1000, "Node objects to create")
	flag.IntVar(&o.pods, "pods", 10000, "pods to create in each run")
	flag.IntVar(&o.workers, "workers", 16, "concurrent pod creators")
	flag.Float64Var(&o.rate, "rate", 500, "pods per second in the paced run")
	flag.StringVar(&o.scoring, "scoring", scheduler.LeastAllocated, "LeastAllocated or MostAllocated")
	flag.StringVar(&o.runs, "runs", "max,paced", "runs to make: max (as fast as possible), paced (at -rate), or both")
	verbose := flag.Bool("v", false, "log the control plane's warnings")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the pod runs (whole process) to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	klog.SetSlogLogger(logger) // client-go's own messages (event sink retries) follow -v too

	dir, err := os.MkdirTemp("", "schedbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.New(server.Config{
		DataDir: dir, BindAddress: "127.0.0.1", HTTPSPort: -1, DisableAgent: true,
		Components: []string{}, Logger: logger,
	})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(sctx) }()
	select {
	case <-srv.Ready():
	case err := <-srvDone:
		return fmt.Errorf("server stopped: %w", err)
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("server not ready after 2 minutes")
	}
	defer func() {
		cancel()
		<-srvDone
	}()
	rc := rest.CopyConfig(srv.RESTConfig())
	rc.QPS, rc.Burst = -1, 0 // no client-side limit: the API server is what is measured against
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}

	t0 := time.Now()
	if err := createNodes(ctx, client, o.nodes, o.workers); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "schedbench: %d nodes created in %v\n", o.nodes, time.Since(t0).Round(time.Millisecond))

	schedClient, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	sched, err := scheduler.New(scheduler.Config{Client: schedClient, Logger: logger, Scoring: o.scoring})
	if err != nil {
		return err
	}
	schedCtx, stopSched := context.WithCancel(sctx)
	defer stopSched()
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(schedCtx) }()
	select {
	case <-sched.Synced():
	case err := <-schedDone:
		return fmt.Errorf("scheduler stopped: %w", err)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for i, mode := range []string{"max", "paced"} {
		if !slices.Contains(splitComma(o.runs), mode) {
			continue
		}
		ns := fmt.Sprintf("schedbench-%d", i)
		rate := 0.0
		label := "as fast as created"
		if mode == "paced" {
			rate = o.rate
			label = fmt.Sprintf("created at %.0f/s", rate)
		}
		res, err := runPods(ctx, client, ns, o, rate, sched)
		if err != nil {
			return err
		}
		prefix := fmt.Sprintf("scheduler %d nodes, %d pods %s:", o.nodes, o.pods, label)
		fmt.Printf("%s %.0f pods/s bound (%.0f pods/s created)\n", prefix, res.boundPerSec, res.createdPerSec)
		fmt.Printf("%s creation-to-binding p50 %.0f ms\n", prefix, ms(res.p50))
		fmt.Printf("%s creation-to-binding p99 %.0f ms\n", prefix, ms(res.p99))
	}
	stopSched()
	return <-schedDone
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parallel runs f(i) for i in [0, n) on workers goroutines, stopping at the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

var zones = []string{"zone-a", "zone-b", "zone-c", "zone-d", "zone-e", "zone-f", "zone-g", "zone-h", "zone-i", "zone-j"}
var pools = []string{"general", "compute", "memory", "storage"}

func createNodes(ctx context.Context, c kubernetes.Interface, n, workers int) error {
	return parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("node-%04d", i)
		status := v1.NodeStatus{
			Capacity: v1.ResourceList{
				v1.ResourceCPU: resource.MustParse("32"), v1.ResourceMemory: resource.MustParse("128Gi"),
				v1.ResourcePods: resource.MustParse("110"),
			},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		}
		status.Allocatable = status.Capacity
		node := &v1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"kubernetes.io/hostname":      name,
				"topology.kubernetes.io/zone": zones[i%len(zones)],
				"pool":                        pools[i%len(pools)],
			}},
			Status: status,
		}
		created, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
		created.Status = status
		if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("node %s status: %w", name, err)
		}
		return nil
	})
}

var cpuChoices = []string{"100m", "250m", "500m"}
var memChoices = []string{"128Mi", "256Mi", "512Mi"}

// benchPod returns pod i of the mix: every pod requests resources; every third selects a
// node pool; every fifth belongs to a group of ten that must not share a node.
func benchPod(ns string, i int) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "c", Image: "bosun.local/hello:v1",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse(cpuChoices[i%len(cpuChoices)]),
				v1.ResourceMemory: resource.MustParse(memChoices[(i/3)%len(memChoices)]),
			}},
		}}},
	}
	if i%3 == 0 {
		p.Spec.NodeSelector = map[string]string{"pool": pools[(i/3)%len(pools)]}
	}
	if i%5 == 0 {
		group := fmt.Sprintf("g%d", i/50)
		p.Labels["group"] = group
		p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}},
				TopologyKey:   "kubernetes.io/hostname",
			}},
		}}
	}
	return p
}

type result struct {
	boundPerSec, createdPerSec float64
	p50, p99                   time.Duration
}

func runPods(ctx context.Context, c kubernetes.Interface, ns string, o options, rate float64, sched *scheduler.Scheduler) (result, error) {
	var res result
	if _, err := c.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("create namespace: %w", err)
	}
	created := make([]atomic.Int64, o.pods) // unix nanos before Create was sent
	bound := make([]atomic.Int64, o.pods)   // unix nanos when the watch showed spec.nodeName
	var nBound atomic.Int64
	allBound := make(chan struct{})

	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Pods().Informer()
	see := func(obj any) {
		p, ok := obj.(*v1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		var i int
		if _, err := fmt.Sscanf(p.Name, "pod-%d", &i); err != nil || i < 0 || i >= o.pods {
			return
		}
		if bound[i].CompareAndSwap(0, time.Now().UnixNano()) {
			if nBound.Add(1) == int64(o.pods) {
				close(allBound)
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    see,
		UpdateFunc: func(_, n any) { see(n) },
	}); err != nil {
		return res, err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	factory.Start(wctx.Done())
	defer func() {
		stopWatch()
		factory.Shutdown()
	}()
	factory.WaitForCacheSync(wctx.Done())

	start := time.Now()
	err := parallel(ctx, o.pods, o.workers, func(ctx context.Context, i int) error {
		if rate > 0 {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		created[i].Store(time.Now().UnixNano())
		if _, err := c.CoreV1().Pods(ns).Create(ctx, benchPod(ns, i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	createdAll := time.Since(start)
	select {
	case <-allBound:
	case <-time.After(2 * time.Minute):
		a, b, u := sched.Pending()
		unbound := 0
		var example string
		if l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, p := range l.Items {
				if p.Spec.NodeName == "" {
					unbound++
					if example == "" {
						example = fmt.Sprintf("%s %+v", p.Name, p.Status.Conditions)
					}
				}
			}
		}
		return res, fmt.Errorf("only %d of %d pods bound after 2 minutes (API: %d unbound, e.g. %s; queue: %d active, %d backoff, %d unschedulable)",
			nBound.Load(), o.pods, unbound, example, a, b, u)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	lat := make([]time.Duration, o.pods)
	var last int64
	for i := range lat {
		lat[i] = time.Duration(bound[i].Load() - created[i].Load())
		last = max(last, bound[i].Load())
	}
	slices.Sort(lat)
	res.p50 = lat[len(lat)*50/100]
	res.p99 = lat[len(lat)*99/100]
	res.boundPerSec = float64(o.pods) / time.Duration(last-start.UnixNano()).Seconds()
	res.createdPerSec = float64(o.pods) / createdAll.Seconds()
	return res, nil
}
