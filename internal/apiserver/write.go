package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// fieldValidation modes of the fieldValidation query parameter.
const (
	validationIgnore = "Ignore"
	validationWarn   = "Warn"
	validationStrict = "Strict"
)

// readBody reads a request body up to the 3 MiB limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("failed to read request body: %v", err))
	}
	return body, nil
}

// readWrite reads what every write request carries: its body, the fieldValidation mode and
// whether it is a dry run.
func readWrite(w http.ResponseWriter, r *http.Request) (body []byte, mode string, dryRun bool, err error) {
	if body, err = readBody(w, r); err != nil {
		return nil, "", false, err
	}
	if mode, err = fieldValidationMode(r); err != nil {
		return nil, "", false, err
	}
	if dryRun, err = isDryRun(r); err != nil {
		return nil, "", false, err
	}
	return body, mode, dryRun, nil
}

func fieldValidationMode(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "":
		return validationWarn, nil
	case validationIgnore, validationWarn, validationStrict:
		return v, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("invalid fieldValidation directive %q: must be one of Ignore, Warn, Strict", v))
}

func isDryRun(r *http.Request) (bool, error) {
	vals := r.URL.Query()["dryRun"]
	for _, v := range vals {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", v))
		}
	}
	return len(vals) > 0, nil
}

// decode reads obj from a JSON, YAML or protobuf body, applying the fieldValidation mode. It
// returns the warnings to send when the mode is Warn.
func (s *Server) decode(body []byte, contentType string, mode string, gvk schema.GroupVersionKind, into runtime.Object) ([]string, error) {
	mt := "application/json"
	if contentType != "" {
		var err error
		mt, _, err = mime.ParseMediaType(contentType)
		if err != nil {
			return nil, unsupportedMediaType(contentType)
		}
	}
	var dec runtime.Decoder
	switch mt {
	case "application/json":
		dec = s.jsonSer
		if mode != validationIgnore {
			dec = s.jsonStrict
		}
	case "application/yaml":
		dec = s.yamlSer
		if mode != validationIgnore {
			dec = s.yamlStrict
		}
	case "application/vnd.kubernetes.protobuf":
		dec = s.protoSer
	default:
		return nil, unsupportedMediaType(contentType)
	}
	if len(body) == 0 {
		return nil, apierrors.NewBadRequest("the request body is empty")
	}
	_, actual, err := dec.Decode(body, &gvk, into)
	var warnings []string
	if err != nil {
		if runtime.IsStrictDecodingError(err) && actual != nil {
			if sde, ok := runtime.AsStrictDecodingError(err); ok {
				if mode == validationStrict {
					return nil, apierrors.NewBadRequest(cannotHandle(gvk, err))
				}
				for _, e := range sde.Errors() {
					warnings = append(warnings, e.Error())
				}
			}
		} else {
			return nil, apierrors.NewBadRequest(decodeErrorMessage(gvk, err))
		}
	}
	if actual != nil && (actual.Group != gvk.Group || actual.Version != gvk.Version) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)",
			actual.GroupVersion().String(), gvk.GroupVersion().String()))
	}
	if actual != nil && actual.Kind != gvk.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, gvk.Kind))
	}
	return warnings, nil
}

// decodeErrorMessage words a decode failure as upstream: errors finding the kind stand alone,
// errors decoding a known kind say which kind could not be handled.
func decodeErrorMessage(gvk schema.GroupVersionKind, err error) string {
	msg := err.Error()
	if strings.Contains(msg, "couldn't get version/kind") || strings.Contains(msg, "Object 'Kind' is missing") {
		return msg
	}
	return cannotHandle(gvk, err)
}

func cannotHandle(gvk schema.GroupVersionKind, err error) string {
	return fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
}

func unsupportedMediaType(ct string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"), 0, false)
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
	}
}

func invalid(k *registry.Kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: k.GVK.Group, Kind: k.GVK.Kind}, name, errs)
}

func nameFunc(k *registry.Kind) apimachineryvalidation.ValidateNameFunc {
	if k.NameValidation != nil {
		return k.NameValidation
	}
	return apimachineryvalidation.NameIsDNSSubdomain
}

// validateCreate runs the generic and the kind's validation of a new object.
func validateCreate(k *registry.Kind, obj runtime.Object, m metav1.Object) error {
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(m, k.Namespaced, nameFunc(k), field.NewPath("metadata"))
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj)...)
	}
	if len(errs) > 0 {
		return invalid(k, m.GetName(), errs)
	}
	return nil
}

// validateUpdate runs the generic and the kind's validation of an update.
func validateUpdate(k *registry.Kind, obj, old runtime.Object, m, om metav1.Object) error {
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(m, k.Namespaced, nameFunc(k), field.NewPath("metadata"))
	errs = append(errs, apimachineryvalidation.ValidateObjectMetaAccessorUpdate(m, om, field.NewPath("metadata"))...)
	if om.GetDeletionTimestamp() != nil {
		added := sets.New(m.GetFinalizers()...).Difference(sets.New(om.GetFinalizers()...))
		if added.Len() > 0 {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "finalizers"),
				fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers %#v", sets.List(added))))
		}
	}
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj)...)
	}
	if k.ValidateUpdate != nil {
		errs = append(errs, k.ValidateUpdate(obj, old)...)
	}
	if len(errs) > 0 {
		return invalid(k, m.GetName(), errs)
	}
	return nil
}

// create handles POST to a collection.
func (s *Server) create(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	if k.Namespaced && ri.Namespace == "" {
		WriteError(w, notFoundResource())
		return
	}
	body, mode, dryRun, err := readWrite(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	obj := k.New()
	warnings, err := s.decode(body, r.Header.Get("Content-Type"), mode, k.GVK, obj)
	if err != nil {
		WriteError(w, err)
		return
	}
	created, err := s.createObject(r.Context(), k, ri.Namespace, obj, dryRun)
	if err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings)
	s.writeObject(w, out, http.StatusCreated, k, created)
}

// createObject runs the create path for a decoded object: generic preparation, the kind's
// hooks, validation, admission and storage.
func (s *Server) createObject(ctx context.Context, k *registry.Kind, namespace string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if k.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(namespace)
		} else if m.GetNamespace() != namespace {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	pristine := obj
	for attempt := 0; ; attempt++ {
		// The name is chosen before the kind's hooks run (a Job's labels carry its name); a
		// collision of a generated name starts again from the decoded object.
		obj := pristine.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		if generated {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		prepareCreate(k, obj, m)
		if k.PrepareForCreate != nil {
			k.PrepareForCreate(obj)
		}
		if k.Default != nil {
			k.Default(obj)
		}
		if s.cfg.Mutate != nil {
			if err := s.cfg.Mutate(ctx, &Attributes{Kind: k, Verb: "create", Object: obj, DryRun: dryRun}); err != nil {
				return nil, err
			}
		}
		if err := validateCreate(k, obj, m); err != nil {
			return nil, err
		}
		if err := s.admitNamespace(ctx, k, m.GetNamespace()); err != nil {
			return nil, err
		}
		if s.cfg.Admit != nil {
			if err := s.cfg.Admit(ctx, &Attributes{Kind: k, Verb: "create", Object: obj, DryRun: dryRun}); err != nil {
				return nil, err
			}
		}
		if dryRun {
			return obj, nil
		}
		created, err := s.res[k].Create(ctx, obj)
		if err != nil && generated && apierrors.IsAlreadyExists(err) && attempt < 7 {
			continue
		}
		return created, err
	}
}

// prepareCreate applies the rules every kind shares on create.
func prepareCreate(k *registry.Kind, obj runtime.Object, m metav1.Object) {
	m.SetUID(types.UID(uuid.NewUUID()))
	m.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	m.SetManagedFields(nil)
	if k.Generation {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	if k.Status && !k.KeepStatusOnCreate {
		resetStatus(obj)
	}
}

// admitNamespace refuses objects in a namespace that does not exist or is terminating. It
// reads the watch cache (a namespace appears there within milliseconds of its creation) and
// asks etcd only when the cache does not have it yet.
func (s *Server) admitNamespace(ctx context.Context, k *registry.Kind, namespace string) error {
	if !k.Namespaced || s.nsKind == nil {
		return nil
	}
	terminating := false
	res, err := s.res[s.nsKind].List(ctx, storage.ListOptions{ResourceVersion: "0",
		Field: fields.OneTermEqualSelector("metadata.name", namespace)})
	if err == nil && len(res.Entries) == 1 {
		terminating = namespaceTerminating(res.Entries[0])
	} else {
		nsObj, err := s.res[s.nsKind].Get(ctx, "", namespace)
		if err != nil {
			return err
		}
		m, _ := meta.Accessor(nsObj)
		terminating = m.GetDeletionTimestamp() != nil
	}
	if terminating {
		return apierrors.NewForbidden(schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}, "",
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	}
	return nil
}

// namespaceTerminating reads a cached namespace's deletionTimestamp.
func namespaceTerminating(e *storage.Entry) bool {
	var m struct {
		Metadata struct {
			DeletionTimestamp *metav1.Time `json:"deletionTimestamp"`
		} `json:"metadata"`
	}
	return json.Unmarshal(e.MetaJSON(), &m) == nil && m.Metadata.DeletionTimestamp != nil
}

// mutateForUpdate applies the shared update rules to obj (the user's new version) given the
// stored cur, then the kind's hooks and validation.
func (s *Server) mutateForUpdate(ctx context.Context, k *registry.Kind, obj, cur runtime.Object, dryRun bool) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	cm, _ := meta.Accessor(cur)
	if m.GetUID() != "" && m.GetUID() != cm.GetUID() {
		return apierrors.NewConflict(schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}, m.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", m.GetUID(), cm.GetUID()))
	}
	m.SetUID(cm.GetUID())
	if m.GetResourceVersion() == "" {
		// An unconditional update (no resourceVersion) applies to the current version.
		m.SetResourceVersion(cm.GetResourceVersion())
	}
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	m.SetDeletionTimestamp(cm.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(cm.GetDeletionGracePeriodSeconds())
	m.SetSelfLink("")
	m.SetManagedFields(cm.GetManagedFields())
	if k.Namespaced {
		m.SetNamespace(cm.GetNamespace())
	}
	if k.Status {
		copyStatus(obj, cur)
	}
	// Generation starts from the stored one; a kind's PrepareForUpdate may bump it for its
	// own reasons (deployments: annotation changes), and it moves when the defaulted spec
	// differs from the stored one.
	m.SetGeneration(cm.GetGeneration())
	if k.PrepareForUpdate != nil {
		k.PrepareForUpdate(obj, cur)
	}
	if k.Default != nil {
		k.Default(obj)
	}
	if s.cfg.Mutate != nil {
		if err := s.cfg.Mutate(ctx, &Attributes{Kind: k, Verb: "update", Object: obj, Old: cur, DryRun: dryRun}); err != nil {
			return err
		}
	}
	if k.Generation && m.GetGeneration() == cm.GetGeneration() && specChanged(obj, cur) {
		m.SetGeneration(cm.GetGeneration() + 1)
	}
	if err := validateUpdate(k, obj, cur, m, cm); err != nil {
		return err
	}
	if s.cfg.Admit != nil {
		return s.cfg.Admit(ctx, &Attributes{Kind: k, Verb: "update", Object: obj, Old: cur, DryRun: dryRun})
	}
	return nil
}

// guaranteedUpdate runs fn against the current object and stores the result (or, for a dry
// run, only computes it). After a write that leaves a deleting object without finalizers and
// without grace, the object is deleted, as upstream does.
func (s *Server) guaranteedUpdate(ctx context.Context, k *registry.Kind, namespace, name string, dryRun bool,
	fn func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	res := s.res[k]
	if dryRun {
		cur, err := res.Get(ctx, namespace, name)
		if err != nil {
			return nil, err
		}
		return fn(cur.DeepCopyObject())
	}
	updated, err := res.Update(ctx, namespace, name, fn)
	if err != nil {
		return nil, err
	}
	return s.finishIfFinalized(ctx, k, updated)
}

// finishIfFinalized deletes an object whose deletion was waiting only for finalizers.
func (s *Server) finishIfFinalized(ctx context.Context, k *registry.Kind, obj runtime.Object) (runtime.Object, error) {
	m, _ := meta.Accessor(obj)
	if m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return obj, nil
	}
	if g := m.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return obj, nil
	}
	if k == s.nsKind && len(namespaceFinalizers(obj)) > 0 {
		return obj, nil
	}
	rv, uid := m.GetResourceVersion(), m.GetUID()
	deleted, err := s.res[k].Delete(ctx, m.GetNamespace(), m.GetName(), func(cur runtime.Object) error {
		cm, _ := meta.Accessor(cur)
		if cm.GetUID() != uid || cm.GetResourceVersion() != rv {
			return errRetryLater
		}
		return nil
	})
	if errors.Is(err, errRetryLater) || apierrors.IsNotFound(err) {
		return obj, nil
	}
	if err != nil {
		return nil, err
	}
	if s.cfg.Released != nil {
		s.cfg.Released(ctx, k, deleted)
	}
	return deleted, nil
}

var errRetryLater = errors.New("object changed")

// update handles PUT of an object.
func (s *Server) update(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	body, mode, dryRun, err := readWrite(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	newObj := k.New()
	warnings, err := s.decode(body, r.Header.Get("Content-Type"), mode, k.GVK, newObj)
	if err != nil {
		WriteError(w, err)
		return
	}
	nm, _ := meta.Accessor(newObj)
	if nm.GetName() != ri.Name {
		WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), ri.Name)))
		return
	}
	if k.Namespaced && nm.GetNamespace() != "" && nm.GetNamespace() != ri.Namespace {
		WriteError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	updated, err := s.guaranteedUpdate(r.Context(), k, ri.Namespace, ri.Name, dryRun, func(cur runtime.Object) (runtime.Object, error) {
		obj := newObj.DeepCopyObject()
		if err := s.mutateForUpdate(r.Context(), k, obj, cur, dryRun); err != nil {
			return nil, err
		}
		return obj, nil
	})
	if apierrors.IsNotFound(err) && k.CreateOnUpdate {
		created, cerr := s.createObject(r.Context(), k, ri.Namespace, newObj, dryRun)
		if cerr != nil {
			WriteError(w, cerr)
			return
		}
		addWarnings(w, warnings)
		s.writeObject(w, out, http.StatusCreated, k, created)
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings)
	s.writeObject(w, out, http.StatusOK, k, updated)
}

// applyPatch applies a JSON, merge or strategic merge patch to the JSON of an object.
func applyPatch(patchType string, original, patch []byte, schemaObj runtime.Object) ([]byte, error) {
	switch patchType {
	case string(types.JSONPatchType):
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case string(types.MergePatchType):
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case string(types.StrategicMergePatchType):
		out, err := strategicpatch.StrategicMergePatch(original, patch, schemaObj)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"), 0, false)
}

// patchContentType returns the patch type of a PATCH request.
func patchContentType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// patch handles PATCH of an object.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	body, mode, dryRun, err := readWrite(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	pt := patchContentType(r)
	var warnings []string
	updated, err := s.guaranteedUpdate(r.Context(), k, ri.Namespace, ri.Name, dryRun, func(cur runtime.Object) (runtime.Object, error) {
		obj, warn, err := s.patchedObject(k, cur, pt, body, mode)
		if err != nil {
			return nil, err
		}
		warnings = warn
		if err := s.mutateForUpdate(r.Context(), k, obj, cur, dryRun); err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings)
	s.writeObject(w, out, http.StatusOK, k, updated)
}

// patchedObject applies a patch to cur and decodes the result as a new object of kind k.
func (s *Server) patchedObject(k *registry.Kind, cur runtime.Object, pt string, patch []byte, mode string) (runtime.Object, []string, error) {
	original, err := encodeObject(cur.DeepCopyObject(), k.GVK)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	patched, err := applyPatch(pt, original, patch, k.New())
	if err != nil {
		return nil, nil, err
	}
	obj := k.New()
	warnings, err := s.decode(patched, "application/json", mode, k.GVK, obj)
	if err != nil {
		return nil, nil, err
	}
	cm, _ := meta.Accessor(cur)
	m, _ := meta.Accessor(obj)
	if m.GetName() != cm.GetName() {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), cm.GetName()))
	}
	return obj, warnings, nil
}
