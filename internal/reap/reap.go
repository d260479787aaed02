// Package reap removes what a containerd rooted under a directory left behind — containers,
// their shims, and mounts — so that tests end without processes or mounts on the machine even
// when the code under test failed half-way.
package reap

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// RuncRoot is where runc keeps the state of containerd's k8s.io namespace whatever
// containerd's own state dir is.
const RuncRoot = "/run/containerd/runc/k8s.io"

// Dir deletes (with runc) every container whose bundle lies under dir, kills the processes
// whose command line names dir (shims, a stray containerd), and unmounts everything mounted
// below dir, deepest first. It returns the errors it met, after trying everything.
func Dir(dir string) error {
	dir = filepath.Clean(dir)
	var errs []error
	// Containers: their bundles live in <state>/io.containerd.runtime.v2.task/k8s.io/<id>.
	bundles, _ := filepath.Glob(filepath.Join(dir, "*", "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io", "*"))
	more, _ := filepath.Glob(filepath.Join(dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io", "*"))
	for _, b := range append(bundles, more...) {
		id := filepath.Base(b)
		if _, err := os.Stat(filepath.Join(RuncRoot, id)); err != nil {
			continue
		}
		if out, err := exec.Command("runc", "--root", RuncRoot, "delete", "--force", id).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("runc delete %s: %v: %s", id, err, out))
		}
	}
	// Processes naming dir (shims and containerd), by PID.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(data), dir) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Mounts below dir, deepest first.
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			mounts = append(mounts, fields[4])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}
