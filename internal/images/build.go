package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	imagesrc "github.com/bosun-k8s/bosun/images"
)

// Names of the images bosun builds.
const (
	Pause   = "bosun.local/pause:3.10"
	HelloV1 = "bosun.local/hello:v1"
	HelloV2 = "bosun.local/hello:v2"
	Busybox = "bosun.local/busybox:1.36"
)

// epoch is the timestamp of every file and of the image configs, so builds
// are reproducible.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures a Builder.
type Config struct {
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// CacheDir holds compiled image programs. Empty: the user cache dir.
	CacheDir string
	// GoBinary is the Go toolchain used when a program is not precompiled.
	// Empty: "go" from PATH.
	GoBinary string
	// BusyboxPath is the static busybox put into the busybox image.
	// Empty: /bin/busybox.
	BusyboxPath string
}

// Named is a built image: the name it is stored under and its blobs.
type Named struct {
	Name string
	// Digest is the manifest's digest ("sha256:…").
	Digest   string
	Manifest []byte
	Config   []byte
	// Layer is the single uncompressed layer tar.
	Layer []byte
}

// Builder assembles bosun's images. It is safe for concurrent use; images
// are built once and remembered.
type Builder struct {
	cfg Config
	log *slog.Logger

	once   sync.Once
	images []Named
	err    error
}

// New validates cfg and fills defaults. It builds nothing.
func New(cfg Config) (*Builder, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("images: no cache dir: %w", err)
		}
		cfg.CacheDir = filepath.Join(dir, "bosun", "image-programs")
	}
	if cfg.GoBinary == "" {
		cfg.GoBinary = "go"
	}
	if cfg.BusyboxPath == "" {
		cfg.BusyboxPath = "/bin/busybox"
	}
	return &Builder{cfg: cfg, log: cfg.Logger}, nil
}

// Images builds (once) and returns all four images.
func (b *Builder) Images(ctx context.Context) ([]Named, error) {
	b.once.Do(func() { b.images, b.err = b.buildAll(ctx) })
	return b.images, b.err
}

func (b *Builder) buildAll(ctx context.Context) ([]Named, error) {
	start := time.Now()
	var (
		pauseBin, helloBin []byte
		pauseErr, helloErr error
		wg                 sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); pauseBin, pauseErr = b.program(ctx, "pause") }()
	go func() { defer wg.Done(); helloBin, helloErr = b.program(ctx, "hello") }()
	wg.Wait()
	if err := errors.Join(pauseErr, helloErr); err != nil {
		return nil, err
	}
	busybox, err := b.busyboxLayer(ctx)
	if err != nil {
		return nil, err
	}

	pause, err := assemble(Pause, programLayer("pause", pauseBin), v1.Config{
		Entrypoint: []string{"/pause"},
	})
	if err != nil {
		return nil, fmt.Errorf("images: pause: %w", err)
	}
	helloLayer := programLayer("hello", helloBin)
	hello := func(name, version string) (Named, error) {
		return assemble(name, helloLayer, v1.Config{
			Entrypoint:   []string{"/hello"},
			Env:          []string{"PATH=/", "HELLO_VERSION=" + version},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		})
	}
	h1, err := hello(HelloV1, "v1")
	if err != nil {
		return nil, fmt.Errorf("images: hello v1: %w", err)
	}
	h2, err := hello(HelloV2, "v2")
	if err != nil {
		return nil, fmt.Errorf("images: hello v2: %w", err)
	}
	bb, err := assemble(Busybox, busybox, v1.Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return nil, fmt.Errorf("images: busybox: %w", err)
	}
	b.log.Info("images built", "duration", time.Since(start).Round(time.Millisecond))
	return []Named{pause, h1, h2, bb}, nil
}

// assemble makes a one-layer OCI image: the config and manifest are
// go-containerregistry's v1 types marshalled as JSON.
func assemble(name string, layerTar []byte, cfg v1.Config) (Named, error) {
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	layerHash, layerSize, err := v1.SHA256(bytes.NewReader(layerTar))
	if err != nil {
		return Named{}, err
	}
	config, err := json.Marshal(&v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layerHash}},
		History:      []v1.History{{Created: v1.Time{Time: epoch}, CreatedBy: "bosun image builder"}},
	})
	if err != nil {
		return Named{}, err
	}
	configHash, configSize, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return Named{}, err
	}
	manifest, err := json.Marshal(&v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: configSize, Digest: configHash},
		Layers:        []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: layerSize, Digest: layerHash}},
	})
	if err != nil {
		return Named{}, err
	}
	manifestHash, _, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return Named{}, err
	}
	return Named{Name: name, Digest: manifestHash.String(), Manifest: manifest, Config: config, Layer: layerTar}, nil
}

// program returns the static binary of an image program: precompiled if
// embedded, else compiled from the embedded source (cached).
func (b *Builder) program(ctx context.Context, name string) ([]byte, error) {
	if bin, err := imagesrc.Files.ReadFile("bin/" + name); err == nil && len(bin) > 0 {
		return bin, nil
	}
	src, err := imagesrc.Files.ReadFile(name + "/main.go")
	if err != nil {
		return nil, fmt.Errorf("images: source of %s: %w", name, err)
	}
	sum := sha256.Sum256(append([]byte(runtime.GOARCH+"\x00"), src...))
	cached := filepath.Join(b.cfg.CacheDir, name+"-"+hex.EncodeToString(sum[:8]))
	if bin, err := os.ReadFile(cached); err == nil && len(bin) > 0 {
		return bin, nil
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "bosun-image-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("images: compile %s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	gomod := "module bosun.local/" + name + "\n\ngo 1.22\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return nil, fmt.Errorf("images: compile %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return nil, fmt.Errorf("images: compile %s: %w", name, err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, b.cfg.GoBinary, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("images: compile %s (no precompiled binary embedded; needs a Go toolchain): %w: %s",
			name, err, strings.TrimSpace(string(output)))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("images: compile %s: %w", name, err)
	}
	if err := os.MkdirAll(b.cfg.CacheDir, 0o755); err == nil {
		tmp := cached + ".tmp"
		if os.WriteFile(tmp, bin, 0o755) == nil {
			_ = os.Rename(tmp, cached)
		}
	}
	b.log.Info("compiled image program", "program", name, "duration", time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// tarWriter writes a deterministic layer.
type tarWriter struct {
	buf bytes.Buffer
	tw  *tar.Writer
}

func newTar() *tarWriter {
	t := &tarWriter{}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarWriter) header(h *tar.Header) {
	h.ModTime = epoch
	h.Uname, h.Gname = "root", "root"
	h.Format = tar.FormatPAX
	_ = t.tw.WriteHeader(h) // writes to a bytes.Buffer cannot fail
}

func (t *tarWriter) dir(name string, mode int64) {
	t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
}

func (t *tarWriter) file(name string, mode int64, data []byte) {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))})
	_, _ = t.tw.Write(data)
}

func (t *tarWriter) symlink(name, target string) {
	t.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

func (t *tarWriter) bytes() []byte {
	_ = t.tw.Close()
	return t.buf.Bytes()
}

// skeleton writes the directories and files every image has.
func (t *tarWriter) skeleton() {
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "root", "var"} {
		t.dir(d, 0o755)
	}
	t.dir("tmp", 0o1777)
	t.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	t.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
}

func programLayer(name string, bin []byte) []byte {
	t := newTar()
	t.skeleton()
	t.file(name, 0o755, bin)
	return t.bytes()
}

// busyboxLayer puts the static busybox at /bin/busybox and a symlink for
// every applet it reports in /bin.
func (b *Builder) busyboxLayer(ctx context.Context) ([]byte, error) {
	bin, err := os.ReadFile(b.cfg.BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("images: busybox (install busybox-static): %w", err)
	}
	out, err := exec.CommandContext(ctx, b.cfg.BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("images: busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	t := newTar()
	t.skeleton()
	t.dir("usr", 0o755)
	t.dir("usr/bin", 0o755)
	t.file("bin/busybox", 0o755, bin)
	for _, a := range applets {
		if a == "busybox" || strings.ContainsAny(a, "/\x00") || !fs.ValidPath(a) {
			continue
		}
		t.symlink("bin/"+a, "busybox")
	}
	t.file("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n"))
	return t.bytes(), nil
}
