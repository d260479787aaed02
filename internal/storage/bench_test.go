package storage

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/scheme"
)

// benchPod is a "simple pod" as a cluster stores it: one container, defaults filled in, a
// service-account volume, status with conditions (about 2 KB of JSON, like upstream's).
func benchPod(name string) *corev1.Pod {
	p := pod("bench", name, map[string]string{"app": "bench", "tier": "web", "pod-template-hash": "5d8f7c9b6"}, "node-1")
	now := metav1.Now()
	p.CreationTimestamp = now
	p.GenerateName = "bench-5d8f7c9b6-"
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "bench-5d8f7c9b6", UID: "0b8f0c2e-8d9a-4a53-9c1e-8f3f0a1d2b3c"}}
	grace := int64(30)
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.RestartPolicy = corev1.RestartPolicyAlways
	p.Spec.DNSPolicy = corev1.DNSClusterFirst
	p.Spec.ServiceAccountName = "default"
	p.Spec.SchedulerName = "default-scheduler"
	p.Spec.Tolerations = []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	}
	p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}}},
	}}}}
	c := &p.Spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
	c.TerminationMessagePath = "/dev/termination-log"
	c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	c.ImagePullPolicy = corev1.PullIfNotPresent
	p.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    "10.0.0.1",
		PodIP:     "10.42.0.17",
		StartTime: &now,
		QOSClass:  corev1.PodQOSBurstable,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "c", Ready: true, Image: "bosun.local/hello:v1", ImageID: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			ContainerID: "containerd://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	return p
}

// BenchmarkCreate creates pods from 16 goroutines and reports creates/s and latency.
func BenchmarkCreate(b *testing.B) {
	s := newTestStore(b, nil)
	ctx := context.Background()
	var n atomic.Int64
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := s.pods.Create(ctx, benchPod("p"+strconv.FormatInt(i, 10))); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "creates/s")
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sortDurations(s)
	return s[len(s)/2], s[len(s)*99/100]
}

// fill creates n pods through 16 workers and waits until the cache holds them.
func fill(b *testing.B, s *testStore, n int) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := s.pods.Create(ctx, benchPod("p"+strconv.FormatInt(i, 10))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := s.pods.List(ctx, ListOptions{Limit: 1}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkList10k lists 10,000 pods from the cache (consistent read, as kubectl does) and
// reports the bytes of JSON a server would copy out, plus the heap the cache takes.
func BenchmarkList10k(b *testing.B) {
	s := newTestStore(b, nil)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	fill(b, s, 10000)
	runtime.GC()
	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapMB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	rss := rssMB() // after returning free memory to the OS, as a long-running server would
	ctx := context.Background()
	b.ResetTimer()
	var bytes int
	for i := 0; i < b.N; i++ {
		res, err := s.pods.List(ctx, ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Entries) != 10000 {
			b.Fatalf("%d entries", len(res.Entries))
		}
		bytes = 0
		for _, e := range res.Entries {
			bytes += len(e.JSON)
		}
	}
	b.ReportMetric(float64(bytes)/(1<<20), "json-MB")
	b.ReportMetric(heapMB, "heap-MB")
	b.ReportMetric(rss, "rss-MB")
}

// BenchmarkListSelector10k lists the pods of one node out of 10,000 (what a kubelet asks).
func BenchmarkListSelector10k(b *testing.B) {
	s := newTestStore(b, nil)
	fill(b, s, 10000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.pods.List(ctx, ListOptions{ResourceVersion: "0", Label: mustSelectorB(b, "app=bench,tier=db")})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Entries) != 0 {
			b.Fatal("unexpected entries")
		}
	}
}

func sortDurations(s []time.Duration) { slices.Sort(s) }

func mustSelectorB(b *testing.B, s string) labels.Selector {
	sel, err := labels.Parse(s)
	if err != nil {
		b.Fatal(err)
	}
	return sel
}

// BenchmarkBuildEntry measures what ingest pays per stored version of a pod: decode protobuf,
// encode JSON and metadata JSON, labels, fields and cells.
func BenchmarkBuildEntry(b *testing.B) {
	s := &Store{codec: newCodec(scheme.Scheme)}
	r := newResource(s, podConfig(), "/registry/core/pods/")
	data, err := r.encode(benchPod("p"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.build("bench/p", data, int64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// rssMB is this process's resident set (embedded etcd, store and test binary together).
func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkDispatch1000Watchers measures ingest with 1000 watchers, each on the pods of its own
// node (what 1000 kubelets ask), by creating pods and waiting until the watcher of their node
// saw each one.
func BenchmarkDispatch1000Watchers(b *testing.B) {
	s := newTestStore(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chans := make([]<-chan Event, 1000)
	for i := range chans {
		ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: "0", Field: fields.OneTermEqualSelector("spec.nodeName", "node-"+strconv.Itoa(i))})
		if err != nil {
			b.Fatal(err)
		}
		chans[i] = ch
	}
	// Drain every channel.
	var seen atomic.Int64
	for _, ch := range chans {
		go func() {
			for range ch {
				seen.Add(1)
			}
		}()
	}
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				p := benchPod("p" + strconv.FormatInt(i, 10))
				p.Spec.NodeName = "node-" + strconv.FormatInt(i%1000, 10)
				if _, err := s.pods.Create(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for seen.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkStart10k measures a store's start (load and cache 10,000 pods) over existing data.
func BenchmarkStart10k(b *testing.B) {
	s := newTestStore(b, nil)
	fill(b, s, 10000)
	s.stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s2 := startStore(b, s.client, nil)
		if n := s2.pods.Count(); n != 10000 {
			b.Fatalf("%d pods", n)
		}
		b.StopTimer()
		s2.stop()
		b.StartTimer()
	}
}
