package etcd

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// startStop runs embedded etcd in dir until it is ready, then stops it.
func startStop(b *testing.B, dir string) {
	e, err := New(Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case <-e.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkStartFresh measures the time from Run to Ready on an empty data dir.
func BenchmarkStartFresh(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		startStop(b, dir)
	}
}

// BenchmarkStartExisting measures the time from Run to Ready on a data dir etcd used before.
func BenchmarkStartExisting(b *testing.B) {
	dir := b.TempDir()
	startStop(b, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		startStop(b, dir)
	}
}
