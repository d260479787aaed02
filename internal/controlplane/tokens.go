package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/bosun-k8s/bosun/internal/apiserver"
	"github.com/bosun-k8s/bosun/internal/satoken"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// tokens serves serviceaccounts/token (the TokenRequest API kubectl create token and the
// kubelet use) and authenticates the bearer tokens it issued: the signature and claims, then
// that the service account and the object the token is bound to still exist, as upstream's
// service account authenticator does.
type tokens struct {
	issuer  *satoken.Issuer
	s       *Server
	now     func() time.Time
	decoder runtime.Decoder // JSON, YAML or protobuf, as the request's body comes
}

// boundObjects are the storage of the kinds a token names.
type boundObjects struct {
	serviceAccounts, pods, secrets, nodes *storage.Resource
}

func (t *tokens) objects() (boundObjects, error) {
	t.s.mu.Lock()
	b := t.s.bound
	t.s.mu.Unlock()
	if b.serviceAccounts == nil {
		return b, apierrors.NewServiceUnavailable("the API server is starting")
	}
	return b, nil
}

var tokenRequestGR = schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenrequests"}

// serveTokenRequest is POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token.
func (t *tokens) serveTokenRequest(w http.ResponseWriter, r *http.Request, namespace, name string) {
	if r.Method != http.MethodPost {
		apiserver.WriteError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "serviceaccounts/token"}, r.Method))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		apiserver.WriteError(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	var req authv1.TokenRequest
	if _, _, err := t.decoder.Decode(body, &schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, &req); err != nil {
		apiserver.WriteError(w, apierrors.NewBadRequest("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf: "+err.Error()))
		return
	}
	if req.Spec.ExpirationSeconds == nil {
		req.Spec.ExpirationSeconds = new(int64)
		*req.Spec.ExpirationSeconds = 3600
	}
	var errs field.ErrorList
	exp := *req.Spec.ExpirationSeconds
	path := field.NewPath("spec", "expirationSeconds")
	if exp < 600 {
		errs = append(errs, field.Invalid(path, exp, "may not specify a duration less than 10 minutes"))
	} else if exp > math.MaxUint32 {
		errs = append(errs, field.TooLong(path, exp, math.MaxUint32))
	}
	ref := req.Spec.BoundObjectRef
	if ref != nil {
		refPath := field.NewPath("spec", "boundObjectRef")
		switch ref.Kind {
		case "Pod", "Secret", "Node":
		default:
			errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"}))
		}
		if ref.Name == "" {
			errs = append(errs, field.Required(refPath.Child("name"), ""))
		}
	}
	if len(errs) > 0 {
		apiserver.WriteError(w, apierrors.NewInvalid(schema.GroupKind{Group: "authentication.k8s.io", Kind: "TokenRequest"}, name, errs))
		return
	}
	ctx := r.Context()
	objs, err := t.objects()
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	sa, err := cachedGet[corev1.ServiceAccount](ctx, objs.serviceAccounts, namespace, name)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	issue := satoken.Request{Namespace: namespace, ServiceAccount: satoken.Ref{Name: sa.Name, UID: string(sa.UID)},
		Audiences: req.Spec.Audiences, Expiration: time.Duration(exp) * time.Second}
	if ref != nil {
		bound, err := t.boundRef(ctx, objs, namespace, ref)
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		switch ref.Kind {
		case "Pod":
			issue.Pod = bound
			// A token bound to a scheduled pod also names the pod's node, as upstream's does.
			if p, err := cachedGet[corev1.Pod](ctx, objs.pods, namespace, ref.Name); err == nil && p.Spec.NodeName != "" {
				if n, err := cachedGet[metav1.PartialObjectMetadata](ctx, objs.nodes, "", p.Spec.NodeName); err == nil {
					issue.Node = &satoken.Ref{Name: p.Spec.NodeName, UID: string(n.UID)}
				}
			}
		case "Secret":
			issue.Secret = bound
		case "Node":
			issue.Node = bound
		}
	}
	tok, expiry, err := t.issuer.Issue(issue)
	if err != nil {
		apiserver.WriteError(w, apierrors.NewInternalError(err))
		return
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = []string{t.issuer.Issuer()}
	}
	resp := authv1.TokenRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, CreationTimestamp: metav1.NewTime(t.now())},
		Spec:       req.Spec,
		Status:     authv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(expiry)},
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(&resp)
}

// boundRef checks that the object a TokenRequest binds to exists (with the given UID) and
// returns its reference.
func (t *tokens) boundRef(ctx context.Context, objs boundObjects, namespace string, ref *authv1.BoundObjectReference) (*satoken.Ref, error) {
	var res *storage.Resource
	ns := namespace
	switch ref.Kind {
	case "Pod":
		res = objs.pods
	case "Secret":
		res = objs.secrets
	case "Node":
		res, ns = objs.nodes, ""
	}
	m, err := cachedGet[metav1.PartialObjectMetadata](ctx, res, ns, ref.Name)
	if err != nil {
		return nil, err
	}
	if ref.UID != "" && ref.UID != m.GetUID() {
		return nil, apierrors.NewConflict(tokenRequestGR, ref.Name, fmt.Errorf(
			"the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return &satoken.Ref{Name: ref.Name, UID: string(m.GetUID())}, nil
}

// authenticate is the API server's bearer token authenticator.
func (t *tokens) authenticate(ctx context.Context, raw string) (user.Info, bool, error) {
	c, err := t.issuer.Verify(raw, nil)
	if errors.Is(err, satoken.ErrNotOurs) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	objs, err := t.objects()
	if err != nil {
		return nil, false, err
	}
	sa, err := cachedGet[corev1.ServiceAccount](ctx, objs.serviceAccounts, c.Namespace, c.ServiceAccount.Name)
	if err != nil {
		return nil, false, fmt.Errorf("service account %s/%s: %w", c.Namespace, c.ServiceAccount.Name, err)
	}
	if uid := string(sa.UID); uid != c.ServiceAccount.UID {
		return nil, false, fmt.Errorf("service account UID (%s) does not match claim (%s)", uid, c.ServiceAccount.UID)
	}
	// A token bound to an object dies with it; a pod being deleted keeps it for the 60 s
	// upstream allows its graceful shutdown.
	check := func(res *storage.Resource, ns string, ref *satoken.Ref, what string) error {
		if ref == nil {
			return nil
		}
		m, err := cachedGet[metav1.PartialObjectMetadata](ctx, res, ns, ref.Name)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, ref.Name, err)
		}
		if string(m.GetUID()) != ref.UID {
			return fmt.Errorf("%s UID (%s) does not match claim (%s)", what, m.GetUID(), ref.UID)
		}
		if d := m.GetDeletionTimestamp(); d != nil && d.Time.Before(t.now().Add(-60*time.Second)) {
			return fmt.Errorf("%s %s has been deleted", what, ref.Name)
		}
		return nil
	}
	if err := errors.Join(check(objs.pods, c.Namespace, c.Pod, "pod"), check(objs.secrets, c.Namespace, c.Secret, "secret")); err != nil {
		return nil, false, err
	}
	if c.Pod == nil {
		if err := check(objs.nodes, "", c.Node, "node"); err != nil {
			return nil, false, err
		}
	}
	extra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=" + c.ID}}
	if c.Pod != nil {
		extra["authentication.kubernetes.io/pod-name"] = []string{c.Pod.Name}
		extra["authentication.kubernetes.io/pod-uid"] = []string{c.Pod.UID}
	}
	if c.Node != nil {
		extra["authentication.kubernetes.io/node-name"] = []string{c.Node.Name}
		extra["authentication.kubernetes.io/node-uid"] = []string{c.Node.UID}
	}
	return &user.DefaultInfo{
		Name:   serviceaccount.MakeUsername(c.Namespace, c.ServiceAccount.Name),
		UID:    c.ServiceAccount.UID,
		Groups: append(serviceaccount.MakeGroupNames(c.Namespace), user.AllAuthenticated),
		Extra:  extra,
	}, true, nil
}

// cachedGet reads an object from the API server's watch cache, as upstream's admission and
// authenticator read from informers, and from etcd when the cache does not have it (yet).
func cachedGet[T any](ctx context.Context, res *storage.Resource, namespace, name string) (*T, error) {
	if e, err := res.GetEntry(ctx, namespace, name, "0"); err == nil {
		v := new(T)
		if err := json.Unmarshal(e.JSON, v); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return v, nil
	}
	obj, err := res.Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	if v, ok := any(obj).(*T); ok {
		return v, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return v, nil
}
