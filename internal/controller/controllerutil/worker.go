package controllerutil

import (
	"context"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// MaxRetries is how many quick retries a failing key gets before its
// failures are logged as warnings; it keeps being retried with the rate
// limiter's growing back-off (capped at about 17 minutes), as upstream's
// ReplicaSet and Job controllers do.
const MaxRetries = 15

// NewQueue returns a rate-limited workqueue named name.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// RunWorkers waits for the caches, runs workers goroutines that feed keys
// from queue to sync, and blocks until ctx ends; then it shuts the queue down
// and waits for the workers.
func RunWorkers(ctx context.Context, log *slog.Logger, name string, queue workqueue.TypedRateLimitingInterface[string],
	workers int, syncFn func(ctx context.Context, key string) error, synced ...cache.InformerSynced) error {
	defer queue.ShutDown()
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		return ctx.Err()
	}
	log.Info("controller started", "controller", name, "workers", workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, log, name, queue, syncFn) {
			}
		}()
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
	return nil
}

func processNext(ctx context.Context, log *slog.Logger, name string, queue workqueue.TypedRateLimitingInterface[string],
	syncFn func(ctx context.Context, key string) error) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	start := time.Now()
	err := syncFn(ctx, key)
	if err == nil {
		queue.Forget(key)
		return true
	}
	level := slog.LevelInfo
	switch {
	case apierrors.IsConflict(err):
		level = slog.LevelDebug
	case queue.NumRequeues(key) >= MaxRetries:
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "sync failed, requeuing", "controller", name, "key", key, "err", err, "took", time.Since(start))
	queue.AddRateLimited(key)
	return true
}

// KeyOf returns the "namespace/name" key of obj, unwrapping tombstones.
func KeyOf(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key, err == nil
}
