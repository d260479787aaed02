package openapi

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/common"

	"github.com/bosun-k8s/bosun/internal/discovery"
	"github.com/bosun-k8s/bosun/internal/registry"
)

// The route model below implements kube-openapi's common.RouteContainer / common.Route /
// common.Parameter, so that kube-openapi's builders (the ones upstream feeds from go-restful)
// turn it into swagger 2.0 and OpenAPI 3.0 documents. Routes are described the way upstream's
// API installer describes them: same paths, operation names, parameters (taken from the
// option structs by reflection), consumed and produced media types, responses and the
// x-kubernetes-action / x-kubernetes-group-version-kind route metadata.

type param struct {
	name, desc string
	kind       common.ParameterKind
	dataType   string
	required   bool
}

func (p *param) Name() string                 { return p.name }
func (p *param) Description() string          { return p.desc }
func (p *param) Required() bool               { return p.required }
func (p *param) Kind() common.ParameterKind   { return p.kind }
func (p *param) DataType() string             { return p.dataType }
func (p *param) AllowMultiple() bool          { return false }
func (p *param) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", p.name)), nil }

type response struct {
	code    int
	message string
	model   interface{}
}

func (r response) Code() int          { return r.code }
func (r response) Message() string    { return r.message }
func (r response) Model() interface{} { return r.model }

type route struct {
	method, path, operation, doc string
	params                       []common.Parameter
	consumes, produces           []string
	metadata                     map[string]interface{}
	reads, writes                interface{}
	responses                    []common.StatusCodeResponse
}

func (r *route) Method() string                                   { return r.method }
func (r *route) Path() string                                     { return r.path }
func (r *route) OperationName() string                            { return r.operation }
func (r *route) Parameters() []common.Parameter                   { return r.params }
func (r *route) Description() string                              { return r.doc }
func (r *route) Consumes() []string                               { return r.consumes }
func (r *route) Produces() []string                               { return r.produces }
func (r *route) Metadata() map[string]interface{}                 { return r.metadata }
func (r *route) RequestPayloadSample() interface{}                { return r.reads }
func (r *route) ResponsePayloadSample() interface{}               { return r.writes }
func (r *route) StatusCodeResponses() []common.StatusCodeResponse { return r.responses }

func (r *route) returns(code int, message string, model interface{}) *route {
	r.responses = append(r.responses, response{code, message, model})
	return r
}

// body adds the request body parameter, as go-restful's Reads does.
func (r *route) body(sample interface{}, required bool) *route {
	r.reads = sample
	r.params = append(r.params, &param{name: "body", kind: common.BodyParameterKind, required: required,
		dataType: reflect.Indirect(reflect.ValueOf(sample)).Type().String()})
	return r
}

func (r *route) query(ps ...common.Parameter) *route {
	r.params = append(r.params, ps...)
	return r
}

type container struct {
	root   string
	routes []common.Route
}

func (c *container) RootPath() string                   { return c.root }
func (c *container) PathParameters() []common.Parameter { return nil }
func (c *container) Routes() []common.Route             { return c.routes }

// Media types upstream's serializers offer (CBOR is off by default in 1.33).
func mediaTypes() []string {
	return []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
}

// allMediaTypes adds the watch stream types.
func allMediaTypes() []string {
	return append(mediaTypes(), "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
}

func patchTypes() []string {
	return []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"}
}

const prettyDoc = "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."

func pretty() common.Parameter {
	return &param{name: "pretty", desc: prettyDoc, kind: common.QueryParameterKind, dataType: "string"}
}

func pathParam(name, desc string) common.Parameter {
	return &param{name: name, desc: desc, kind: common.PathParameterKind, dataType: "string", required: true}
}

// objectParams turns the top-level scalar fields of an options struct into query
// parameters named by their JSON names and described by the type's SwaggerDoc, as upstream
// does. Struct and pointer-to-struct fields are skipped.
func objectParams(obj interface{}, exclude ...string) []common.Parameter {
	t := reflect.Indirect(reflect.ValueOf(obj)).Type()
	var docs map[string]string
	if d, ok := obj.(interface{ SwaggerDoc() map[string]string }); ok {
		docs = d.SwaggerDoc()
	}
	var out []common.Parameter
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Interface {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || contains(exclude, name) {
			continue
		}
		out = append(out, &param{name: name, desc: docs[name], kind: common.QueryParameterKind, dataType: jsonType(ft)})
	}
	return out
}

func jsonType(t reflect.Type) string {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "string"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Actions, as upstream names them in x-kubernetes-action.
const (
	actGet, actList, actPut, actPatch, actPost = "get", "list", "put", "patch", "post"
	actDelete, actDeleteCollection, actWatch   = "delete", "deletecollection", "watch"
	actWatchList, actConnect                   = "watchlist", "connect"
)

// endpoint is one resource or subresource path of a group version, in the terms upstream's
// installer uses.
type endpoint struct {
	gv          schema.GroupVersion
	resource    string // "pods"
	subresource string // "status", "" for the resource itself
	namespaced  bool
	// kind is the parent's kind, used in operation names ("Pod").
	kind string
	// gvk is what the operations report in x-kubernetes-group-version-kind.
	gvk schema.GroupVersionKind
	// object is what the endpoint reads and returns; list the list type (resources only).
	object, list interface{}
	// verbs are the Kubernetes verbs served.
	verbs []string
	// deleteReturnsObject: DELETE answers the deleted object, not a Status (pods, services).
	deleteReturnsObject bool
	// connect describes connect-style subresources (exec, proxy, ...).
	connect *connectInfo
	// getOptions are the query options of GET-with-options subresources (log).
	getOptions interface{}
	// getProduces are extra media types a GET produces (text/plain for log).
	getProduces []string
}

type connectInfo struct {
	methods []string
	options interface{}
	subpath bool // also /{path} below the item path (proxy)
}

func (e *endpoint) has(verb string) bool { return contains(e.verbs, verb) }

// routes lists upstream's routes for one endpoint, relative to the group version root.
func (e *endpoint) routes() []common.Route {
	var out []common.Route
	name := pathParam("name", "name of the "+e.kindForName())
	ns := pathParam("namespace", "object name and auth scope, such as for teams and projects")
	subPath := pathParam("path", "path to the resource")

	var resourcePath, itemPath string
	var resourceParams, nameParams []common.Parameter
	namespaced := ""
	if e.namespaced {
		namespaced = "Namespaced"
		resourcePath = "namespaces/{namespace}/" + e.resource
		resourceParams = []common.Parameter{ns}
		nameParams = []common.Parameter{ns, name}
	} else {
		resourcePath = e.resource
		nameParams = []common.Parameter{name}
	}
	itemPath = resourcePath + "/{name}"
	if e.subresource != "" {
		itemPath += "/" + e.subresource
		resourcePath = itemPath
		resourceParams = nameParams
	}
	title := upperFirst(e.subresource)
	gvk := metav1.GroupVersionKind{Group: e.gvk.Group, Version: e.gvk.Version, Kind: e.gvk.Kind}
	add := func(r *route, action string, params []common.Parameter) {
		r.params = append(r.params, params...)
		r.metadata = map[string]interface{}{
			"x-kubernetes-group-version-kind": gvk,
			"x-kubernetes-action":             action,
		}
		out = append(out, r)
	}
	sub := e.subresource != ""
	doc := func(plain, subDoc string) string {
		if sub {
			return subDoc
		}
		return plain
	}
	article := articleFor(e.kind)
	status := metav1.Status{}

	// Collection actions.
	list := func(path, suffix string, params []common.Parameter, nsPrefix string) {
		d := "list objects of kind " + e.kind
		if e.has("watch") {
			d = "list or watch objects of kind " + e.kind
		}
		r := &route{method: "GET", path: path, operation: "list" + nsPrefix + e.kind + title + suffix, doc: d,
			produces: allMediaTypes(), writes: e.list}
		r.returns(200, "OK", e.list).query(pretty()).query(objectParams(&metav1.ListOptions{})...)
		add(r, actList, params)
	}
	watchList := func(path, suffix string, params []common.Parameter, nsPrefix string) {
		r := &route{method: "GET", path: "watch/" + path, operation: "watch" + nsPrefix + e.kind + title + "List" + suffix,
			doc:      "watch individual changes to a list of " + e.kind + ". deprecated: use the 'watch' parameter with a list operation instead.",
			produces: allMediaTypes(), writes: metav1.WatchEvent{}}
		r.returns(200, "OK", metav1.WatchEvent{}).query(pretty()).query(objectParams(&metav1.ListOptions{})...)
		add(r, actWatchList, params)
	}
	if e.list != nil && e.has("list") {
		list(resourcePath, "", resourceParams, namespaced)
	}
	if e.has("create") {
		r := &route{method: "POST", path: resourcePath, operation: "create" + namespaced + e.kind + title,
			doc: doc("create"+article+e.kind, "create "+e.subresource+" of"+article+e.kind), consumes: []string{"*/*"},
			produces: mediaTypes(), writes: e.object}
		r.returns(200, "OK", e.object).returns(201, "Created", e.object).returns(202, "Accepted", e.object).
			query(pretty()).body(e.object, true).query(objectParams(&metav1.CreateOptions{})...)
		add(r, actPost, resourceParams)
	}
	if e.has("deletecollection") {
		r := &route{method: "DELETE", path: resourcePath, operation: "deletecollection" + namespaced + e.kind + title,
			doc: "delete collection of " + e.kind, consumes: []string{"*/*"}, produces: mediaTypes(), writes: status}
		r.returns(200, "OK", status).query(pretty()).body(metav1.DeleteOptions{}, false).
			query(objectParams(&metav1.DeleteOptions{})...).query(objectParams(&metav1.ListOptions{}, "watch", "allowWatchBookmarks")...)
		add(r, actDeleteCollection, resourceParams)
	}
	if e.list != nil && e.has("list") && e.has("watch") {
		watchList(resourcePath, "", resourceParams, namespaced)
	}

	// Item actions.
	if e.has("get") && e.connect == nil {
		produces := append(append([]string(nil), e.getProduces...), mediaTypes()...)
		r := &route{method: "GET", path: itemPath, operation: "read" + namespaced + e.kind + title,
			doc: doc("read the specified "+e.kind, "read "+e.subresource+" of the specified "+e.kind), produces: produces, writes: e.object}
		r.returns(200, "OK", e.object).query(pretty())
		if e.getOptions != nil {
			r.query(objectParams(e.getOptions)...)
		}
		add(r, actGet, nameParams)
	}
	if e.has("update") {
		r := &route{method: "PUT", path: itemPath, operation: "replace" + namespaced + e.kind + title,
			doc: doc("replace the specified "+e.kind, "replace "+e.subresource+" of the specified "+e.kind), consumes: []string{"*/*"},
			produces: mediaTypes(), writes: e.object}
		r.returns(200, "OK", e.object).returns(201, "Created", e.object).query(pretty()).body(e.object, true).
			query(objectParams(&metav1.UpdateOptions{})...)
		add(r, actPut, nameParams)
	}
	if e.has("patch") {
		r := &route{method: "PATCH", path: itemPath, operation: "patch" + namespaced + e.kind + title,
			doc:      doc("partially update the specified "+e.kind, "partially update "+e.subresource+" of the specified "+e.kind),
			consumes: patchTypes(), produces: mediaTypes(), writes: e.object}
		r.returns(200, "OK", e.object).returns(201, "Created", e.object).query(pretty()).body(metav1.Patch{}, true).
			query(objectParams(&metav1.PatchOptions{})...)
		add(r, actPatch, nameParams)
	}
	if e.has("delete") {
		var ret interface{} = status
		if e.deleteReturnsObject {
			ret = e.object
		}
		r := &route{method: "DELETE", path: itemPath, operation: "delete" + namespaced + e.kind + title,
			doc: doc("delete"+article+e.kind, "delete "+e.subresource+" of"+article+e.kind), consumes: []string{"*/*"},
			produces: mediaTypes(), writes: ret}
		r.returns(200, "OK", ret).returns(202, "Accepted", ret).query(pretty()).body(metav1.DeleteOptions{}, false).
			query(objectParams(&metav1.DeleteOptions{})...)
		add(r, actDelete, nameParams)
	}
	if e.has("watch") && e.connect == nil {
		r := &route{method: "GET", path: "watch/" + itemPath, operation: "watch" + namespaced + e.kind + title,
			doc:      "watch changes to an object of kind " + e.kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
			produces: allMediaTypes(), writes: metav1.WatchEvent{}}
		r.returns(200, "OK", metav1.WatchEvent{}).query(pretty()).query(objectParams(&metav1.ListOptions{})...)
		add(r, actWatch, nameParams)
	}
	if c := e.connect; c != nil {
		paths := []struct {
			path   string
			params []common.Parameter
			suffix string
		}{{itemPath, nameParams, ""}}
		if c.subpath {
			paths = append(paths, struct {
				path   string
				params []common.Parameter
				suffix string
			}{itemPath + "/{path}", append(append([]common.Parameter(nil), nameParams...), subPath), "WithPath"})
		}
		for _, p := range paths {
			for _, m := range c.methods {
				r := &route{method: m, path: p.path,
					operation: "connect" + upperFirst(strings.ToLower(m)) + namespaced + e.kind + title + p.suffix,
					doc:       "connect " + m + " requests to " + e.subresource + " of " + e.kind,
					consumes:  []string{"*/*"}, produces: []string{"*/*"}, writes: "string"}
				if c.options != nil {
					// (the subpath route has both the "path" path parameter and the
					// options' "path" query parameter, as upstream's)
					r.query(objectParams(c.options)...)
				}
				add(r, actConnect, p.params)
			}
		}
	}

	// Across all namespaces.
	if e.namespaced && !sub && e.list != nil && e.has("list") {
		list(e.resource, "ForAllNamespaces", nil, "")
		if e.has("watch") {
			watchList(e.resource, "ForAllNamespaces", nil, "")
		}
	}
	return out
}

// kindForName is the kind named in the "name" path parameter: the kind the endpoint itself
// serves (upstream names the storage's kind: "name of the Scale" on deployments/scale).
func (e *endpoint) kindForName() string { return e.gvk.Kind }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// articleFor is " a ", " an " or " " (plurals), padded as upstream's docs use it.
func articleFor(noun string) string {
	if !strings.HasSuffix(noun, "ss") && strings.HasSuffix(noun, "s") {
		return " "
	}
	if strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return " an "
	}
	return " a "
}

// endpoints derives the endpoints of every served kind and subresource, by group version.
// newObject makes the Go object of a kind (for subresources answering another kind).
func endpoints(reg *registry.Registry, subs []discovery.Subresource, newObject func(schema.GroupVersionKind) (runtime.Object, error)) (map[schema.GroupVersion][]*endpoint, []error) {
	out := map[schema.GroupVersion][]*endpoint{}
	var errs []error
	for _, k := range reg.Kinds() {
		gv := k.GVK.GroupVersion()
		verbs := k.Verbs
		if verbs == nil {
			verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
		}
		obj := k.New()
		main := &endpoint{gv: gv, resource: k.Resource, namespaced: k.Namespaced, kind: k.GVK.Kind, gvk: k.GVK,
			object: obj, verbs: verbs,
			deleteReturnsObject: gv.Group == "" && (k.Resource == "pods" || k.Resource == "services")}
		if k.NewList != nil {
			main.list = k.NewList()
		}
		eps := []*endpoint{main}
		sub := func(name string, gvk schema.GroupVersionKind, obj interface{}, verbs ...string) *endpoint {
			return &endpoint{gv: gv, resource: k.Resource, subresource: name, namespaced: k.Namespaced, kind: k.GVK.Kind,
				gvk: gvk, object: obj, verbs: verbs}
		}
		if k.Status {
			eps = append(eps, sub("status", k.GVK, obj, "get", "patch", "update"))
		}
		if k.Scale != nil {
			eps = append(eps, sub("scale", autoscalingv1.SchemeGroupVersion.WithKind("Scale"), &autoscalingv1.Scale{}, "get", "patch", "update"))
		}
		for _, s := range subs {
			if s.Parent != gv.WithResource(k.Resource) {
				continue
			}
			gvk := s.Kind
			if gvk.Group == "" && gvk.Version == "" {
				gvk.Group, gvk.Version = gv.Group, gv.Version
			}
			e := sub(s.Name, gvk, nil, s.Verbs...)
			if c := connectFor(gv, k.Resource, s.Name, newObject); c != nil {
				e.connect = c
				e.verbs = nil
			} else {
				o, err := newObject(gvk)
				if err != nil {
					errs = append(errs, fmt.Errorf("subresource %s/%s: %w", k.Resource, s.Name, err))
					continue
				}
				e.object = o
				if gv.Group == "" && k.Resource == "pods" && s.Name == "log" {
					// GET with PodLogOptions, answering text.
					e.object = "string"
					e.getOptions, _ = newObject(gv.WithKind("PodLogOptions"))
					e.getProduces = []string{"text/plain"}
				}
			}
			eps = append(eps, e)
		}
		out[gv] = append(out[gv], eps...)
	}
	return out, errs
}

// connectFor describes upstream's connect subresources; nil for others.
func connectFor(gv schema.GroupVersion, resource, sub string, newObject func(schema.GroupVersionKind) (runtime.Object, error)) *connectInfo {
	if gv.Group != "" {
		return nil
	}
	opts := func(kind string) interface{} {
		o, err := newObject(gv.WithKind(kind))
		if err != nil {
			return nil
		}
		return o
	}
	proxyMethods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	switch resource + "/" + sub {
	case "pods/exec":
		return &connectInfo{methods: []string{"GET", "POST"}, options: opts("PodExecOptions")}
	case "pods/attach":
		return &connectInfo{methods: []string{"GET", "POST"}, options: opts("PodAttachOptions")}
	case "pods/portforward":
		return &connectInfo{methods: []string{"GET", "POST"}, options: opts("PodPortForwardOptions")}
	case "pods/proxy":
		return &connectInfo{methods: proxyMethods, options: opts("PodProxyOptions"), subpath: true}
	case "services/proxy":
		return &connectInfo{methods: proxyMethods, options: opts("ServiceProxyOptions"), subpath: true}
	case "nodes/proxy":
		return &connectInfo{methods: proxyMethods, options: opts("NodeProxyOptions"), subpath: true}
	}
	return nil
}

// discoveryRoutes are the GET routes of the discovery documents, as upstream lists them.
func discoveryRoutes(gv schema.GroupVersion) *container {
	r := &route{method: "GET", path: gvRoot(gv) + "/", operation: "getAPIResources", doc: "get available resources",
		consumes: mediaTypes(), produces: mediaTypes(), writes: metav1.APIResourceList{}}
	return &container{root: gvRoot(gv), routes: []common.Route{r}}
}

func groupRoutes(group string) *container {
	r := &route{method: "GET", path: "/apis/" + group + "/", operation: "getAPIGroup", doc: "get information of a group",
		consumes: mediaTypes(), produces: mediaTypes(), writes: metav1.APIGroup{}}
	return &container{root: "/apis/" + group, routes: []common.Route{r}}
}

func rootRoutes() []*container {
	api := &route{method: "GET", path: "/api/", operation: "getAPIVersions", doc: "get available API versions",
		consumes: mediaTypes(), produces: mediaTypes(), writes: metav1.APIVersions{}}
	apis := &route{method: "GET", path: "/apis/", operation: "getAPIVersions", doc: "get available API versions",
		consumes: mediaTypes(), produces: mediaTypes(), writes: metav1.APIGroupList{}}
	ver := &route{method: "GET", path: "/version/", operation: "getCodeVersion", doc: "get the version information for this server",
		consumes: []string{"application/json"}, produces: []string{"application/json"}, writes: apiversion.Info{}}
	return []*container{
		{root: "/api", routes: []common.Route{api}},
		{root: "/apis", routes: []common.Route{apis}},
		{root: "/version", routes: []common.Route{ver}},
	}
}

func gvRoot(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// withRoot makes the routes' paths absolute under root, as go-restful does.
func withRoot(root string, routes []common.Route) *container {
	for _, r := range routes {
		rr := r.(*route)
		rr.path = root + "/" + rr.path
	}
	return &container{root: root, routes: routes}
}

// operationID turns an operation name into upstream's identifier and tag: the verb, then
// the group (without .k8s.io) and version, then the rest ("listNamespacedPod" on
// /api/v1/... becomes "listCoreV1NamespacedPod", tag "core_v1").
func operationID(r common.Route) (string, []string, error) {
	op := r.OperationName()
	verb := ""
	for _, v := range []string{"get", "log", "read", "replace", "patch", "delete", "deletecollection", "watch", "connect", "proxy", "list", "create"} {
		if strings.HasPrefix(op, v) && (verb == "" || len(v) < len(verb)) {
			verb = v
		}
	}
	if verb == "" {
		return op, nil, fmt.Errorf("operation %q does not start with a verb", op)
	}
	rest := op[len(verb):]
	parts := strings.Split(strings.Trim(r.Path(), "/"), "/")
	if len(parts) >= 1 && parts[0] == "api" {
		parts = append([]string{"apis", "core"}, parts[1:]...)
	}
	var tags []string
	prefix := verb
	if len(parts) >= 2 && parts[0] == "apis" {
		group := strings.TrimSuffix(parts[1], ".k8s.io")
		prefix += validID(group, true)
		tag := validID(group, false)
		if len(parts) > 2 {
			prefix += validID(parts[2], true)
			tag += "_" + validID(parts[2], false)
		}
		tags = append(tags, tag)
	} else if len(parts) >= 1 {
		tags = append(tags, validID(parts[0], false))
	}
	return prefix + validID(rest, true), tags, nil
}

// validID drops characters other than letters, digits (not leading) and '_', capitalising
// the letter after each dropped one (and the first when capitalizeFirst).
func validID(s string, capitalizeFirst bool) string {
	var b strings.Builder
	up := capitalizeFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i != 0 && unicode.IsDigit(r)) {
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		} else {
			up = true
		}
	}
	return b.String()
}
