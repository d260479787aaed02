// Package netharness gives tests a network namespace of their own from which
// no packet can leave the machine.
//
// The namespace's only link besides loopback is a veth pair whose two ends
// both stay inside it. One end (LinkName) holds the node address
// (NodeIP, 192.0.2.1/24 from TEST-NET-1) and the default route points at
// Blackhole (192.0.2.2), an address nothing ever answers: a packet that no
// rule keeps local is routed to the veth, its ARP request goes unanswered and
// it dies there, seconds later, with "no route to host". A test that leaks
// traffic for the pod or service range therefore hangs and fails rather than
// sending anything out of the host's eth0.
//
// WatchLeaks turns the blackhole into a leak detector: the gateway gets a
// permanent neighbour entry, so leaked packets are really sent on the veth,
// and an ingress counter on the peer counts them (Leaks) — a test can then
// assert that nothing tried to leave.
//
// AddPod and AddOutside attach further namespaces standing for pods (on a
// bridge, as the CNI bridge plugin would) and for machines outside the
// cluster.
//
// Enter the namespace with Command or Start (which wrap the process in
// `nsenter --net=PATH`, not `ip netns exec`, which remounts /sys) or, for
// in-process code, with Do, which runs a function on a locked OS thread
// switched into the namespace. Sockets created inside Do stay in the
// namespace after it returns.
package netharness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Addresses of the harness link.
var (
	// NodeIP is the address the namespace's node owns.
	NodeIP = netip.MustParseAddr("192.0.2.1")
	// Blackhole is the default gateway that never answers.
	Blackhole = netip.MustParseAddr("192.0.2.2")
)

// LinkName and PeerName are the two ends of the veth pair.
const (
	LinkName = "bh0"
	PeerName = "bh1"
)

// NS is a test network namespace.
type NS struct {
	// Name is the namespace's name under /run/netns.
	Name string
	// Path is /run/netns/<Name>, for nsenter --net and setns.
	Path string
}

// New creates a namespace for the test and deletes it when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	ns, err := Create("")
	if err != nil {
		t.Fatalf("netharness: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("netharness: %v", err)
		}
	})
	return ns
}

// Create makes a namespace named name (a random "bosun-test-…" name when
// empty) with the blackhole link and default route. Close removes it.
func Create(name string) (*NS, error) {
	if name == "" {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("random name: %w", err)
		}
		name = "bosun-test-" + hex.EncodeToString(b)
	}
	ns := &NS{Name: name, Path: filepath.Join("/run/netns", name)}
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", LinkName, "type", "veth", "peer", "name", PeerName},
		{"addr", "add", NodeIP.String() + "/24", "dev", LinkName},
		{"link", "set", LinkName, "up"},
		{"link", "set", PeerName, "up"},
		{"route", "add", "default", "via", Blackhole.String(), "dev", LinkName},
	}
	for _, s := range steps {
		if err := run("ip", append([]string{"-n", name}, s...)...); err != nil {
			return nil, errors.Join(err, ns.Close())
		}
	}
	// No IPv6 on the pair: nothing of ours speaks it, and it would only
	// add router solicitations to the link.
	err := ns.Do(func() error {
		for _, l := range []string{LinkName, PeerName} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+l+"/disable_ipv6", []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("disable ipv6: %w", err), ns.Close())
	}
	return ns, nil
}

// Close deletes the namespace. Processes still inside keep it alive until
// they end, but it is no longer reachable by name.
func (n *NS) Close() error {
	if err := run("ip", "netns", "delete", n.Name); err != nil {
		if _, statErr := os.Stat(n.Path); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

// Do runs fn on a locked OS thread inside the namespace. fn must not rely on
// goroutines it starts running inside the namespace.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(n.Path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open %s: %w", n.Path, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter %s: %w", n.Name, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine instead
		// of running other code in the wrong namespace.
		return errors.Join(fnErr, fmt.Errorf("leave %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Command returns a command that runs name with args inside the namespace
// (through nsenter --net).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
}

// Output runs a command inside the namespace and returns its combined output.
func (n *NS) Output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Bridge is the name of the bridge AddPod attaches pods to in the node
// namespace.
const Bridge = "cbr0"

// AddPod creates a second namespace standing for a pod on the node: a veth
// pair with "eth0" inside the pod holding podIP (within subnet) and the other
// end on a bridge in the node namespace, which holds the subnet's first
// address as the pods' gateway; the port has hairpin mode on, as the CNI
// bridge plugin sets it. Forwarding is enabled in the node namespace.
// The pod namespace is removed when the test ends.
func (n *NS) AddPod(t testing.TB, subnet netip.Prefix, podIP netip.Addr) *NS {
	t.Helper()
	pod, err := n.addPod(subnet, podIP)
	if err != nil {
		t.Fatalf("netharness: pod %s: %v", podIP, err)
	}
	t.Cleanup(func() {
		if err := pod.Close(); err != nil {
			t.Errorf("netharness: %v", err)
		}
	})
	return pod
}

func (n *NS) addPod(subnet netip.Prefix, podIP netip.Addr) (*NS, error) {
	subnet = subnet.Masked()
	gw := subnet.Addr().Next()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	suffix := hex.EncodeToString(b)
	pod := &NS{Name: n.Name + "-p" + suffix}
	pod.Path = filepath.Join("/run/netns", pod.Name)
	if err := run("ip", "netns", "add", pod.Name); err != nil {
		return nil, err
	}
	hostEnd := "vp" + suffix
	ipn := func(ns string, args ...string) []string { return append([]string{"-n", ns}, args...) }
	steps := [][]string{
		ipn(pod.Name, "link", "set", "lo", "up"),
		ipn(pod.Name, "link", "add", "eth0", "type", "veth", "peer", "name", hostEnd, "netns", n.Name),
		ipn(pod.Name, "addr", "add", netip.PrefixFrom(podIP, subnet.Bits()).String(), "dev", "eth0"),
		ipn(pod.Name, "link", "set", "eth0", "up"),
		ipn(pod.Name, "route", "add", "default", "via", gw.String(), "dev", "eth0"),
	}
	var setup []string
	if err := run("ip", "-n", n.Name, "link", "show", Bridge); err != nil {
		steps = append(steps,
			ipn(n.Name, "link", "add", Bridge, "type", "bridge"),
			ipn(n.Name, "addr", "add", netip.PrefixFrom(gw, subnet.Bits()).String(), "dev", Bridge),
			ipn(n.Name, "link", "set", Bridge, "up"))
		setup = append(setup, "forward")
	}
	steps = append(steps,
		ipn(n.Name, "link", "set", hostEnd, "master", Bridge),
		// As the CNI bridge plugin's hairpinMode: a pod reaching itself
		// through a service is bridged back out of its own port.
		ipn(n.Name, "link", "set", hostEnd, "type", "bridge_slave", "hairpin", "on"),
		ipn(n.Name, "link", "set", hostEnd, "up"))
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			return nil, errors.Join(err, pod.Close())
		}
	}
	if len(setup) > 0 {
		err := n.Do(func() error {
			return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
		})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("ip_forward: %w", err), pod.Close())
		}
	}
	return pod, nil
}

// AddOutside creates a namespace standing for a machine outside the cluster
// on a link of its own to the node: the node end holds gw, the outside end
// addr (both in subnet), and the outside's default route points at gw. It
// is removed when the test ends.
func (n *NS) AddOutside(t testing.TB, subnet netip.Prefix, gw, addr netip.Addr) *NS {
	t.Helper()
	out, err := n.addOutside(subnet, gw, addr)
	if err != nil {
		t.Fatalf("netharness: outside %s: %v", addr, err)
	}
	t.Cleanup(func() {
		if err := out.Close(); err != nil {
			t.Errorf("netharness: %v", err)
		}
	})
	return out
}

func (n *NS) addOutside(subnet netip.Prefix, gw, addr netip.Addr) (*NS, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	suffix := hex.EncodeToString(b)
	out := &NS{Name: n.Name + "-o" + suffix}
	out.Path = filepath.Join("/run/netns", out.Name)
	if err := run("ip", "netns", "add", out.Name); err != nil {
		return nil, err
	}
	nodeEnd := "vo" + suffix
	ipn := func(ns string, args ...string) []string { return append([]string{"-n", ns}, args...) }
	steps := [][]string{
		ipn(out.Name, "link", "set", "lo", "up"),
		ipn(out.Name, "link", "add", "eth0", "type", "veth", "peer", "name", nodeEnd, "netns", n.Name),
		ipn(out.Name, "addr", "add", netip.PrefixFrom(addr, subnet.Bits()).String(), "dev", "eth0"),
		ipn(out.Name, "link", "set", "eth0", "up"),
		ipn(out.Name, "route", "add", "default", "via", gw.String(), "dev", "eth0"),
		ipn(n.Name, "addr", "add", netip.PrefixFrom(gw, subnet.Bits()).String(), "dev", nodeEnd),
		ipn(n.Name, "link", "set", nodeEnd, "up"),
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			return nil, errors.Join(err, out.Close())
		}
	}
	err := n.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("ip_forward: %w", err), out.Close())
	}
	return out, nil
}

// Start starts name with args inside the namespace and stops it when the
// test ends: SIGTERM, then SIGKILL if it has not exited within 30 s.
// Output goes to the test log.
func (n *NS) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
	w := testWriter{t: t, prefix: filepath.Base(name) + ": "}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("netharness: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

type testWriter struct {
	t      testing.TB
	prefix string
}

func (w testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}
