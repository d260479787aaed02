package kubelet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const logFile = `2024-01-01T00:00:01.000000000Z stdout F first
2024-01-01T00:00:02.000000000Z stderr F second
2024-01-01T00:00:03.000000000Z stdout P par
2024-01-01T00:00:03.100000000Z stdout F tial
2024-01-01T00:00:04.000000000Z stdout F fourth
`

func TestStreamLogOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(logFile), 0o644); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2024, 1, 1, 0, 0, 2, 500000000, time.UTC)
	cases := []struct {
		name string
		opts logOptions
		want string
	}{
		{"all", logOptions{tail: -1}, "first\nsecond\npartial\nfourth\n"},
		{"tail 2 (a split line counts once)", logOptions{tail: 2}, "partial\nfourth\n"},
		{"tail 0", logOptions{tail: 0}, ""},
		{"since", logOptions{tail: -1, since: since}, "partial\nfourth\n"},
		{"timestamps", logOptions{tail: 1, timestamps: true}, "2024-01-01T00:00:04.000000000Z fourth\n"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := streamLog(context.Background(), path, c.opts, &buf, func() bool { return false }); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if buf.String() != c.want {
			t.Errorf("%s: got %q, want %q", c.name, buf.String(), c.want)
		}
	}
	var buf bytes.Buffer
	lw := &limitWriter{w: &buf, n: 8}
	if err := streamLog(context.Background(), path, logOptions{tail: -1}, lw, func() bool { return false }); err != errLimit {
		t.Errorf("limitBytes: err %v", err)
	}
	if buf.String() != "first\nse" {
		t.Errorf("limitBytes: %q", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStreamLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("2024-01-01T00:00:01Z stdout F one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var alive atomic.Bool
	alive.Store(true)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- streamLog(context.Background(), path, logOptions{tail: -1, follow: true}, out, alive.Load)
	}()
	waitFor(t, func() bool { return out.String() == "one\n" })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A line written in two pieces arrives whole.
	_, _ = f.WriteString("2024-01-01T00:00:02Z stdout F tw")
	time.Sleep(150 * time.Millisecond)
	_, _ = f.WriteString("o\n")
	waitFor(t, func() bool { return out.String() == "one\ntwo\n" })
	_, _ = f.WriteString("2024-01-01T00:00:03Z stdout F three\n")
	f.Close()
	alive.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("followed %q", out.String())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
