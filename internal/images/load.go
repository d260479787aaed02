package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	ctrimages "github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Namespace is the containerd namespace the CRI plugin uses.
const Namespace = "k8s.io"

// Snapshotter is the snapshotter images are unpacked into (the CRI default).
const Snapshotter = "overlayfs"

// LoadReport says what Load did.
type LoadReport struct {
	// Loaded are the images written or re-pointed; Skipped were present
	// with the same digest and unpacked.
	Loaded, Skipped []string
	Duration        time.Duration
}

// Load makes sure every image in imgs is present in containerd (namespace
// k8s.io) under its name with the same manifest digest, and unpacked.
func Load(ctx context.Context, client *containerd.Client, imgs []Named) (LoadReport, error) {
	start := time.Now()
	var rep LoadReport
	ctx = namespaces.WithNamespace(ctx, Namespace)
	ctx, done, err := client.WithLease(ctx)
	if err != nil {
		return rep, fmt.Errorf("images: lease: %w", err)
	}
	defer func() { _ = done(context.WithoutCancel(ctx)) }()

	store := client.ImageService()
	for _, n := range imgs {
		loaded, err := loadOne(ctx, client, store, n)
		if err != nil {
			return rep, fmt.Errorf("images: load %s: %w", n.Name, err)
		}
		if loaded {
			rep.Loaded = append(rep.Loaded, n.Name)
		} else {
			rep.Skipped = append(rep.Skipped, n.Name)
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

func loadOne(ctx context.Context, client *containerd.Client, store ctrimages.Store, n Named) (bool, error) {
	target := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.Digest(n.Digest),
		Size:      int64(len(n.Manifest)),
	}
	existing, err := store.Get(ctx, n.Name)
	switch {
	case err == nil && existing.Target.Digest == target.Digest:
		unpacked, err := containerd.NewImage(client, existing).IsUnpacked(ctx, Snapshotter)
		if err == nil && unpacked {
			return false, nil
		}
	case err != nil && !errdefs.IsNotFound(err):
		return false, fmt.Errorf("get image: %w", err)
	}

	cs := client.ContentStore()
	configDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(n.Config), Size: int64(len(n.Config))}
	layerDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(n.Layer), Size: int64(len(n.Layer))}
	if err := writeBlob(ctx, cs, layerDesc, n.Layer, nil); err != nil {
		return false, err
	}
	if err := writeBlob(ctx, cs, configDesc, n.Config, nil); err != nil {
		return false, err
	}
	// The manifest's labels tell containerd's garbage collector that the
	// config and layer belong to it.
	if err := writeBlob(ctx, cs, target, n.Manifest, map[string]string{
		"containerd.io/gc.ref.content.config": configDesc.Digest.String(),
		"containerd.io/gc.ref.content.l.0":    layerDesc.Digest.String(),
	}); err != nil {
		return false, err
	}

	img := ctrimages.Image{
		Name:   n.Name,
		Target: target,
		Labels: map[string]string{"io.cri-containerd.image": "managed", "bosun.dev/built": "true"},
	}
	if _, err := store.Create(ctx, img); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return false, fmt.Errorf("create image: %w", err)
		}
		if _, err := store.Update(ctx, img, "target", "labels"); err != nil {
			return false, fmt.Errorf("update image: %w", err)
		}
	}
	if err := containerd.NewImage(client, img).Unpack(ctx, Snapshotter); err != nil {
		return false, fmt.Errorf("unpack: %w", err)
	}
	return true, nil
}

func writeBlob(ctx context.Context, cs content.Store, desc ocispec.Descriptor, data []byte, labels map[string]string) error {
	if info, err := cs.Info(ctx, desc.Digest); err == nil {
		if len(labels) == 0 {
			return nil
		}
		// Present (perhaps from an earlier load): make sure the labels are.
		info.Labels = labels
		fields := make([]string, 0, len(labels))
		for k := range labels {
			fields = append(fields, "labels."+k)
		}
		if _, err := cs.Update(ctx, info, fields...); err != nil {
			return fmt.Errorf("label blob %s: %w", desc.Digest, err)
		}
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("stat blob %s: %w", desc.Digest, err)
	}
	var opts []content.Opt
	if labels != nil {
		opts = append(opts, content.WithLabels(labels))
	}
	err := content.WriteBlob(ctx, cs, "bosun-"+desc.Digest.String(), bytes.NewReader(data), desc, opts...)
	if err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	return nil
}

// EnsureLoaded connects to the containerd at address, builds the images
// (once per Builder) and loads them.
func (b *Builder) EnsureLoaded(ctx context.Context, address string) (LoadReport, error) {
	imgs, err := b.Images(ctx)
	if err != nil {
		return LoadReport{}, err
	}
	client, err := containerd.New(address, containerd.WithDefaultNamespace(Namespace))
	if err != nil {
		return LoadReport{}, fmt.Errorf("images: connect %s: %w", address, err)
	}
	defer client.Close()
	rep, err := Load(ctx, client, imgs)
	if err != nil {
		return rep, err
	}
	b.log.Info("images loaded", "loaded", rep.Loaded, "skipped", rep.Skipped, "duration", rep.Duration.Round(time.Millisecond))
	return rep, nil
}
