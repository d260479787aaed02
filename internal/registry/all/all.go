// Package all assembles the registry of every kind bosun serves.
package all

import (
	"time"

	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/registry/core"
	"github.com/bosun-k8s/bosun/internal/registry/groups"
)

// EventTTL is how long an Event lives after its last update, as upstream's default.
const EventTTL = time.Hour

// Registry returns a new registry holding every served kind.
func Registry() *registry.Registry {
	kinds := append(core.Kinds(), groups.Kinds()...)
	for _, k := range kinds {
		if k.GVK.Kind == "Event" && (k.GVK.Group == "" || k.GVK.Group == "events.k8s.io") {
			k.TTL = EventTTL
		}
	}
	return registry.New(kinds...)
}
