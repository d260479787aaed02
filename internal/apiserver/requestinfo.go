package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a resource path and method say about a request.
type requestInfo struct {
	GroupVersion schema.GroupVersion
	Resource     string
	Namespace    string
	Name         string
	Subresource  string
	Verb         string // get list watch create update patch delete deletecollection
	Discovery    bool   // /api, /api/v1, /apis, /apis/g, /apis/g/v
}

// parseRequest splits /api/v1/... and /apis/g/v/... paths. ok is false for paths that are not
// part of the resource API.
func parseRequest(r *http.Request) (ri requestInfo, ok bool) {
	p := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(p, "/")
	switch {
	case segs[0] == "api":
		if len(segs) <= 2 {
			return requestInfo{Discovery: true}, true
		}
		ri.GroupVersion = schema.GroupVersion{Version: segs[1]}
		segs = segs[2:]
	case segs[0] == "apis":
		if len(segs) <= 3 {
			return requestInfo{Discovery: true}, true
		}
		ri.GroupVersion = schema.GroupVersion{Group: segs[1], Version: segs[2]}
		segs = segs[3:]
	default:
		return ri, false
	}
	watchPath := false
	if segs[0] == "watch" {
		watchPath = true
		segs = segs[1:]
		if len(segs) == 0 {
			return ri, false
		}
	}
	switch {
	case segs[0] == "namespaces" && len(segs) == 3 && (segs[2] == "status" || segs[2] == "finalize"):
		ri.Resource, ri.Name, ri.Subresource = "namespaces", segs[1], segs[2]
	case segs[0] == "namespaces" && len(segs) >= 3:
		ri.Namespace, ri.Resource = segs[1], segs[2]
		if len(segs) > 3 {
			ri.Name = segs[3]
		}
		if len(segs) > 4 {
			ri.Subresource = strings.Join(segs[4:], "/")
		}
	default:
		ri.Resource = segs[0]
		if len(segs) > 1 {
			ri.Name = segs[1]
		}
		if len(segs) > 2 {
			ri.Subresource = strings.Join(segs[2:], "/")
		}
	}
	q := r.URL.Query()
	isWatch := watchPath || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case ri.Name == "" && isWatch:
			ri.Verb = "watch"
		case ri.Name == "":
			ri.Verb = "list"
		case isWatch:
			ri.Verb = "watch" // watch of one object by name
		default:
			ri.Verb = "get"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		if ri.Name == "" {
			ri.Verb = "deletecollection"
		} else {
			ri.Verb = "delete"
		}
	default:
		ri.Verb = strings.ToLower(r.Method)
	}
	return ri, true
}
