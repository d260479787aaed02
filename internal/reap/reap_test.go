package reap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDirKillsProcessesAndUnmounts: a process naming the directory and a mount below it are
// gone afterwards.
func TestDirKillsProcessesAndUnmounts(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "state", "shm")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "sleep 600", "stand-in-shim", "-address", dir+"/containerd.sock")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := Dir(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("process naming the directory survived")
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(data), mnt) {
		_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Fatal("mount below the directory survived")
	}
}
