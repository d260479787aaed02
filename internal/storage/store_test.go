package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/bosun-k8s/bosun/internal/etcd"
)

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without client: want error")
	}
}

func TestCRUD(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)

	created := mustCreate(t, s.pods, pod("default", "a", map[string]string{"app": "x"}, "")).(*corev1.Pod)
	if created.ResourceVersion == "" || created.Kind != "Pod" || created.APIVersion != "v1" {
		t.Fatalf("created: rv=%q kind=%q apiVersion=%q", created.ResourceVersion, created.Kind, created.APIVersion)
	}
	if _, err := s.pods.Create(ctx, pod("default", "a", nil, "")); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	withRV := pod("default", "b", nil, "")
	withRV.ResourceVersion = "5"
	if _, err := s.pods.Create(ctx, withRV); !apierrors.IsBadRequest(err) {
		t.Fatalf("create with resourceVersion: %v, want BadRequest", err)
	}

	got, err := s.pods.Get(ctx, "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Fatalf("get = %+v\nwant %+v", got, created)
	}
	if _, err := s.pods.Get(ctx, "default", "missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: %v, want NotFound", err)
	}

	updated, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.Labels["app"] = "y"
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	up := updated.(*corev1.Pod)
	if up.Labels["app"] != "y" || up.ResourceVersion == created.ResourceVersion {
		t.Fatalf("updated: labels %v rv %s (was %s)", up.Labels, up.ResourceVersion, created.ResourceVersion)
	}

	deleted, err := s.pods.Delete(ctx, "default", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	dp := deleted.(*corev1.Pod)
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dp.Labels["app"] != "y" || dp.ResourceVersion != strconv.FormatInt(rev, 10) {
		t.Fatalf("deleted: labels %v rv %s, want last state with rv = deletion revision %d", dp.Labels, dp.ResourceVersion, rev)
	}
	if _, err := s.pods.Get(ctx, "default", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v, want NotFound", err)
	}
	if _, err := s.pods.Delete(ctx, "default", "a", nil); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v, want NotFound", err)
	}
	if _, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) { return cur, nil }); !apierrors.IsNotFound(err) {
		t.Fatalf("update of missing: %v, want NotFound", err)
	}
}

func TestDeleteCheck(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	mustCreate(t, s.pods, pod("default", "a", nil, ""))
	refuse := apierrors.NewConflict(s.pods.rc.GroupResource, "a", nil)
	if _, err := s.pods.Delete(ctx, "default", "a", func(runtime.Object) error { return refuse }); err != refuse {
		t.Fatalf("delete with failing check: %v, want the check's error", err)
	}
	if _, err := s.pods.Get(ctx, "default", "a"); err != nil {
		t.Fatalf("object gone after refused delete: %v", err)
	}
}

func TestUpdateConflictOnStaleRV(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	created := mustCreate(t, s.pods, pod("default", "a", nil, "")).(*corev1.Pod)
	if _, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.Spec.NodeName = "n1"
		return p, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		p.ResourceVersion = created.ResourceVersion // what a client with a stale copy sends
		p.Spec.NodeName = "n2"
		return p, nil
	})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update with stale rv: %v, want Conflict", err)
	}
	want := `Operation cannot be fulfilled on pods "a": the object has been modified; please apply your changes to the latest version and try again`
	if err.Error() != want {
		t.Fatalf("conflict message:\n%s\nwant\n%s", err, want)
	}
	got, _ := s.pods.Get(ctx, "default", "a")
	if got.(*corev1.Pod).Spec.NodeName != "n1" {
		t.Fatal("conflicting update was written")
	}
}

func TestGuaranteedUpdateRetriesOnRace(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	mustCreate(t, s.pods, pod("default", "a", map[string]string{"app": "x"}, ""))
	calls := 0
	out, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) {
		calls++
		if calls == 1 {
			// Another writer slips in between our read and our write.
			if _, err := s.pods.Update(ctx, "default", "a", func(c runtime.Object) (runtime.Object, error) {
				c.(*corev1.Pod).Labels["other"] = "1"
				return c, nil
			}); err != nil {
				return nil, err
			}
		}
		p := cur.(*corev1.Pod)
		p.Labels["mine"] = "1"
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("tryUpdate ran %d times, want 2", calls)
	}
	if l := out.(*corev1.Pod).Labels; l["other"] != "1" || l["mine"] != "1" {
		t.Fatalf("labels %v, want both writers' changes", l)
	}
}

func TestNoopUpdateKeepsRV(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	created := mustCreate(t, s.pods, pod("default", "a", nil, ""))
	before, _ := s.Revision(ctx)
	out, err := s.pods.Update(ctx, "default", "a", func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Revision(ctx)
	if rvOf(t, out) != rvOf(t, created) || after != before {
		t.Fatalf("no-op update: rv %s (was %s), etcd revision %d (was %d)", rvOf(t, out), rvOf(t, created), after, before)
	}
}

func TestListSelectors(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	mustCreate(t, s.pods, pod("ns1", "a", map[string]string{"app": "web"}, "node1"))
	mustCreate(t, s.pods, pod("ns1", "b", map[string]string{"app": "db"}, "node2"))
	mustCreate(t, s.pods, pod("ns2", "c", map[string]string{"app": "web"}, "node2"))
	mustCreate(t, s.pods, pod("ns2", "d", nil, ""))
	mustCreate(t, s.configMaps, cm("ns1", "x"))

	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{"all", ListOptions{}, []string{"ns1/a", "ns1/b", "ns2/c", "ns2/d"}},
		{"namespace", ListOptions{Namespace: "ns2"}, []string{"ns2/c", "ns2/d"}},
		{"label", ListOptions{Label: labels.SelectorFromSet(labels.Set{"app": "web"})}, []string{"ns1/a", "ns2/c"}},
		{"label and namespace", ListOptions{Namespace: "ns1", Label: labels.SelectorFromSet(labels.Set{"app": "web"})}, []string{"ns1/a"}},
		{"field", ListOptions{Field: fields.OneTermEqualSelector("spec.nodeName", "node2")}, []string{"ns1/b", "ns2/c"}},
		{"unscheduled", ListOptions{Field: fields.OneTermEqualSelector("spec.nodeName", "")}, []string{"ns2/d"}},
		{"name field", ListOptions{Field: fields.OneTermEqualSelector("metadata.name", "c")}, []string{"ns2/c"}},
		{"namespace field", ListOptions{Field: fields.OneTermEqualSelector("metadata.namespace", "ns1")}, []string{"ns1/a", "ns1/b"}},
		{"from cache as is", ListOptions{ResourceVersion: "0", Label: labels.SelectorFromSet(labels.Set{"app": "db"})}, []string{"ns1/b"}},
		{"exists label", ListOptions{Label: mustSelector(t, "app")}, []string{"ns1/a", "ns1/b", "ns2/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.pods.List(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res.Entries); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func mustSelector(t *testing.T, s string) labels.Selector {
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func TestEntryEncodings(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	created := mustCreate(t, s.pods, pod("ns1", "a", map[string]string{"app": "web"}, "node1"))
	res, err := s.pods.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("%d entries, want 1", len(res.Entries))
	}
	e := res.Entries[0]
	var p corev1.Pod
	if err := json.Unmarshal(e.JSON, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "Pod" || p.APIVersion != "v1" || p.ResourceVersion != rvOf(t, created) || p.Spec.NodeName != "node1" {
		t.Fatalf("entry JSON = %s", e.JSON)
	}
	if strconv.FormatInt(e.RV, 10) != rvOf(t, created) || e.UID != "uid-ns1-a" || e.Key != "ns1/a" {
		t.Fatalf("entry RV %d UID %q Key %q", e.RV, e.UID, e.Key)
	}
	var pm metav1.PartialObjectMetadata
	if err := json.Unmarshal(e.MetaJSON(), &pm); err != nil {
		t.Fatal(err)
	}
	if pm.Kind != "PartialObjectMetadata" || pm.APIVersion != "meta.k8s.io/v1" || pm.Name != "a" || pm.ResourceVersion != rvOf(t, created) ||
		pm.Labels["app"] != "web" {
		t.Fatalf("entry Meta = %s", e.MetaJSON())
	}
	// Byte for byte what json.Marshal writes for the object's PartialObjectMetadata, taken
	// from inside the object's JSON rather than kept as a second copy.
	want := metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}, ObjectMeta: p.ObjectMeta}
	wantJSON, _ := json.Marshal(&want)
	var w bytes.Buffer
	e.WriteMeta(&w)
	if string(e.MetaJSON()) != string(wantJSON) || w.String() != string(wantJSON) {
		t.Errorf("entry metadata\n got %s\nwant %s", e.MetaJSON(), wantJSON)
	}
	if e.Meta != nil {
		t.Errorf("the cache keeps a second copy of the metadata: %s", e.Meta)
	}
	if !reflect.DeepEqual(e.Cells, []interface{}{"Pending", "node1"}) {
		t.Fatalf("cells = %v", e.Cells)
	}
	if res.ResourceVersion < e.RV {
		t.Fatalf("list RV %d older than its item %d", res.ResourceVersion, e.RV)
	}
}

// TestPagination pages through a list while objects change between pages: every page must
// reflect the first page's revision. Run once with pages from kept snapshots and once from etcd.
func TestPagination(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"snapshot", 0}, {"etcd", time.Nanosecond}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTestStore(t, func(c *Config) { c.SnapshotTTL = tc.ttl })
			var want []string
			for i := 0; i < 10; i++ {
				name := "cm" + strconv.Itoa(i)
				mustCreate(t, s.configMaps, cm("ns", name))
				want = append(want, "ns/"+name)
			}
			mustCreate(t, s.configMaps, cm("other", "z"))
			res, err := s.configMaps.List(ctx, ListOptions{Namespace: "ns", Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			got := names(res.Entries)
			rv := res.ResourceVersion
			if res.RemainingItemCount == nil || *res.RemainingItemCount != 7 {
				t.Fatalf("remaining item count %v, want 7", res.RemainingItemCount)
			}
			// Writes between pages must not show.
			mustCreate(t, s.configMaps, cm("ns", "cm55"))
			if _, err := s.configMaps.Delete(ctx, "ns", "cm8", nil); err != nil {
				t.Fatal(err)
			}
			pages := 1
			for res.Continue != "" {
				res, err = s.configMaps.List(ctx, ListOptions{Namespace: "ns", Limit: 3, Continue: res.Continue})
				if err != nil {
					t.Fatal(err)
				}
				if res.ResourceVersion != rv {
					t.Fatalf("page %d at RV %d, want %d", pages+1, res.ResourceVersion, rv)
				}
				got = append(got, names(res.Entries)...)
				pages++
			}
			if pages != 4 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%d pages: %v, want 4 pages: %v", pages, got, want)
			}

			// A page with a selector filters, and still continues.
			res, err = s.configMaps.List(ctx, ListOptions{Limit: 2, Field: fields.OneTermEqualSelector("metadata.namespace", "other")})
			if err != nil {
				t.Fatal(err)
			}
			got = names(res.Entries)
			for res.Continue != "" {
				if res.RemainingItemCount != nil {
					t.Fatal("remaining item count with a selector")
				}
				if res, err = s.configMaps.List(ctx, ListOptions{Limit: 2, Continue: res.Continue, Field: fields.OneTermEqualSelector("metadata.namespace", "other")}); err != nil {
					t.Fatal(err)
				}
				got = append(got, names(res.Entries)...)
			}
			if !reflect.DeepEqual(got, []string{"other/z"}) {
				t.Fatalf("filtered pages: %v", got)
			}
		})
	}
}

func TestContinueAfterCompaction(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, func(c *Config) { c.SnapshotTTL = time.Nanosecond })
	for i := 0; i < 5; i++ {
		mustCreate(t, s.configMaps, cm("ns", "cm"+strconv.Itoa(i)))
	}
	res, err := s.configMaps.List(ctx, ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s.configMaps, cm("ns", "late"))
	rev, _ := s.Revision(ctx)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	_, err = s.configMaps.List(ctx, ListOptions{Limit: 2, Continue: res.Continue})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("continue after compaction: %v, want 410 Gone", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if st.Code != 410 || !strings.HasPrefix(st.Message, "The provided continue parameter is too old") || st.Continue == "" {
		t.Fatalf("status %+v", st)
	}
	// The token in the error continues, inconsistently, from the latest state.
	res, err = s.configMaps.List(ctx, ListOptions{Limit: 10, Continue: st.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Entries); !reflect.DeepEqual(got, []string{"ns/cm2", "ns/cm3", "ns/cm4", "ns/late"}) {
		t.Fatalf("inconsistent continue: %v", got)
	}
	// An exact list at a compacted revision is gone too.
	if _, err := s.configMaps.List(ctx, ListOptions{ResourceVersion: strconv.FormatInt(rev-2, 10), ResourceVersionMatch: "Exact"}); !apierrors.IsResourceExpired(err) {
		t.Fatalf("exact list at compacted rev: %v, want 410", err)
	}
}

func TestListExactAndTooLarge(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, func(c *Config) { c.FreshTimeout = 300 * time.Millisecond })
	first := mustCreate(t, s.configMaps, cm("ns", "a"))
	second := mustCreate(t, s.configMaps, cm("ns", "b"))
	res, err := s.configMaps.List(ctx, ListOptions{ResourceVersion: rvOf(t, first), ResourceVersionMatch: "Exact"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Entries); !reflect.DeepEqual(got, []string{"ns/a"}) || strconv.FormatInt(res.ResourceVersion, 10) != rvOf(t, first) {
		t.Fatalf("exact list: %v at %d", got, res.ResourceVersion)
	}
	res, err = s.configMaps.List(ctx, ListOptions{ResourceVersion: rvOf(t, second), ResourceVersionMatch: "NotOlderThan"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 2 {
		t.Fatalf("not-older-than list: %v", names(res.Entries))
	}
	_, err = s.configMaps.List(ctx, ListOptions{ResourceVersion: "1000000", ResourceVersionMatch: "NotOlderThan"})
	if !apierrors.IsTimeout(err) || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		t.Fatalf("list at future RV: %v, want 504 Too large resource version", err)
	}
	if !strings.HasPrefix(err.Error(), "Timeout: Too large resource version: 1000000, current: ") {
		t.Fatalf("message %q", err)
	}
}

func TestConsistentListSeesOwnWrites(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	for i := 0; i < 50; i++ {
		mustCreate(t, s.configMaps, cm("ns", "cm"+strconv.Itoa(i)))
		res, err := s.configMaps.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != i+1 {
			t.Fatalf("after %d creates a consistent list shows %d", i+1, len(res.Entries))
		}
	}
	// And when the cache is idle (progress notification needed).
	res, err := s.configMaps.List(ctx, ListOptions{})
	if err != nil || len(res.Entries) != 50 {
		t.Fatalf("idle consistent list: %v %d", err, len(res.Entries))
	}
}

func TestWatchResumesExactly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, nil)
	a := mustCreate(t, s.pods, pod("ns", "a", nil, ""))
	b := mustCreate(t, s.pods, pod("ns", "b", nil, ""))
	a2, err := s.pods.Update(ctx, "ns", "a", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Spec.NodeName = "n"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bDel, err := s.pods.Delete(ctx, "ns", "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s.configMaps, cm("ns", "unrelated"))
	ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rvOf(t, a)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ADDED ns/b@" + rvOf(t, b),
		"MODIFIED ns/a@" + rvOf(t, a2),
		"DELETED ns/b@" + rvOf(t, bDel),
	}
	for _, w := range want {
		if got := describe(next(t, ch)); got != w {
			t.Fatalf("event %q, want %q", got, w)
		}
	}
	c := mustCreate(t, s.pods, pod("ns", "c", nil, ""))
	if got, w := describe(next(t, ch)), "ADDED ns/c@"+rvOf(t, c); got != w {
		t.Fatalf("live event %q, want %q", got, w)
	}
}

func TestWatchTooOld(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, func(c *Config) { c.EventWindow = 3 })
	first := mustCreate(t, s.pods, pod("ns", "p0", nil, ""))
	for i := 1; i < 10; i++ {
		mustCreate(t, s.pods, pod("ns", "p"+strconv.Itoa(i), nil, ""))
	}
	// Wait until the cache has every event.
	if _, err := s.pods.List(ctx, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rvOf(t, first)})
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, ch)
	if ev.Type != watch.Error || !apierrors.IsResourceExpired(ev.Status) && !apierrors.IsGone(ev.Status) {
		t.Fatalf("event %s, want ERROR 410", describe(ev))
	}
	if msg := ev.Status.Error(); !strings.HasPrefix(msg, "too old resource version: "+rvOf(t, first)+" (") {
		t.Fatalf("message %q", msg)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel not closed after ERROR")
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, nil)
	ch, err := s.pods.Watch(ctx, WatchOptions{Namespace: "ns", Label: labels.SelectorFromSet(labels.Set{"app": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	setApp := func(v string) runtime.Object {
		out, err := s.pods.Update(ctx, "ns", "a", func(cur runtime.Object) (runtime.Object, error) {
			cur.(*corev1.Pod).Labels["app"] = v
			return cur, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	mustCreate(t, s.pods, pod("ns", "a", map[string]string{"app": "y"}, ""))
	mustCreate(t, s.pods, pod("other", "a", map[string]string{"app": "x"}, ""))
	toX := setApp("x")
	ev := next(t, ch)
	if describe(ev) != "ADDED ns/a@"+rvOf(t, toX) {
		t.Fatalf("got %s, want ADDED when the object starts matching", describe(ev))
	}
	toZ := setApp("z")
	ev = next(t, ch)
	if describe(ev) != "DELETED ns/a@"+rvOf(t, toZ) {
		t.Fatalf("got %s, want DELETED at the change's RV when it stops matching", describe(ev))
	}
	var last corev1.Pod
	if err := json.Unmarshal(ev.Entry.JSON, &last); err != nil {
		t.Fatal(err)
	}
	if last.Labels["app"] != "x" || last.ResourceVersion != rvOf(t, toZ) {
		t.Fatalf("DELETED carries labels %v rv %s, want the last matching state at rv %s", last.Labels, last.ResourceVersion, rvOf(t, toZ))
	}
	setApp("x")
	if ev := next(t, ch); ev.Type != watch.Added {
		t.Fatalf("got %s, want ADDED", describe(ev))
	}
	del, err := s.pods.Delete(ctx, "ns", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); describe(ev) != "DELETED ns/a@"+rvOf(t, del) {
		t.Fatalf("got %s, want DELETED at the deletion revision", describe(ev))
	}
}

func TestWatchFromZeroSendsStateThenChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, nil)
	a := mustCreate(t, s.pods, pod("ns", "a", nil, ""))
	b := mustCreate(t, s.pods, pod("ns", "b", nil, ""))
	for _, rv := range []string{"", "0"} {
		ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{describe(next(t, ch)), describe(next(t, ch))}
		want := []string{"ADDED ns/a@" + rvOf(t, a), "ADDED ns/b@" + rvOf(t, b)}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rv %q: initial %v, want %v", rv, got, want)
		}
	}
	yes := true
	ch, err := s.pods.Watch(ctx, WatchOptions{SendInitialEvents: &yes, AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	next(t, ch)
	next(t, ch)
	end := next(t, ch)
	if end.Type != watch.Bookmark || !end.InitialEventsEnd || strconv.FormatInt(end.Entry.RV, 10) < rvOf(t, b) {
		t.Fatalf("got %s, want the initial-events-end bookmark", describe(end))
	}
	c := mustCreate(t, s.pods, pod("ns", "c", nil, ""))
	if got := describe(nextNonBookmark(t, ch)); got != "ADDED ns/c@"+rvOf(t, c) {
		t.Fatalf("live: %s", got)
	}
	no := false
	ch, err = s.pods.Watch(ctx, WatchOptions{ResourceVersion: "0", SendInitialEvents: &no})
	if err != nil {
		t.Fatal(err)
	}
	d := mustCreate(t, s.pods, pod("ns", "d", nil, ""))
	if got := describe(next(t, ch)); got != "ADDED ns/d@"+rvOf(t, d) {
		t.Fatalf("without initial events: %s", got)
	}
}

func TestWatchBookmarks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, func(c *Config) { c.BookmarkInterval = 100 * time.Millisecond })
	a := mustCreate(t, s.pods, pod("ns", "a", nil, ""))
	ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rvOf(t, a), AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s.configMaps, cm("ns", "x"))
	rev, _ := s.Revision(ctx)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Type != watch.Bookmark {
				t.Fatalf("unexpected %s", describe(ev))
			}
			if ev.Entry.RV >= rev {
				return // bookmarks advance past other resources' writes
			}
		case <-deadline:
			t.Fatal("no bookmark reached the current revision within 30s")
		}
	}
}

func TestSlowWatcherIsClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newTestStore(t, func(c *Config) { c.WatcherQueue = 5 })
	ch, err := s.configMaps.Watch(ctx, WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads ch while 200 events happen (more than the channel's buffer and the
	// watcher's queue); the store must carry on and close the watch.
	const n = 200
	for i := 0; i < n; i++ {
		mustCreate(t, s.configMaps, cm("ns", "cm"+strconv.Itoa(i)))
	}
	res, err := s.configMaps.List(ctx, ListOptions{})
	if err != nil || len(res.Entries) != n {
		t.Fatalf("list: %v, %d entries", err, len(res.Entries))
	}
	got := 0
	for range ch {
		got++
	}
	if ctx.Err() != nil {
		t.Fatal("watch of a slow consumer was not closed")
	}
	if got >= n {
		t.Fatalf("slow watcher got all %d events, want it closed", got)
	}
}

func TestStoreRestartKeepsObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, stopEtcd := runEtcdStoppable(t, etcd.Config{DataDir: dir, Logger: testLogger(t)})
	s := startStore(t, e.Client(), nil)
	var want []string
	for i := 0; i < 20; i++ {
		mustCreate(t, s.pods, pod("ns", "p"+strconv.Itoa(i), nil, ""))
		want = append(want, "ns/p"+strconv.Itoa(i))
	}
	sort.Strings(want)
	s.stop()

	s2 := startStore(t, e.Client(), nil)
	if n := s2.pods.Count(); n != 20 {
		t.Fatalf("restarted store holds %d pods, want 20", n)
	}
	res, err := s2.pods.List(ctx, ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Entries); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart: %v", got)
	}
	s2.stop()
	stopEtcd()

	// And with etcd itself restarted from its data dir.
	e3 := startEtcd(t, dir)
	s3 := startStore(t, e3.Client(), nil)
	res, err = s3.pods.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Entries); !reflect.DeepEqual(got, want) {
		t.Fatalf("after etcd restart: %v", got)
	}
	got, err := s3.pods.Get(ctx, "ns", "p7")
	if err != nil || rvOf(t, got) == "" {
		t.Fatalf("get after etcd restart: %v", err)
	}
}

func TestExternalEtcd(t *testing.T) {
	ctx := context.Background()
	embedded := startEtcd(t, t.TempDir())
	ext := runEtcdEndpoints(t, embedded.ClientURL())
	s := startStore(t, ext.Client(), nil)
	mustCreate(t, s.pods, pod("ns", "a", nil, ""))
	res, err := s.pods.List(ctx, ListOptions{})
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("list over external etcd: %v %v", err, res)
	}
	// The object is in the shared etcd.
	resp, err := embedded.Client().Get(ctx, "/registry/core/pods/ns/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("key in etcd: %v %v", err, resp)
	}
}

func TestGetEntry(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	created := mustCreate(t, s.pods, pod("ns", "a", nil, "n1"))
	e, err := s.pods.GetEntry(ctx, "ns", "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if strconv.FormatInt(e.RV, 10) != rvOf(t, created) || e.Fields.Get("spec.nodeName") != "n1" {
		t.Fatalf("entry rv %d fields %v", e.RV, e.Fields)
	}
	if _, err := s.pods.GetEntry(ctx, "ns", "b", ""); !apierrors.IsNotFound(err) {
		t.Fatalf("missing: %v, want NotFound", err)
	}
	if _, err := s.pods.GetEntry(ctx, "ns", "a", rvOf(t, created)); err != nil {
		t.Fatalf("at its own rv: %v", err)
	}
}

func TestTTL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := startEtcd(t, t.TempDir())
	s, err := New(Config{Client: e.Client(), Scheme: scheme.Scheme, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rc := configMapConfig()
	rc.TTL = func(obj runtime.Object) time.Duration {
		if obj.(*corev1.ConfigMap).Name == "short" {
			return time.Second
		}
		return 0
	}
	cms, err := s.Register(rc)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	<-s.Ready()
	ch, err := cms.Watch(ctx, WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, cms, cm("ns", "short"))
	mustCreate(t, cms, cm("ns", "long"))
	seen := map[string]bool{}
	for !seen["DELETED ns/short"] {
		ev := next(t, ch)
		seen[string(ev.Type)+" "+ev.Entry.Namespace+"/"+ev.Entry.Name] = true
	}
	if seen["DELETED ns/long"] {
		t.Fatal("object without TTL expired")
	}
	if _, err := cms.Get(ctx, "ns", "long"); err != nil {
		t.Fatal(err)
	}
}

func TestWatchTooLarge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, func(c *Config) { c.FreshTimeout = 300 * time.Millisecond })
	ch, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: "1000000"})
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, ch)
	if ev.Type != watch.Error || !apierrors.IsTimeout(ev.Status) || !apierrors.HasStatusCause(ev.Status, metav1.CauseTypeResourceVersionTooLarge) {
		t.Fatalf("got %s, want ERROR Too large resource version", describe(ev))
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel not closed after ERROR")
	}
}

func TestWatchNamespaceAndFieldFilter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newTestStore(t, nil)
	mustCreate(t, s.pods, pod("ns1", "old", nil, "node1"))
	start, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byNS, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: strconv.FormatInt(start, 10), Namespace: "ns1"})
	if err != nil {
		t.Fatal(err)
	}
	byNode, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: strconv.FormatInt(start, 10), Field: fields.OneTermEqualSelector("spec.nodeName", "node2")})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s.pods, pod("ns2", "a", nil, "node1"))
	mustCreate(t, s.pods, pod("ns1-x", "b", nil, "node1"))
	c := mustCreate(t, s.pods, pod("ns1", "c", nil, "node2"))
	d := mustCreate(t, s.pods, pod("ns2", "d", nil, "node2"))
	if got, want := describe(next(t, byNS)), "ADDED ns1/c@"+rvOf(t, c); got != want {
		t.Fatalf("namespace watch: %s, want %s", got, want)
	}
	if got, want := describe(next(t, byNode)), "ADDED ns1/c@"+rvOf(t, c); got != want {
		t.Fatalf("field watch: %s, want %s", got, want)
	}
	if got, want := describe(next(t, byNode)), "ADDED ns2/d@"+rvOf(t, d); got != want {
		t.Fatalf("field watch: %s, want %s", got, want)
	}
	// Scheduling moves a pod into the node's watch: ADDED there.
	moved, err := s.pods.Update(ctx, "ns2", "a", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Spec.NodeName = "node2"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(next(t, byNode)), "ADDED ns2/a@"+rvOf(t, moved); got != want {
		t.Fatalf("field watch: %s, want %s", got, want)
	}
	select {
	case ev := <-byNS:
		t.Fatalf("namespace watch got %s from another namespace", describe(ev))
	default:
	}
}

// TestEventMaxAge: events older than EventMaxAge leave the window, so resuming from before
// them is 410 Gone, while resuming after them still works.
func TestEventMaxAge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newTestStore(t, func(c *Config) { c.EventMaxAge = time.Minute; c.Now = clock })
	a := mustCreate(t, s.pods, pod("ns", "a", nil, ""))
	b := mustCreate(t, s.pods, pod("ns", "b", nil, ""))
	if _, err := s.pods.List(ctx, ListOptions{}); err != nil { // cache has a and b
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	c := mustCreate(t, s.pods, pod("ns", "c", nil, ""))
	if _, err := s.pods.List(ctx, ListOptions{}); err != nil { // cache has c: a and b aged out
		t.Fatal(err)
	}
	old, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rvOf(t, a)})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, old); ev.Type != watch.Error || !apierrors.IsResourceExpired(ev.Status) {
		t.Fatalf("watch from before the aged-out events: %s, want ERROR 410", describe(ev))
	}
	fresh, err := s.pods.Watch(ctx, WatchOptions{ResourceVersion: rvOf(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(next(t, fresh)), "ADDED ns/c@"+rvOf(t, c); got != want {
		t.Fatalf("watch from the last aged-out event: %s, want %s", got, want)
	}
}

// TestRunWaitsForEtcd: a store started before its (external) etcd answers keeps trying and
// becomes ready once etcd is up.
func TestRunWaitsForEtcd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := New(Config{Client: client, Scheme: scheme.Scheme, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cms, err := s.Register(configMapConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-s.Ready():
		t.Fatal("ready without etcd")
	case <-time.After(300 * time.Millisecond):
	}
	runEtcd(t, etcd.Config{DataDir: t.TempDir(), ClientListen: addr, Logger: testLogger(t)})
	select {
	case <-s.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("store not ready 60s after etcd started")
	}
	mustCreate(t, cms, cm("ns", "a"))
	if res, err := cms.List(ctx, ListOptions{}); err != nil || len(res.Entries) != 1 {
		t.Fatalf("list: %v %v", err, res)
	}
}
