package netharness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNamespaceIsClosed(t *testing.T) {
	ns := New(t)
	ctx := context.Background()
	links, err := ns.Output(ctx, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(links), "\n") {
		f := strings.Fields(l)
		names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "bh0,bh1,lo" {
		t.Errorf("links = %v, want lo, bh0, bh1", names)
	}
	route, err := ns.Output(ctx, "ip", "route", "show", "default")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(route, "via 192.0.2.2 dev bh0") {
		t.Errorf("default route = %q", route)
	}
	// An off-machine destination ends in the blackhole: the attempt
	// times out (ARP gets no answer) rather than connecting anywhere.
	err = ns.Do(func() error {
		_, err := net.DialTimeout("tcp", "10.43.0.1:443", time.Second)
		return err
	})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("dial from the harness = %v, want a timeout", err)
	}
	// Eventually the kernel gives up on ARP and says so.
	err = ns.Do(func() error {
		_, err := net.DialTimeout("tcp", "10.43.0.1:443", 60*time.Second)
		return err
	})
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("dial from the harness = %v, want no route to host", err)
	}
}

func TestDoRestoresNamespace(t *testing.T) {
	before, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	ns := New(t)
	var inside string
	if err := ns.Do(func() error {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Readlink("/proc/thread-self/ns/net")
	if inside == before || after != before {
		t.Errorf("before %s inside %s after %s", before, inside, after)
	}
}

func TestPodReachesNode(t *testing.T) {
	ns := New(t)
	subnet := netip.MustParsePrefix("10.42.0.0/24")
	p1 := ns.AddPod(t, subnet, netip.MustParseAddr("10.42.0.5"))
	p2 := ns.AddPod(t, subnet, netip.MustParseAddr("10.42.0.6"))
	var ln net.Listener
	if err := p2.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.42.0.6:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	var got []byte
	err := p1.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 30*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		got = make([]byte, 2)
		_, err = c.Read(got)
		return err
	})
	if err != nil || string(got) != "hi" {
		t.Fatalf("pod to pod: %q %v", got, err)
	}
}

// TestLeaksCounted checks the leak detector: a packet routed off the
// machine is counted as it reaches the blackhole, and nothing else is.
func TestLeaksCounted(t *testing.T) {
	ns := New(t)
	if err := ns.WatchLeaks(); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.Leaks(); err != nil || n != 0 {
		t.Fatalf("leaks at start = %d, %v", n, err)
	}
	// Loopback traffic is not a leak.
	if err := ns.Do(func() error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := ns.Leaks(); n != 0 {
		t.Errorf("loopback counted as %d leaks", n)
	}
	// An off-machine destination is sent to the blackhole and counted.
	ns.Do(func() error {
		_, err := net.DialTimeout("tcp", "10.43.0.1:443", time.Second)
		return err
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := ns.Leaks()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("leaked SYN not counted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStart(t *testing.T) {
	ns := New(t)
	// A process inside sees only the harness links.
	cmd := ns.Start(t, "sleep", "60")
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// nsenter execs the command, so the PID is the command's.
	var want string
	ns.Do(func() error {
		want, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	})
	deadline := time.Now().Add(30 * time.Second)
	for link != want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		link, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	}
	if link != want {
		t.Errorf("process in %s, want %s", link, want)
	}
}
