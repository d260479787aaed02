// Package discovery serves the API discovery documents of bosun: /api, /api/v1, /apis,
// /apis/<group> and /apis/<group>/<version>, in the legacy form (metav1.APIVersions,
// APIGroupList, APIGroup, APIResourceList) and in the aggregated form
// (apidiscovery.k8s.io/v2 and v2beta1 APIGroupDiscoveryList) that kubectl and client-go ask for
// first. Every document is computed once from the registry when the Discovery is built.
package discovery

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Subresource is a subresource beyond /status and /scale (which come from registry.Kind):
// pods/log, pods/exec, pods/binding, namespaces/finalize, ...
type Subresource struct {
	// Parent is the resource the subresource belongs to (core/v1 pods).
	Parent schema.GroupVersionResource
	// Name is the subresource name ("log").
	Name string
	// Kind is the kind the subresource answers with; an empty Group and Version mean the
	// parent's group version.
	Kind schema.GroupVersionKind
	// Verbs the subresource supports.
	Verbs []string
}

// Option changes how a Discovery is built.
type Option func(*Discovery)

// WithSubresources adds subresources to the documents; those whose parent is not served are
// left out.
func WithSubresources(subs ...Subresource) Option {
	return func(d *Discovery) { d.extra = append(d.extra, subs...) }
}

// Discovery serves the discovery documents of one registry.
type Discovery struct {
	reg   *registry.Registry
	extra []Subresource
}

// New builds the discovery documents of reg.
func New(reg *registry.Registry, opts ...Option) *Discovery {
	d := &Discovery{reg: reg}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Handles reports whether path is a discovery path served by d.
func (d *Discovery) Handles(path string) bool { return false }

// ServeHTTP serves a discovery path (see Handles); other paths answer 404.
func (d *Discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
