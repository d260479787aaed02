package containerd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bosun-k8s/bosun/internal/images"
	"github.com/bosun-k8s/bosun/internal/reap"
	"github.com/google/nftables"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{DataDir: "/tmp/x", PodCIDR: "10.42.1.0/24"}, true},
		{"no data dir", Config{PodCIDR: "10.42.1.0/24"}, false},
		{"bad cidr", Config{DataDir: "/tmp/x", PodCIDR: "10.42.1.0"}, false},
		{"no such binary", Config{DataDir: "/tmp/x", PodCIDR: "10.42.1.0/24", Binary: "/nonexistent/containerd"}, false},
		{"socket too long", Config{DataDir: "/tmp/" + strings.Repeat("d", 90), PodCIDR: "10.42.1.0/24"}, false},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestWrittenConfig(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, PodCIDR: "10.42.7.0/24", CNIBinDir: "/usr/lib/cni"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	toml, err := os.ReadFile(s.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"version = 2",
		"restrict_oom_score_adj = true",
		"SystemdCgroup = false",
		`sandbox_image = "bosun.local/pause:3.10"`,
		`bin_dir = "/usr/lib/cni"`,
		`address = "` + filepath.Join(dir, "containerd", "containerd.sock") + `"`,
		"netns_mounts_under_state_dir = true",
	} {
		if !strings.Contains(string(toml), want) {
			t.Errorf("config.toml lacks %q", want)
		}
	}
	raw, err := os.ReadFile(filepath.Join(s.CNIConfDir(), "10-bosun.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Plugins []struct {
			Type      string `json:"type"`
			Bridge    string `json:"bridge"`
			IsGateway bool   `json:"isGateway"`
			IPMasq    bool   `json:"ipMasq"`
			IPAM      struct {
				Type   string                `json:"type"`
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Plugins) != 2 || list.Plugins[0].Type != "bridge" || list.Plugins[1].Type != "portmap" {
		t.Fatalf("plugins = %+v", list.Plugins)
	}
	br := list.Plugins[0]
	if br.Bridge != "bosun0" || !br.IsGateway || br.IPMasq || br.IPAM.Type != "host-local" || br.IPAM.Ranges[0][0]["subnet"] != "10.42.7.0/24" {
		t.Errorf("bridge plugin = %+v", br)
	}
}

// TestSuperviseRealContainerd runs the real containerd (needs root and the
// Debian packages), loads bosun's images into it twice, checks the CRI sees
// them, kills containerd and waits for the supervisor to bring it back.
func TestSuperviseRealContainerd(t *testing.T) {
	dir, err := os.MkdirTemp("", "bct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reap.Dir(dir); err != nil {
			t.Logf("reaping %s: %v", dir, err)
		}
		_ = os.RemoveAll(dir)
	})
	s, err := New(Config{DataDir: dir, PodCIDR: "10.42.251.0/24", Bridge: "bct0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if pid := s.PID(); pid != 0 {
			t.Errorf("containerd pid %d still recorded after stop", pid)
		}
		if err := s.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if nft, err := nftables.New(); err == nil {
			if _, err := nft.ListTableOfFamily("bosun-cni-bct0", nftables.TableFamilyIPv4); err == nil {
				t.Error("masquerade table left after Cleanup")
			}
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("containerd CRI not ready after 60s")
	}

	b, err := images.New(images.Config{CacheDir: filepath.Join(os.TempDir(), "bosun-test-image-cache")})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.EnsureLoaded(ctx, s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 4 {
		t.Errorf("first load loaded %v, want all 4", rep.Loaded)
	}
	t.Logf("first load: %v", rep.Duration)
	rep, err = b.EnsureLoaded(ctx, s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 4 || len(rep.Loaded) != 0 {
		t.Errorf("second load: loaded %v skipped %v, want all skipped", rep.Loaded, rep.Skipped)
	}
	t.Logf("second load: %v", rep.Duration)

	conn, err := grpc.NewClient("unix://"+s.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	is := runtimeapi.NewImageServiceClient(conn)
	for _, name := range []string{images.Pause, images.HelloV1, images.HelloV2, images.Busybox} {
		var st *runtimeapi.ImageStatusResponse
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err = is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: name}})
			if err == nil && st.Image != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || st.Image == nil {
			t.Errorf("CRI does not see %s: %v", name, err)
		}
	}

	// The masquerade rule is in place.
	nft, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table, err := nft.ListTableOfFamily("bosun-cni-bct0", nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatalf("masquerade table: %v", err)
	}
	chains, err := nft.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ch := range chains {
		if ch.Table.Name == table.Name && ch.Name == "postrouting" {
			rules, err := nft.GetRules(table, ch)
			if err != nil || len(rules) != 1 {
				t.Errorf("masquerade rules %d, %v", len(rules), err)
			}
			found = true
		}
	}
	if !found {
		t.Error("no postrouting chain in the masquerade table")
	}

	// Kill containerd: the supervisor restarts it.
	pid := s.PID()
	if pid == 0 {
		t.Fatal("no containerd pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		np := s.PID()
		if np != 0 && np != pid {
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			err := WaitCRI(wctx, s.Endpoint())
			wcancel()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd not restarted within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
