package openapi_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/openapi"
	"github.com/bosun-k8s/bosun/internal/registry/all"
)

// TestEveryServedKindDocumented builds the documents of the registry bosun serves and fails
// when a kind or subresource is left out for want of a generated definition (regenerate with
// hack/update-openapi.sh after adding a group version).
func TestEveryServedKindDocumented(t *testing.T) {
	var logs bytes.Buffer
	o, err := openapi.New(all.Registry(),
		openapi.WithSubresources(discovery.StandardSubresources()...),
		openapi.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Warm(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.TypeConverter(); err != nil {
		t.Fatal(err)
	}
	if logs.Len() > 0 {
		t.Errorf("documents leave things out:\n%s", logs.String())
	}
}

// BenchmarkBuildAll measures building and encoding every document of the served registry,
// which the first client (or Warm) pays once.
func BenchmarkBuildAll(b *testing.B) {
	for i := 0; i < b.N; i++ {
		o, err := openapi.New(all.Registry(), openapi.WithSubresources(discovery.StandardSubresources()...))
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Warm(); err != nil {
			b.Fatal(err)
		}
	}
}
