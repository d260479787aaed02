package certs

import (
	"path/filepath"
	"testing"
)

func TestKeyIsKeptAcrossStarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls", "sa.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Error("a second start made a new key: every token issued before would stop working")
	}
}
