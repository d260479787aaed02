// Package images holds the Go sources of the programs bosun puts into its own
// container images (pause, hello) and, when they were built ahead of time,
// the static binaries themselves. internal/images assembles the OCI images.
package images

import "embed"

// Precompile the programs so that the bosun binary embeds them and nodes
// need no Go toolchain: `go generate ./images` before `go build ./cmd/bosun`.
//go:generate sh -c "CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o bin/pause ./pause && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o bin/hello ./hello"

// Files embeds every image program's source and the prebuilt binaries in
// bin/ (see bin/README.md). It is a variable only because go:embed requires one.
//
//go:embed pause/main.go hello/main.go bin
var Files embed.FS

// Programs lists the image programs, each a directory with a main.go.
func Programs() []string { return []string{"pause", "hello"} }
