package storage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/bosun-k8s/bosun/internal/etcd"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// Example starts embedded etcd and a store, registers ConfigMaps, writes one and reads it back
// through a list and a watch.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "bosun-storage-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	et, err := etcd.New(etcd.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	etcdDone := make(chan error, 1)
	go func() { etcdDone <- et.Run(ctx) }()
	defer func() { cancel(); <-etcdDone }()
	<-et.Ready()

	store, err := storage.New(storage.Config{Client: et.Client(), Scheme: scheme.Scheme, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	cms, err := store.Register(storage.ResourceConfig{
		GroupResource: schema.GroupResource{Resource: "configmaps"},
		GVK:           corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		Namespaced:    true,
		New:           func() runtime.Object { return &corev1.ConfigMap{} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	storeCtx, stopStore := context.WithCancel(ctx)
	storeDone := make(chan error, 1)
	go func() { storeDone <- store.Run(storeCtx) }()
	defer func() { stopStore(); <-storeDone }()
	<-store.Ready()

	created, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hello"},
		Data:       map[string]string{"greeting": "hi"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rv := created.(*corev1.ConfigMap).ResourceVersion

	list, err := cms.List(ctx, storage.ListOptions{Namespace: "default"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listed:", len(list.Entries), list.Entries[0].Name, string(list.Entries[0].JSON)[:37])

	events, err := cms.Watch(ctx, storage.WatchOptions{ResourceVersion: "0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := <-events
	fmt.Println("watched:", ev.Type, ev.Entry.Name, fmt.Sprint(ev.Entry.RV) == rv)
	// Output:
	// listed: 1 hello {"kind":"ConfigMap","apiVersion":"v1"
	// watched: ADDED hello true
}
