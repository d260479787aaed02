package etcd

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// start runs an Etcd until the test ends and waits for it to be ready.
func start(t *testing.T, cfg Config) *Etcd {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	began := time.Now()
	select {
	case <-e.Ready():
		t.Logf("ready after %v", time.Since(began))
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready after 60s")
	}
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without DataDir or Endpoints: want error")
	}
}

func TestEmbeddedKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	func() {
		e, err := New(Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Run(rctx) }()
		<-e.Ready()
		if err := e.Healthy(ctx); err != nil {
			t.Fatalf("Healthy: %v", err)
		}
		if _, err := e.Client().Put(ctx, "/k", "v1"); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	e := start(t, Config{DataDir: dir})
	resp, err := e.Client().Get(ctx, "/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after restart /k = %v, want v1", resp.Kvs)
	}
}

func TestExternalEndpoints(t *testing.T) {
	ctx := context.Background()
	embedded := start(t, Config{DataDir: t.TempDir()})
	if _, err := embedded.Client().Put(ctx, "/shared", "yes"); err != nil {
		t.Fatal(err)
	}
	ext := start(t, Config{Endpoints: []string{embedded.ClientURL()}})
	if err := ext.Healthy(ctx); err != nil {
		t.Fatalf("Healthy: %v", err)
	}
	resp, err := ext.Client().Get(ctx, "/shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "yes" {
		t.Fatalf("external read = %v, want yes", resp.Kvs)
	}
}

func TestSeveralAtOnce(t *testing.T) {
	ctx := context.Background()
	var es []*Etcd
	for i := 0; i < 3; i++ {
		es = append(es, start(t, Config{DataDir: t.TempDir()}))
	}
	for i, e := range es {
		if _, err := e.Client().Put(ctx, "/i", string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range es {
		resp, err := e.Client().Get(ctx, "/i", clientv3.WithSerializable())
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.Kvs[0].Value); got != string(rune('a'+i)) {
			t.Fatalf("etcd %d: /i = %q, want its own value", i, got)
		}
	}
}

func TestBusyClientAddressIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e, err := New(Config{DataDir: t.TempDir(), ClientListen: l.Addr().String(), Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run on a busy address: want error")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run on a busy address did not fail")
	}
}
