package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/storage"
	"github.com/bosun-k8s/bosun/internal/version"
)

// maxBodyBytes is the largest request body accepted, as upstream's 3 MiB limit.
const maxBodyBytes = 3 * 1024 * 1024

// Config assembles an API server.
type Config struct {
	Registry *registry.Registry
	Store    *storage.Store
	Scheme   *runtime.Scheme
	Logger   *slog.Logger

	// Listener serves HTTPS; nil means Serve is not used (tests call Handler).
	Listener    net.Listener
	ServingCert tls.Certificate
	ClientCA    *x509.CertPool

	// Healthy checks storage for /readyz and /healthz (etcd answers).
	Healthy func(ctx context.Context) error
	// ReadyChecks are further /readyz checks by name (e.g. "poststarthook/bootstrap": the
	// objects every cluster starts with exist), as upstream's post-start hooks.
	ReadyChecks map[string]func() error

	// Discovery answers /api, /api/v1, /apis and group paths; OpenAPIV2 /openapi/v2;
	// OpenAPIV3 /openapi/v3 and below. nil handlers answer 404.
	Discovery http.Handler
	OpenAPIV2 http.Handler
	OpenAPIV3 http.Handler
	// Subresources serves streaming subresources by "resource/subresource" of core/v1
	// (pods/log, pods/exec, pods/attach, pods/portforward, …).
	Subresources map[string]SubresourceHandler
	// Extra handles other non-resource paths (e.g. the kubelet proxy); nil: 404.
	Extra map[string]http.Handler

	// AuthenticateToken authenticates a request's bearer token (service account tokens).
	// It returns ok false for a token it does not know, and an error for one it rejects.
	// nil: bearer tokens are refused.
	AuthenticateToken func(ctx context.Context, token string) (u user.Info, ok bool, err error)

	// Authorizer decides what an authenticated user may do (upstream's authorization stage);
	// a denied request is answered 403 with upstream's message. nil: everything is allowed.
	// In-process requests without a user are not asked about.
	Authorizer authorizer.Authorizer

	// Mutate is called for every create and update after defaulting, before validation:
	// upstream's mutating admission (a pod's service account and token volume, its default
	// tolerations). nil: nothing.
	Mutate func(ctx context.Context, a *Attributes) error

	// Admit is called for every write after validation, before storage (service IP allocation,
	// …). nil: nothing.
	Admit func(ctx context.Context, a *Attributes) error
	// Released is called after an object is deleted from storage (e.g. free its service IP).
	// What admission reserved for a write that then failed is not released here; the
	// allocator's own repair finds it.
	Released func(ctx context.Context, kind *registry.Kind, obj runtime.Object)

	// MinWatchTimeout is the least time a watch without timeoutSeconds lasts (upstream 30 min;
	// each watch gets a random time between it and twice it).
	MinWatchTimeout time.Duration
}

// Attributes describe one write for Config.Admit.
type Attributes struct {
	Kind        *registry.Kind
	Verb        string // create, update, delete
	Object      runtime.Object
	Old         runtime.Object
	DryRun      bool
	Subresource string
}

// Server is the API server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reg     *registry.Registry
	store   *storage.Store
	res     map[*registry.Kind]*storage.Resource
	nsKind  *registry.Kind
	handler http.Handler

	jsonSer, jsonStrict, yamlSer, yamlStrict, protoSer runtime.Serializer

	subresources map[string]SubresourceHandler
	fieldsOnce   sync.Map // *registry.Kind → map[string]bool of selectable fields
}

// New registers every kind of the registry with the store and builds the handler. It starts
// nothing: Serve does.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Store == nil || cfg.Scheme == nil {
		return nil, errors.New("apiserver: Registry, Store and Scheme are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinWatchTimeout == 0 {
		cfg.MinWatchTimeout = 30 * time.Minute
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, reg: cfg.Registry, store: cfg.Store,
		res:          map[*registry.Kind]*storage.Resource{},
		subresources: cfg.Subresources,
		jsonSer: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme,
			json.SerializerOptions{}),
		jsonStrict: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme,
			json.SerializerOptions{Strict: true}),
		yamlSer: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme,
			json.SerializerOptions{Yaml: true}),
		yamlStrict: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.Scheme, cfg.Scheme,
			json.SerializerOptions{Yaml: true, Strict: true}),
		protoSer: protobuf.NewSerializer(cfg.Scheme, cfg.Scheme),
	}
	for _, k := range cfg.Registry.Kinds() {
		var ttl func(runtime.Object) time.Duration
		if d := k.TTL; d > 0 {
			ttl = func(runtime.Object) time.Duration { return d }
		}
		r, err := cfg.Store.Register(storage.ResourceConfig{
			TTL:           ttl,
			GroupResource: schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource},
			GVK:           k.GVK,
			Namespaced:    k.Namespaced,
			New:           k.New,
			Fields:        k.Fields,
			Row:           k.Row,
		})
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", k.Resource, err)
		}
		s.res[k] = r
		if k.GVK.Group == "" && k.Resource == "namespaces" {
			s.nsKind = k
		}
	}
	s.handler = s.recoverPanics(s.authenticate(http.HandlerFunc(s.route)))
	return s, nil
}

// Handler is the whole API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Resource returns the storage of a kind (for the server's own bootstrap and tests).
func (s *Server) Resource(k *registry.Kind) *storage.Resource { return s.res[k] }

// Serve answers HTTPS on cfg.Listener until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if s.cfg.Listener == nil {
		return errors.New("apiserver: no listener")
	}
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{s.cfg.ServingCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    s.cfg.ClientCA,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.cfg.Listener, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}

type ctxKey int

const userKey ctxKey = 0

// userFrom returns the authenticated user of a request (nil when anonymous).
func userFrom(ctx context.Context) user.Info {
	u, _ := ctx.Value(userKey).(user.Info)
	return u
}

// authenticate reads the verified client certificate: CN is the user, O the groups; else a
// bearer token goes to Config.AuthenticateToken (a bad one is 401). Requests with neither
// are anonymous and may only reach the public paths (/version, /healthz, /livez,
// /readyz), as upstream's system:public-info-viewer allows.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			c := r.TLS.VerifiedChains[0][0]
			u := &user.DefaultInfo{Name: c.Subject.CommonName,
				Groups: append(append([]string{}, c.Subject.Organization...), user.AllAuthenticated)}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, user.Info(u))))
			return
		}
		if tok, ok := bearerToken(r); ok && s.cfg.AuthenticateToken != nil {
			u, ok, err := s.cfg.AuthenticateToken(r.Context(), tok)
			if err == nil && ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, u)))
				return
			}
			if err != nil {
				s.log.Debug("bearer token refused", "err", err)
			}
			WriteError(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		if r.TLS == nil || publicPath(r.URL.Path) {
			// Plain HTTP only reaches the handler in-process (tests, the server itself).
			next.ServeHTTP(w, r)
			return
		}
		WriteError(w, apierrors.NewUnauthorized("Unauthorized"))
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

func publicPath(p string) bool {
	switch p {
	case "/version", "/version/", "/healthz", "/livez", "/readyz":
		return true
	}
	return strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/")
}

// recoverPanics answers 500 when a handler panics and logs the stack, so a bug in one request
// never takes the server down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				WriteError(w, apierrors.NewInternalError(fmt.Errorf("panic: %v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// route dispatches non-resource paths and resource requests.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	ri, isResource := parseRequest(r)
	isResource = isResource && !ri.Discovery
	attrs := authorizer.AttributesRecord{User: userFrom(r.Context()), Verb: strings.ToLower(r.Method), Path: p}
	switch {
	case p == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
		attrs.Verb, attrs.APIGroup, attrs.APIVersion, attrs.Resource, attrs.ResourceRequest = "create", "authentication.k8s.io", "v1", "selfsubjectreviews", true
	case p == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
		attrs.Verb, attrs.APIGroup, attrs.APIVersion, attrs.Resource, attrs.ResourceRequest = "create", "authorization.k8s.io", "v1", "selfsubjectaccessreviews", true
	case isResource:
		attrs = authorizer.AttributesRecord{User: attrs.User, Verb: ri.Verb, Namespace: ri.Namespace,
			APIGroup: ri.GroupVersion.Group, APIVersion: ri.GroupVersion.Version, Resource: ri.Resource,
			Subresource: ri.Subresource, Name: ri.Name, ResourceRequest: true, Path: p}
	case attrs.Verb == "head":
		attrs.Verb = "get"
	}
	if !s.authorize(w, r, attrs) {
		return
	}
	switch {
	case p == "/version" || p == "/version/":
		writeJSON(w, output{}, http.StatusOK, version.Info())
		return
	case p == "/healthz" || p == "/livez" || p == "/readyz" ||
		strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/"):
		s.serveHealth(w, r)
		return
	case p == "/openapi/v2":
		serveOptional(w, r, s.cfg.OpenAPIV2)
		return
	case p == "/openapi/v3" || strings.HasPrefix(p, "/openapi/v3/"):
		serveOptional(w, r, s.cfg.OpenAPIV3)
		return
	}
	switch p {
	case "/apis/authentication.k8s.io/v1/selfsubjectreviews":
		s.serveSelfSubjectReview(w, r)
		return
	case "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
		s.serveSelfSubjectAccessReview(w, r)
		return
	}
	for prefix, h := range s.cfg.Extra {
		if strings.HasPrefix(p, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	if !isResource && !ri.Discovery {
		WriteError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
		return
	}
	if ri.Discovery {
		serveOptional(w, r, s.cfg.Discovery)
		return
	}
	s.serveResource(w, r, ri)
}

func serveOptional(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if h == nil {
		WriteError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
		return
	}
	h.ServeHTTP(w, r)
}

// serveHealth answers /healthz, /livez and /readyz like upstream, with ?verbose listing checks.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0], "/")
	checks := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ping", func(context.Context) error { return nil }},
		{"etcd", func(ctx context.Context) error {
			if s.cfg.Healthy == nil {
				return nil
			}
			return s.cfg.Healthy(ctx)
		}},
	}
	if name == "readyz" {
		checks = append(checks, struct {
			name string
			fn   func(context.Context) error
		}{"informer-sync", func(context.Context) error {
			select {
			case <-s.store.Ready():
				return nil
			default:
				return errors.New("caches not synced")
			}
		}})
		names := make([]string, 0, len(s.cfg.ReadyChecks))
		for n := range s.cfg.ReadyChecks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fn := s.cfg.ReadyChecks[n]
			checks = append(checks, struct {
				name string
				fn   func(context.Context) error
			}{n, func(context.Context) error { return fn() }})
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", c.name)
			s.log.Info("health check failed", "endpoint", name, "check", c.name, "err", err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		fmt.Fprintf(&b, "%s check failed\n", name)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(b.String()))
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(&b, "%s check passed\n", name)
		_, _ = w.Write([]byte(b.String()))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// serveSelfSubjectReview answers who the client is (kubectl auth whoami): the user the request
// was authenticated as, in a SelfSubjectReview's status.
func (s *Server) serveSelfSubjectReview(w http.ResponseWriter, r *http.Request) {
	u, ok := reviewer(w, r, schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"})
	if !ok {
		return
	}
	info := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range extra {
			info.Extra[k] = v
		}
	}
	review := &authenticationv1.SelfSubjectReview{
		TypeMeta:   metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"},
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()},
		Status:     authenticationv1.SelfSubjectReviewStatus{UserInfo: info},
	}
	out, _ := negotiate(r.Header.Get("Accept"))
	writeJSON(w, out, http.StatusCreated, review)
}

// authorize asks Config.Authorizer about a request and answers 403 when it is not allowed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, a authorizer.AttributesRecord) bool {
	if s.cfg.Authorizer == nil || a.User == nil {
		return true
	}
	decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
	if decision == authorizer.DecisionAllow {
		return true
	}
	if err != nil {
		s.log.Warn("authorization", "user", a.User.GetName(), "err", err)
	}
	msg := forbiddenMessage(a)
	if reason != "" {
		msg += ": " + reason
	}
	WriteError(w, apierrors.NewForbidden(schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}, a.Name, errors.New(msg)))
	return false
}

// forbiddenMessage words a denial as upstream's API server does.
func forbiddenMessage(a authorizer.AttributesRecord) string {
	name := a.User.GetName()
	if !a.ResourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", name, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", name, a.Verb, resource, a.APIGroup, a.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", name, a.Verb, resource, a.APIGroup)
}

// serveSelfSubjectAccessReview answers whether the client may do what the review describes
// (kubectl auth can-i), from Config.Authorizer.
func (s *Server) serveSelfSubjectAccessReview(w http.ResponseWriter, r *http.Request) {
	u, ok := reviewer(w, r, schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"})
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		WriteError(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	var review authorizationv1.SelfSubjectAccessReview
	gvk := authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview")
	if _, err := s.decode(body, r.Header.Get("Content-Type"), "Ignore", gvk, &review); err != nil {
		WriteError(w, err)
		return
	}
	spec := review.Spec
	attrs := authorizer.AttributesRecord{User: u}
	switch {
	case spec.ResourceAttributes != nil && spec.NonResourceAttributes != nil:
		WriteError(w, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "resourceAttributes"), spec.ResourceAttributes, "cannot be specified in combination with nonResourceAttributes")}))
		return
	case spec.ResourceAttributes != nil:
		ra := spec.ResourceAttributes
		attrs.ResourceRequest = true
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
		attrs.Resource, attrs.Subresource, attrs.Name = ra.Resource, ra.Subresource, ra.Name
	case spec.NonResourceAttributes != nil:
		attrs.Verb, attrs.Path = spec.NonResourceAttributes.Verb, spec.NonResourceAttributes.Path
	default:
		WriteError(w, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}, "",
			field.ErrorList{field.Required(field.NewPath("spec", "resourceAttributes"), "exactly one of nonResourceAttributes or resourceAttributes must be specified")}))
		return
	}
	review.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true}
	if s.cfg.Authorizer != nil {
		decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), attrs)
		review.Status.Allowed = decision == authorizer.DecisionAllow
		review.Status.Denied = decision == authorizer.DecisionDeny
		review.Status.Reason = reason
		if err != nil {
			review.Status.EvaluationError = err.Error()
		}
	}
	review.TypeMeta = metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"}
	review.CreationTimestamp = metav1.Now()
	out, _ := negotiate(r.Header.Get("Accept"))
	writeJSON(w, out, http.StatusCreated, &review)
}

// reviewer returns the user a self review (a create of gr) is about, or answers why there is
// none: 405 for a verb other than create, 401 without a user.
func reviewer(w http.ResponseWriter, r *http.Request, gr schema.GroupResource) (user.Info, bool) {
	if r.Method != http.MethodPost {
		WriteError(w, apierrors.NewMethodNotSupported(gr, r.Method))
		return nil, false
	}
	u := userFrom(r.Context())
	if u == nil {
		WriteError(w, apierrors.NewUnauthorized("Unauthorized"))
		return nil, false
	}
	return u, true
}
