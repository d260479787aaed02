package discovery

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Subresource is a subresource beyond /status and /scale (which come from registry.Kind):
// pods/log, pods/exec, pods/binding, namespaces/finalize, ...
type Subresource struct {
	// Parent is the resource the subresource belongs to (core/v1 pods).
	Parent schema.GroupVersionResource
	// Name is the subresource name ("log").
	Name string
	// Kind is the kind the subresource answers with. Group and Version are set only when they
	// differ from the parent's (pods/eviction answers policy/v1 Eviction), as upstream lists
	// them.
	Kind schema.GroupVersionKind
	// Verbs the subresource supports, as discovery lists them (connect-only subresources such
	// as pods/exec list "create" and "get").
	Verbs []string
}

// StandardSubresources returns upstream's subresources of the core and certificates kinds
// that are not /status or /scale. Pass those bosun serves to WithSubresources (and to the
// OpenAPI documents).
func StandardSubresources() []Subresource {
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	get := []string{"get"}
	connect := []string{"create", "get"}
	proxy := []string{"create", "delete", "get", "patch", "update"}
	gpu := []string{"get", "patch", "update"}
	core := func(kind string) schema.GroupVersionKind { return schema.GroupVersionKind{Kind: kind} }
	return []Subresource{
		{Parent: pods, Name: "attach", Kind: core("PodAttachOptions"), Verbs: connect},
		{Parent: pods, Name: "binding", Kind: core("Binding"), Verbs: []string{"create"}},
		{Parent: pods, Name: "ephemeralcontainers", Kind: core("Pod"), Verbs: gpu},
		{Parent: pods, Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
		{Parent: pods, Name: "exec", Kind: core("PodExecOptions"), Verbs: connect},
		{Parent: pods, Name: "log", Kind: core("Pod"), Verbs: get},
		{Parent: pods, Name: "portforward", Kind: core("PodPortForwardOptions"), Verbs: connect},
		{Parent: pods, Name: "proxy", Kind: core("PodProxyOptions"), Verbs: proxy},
		{Parent: pods, Name: "resize", Kind: core("Pod"), Verbs: gpu},
		{Parent: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Name: "proxy", Kind: core("ServiceProxyOptions"), Verbs: proxy},
		{Parent: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, Name: "proxy", Kind: core("NodeProxyOptions"), Verbs: proxy},
		{Parent: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Name: "finalize", Kind: core("Namespace"), Verbs: []string{"update"}},
		{Parent: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, Name: "token", Kind: schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, Verbs: []string{"create"}},
		{Parent: schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}, Name: "approval", Kind: core("CertificateSigningRequest"), Verbs: gpu},
	}
}

// Option changes how a Discovery is built.
type Option func(*Discovery)

// WithSubresources adds subresources to the documents; those whose parent is not served are
// left out.
func WithSubresources(subs ...Subresource) Option {
	return func(d *Discovery) { d.extra = append(d.extra, subs...) }
}

// WithServerAddress sets the address /api reports in serverAddressByClientCIDRs
// ("10.0.0.1:6443"). Without it the Host the request was sent to is reported.
func WithServerAddress(hostPort string) Option {
	return func(d *Discovery) { d.serverAddress = hostPort }
}

// Discovery serves the discovery documents of one registry. Every document is computed and
// encoded once, in New; serving is a map lookup and a write.
type Discovery struct {
	extra         []Subresource
	serverAddress string

	// docs holds the encoded documents by path ("/api/v1", "/apis/apps").
	docs map[string]*document
	// aggregated holds the aggregated documents of "/api" and "/apis".
	aggregated map[string]*aggregatedDocs
}

// aggregatedDocs are the encodings of one aggregated list in both versions.
type aggregatedDocs struct {
	v2, v2beta1 *document
}

// ResourcesFor returns the APIResources served at a group version, as /apis/<g>/<v> lists
// them, or false when the group version is not served.
func (d *Discovery) ResourcesFor(gv schema.GroupVersion) ([]metav1.APIResource, bool) {
	doc, ok := d.docs[gvPath(gv)]
	if !ok {
		return nil, false
	}
	list, ok := doc.obj.(*metav1.APIResourceList)
	if !ok {
		return nil, false
	}
	return list.APIResources, true
}

// New builds the discovery documents of reg.
func New(reg *registry.Registry, opts ...Option) *Discovery {
	d := &Discovery{docs: map[string]*document{}, aggregated: map[string]*aggregatedDocs{}}
	for _, o := range opts {
		o(d)
	}
	d.build(reg)
	return d
}

// groupInfo gathers what is served in one group.
type groupInfo struct {
	name     string
	versions []string // by preference
	// resources per version, sorted by name, subresources after their parent.
	resources map[string][]metav1.APIResource
}

func (d *Discovery) build(reg *registry.Registry) {
	kinds := reg.Kinds()
	groups := map[string]*groupInfo{}
	for _, k := range kinds {
		gv := k.GVK.GroupVersion()
		g := groups[gv.Group]
		if g == nil {
			g = &groupInfo{name: gv.Group, resources: map[string][]metav1.APIResource{}}
			groups[gv.Group] = g
		}
		if _, ok := g.resources[gv.Version]; !ok {
			g.versions = append(g.versions, gv.Version)
			g.resources[gv.Version] = nil
		}
	}

	for _, k := range kinds {
		gv := k.GVK.GroupVersion()
		g := groups[gv.Group]
		verbs := append([]string(nil), k.Verbs...)
		if verbs == nil {
			verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
		}
		sort.Strings(verbs)
		main := metav1.APIResource{
			Name:         k.Resource,
			SingularName: k.Singular,
			Namespaced:   k.Namespaced,
			Kind:         k.GVK.Kind,
			Verbs:        verbs,
			ShortNames:   k.ShortNames,
			Categories:   k.Categories,
		}
		rs := append(g.resources[gv.Version], main)
		sub := func(name string, kind schema.GroupVersionKind, verbs []string) metav1.APIResource {
			v := append([]string(nil), verbs...)
			sort.Strings(v)
			return metav1.APIResource{Name: k.Resource + "/" + name, Namespaced: k.Namespaced,
				Group: kind.Group, Version: kind.Version, Kind: kind.Kind, Verbs: v}
		}
		if k.Status {
			rs = append(rs, sub("status", schema.GroupVersionKind{Kind: k.GVK.Kind}, []string{"get", "patch", "update"}))
		}
		if k.Scale != nil {
			rs = append(rs, sub("scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, []string{"get", "patch", "update"}))
		}
		for _, s := range d.extra {
			if s.Parent == gv.WithResource(k.Resource) {
				rs = append(rs, sub(s.Name, s.Kind, s.Verbs))
			}
		}
		g.resources[gv.Version] = rs
	}

	priorities := upstreamPriorities()
	ordered := make([]*groupInfo, 0, len(groups))
	for _, g := range groups {
		sort.SliceStable(g.versions, func(i, j int) bool {
			pi, pj := versionPriority(priorities, g.name, g.versions[i]), versionPriority(priorities, g.name, g.versions[j])
			if pi != pj {
				return pi > pj
			}
			return version.CompareKubeAwareVersionStrings(g.versions[i], g.versions[j]) > 0
		})
		for v, rs := range g.resources {
			sort.SliceStable(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
			g.resources[v] = rs
		}
		setStorageVersionHashes(g)
		ordered = append(ordered, g)
	}
	sort.Slice(ordered, func(i, j int) bool {
		pi, pj := groupPriority(priorities, ordered[i].name), groupPriority(priorities, ordered[j].name)
		if pi != pj {
			return pi > pj
		}
		return ordered[i].name < ordered[j].name
	})

	// Legacy documents.
	groupList := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	var coreList, appsList []apidiscoveryv2.APIGroupDiscovery
	for _, g := range ordered {
		for _, v := range g.versions {
			gv := schema.GroupVersion{Group: g.name, Version: v}
			list := &metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: gv.String(),
				APIResources: g.resources[v],
			}
			if g.name == "" {
				list.APIVersion = "" // upstream strips the version of core documents
			}
			d.docs[gvPath(gv)] = newDocument(list)
		}
		agg := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.name}}
		for _, v := range g.versions {
			agg.Versions = append(agg.Versions, apidiscoveryv2.APIVersionDiscovery{
				Version:   v,
				Resources: toAggregated(g.resources[v]),
				Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
			})
		}
		if g.name == "" {
			coreList = append(coreList, agg)
			continue
		}
		appsList = append(appsList, agg)
		apiGroup := metav1.APIGroup{Name: g.name}
		for _, v := range g.versions {
			apiGroup.Versions = append(apiGroup.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.name + "/" + v, Version: v})
		}
		apiGroup.PreferredVersion = apiGroup.Versions[0]
		groupList.Groups = append(groupList.Groups, apiGroup)
		one := apiGroup
		one.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		d.docs["/apis/"+g.name] = newDocument(&one)
	}
	d.docs["/apis"] = newDocument(groupList)
	d.aggregated["/api"] = newAggregated(coreList)
	d.aggregated["/apis"] = newAggregated(appsList)
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// setStorageVersionHashes sets upstream's storageVersionHash on a group's resources: a hash of
// the group/version/kind objects are stored as, which is the resource's kind at the most
// preferred version serving it (events.k8s.io events are stored as core events).
func setStorageVersionHashes(g *groupInfo) {
	storedAs := map[string]schema.GroupVersionKind{}
	for _, v := range g.versions { // most preferred first
		for _, r := range g.resources[v] {
			if _, ok := storedAs[r.Name]; !ok && !strings.Contains(r.Name, "/") {
				storedAs[r.Name] = schema.GroupVersionKind{Group: g.name, Version: v, Kind: r.Kind}
			}
		}
	}
	for _, v := range g.versions {
		rs := g.resources[v]
		for i := range rs {
			gvk, ok := storedAs[rs[i].Name]
			if !ok {
				continue
			}
			if g.name == "events.k8s.io" && rs[i].Name == "events" {
				gvk = schema.GroupVersionKind{Version: "v1", Kind: "Event"}
			}
			rs[i].StorageVersionHash = storageVersionHash(gvk)
		}
	}
}

// storageVersionHash is upstream's hash: base64 of the first 8 bytes of the SHA-256 of
// "group/version/kind".
func storageVersionHash(gvk schema.GroupVersionKind) string {
	sum := sha256.Sum256([]byte(gvk.Group + "/" + gvk.Version + "/" + gvk.Kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// toAggregated folds subresources into their parents, as upstream's aggregated discovery
// lists them.
func toAggregated(list []metav1.APIResource) []apidiscoveryv2.APIResourceDiscovery {
	var out []apidiscoveryv2.APIResourceDiscovery
	parent := map[string]int{}
	for _, r := range list {
		if strings.Contains(r.Name, "/") {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		out = append(out, apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Name,
			ResponseKind:     &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind},
			Scope:            scope,
			SingularResource: r.SingularName,
			Verbs:            r.Verbs,
			ShortNames:       r.ShortNames,
			Categories:       r.Categories,
		})
		parent[r.Name] = len(out) - 1
	}
	for _, r := range list {
		name, sub, ok := strings.Cut(r.Name, "/")
		if !ok {
			continue
		}
		i, ok := parent[name]
		if !ok {
			continue
		}
		out[i].Subresources = append(out[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub,
			ResponseKind: &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind},
			Verbs:        r.Verbs,
		})
	}
	return out
}

func newAggregated(items []apidiscoveryv2.APIGroupDiscovery) *aggregatedDocs {
	if items == nil {
		items = []apidiscoveryv2.APIGroupDiscovery{}
	}
	v2 := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
		Items:    items,
	}
	beta := &apidiscoveryv2beta1.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2beta1"},
		Items:    []apidiscoveryv2beta1.APIGroupDiscovery{},
	}
	for _, g := range items {
		bg := apidiscoveryv2beta1.APIGroupDiscovery{ObjectMeta: g.ObjectMeta}
		for _, v := range g.Versions {
			bv := apidiscoveryv2beta1.APIVersionDiscovery{Version: v.Version, Freshness: apidiscoveryv2beta1.DiscoveryFreshness(v.Freshness)}
			for _, r := range v.Resources {
				br := apidiscoveryv2beta1.APIResourceDiscovery{
					Resource: r.Resource, ResponseKind: r.ResponseKind, Scope: apidiscoveryv2beta1.ResourceScope(r.Scope),
					SingularResource: r.SingularResource, Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
				}
				for _, s := range r.Subresources {
					br.Subresources = append(br.Subresources, apidiscoveryv2beta1.APISubresourceDiscovery{
						Subresource: s.Subresource, ResponseKind: s.ResponseKind, AcceptedTypes: s.AcceptedTypes, Verbs: s.Verbs,
					})
				}
				bv.Resources = append(bv.Resources, br)
			}
			bg.Versions = append(bg.Versions, bv)
		}
		beta.Items = append(beta.Items, bg)
	}
	return &aggregatedDocs{v2: newDocument(v2), v2beta1: newDocument(beta)}
}

// versionPriority and groupPriority order groups and versions as upstream's aggregator does
// (its APIService priorities); unknown groups sort after the known ones, by name.
func versionPriority(priorities map[schema.GroupVersion]priority, group, version string) int {
	return priorities[schema.GroupVersion{Group: group, Version: version}].version
}

func groupPriority(priorities map[schema.GroupVersion]priority, group string) int {
	best := 0
	for gv, p := range priorities {
		if gv.Group == group && p.group > best {
			best = p.group
		}
	}
	return best
}

type priority struct{ group, version int }

// upstreamPriorities are upstream's built-in APIService priorities (kube-apiserver 1.33).
func upstreamPriorities() map[schema.GroupVersion]priority {
	return map[schema.GroupVersion]priority{
		{Group: "", Version: "v1"}:                                   {18000, 1},
		{Group: "apps", Version: "v1"}:                               {17800, 15},
		{Group: "events.k8s.io", Version: "v1"}:                      {17750, 15},
		{Group: "events.k8s.io", Version: "v1beta1"}:                 {17750, 5},
		{Group: "authentication.k8s.io", Version: "v1"}:              {17700, 15},
		{Group: "authentication.k8s.io", Version: "v1beta1"}:         {17700, 9},
		{Group: "authentication.k8s.io", Version: "v1alpha1"}:        {17700, 1},
		{Group: "authorization.k8s.io", Version: "v1"}:               {17600, 15},
		{Group: "autoscaling", Version: "v2"}:                        {17500, 30},
		{Group: "autoscaling", Version: "v1"}:                        {17500, 15},
		{Group: "autoscaling", Version: "v2beta1"}:                   {17500, 9},
		{Group: "autoscaling", Version: "v2beta2"}:                   {17500, 1},
		{Group: "batch", Version: "v1"}:                              {17400, 15},
		{Group: "batch", Version: "v1beta1"}:                         {17400, 9},
		{Group: "certificates.k8s.io", Version: "v1"}:                {17300, 15},
		{Group: "certificates.k8s.io", Version: "v1beta1"}:           {17300, 9},
		{Group: "certificates.k8s.io", Version: "v1alpha1"}:          {17300, 1},
		{Group: "networking.k8s.io", Version: "v1"}:                  {17200, 15},
		{Group: "networking.k8s.io", Version: "v1beta1"}:             {17200, 9},
		{Group: "policy", Version: "v1"}:                             {17100, 15},
		{Group: "policy", Version: "v1beta1"}:                        {17100, 9},
		{Group: "rbac.authorization.k8s.io", Version: "v1"}:          {17000, 15},
		{Group: "storage.k8s.io", Version: "v1"}:                     {16800, 15},
		{Group: "storage.k8s.io", Version: "v1beta1"}:                {16800, 9},
		{Group: "storage.k8s.io", Version: "v1alpha1"}:               {16800, 1},
		{Group: "apiextensions.k8s.io", Version: "v1"}:               {16700, 15},
		{Group: "admissionregistration.k8s.io", Version: "v1"}:       {16700, 15},
		{Group: "admissionregistration.k8s.io", Version: "v1beta1"}:  {16700, 12},
		{Group: "admissionregistration.k8s.io", Version: "v1alpha1"}: {16700, 9},
		{Group: "scheduling.k8s.io", Version: "v1"}:                  {16600, 15},
		{Group: "coordination.k8s.io", Version: "v1"}:                {16500, 15},
		{Group: "coordination.k8s.io", Version: "v1beta1"}:           {16500, 13},
		{Group: "coordination.k8s.io", Version: "v1alpha2"}:          {16500, 12},
		{Group: "node.k8s.io", Version: "v1"}:                        {16300, 15},
		{Group: "node.k8s.io", Version: "v1beta1"}:                   {16300, 9},
		{Group: "node.k8s.io", Version: "v1alpha1"}:                  {16300, 1},
		{Group: "discovery.k8s.io", Version: "v1"}:                   {16200, 15},
		{Group: "discovery.k8s.io", Version: "v1beta1"}:              {16200, 12},
		{Group: "resource.k8s.io", Version: "v1beta2"}:               {16200, 15},
		{Group: "resource.k8s.io", Version: "v1beta1"}:               {16200, 9},
		{Group: "resource.k8s.io", Version: "v1alpha3"}:              {16200, 1},
		{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}:       {16100, 21},
		{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3"}:  {16100, 18},
		{Group: "internal.apiserver.k8s.io", Version: "v1alpha1"}:    {16000, 9},
		{Group: "storagemigration.k8s.io", Version: "v1alpha1"}:      {15800, 9},
	}
}

// Handles reports whether path is a discovery path served by d: /api, /apis and every served
// /api/<v>, /apis/<g> and /apis/<g>/<v> (a trailing slash is accepted).
func (d *Discovery) Handles(path string) bool {
	path = trimSlash(path)
	if path == "/api" || path == "/apis" {
		return true
	}
	_, ok := d.docs[path]
	return ok
}

func trimSlash(p string) string {
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return p[:len(p)-1]
	}
	return p
}

// ServeHTTP serves a discovery path (see Handles); other paths answer 404.
func (d *Discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"the server does not allow this method on the requested resource")
		return
	}
	path := trimSlash(r.URL.Path)
	if agg, ok := d.aggregated[path]; ok {
		if m, ok := negotiate(r.Header.Get("Accept"), true); ok && m.aggregated != "" {
			doc := agg.v2
			if m.aggregated == "v2beta1" {
				doc = agg.v2beta1
			}
			serveWithETag(w, r, doc, m, "application/json;g=apidiscovery.k8s.io;v="+m.aggregated+";as=APIGroupDiscoveryList")
			return
		}
	}
	var doc *document
	switch path {
	case "/api":
		doc = newUntaggedDocument(&metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: d.address(r)},
			},
		})
	default:
		var ok bool
		if doc, ok = d.docs[path]; !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
	}
	m, ok := negotiate(r.Header.Get("Accept"), false)
	if !ok {
		writeStatus(w, http.StatusNotAcceptable, "NotAcceptable",
			"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")
		return
	}
	body, err := doc.encoded(m.format)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", m.contentType())
	w.Header().Set("Cache-Control", "no-cache, private")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func (d *Discovery) address(r *http.Request) string {
	if d.serverAddress != "" {
		return d.serverAddress
	}
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil && host != "" {
		port := "80"
		if r.TLS != nil {
			port = "443"
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	return host
}

// serveWithETag writes an aggregated document with its ETag, answering 304 when the client
// already holds it, as upstream does.
func serveWithETag(w http.ResponseWriter, r *http.Request, doc *document, m mediaType, contentType string) {
	etag := strconv.Quote(doc.etag)
	w.Header().Set("ETag", etag)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "public")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, err := doc.encoded(m.format)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	if m.format == formatProtobuf {
		contentType = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=" + m.aggregated + ";as=APIGroupDiscoveryList"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func etagOf(b []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(b))
}
