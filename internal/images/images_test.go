package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBuildIsReproducibleAndComplete(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	b1, err := New(Config{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	imgs1, err := b1.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := New(Config{CacheDir: cache})
	imgs2, err := b2.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Pause, HelloV1, HelloV2, Busybox}
	if len(imgs1) != len(want) {
		t.Fatalf("got %d images, want %d", len(imgs1), len(want))
	}
	for i, name := range want {
		if imgs1[i].Name != name {
			t.Errorf("image %d is %s, want %s", i, imgs1[i].Name, name)
		}
		if imgs1[i].Digest != imgs2[i].Digest {
			t.Errorf("%s: digest differs between builds: %s vs %s", name, imgs1[i].Digest, imgs2[i].Digest)
		}
		var m v1.Manifest
		if err := json.Unmarshal(imgs1[i].Manifest, &m); err != nil {
			t.Fatalf("%s: manifest: %v", name, err)
		}
		if got := v1.Hash(m.Config.Digest).String(); got != digestOf(imgs1[i].Config) {
			t.Errorf("%s: manifest names config %s, config hashes to %s", name, got, digestOf(imgs1[i].Config))
		}
	}
	if imgs1[1].Digest == imgs1[2].Digest {
		t.Error("hello v1 and v2 have the same digest")
	}

	cases := []struct {
		img        Named
		entrypoint string
		files      []string
		env        string
	}{
		{imgs1[0], "/pause", []string{"pause", "etc/passwd", "tmp/"}, ""},
		{imgs1[1], "/hello", []string{"hello"}, "HELLO_VERSION=v1"},
		{imgs1[2], "/hello", []string{"hello"}, "HELLO_VERSION=v2"},
		{imgs1[3], "", []string{"bin/busybox", "bin/sh", "bin/wget", "bin/sleep", "bin/nc"}, ""},
	}
	for _, c := range cases {
		var cfg v1.ConfigFile
		if err := json.Unmarshal(c.img.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if c.entrypoint != "" && (len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != c.entrypoint) {
			t.Errorf("%s: entrypoint %v, want %s", c.img.Name, cfg.Config.Entrypoint, c.entrypoint)
		}
		if c.env != "" && !contains(cfg.Config.Env, c.env) {
			t.Errorf("%s: env %v lacks %s", c.img.Name, cfg.Config.Env, c.env)
		}
		names := tarNames(t, c.img.Layer)
		for _, f := range c.files {
			if !names[f] {
				t.Errorf("%s: layer lacks %s", c.img.Name, f)
			}
		}
	}
}

func digestOf(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tarNames(t *testing.T, layer []byte) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
}
