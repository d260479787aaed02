// Package all assembles the registry of every kind bosun serves.
package all

import (
	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/registry/core"
	"github.com/bosun-k8s/bosun/internal/registry/groups"
)

// Registry returns a new registry holding every served kind.
func Registry() *registry.Registry {
	return registry.New(append(core.Kinds(), groups.Kinds()...)...)
}
