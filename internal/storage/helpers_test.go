package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/etcd"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startEtcd runs an embedded etcd in dir until the test ends.
func startEtcd(t testing.TB, dir string) *etcd.Etcd {
	t.Helper()
	return runEtcd(t, etcd.Config{DataDir: dir, Logger: testLogger(t)})
}

func runEtcd(t testing.TB, cfg etcd.Config) *etcd.Etcd {
	t.Helper()
	e, _ := runEtcdStoppable(t, cfg)
	return e
}

// runEtcdStoppable runs etcd until stop is called or the test ends.
func runEtcdStoppable(t testing.TB, cfg etcd.Config) (*etcd.Etcd, func()) {
	t.Helper()
	e, err := etcd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("etcd Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-e.Ready():
	case err := <-done:
		t.Fatalf("etcd ended before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready after 60s")
	}
	return e, stop
}

type testStore struct {
	*Store
	pods       *Resource
	configMaps *Resource
	stop       func()
}

func podConfig() ResourceConfig {
	return ResourceConfig{
		GroupResource: schema.GroupResource{Resource: "pods"},
		GVK:           corev1.SchemeGroupVersion.WithKind("Pod"),
		Namespaced:    true,
		New:           func() runtime.Object { return &corev1.Pod{} },
		Fields: func(obj runtime.Object) fields.Set {
			p := obj.(*corev1.Pod)
			return fields.Set{"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase)}
		},
		Row: func(obj runtime.Object) []interface{} {
			p := obj.(*corev1.Pod)
			return []interface{}{string(p.Status.Phase), p.Spec.NodeName}
		},
	}
}

func configMapConfig() ResourceConfig {
	return ResourceConfig{
		GroupResource: schema.GroupResource{Resource: "configmaps"},
		GVK:           corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		Namespaced:    true,
		New:           func() runtime.Object { return &corev1.ConfigMap{} },
	}
}

// startStore runs a store over client until the test ends (or stop is called) and waits until
// it is ready.
func startStore(t testing.TB, client *clientv3.Client, tweak func(*Config)) *testStore {
	t.Helper()
	cfg := Config{Client: client, Scheme: scheme.Scheme, Logger: testLogger(t)}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := s.Register(podConfig())
	if err != nil {
		t.Fatal(err)
	}
	cms, err := s.Register(configMapConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("store Run: %v", err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("store ended before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("store not ready after 60s")
	}
	return &testStore{Store: s, pods: pods, configMaps: cms, stop: stop}
}

// newTestStore starts a fresh etcd and a store on it.
func newTestStore(t testing.TB, tweak func(*Config)) *testStore {
	t.Helper()
	e := startEtcd(t, t.TempDir())
	return startStore(t, e.Client(), tweak)
}

func pod(ns, name string, labels map[string]string, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, UID: types.UID("uid-" + ns + "-" + name)},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func cm(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"k": name}}
}

func mustCreate(t testing.TB, r *Resource, obj runtime.Object) runtime.Object {
	t.Helper()
	out, err := r.Create(context.Background(), obj)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return out
}

func rvOf(t testing.TB, obj runtime.Object) string {
	t.Helper()
	return obj.(metav1.Object).GetResourceVersion()
}

func names(entries []*Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Namespace+"/"+e.Name)
	}
	return out
}

// next receives one event, failing after 30 s.
func next(t testing.TB, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within 30s")
	}
	return Event{}
}

// nextNonBookmark skips bookmarks.
func nextNonBookmark(t testing.TB, ch <-chan Event) Event {
	t.Helper()
	for {
		if ev := next(t, ch); ev.Type != "BOOKMARK" {
			return ev
		}
	}
}

func describe(ev Event) string {
	if ev.Entry == nil {
		return fmt.Sprintf("%s <nil> %v", ev.Type, ev.Status)
	}
	return fmt.Sprintf("%s %s/%s@%d", ev.Type, ev.Entry.Namespace, ev.Entry.Name, ev.Entry.RV)
}

func runEtcdEndpoints(t testing.TB, url string) *etcd.Etcd {
	return runEtcd(t, etcd.Config{Endpoints: []string{url}, Logger: testLogger(t)})
}

func mustFieldSelector(t testing.TB, s string) fields.Selector {
	sel, err := fields.ParseSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
