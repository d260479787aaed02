// Package images builds bosun's own container images and loads them into a
// node's containerd, so that no node ever needs a registry.
//
// There are four images:
//
//	bosun.local/pause:3.10   the sandbox process (images/pause)
//	bosun.local/hello:v1     the demo web server (images/hello), HELLO_VERSION=v1
//	bosun.local/hello:v2     the same program with HELLO_VERSION=v2
//	bosun.local/busybox:1.36 Debian's static /bin/busybox with its applet links in /bin
//
// # Where the programs come from
//
// The pause and hello programs are small static Go programs whose sources
// live in the repository's images/ directory and are embedded in the bosun
// binary (package github.com/bosun-k8s/bosun/images). A build step may also
// embed them precompiled (images/bin/<name>, `make images-bin`); then a node
// needs no Go toolchain at all. When a program is not precompiled the Builder
// compiles it from the embedded source with the local Go toolchain
// (CGO_ENABLED=0, -trimpath) and caches the binary under CacheDir keyed by the
// source's hash, so only the first build on a machine pays the compile.
//
// The alternative of running the bosun binary itself inside the images (a
// hidden subcommand) was rejected: every pause container would then map a
// ~100 MB binary and run the init code of every Kubernetes package bosun
// links, costing tens of megabytes of RSS per pod.
//
// # How images are made and loaded
//
// Each image is one uncompressed OCI layer with fixed timestamps; its config
// and manifest are go-containerregistry's v1 types marshalled as JSON (its
// mutate package would pull in modules go.mod does not carry), so the same
// inputs always give the same manifest digest. Load writes the manifest, config and
// layer blobs straight into containerd's content store (with the
// containerd.io/gc.ref labels that keep them alive), creates or updates the
// image record in the k8s.io namespace and unpacks it into the overlayfs
// snapshotter. An image whose record already points at the same digest and is
// unpacked is skipped, so loading is idempotent and costs a few RPCs on every
// start after the first. Writing blobs directly avoids serialising a tar
// archive and having containerd parse it again (client.Import), and keeps the
// manifest digest the Builder computed.
package images
