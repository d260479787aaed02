package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/bosun-k8s/bosun/internal/registry"
	"github.com/bosun-k8s/bosun/internal/storage"
)

// kindVerbs is the default verb set of a resource.
var kindVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func supportsVerb(k *registry.Kind, verb string) bool {
	verbs := k.Verbs
	if verbs == nil {
		verbs = kindVerbs
	}
	for _, v := range verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// serveResource handles every /api and /apis resource request.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	k, ok := s.reg.Lookup(ri.GroupVersion.WithResource(ri.Resource))
	if !ok {
		WriteError(w, notFoundResource())
		return
	}
	if !k.Namespaced && ri.Namespace != "" {
		WriteError(w, notFoundResource())
		return
	}
	out, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		WriteError(w, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
			fmt.Sprintf("only the following media types are accepted: %s", "application/json, application/yaml, application/json;as=Table;g=meta.k8s.io;v=v1"), 0, false))
		return
	}
	gr := schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
	if ri.Subresource != "" {
		s.serveSubresource(w, r, ri, k, out)
		return
	}
	if !supportsVerb(k, ri.Verb) || (ri.Verb == "create" && ri.Name != "") {
		WriteError(w, apierrors.NewMethodNotSupported(gr, ri.Verb))
		return
	}
	switch ri.Verb {
	case "get":
		s.get(w, r, ri, k, out)
	case "list":
		s.list(w, r, ri, k, out)
	case "watch":
		s.watch(w, r, ri, k, out)
	case "create":
		s.create(w, r, ri, k, out)
	case "update":
		s.update(w, r, ri, k, out)
	case "patch":
		s.patch(w, r, ri, k, out)
	case "delete":
		s.delete(w, r, ri, k, out)
	case "deletecollection":
		s.deleteCollection(w, r, ri, k, out)
	default:
		WriteError(w, apierrors.NewMethodNotSupported(gr, ri.Verb))
	}
}

func notFoundResource() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{},
	}}
}

// get answers GET of one object from the watch cache: with resourceVersion "" (the default)
// the cache is first brought up to etcd's current revision, so the read is as consistent as a
// read from etcd, and the cached bytes are copied out without decoding.
func (s *Server) get(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	rv := r.URL.Query().Get("resourceVersion")
	if rv != "" {
		if _, err := strconv.ParseUint(rv, 10, 64); err != nil {
			WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %s", rv)))
			return
		}
	}
	e, err := s.res[k].GetEntry(r.Context(), ri.Namespace, ri.Name, rv)
	if err != nil {
		WriteError(w, err)
		return
	}
	switch out.kind {
	case outTable:
		var buf bytes.Buffer
		lm, _ := json.Marshal(metav1.ListMeta{ResourceVersion: strconv.FormatInt(e.RV, 10)})
		s.writeTable(&buf, k, []*storage.Entry{e}, lm, out, r.URL.Query().Get("includeObject"), true)
		writeBytes(w, out, http.StatusOK, buf.Bytes())
	case outMetadata:
		writeBytes(w, out, http.StatusOK, e.MetaJSON())
	default:
		writeBytes(w, out, http.StatusOK, e.JSON)
	}
}

// writeObject writes one typed object in the negotiated form.
func (s *Server) writeObject(w http.ResponseWriter, out output, code int, k *registry.Kind, obj runtime.Object) {
	switch out.kind {
	case outTable:
		t, err := s.tableForObject(k, obj, out)
		if err != nil {
			WriteError(w, err)
			return
		}
		writeBytes(w, out, code, t)
	case outMetadata:
		m, err := meta.Accessor(obj)
		if err != nil {
			WriteError(w, apierrors.NewInternalError(err))
			return
		}
		pom := meta.AsPartialObjectMetadata(m)
		pom.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
		writeJSON(w, out, code, pom)
	default:
		body, err := encodeObject(obj, k.GVK)
		if err != nil {
			WriteError(w, apierrors.NewInternalError(err))
			return
		}
		writeBytes(w, out, code, body)
	}
}

// listParams are the query parameters of list and watch.
type listParams struct {
	label         labels.Selector
	field         fields.Selector
	rv            string
	rvMatch       string
	limit         int64
	cont          string
	timeout       time.Duration
	bookmarks     bool
	sendInitial   *bool
	includeObject string
}

func (s *Server) parseListParams(r *http.Request, k *registry.Kind, ri requestInfo) (listParams, error) {
	q := r.URL.Query()
	p := listParams{label: labels.Everything(), field: fields.Everything()}
	if v := q.Get("labelSelector"); v != "" {
		sel, err := labels.Parse(v)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		p.label = sel
	}
	if v := q.Get("fieldSelector"); v != "" {
		sel, err := fields.ParseSelector(v)
		if err != nil {
			return p, apierrors.NewBadRequest(err.Error())
		}
		supported := s.selectableFields(k)
		for _, req := range sel.Requirements() {
			if !supported[req.Field] {
				return p, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		p.field = sel
	}
	if ri.Name != "" { // watch of one object
		p.field = fields.AndSelectors(p.field, fields.OneTermEqualSelector("metadata.name", ri.Name))
	}
	p.rv = q.Get("resourceVersion")
	p.rvMatch = q.Get("resourceVersionMatch")
	switch p.rvMatch {
	case "", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact):
	default:
		return p, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch: Unsupported value: %q: supported values: \"Exact\", \"NotOlderThan\"", p.rvMatch))
	}
	if p.rv != "" {
		if _, err := strconv.ParseUint(p.rv, 10, 64); err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %s", p.rv))
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("limit: Invalid value: %q", v))
		}
		p.limit = n
	}
	p.cont = q.Get("continue")
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("timeoutSeconds: Invalid value: %q", v))
		}
		p.timeout = time.Duration(n) * time.Second
	}
	p.bookmarks = q.Get("allowWatchBookmarks") == "true"
	if v := q.Get("sendInitialEvents"); v != "" {
		b := v == "true"
		p.sendInitial = &b
	}
	p.includeObject = q.Get("includeObject")
	return p, nil
}

// selectableFields lists the field labels a kind supports in field selectors.
func (s *Server) selectableFields(k *registry.Kind) map[string]bool {
	if v, ok := s.fieldsOnce.Load(k); ok {
		return v.(map[string]bool)
	}
	m := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	if k.Fields != nil {
		func() {
			defer func() { _ = recover() }()
			for f := range k.Fields(k.New()) {
				m[f] = true
			}
		}()
	}
	s.fieldsOnce.Store(k, m)
	return m
}

// list answers a collection GET from the watch cache, copying each object's cached bytes.
func (s *Server) list(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	p, err := s.parseListParams(r, k, ri)
	if err != nil {
		WriteError(w, err)
		return
	}
	res, err := s.res[k].List(r.Context(), storage.ListOptions{
		Namespace: ri.Namespace, Label: p.label, Field: p.field,
		ResourceVersion: p.rv, ResourceVersionMatch: p.rvMatch, Limit: p.limit, Continue: p.cont,
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	listMeta := metav1.ListMeta{ResourceVersion: strconv.FormatInt(res.ResourceVersion, 10),
		Continue: res.Continue, RemainingItemCount: res.RemainingItemCount}
	lm, _ := json.Marshal(listMeta)
	if out.yaml {
		var buf bytes.Buffer
		s.writeList(&buf, k, res.Entries, lm, out, p.includeObject)
		writeBytes(w, out, http.StatusOK, buf.Bytes())
		return
	}
	// Stream the cached bytes straight out: a 10,000-object list never sits in one buffer.
	w.Header().Set("Content-Type", out.contentType())
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64*1024)
	s.writeList(bw, k, res.Entries, lm, out, p.includeObject)
	_ = bw.Flush()
}

// bodyWriter is what list and table encoding write to (a bytes.Buffer or a bufio.Writer).
type bodyWriter interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// writeList writes entries as a list of the kind, a Table, or a PartialObjectMetadataList.
func (s *Server) writeList(buf bodyWriter, k *registry.Kind, entries []*storage.Entry, lm []byte, out output, includeObject string) {
	switch out.kind {
	case outTable:
		s.writeTable(buf, k, entries, lm, out, includeObject, true)
	case outMetadata:
		buf.WriteString(`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":`)
		buf.Write(lm)
		buf.WriteString(`,"items":[`)
		for i, e := range entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			e.WriteMeta(buf)
		}
		buf.WriteString("]}")
	default:
		fmt.Fprintf(buf, `{"kind":%q,"apiVersion":%q,"metadata":`, k.GVK.Kind+"List", k.GVK.GroupVersion().String())
		buf.Write(lm)
		buf.WriteString(`,"items":[`)
		for i, e := range entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(e.JSON)
		}
		buf.WriteString("]}")
	}
}

// writeTable renders entries as a meta.k8s.io Table.
func (s *Server) writeTable(buf bodyWriter, k *registry.Kind, entries []*storage.Entry, listMeta []byte,
	out output, includeObject string, headers bool) {
	now := time.Now()
	fmt.Fprintf(buf, `{"kind":"Table","apiVersion":"meta.k8s.io/%s","metadata":`, out.tableVersion)
	buf.Write(listMeta)
	if headers {
		cols, _ := json.Marshal(tableColumns(k))
		buf.WriteString(`,"columnDefinitions":`)
		buf.Write(cols)
	} else {
		buf.WriteString(`,"columnDefinitions":null`)
	}
	buf.WriteString(`,"rows":[`)
	for i, e := range entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"cells":`)
		writeCells(buf, e.Name, e.Created, e.Cells, k, now)
		switch includeObject {
		case "None":
		case "Object":
			buf.WriteString(`,"object":`)
			buf.Write(e.JSON)
		default:
			buf.WriteString(`,"object":`)
			e.WriteMeta(buf)
		}
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
}

// tableColumns returns the kind's columns with NAME first, unless the kind places a column of
// format "name" itself (events show NAME last, with -o wide), or NAME and AGE for kinds
// without columns.
func tableColumns(k *registry.Kind) []metav1.TableColumnDefinition {
	if namePosition(k) >= 0 {
		return k.Columns
	}
	name := metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
		Description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
	cols := []metav1.TableColumnDefinition{name}
	if k.Columns == nil || k.Row == nil {
		return append(cols, registry.AgeColumn)
	}
	return append(cols, k.Columns...)
}

// namePosition is the index of the kind's own "name" column, or -1 when NAME comes first.
func namePosition(k *registry.Kind) int {
	if k.Row == nil {
		return -1
	}
	for i, c := range k.Columns {
		if c.Format == "name" {
			return i
		}
	}
	return -1
}

// writeCells writes the JSON array of a row's cells with the object's name in its column,
// rendering Since cells against now.
func writeCells(buf bodyWriter, name string, created time.Time, cells []interface{}, k *registry.Kind, now time.Time) {
	buf.WriteByte('[')
	nb, _ := json.Marshal(name)
	if k.Columns == nil || k.Row == nil {
		buf.Write(nb)
		buf.WriteByte(',')
		writeCell(buf, registry.Since(created), now)
		buf.WriteByte(']')
		return
	}
	pos := namePosition(k)
	if pos < 0 {
		buf.Write(nb)
	}
	n := 0 // cells written
	for i := 0; i <= len(cells); i++ {
		if i == pos {
			if n > 0 {
				buf.WriteByte(',')
			}
			buf.Write(nb)
			n++
		}
		if i == len(cells) {
			break
		}
		if n > 0 || pos < 0 {
			buf.WriteByte(',')
		}
		writeCell(buf, cells[i], now)
		n++
	}
	buf.WriteByte(']')
}

func writeCell(buf bodyWriter, c interface{}, now time.Time) {
	switch v := c.(type) {
	case registry.Since:
		t := time.Time(v)
		s := "<unknown>"
		if !t.IsZero() {
			s = duration.HumanDuration(now.Sub(t))
		}
		b, _ := json.Marshal(s)
		buf.Write(b)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			buf.WriteString(`""`)
			return
		}
		buf.Write(b)
	}
}

// tableForObject renders one object as a Table.
func (s *Server) tableForObject(k *registry.Kind, obj runtime.Object, out output) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	full, err := encodeObject(obj, k.GVK)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	pom := meta.AsPartialObjectMetadata(m)
	pom.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
	metaJSON, _ := json.Marshal(pom)
	e := &storage.Entry{Namespace: m.GetNamespace(), Name: m.GetName(), Created: m.GetCreationTimestamp().Time,
		JSON: full, Meta: metaJSON}
	if k.Row != nil {
		e.Cells = k.Row(obj)
	}
	lm, _ := json.Marshal(metav1.ListMeta{ResourceVersion: m.GetResourceVersion()})
	var buf bytes.Buffer
	s.writeTable(&buf, k, []*storage.Entry{e}, lm, out, "", true)
	return buf.Bytes(), nil
}

// watch streams events as newline-separated JSON watch events until the timeout, the client
// leaving, or the store closing the watch.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, ri requestInfo, k *registry.Kind, out output) {
	p, err := s.parseListParams(r, k, ri)
	if err != nil {
		WriteError(w, err)
		return
	}
	timeout := p.timeout
	if timeout == 0 {
		min := s.cfg.MinWatchTimeout
		timeout = min + time.Duration(rand.Int64N(int64(min)))
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	events, err := s.res[k].Watch(ctx, storage.WatchOptions{
		Namespace: ri.Namespace, Label: p.label, Field: p.field, ResourceVersion: p.rv,
		AllowBookmarks: p.bookmarks, SendInitialEvents: p.sendInitial,
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", out.contentType())
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	var buf bytes.Buffer
	first := true
	for {
		var ev storage.Event
		var open bool
		select {
		case ev, open = <-events:
		case <-ctx.Done():
			return
		}
		if !open {
			return
		}
		buf.Reset()
		if err := s.encodeEvent(&buf, k, ev, out, p.includeObject, first); err != nil {
			s.log.Error("encode watch event", "err", err)
			return
		}
		if ev.Type != watch.Bookmark {
			first = false
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if len(events) == 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if ev.Type == watch.Error {
			return
		}
	}
}

func (s *Server) encodeEvent(buf *bytes.Buffer, k *registry.Kind, ev storage.Event, out output, includeObject string, first bool) error {
	fmt.Fprintf(buf, `{"type":%q,"object":`, ev.Type)
	switch {
	case ev.Type == watch.Error:
		st := statusOf(ev.Status)
		b, _ := json.Marshal(st)
		buf.Write(b)
	case ev.Type == watch.Bookmark:
		rv := strconv.FormatInt(ev.Entry.RV, 10)
		annotations := ""
		if ev.InitialEventsEnd {
			annotations = `,"annotations":{"` + metav1.InitialEventsAnnotationKey + `":"true"}`
		}
		switch out.kind {
		case outMetadata:
			fmt.Fprintf(buf, `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":%q,"creationTimestamp":null%s}}`, rv, annotations)
		default:
			fmt.Fprintf(buf, `{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":%q,"creationTimestamp":null%s}}`,
				k.GVK.Kind, k.GVK.GroupVersion().String(), rv, annotations)
		}
	default:
		switch out.kind {
		case outTable:
			lm, _ := json.Marshal(metav1.ListMeta{ResourceVersion: strconv.FormatInt(ev.Entry.RV, 10)})
			s.writeTable(buf, k, []*storage.Entry{ev.Entry}, lm, out, includeObject, first)
		case outMetadata:
			ev.Entry.WriteMeta(buf)
		default:
			buf.Write(ev.Entry.JSON)
		}
	}
	buf.WriteString("}\n")
	if out.yaml {
		return errors.New("yaml watch is not supported")
	}
	return nil
}

var _ = strings.TrimSpace
