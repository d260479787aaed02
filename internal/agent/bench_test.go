package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/bosun-k8s/bosun/internal/kubelet"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

// BenchmarkPodStartLatency creates 1, 10 and 30 hello pods at once on one
// node and measures, through a watch, each pod's time from its create call
// to the first event showing it Running. It reports p50 and p99 in ms.
//
//	go test -run '^$' -bench PodStartLatency -benchtime 3x ./internal/agent
func BenchmarkPodStartLatency(b *testing.B) {
	ts := testserver.Start(b)
	n := startNode(b, ts)
	for _, count := range []int{1, 10, 30} {
		b.Run(fmt.Sprintf("pods=%d", count), func(b *testing.B) {
			var all []time.Duration
			var selfCPU, machineCPU time.Duration
			for i := 0; i < b.N; i++ {
				s0, m0 := cpuTimes()
				all = append(all, startPods(b, ts, n, count, i)...)
				s1, m1 := cpuTimes()
				selfCPU += s1 - s0
				machineCPU += m1 - m0
			}
			pods := float64(b.N * count)
			b.ReportMetric(float64(selfCPU.Milliseconds())/pods, "test-process-cpu-ms/pod")
			b.ReportMetric(float64(machineCPU.Milliseconds())/pods, "machine-cpu-ms/pod")
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			p := func(q float64) float64 {
				return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(p(0.5), "p50-ms")
			b.ReportMetric(p(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func startPods(b *testing.B, ts *testserver.Server, n *testNode, count, round int) []time.Duration {
	ctx := context.Background()
	pods := ts.Client.CoreV1().Pods("default")
	label := fmt.Sprintf("bench-%d-%d", count, round)
	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: "bench=" + label})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	created := map[string]time.Time{}
	errc := make(chan error, count)
	starts := make(chan [2]any, count)
	for i := 0; i < count; i++ {
		go func(i int) {
			p := helloPod(fmt.Sprintf("%s-%d", label, i), n.name)
			p.Labels["bench"] = label
			t := time.Now()
			_, err := pods.Create(ctx, p, metav1.CreateOptions{})

			starts <- [2]any{p.Name, t}
			errc <- err
		}(i)
	}
	for i := 0; i < count; i++ {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		s := <-starts
		created[s[0].(string)] = s[1].(time.Time)
	}
	var lat []time.Duration
	seen := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(seen) < count {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			p, isPod := ev.Object.(*v1.Pod)
			if !isPod || ev.Type == watch.Deleted || seen[p.Name] || p.Status.Phase != v1.PodRunning {
				continue
			}
			seen[p.Name] = true
			lat = append(lat, time.Since(created[p.Name]))
		case <-timeout:
			b.Fatalf("only %d of %d pods running after 5 min", len(seen), count)
		}
	}
	b.StopTimer()
	// (cpuTimes are read by the caller around the start phase only.)
	for name := range created {
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	poll(b, "bench pods to be gone", func() (bool, error) {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "bench=" + label})
		return err == nil && len(l.Items) == 0, err
	})
	b.StartTimer()
	return lat
}

// cpuTimes returns this process's CPU time (API server, etcd and agent
// run in it) and the whole machine's busy CPU time.
func cpuTimes() (self, machine time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		var busy int64
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			busy += n
		}
		machine = time.Duration(busy) * 10 * time.Millisecond // USER_HZ=100
	}
	return self, machine
}

// BenchmarkFiftyPodsIdle starts 50 hello pods on one node and then reports
// the CPU the test process (agent + API server + etcd) uses per second
// while they run, and its RSS.
//
//	go test -run '^$' -bench FiftyPodsIdle -benchtime 1x ./internal/agent
func BenchmarkFiftyPodsIdle(b *testing.B) {
	ts := testserver.Start(b)
	n := startNode(b, ts)
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		pods := ts.Client.CoreV1().Pods("default")
		for j := 0; j < 50; j++ {
			p := helloPod(fmt.Sprintf("idle-%d-%d", i, j), n.name)
			p.Labels["bench"] = "idle"
			if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		poll(b, "50 pods running", func() (bool, error) {
			l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "bench=idle"})
			if err != nil {
				return false, err
			}
			ready := 0
			for k := range l.Items {
				if podReady(&l.Items[k]) {
					ready++
				}
			}
			return ready == 50, nil
		})
		s0, _ := cpuTimes()
		const window = 20 * time.Second
		time.Sleep(window)
		s1, _ := cpuTimes()
		b.ReportMetric(float64((s1-s0).Milliseconds())/window.Seconds(), "cpu-ms/s")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MiB")
		b.StopTimer()
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=idle"}); err != nil {
			b.Fatal(err)
		}
		poll(b, "idle pods gone", func() (bool, error) {
			l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "bench=idle"})
			return err == nil && len(l.Items) == 0, err
		})
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkCRIFloor starts 30 one-container pods straight through the CRI
// of the node's containerd — no API server, no kubelet — four at a time
// as the kubelet does, and reports each pod's time from the burst's start
// to its container running. It is the floor under BenchmarkPodStartLatency
// on this machine: what containerd, runc and the CNI plugins cost alone.
//
//	go test -run '^$' -bench CRIFloor -benchtime 3x ./internal/agent
func BenchmarkCRIFloor(b *testing.B) {
	ts := testserver.Start(b)
	n := startNode(b, ts)
	rt, err := kubelet.NewCRIRuntime(filepath.Join(n.dir, "containerd", "containerd.sock"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	img, err := rt.ImageStatus(ctx, "bosun.local/hello:v1")
	if err != nil || img == nil {
		b.Fatalf("hello image: %v %v", img, err)
	}
	const count, parallel = 30, 4
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		type result struct {
			d       time.Duration
			sandbox string
			err     error
		}
		results := make(chan result, count)
		slots := make(chan struct{}, parallel)
		t0 := time.Now()
		for j := 0; j < count; j++ {
			go func(j int) {
				slots <- struct{}{}
				defer func() { <-slots }()
				name := fmt.Sprintf("floor-%d-%d", i, j)
				sb := &runtimeapi.PodSandboxConfig{
					Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "bench", Uid: name},
					Hostname:     name,
					LogDirectory: filepath.Join(n.dir, "floor-logs", name),
					Linux:        &runtimeapi.LinuxPodSandboxConfig{},
				}
				if err := os.MkdirAll(sb.LogDirectory, 0o755); err != nil {
					results <- result{err: err}
					return
				}
				id, err := rt.RunPodSandbox(ctx, sb)
				if err != nil {
					results <- result{err: err}
					return
				}
				cid, err := rt.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: "hello"},
					Image:    &runtimeapi.ImageSpec{Image: img.Id},
					LogPath:  "hello.log",
					Linux:    &runtimeapi.LinuxContainerConfig{},
				}, sb)
				if err == nil {
					err = rt.StartContainer(ctx, cid)
				}
				results <- result{d: time.Since(t0), sandbox: id, err: err}
			}(j)
		}
		var sandboxes []string
		var firstErr error
		for j := 0; j < count; j++ {
			r := <-results
			if r.sandbox != "" {
				sandboxes = append(sandboxes, r.sandbox)
			}
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
			all = append(all, r.d)
		}
		b.StopTimer()
		for _, id := range sandboxes {
			_ = rt.StopPodSandbox(ctx, id)
			if err := rt.RemovePodSandbox(ctx, id); err != nil {
				b.Errorf("remove sandbox: %v", err)
			}
		}
		if firstErr != nil {
			b.Fatal(firstErr)
		}
		b.StartTimer()
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
