package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/bosun-k8s/bosun/internal/storage"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func testPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}},
	}
}

func testDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "bosun.local/hello:v1"}}},
			},
		},
	}
}

// rawClient makes plain HTTP requests with the admin credentials.
func rawClient(t *testing.T, s *testserver.Server) *http.Client {
	tr, err := rest.TransportFor(s.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func TestCRUDAndMetadata(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	pods := s.Client.CoreV1().Pods("default")

	created, err := pods.Create(c, testPod("web", map[string]string{"app": "web"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.CreationTimestamp.IsZero() || created.ResourceVersion == "" {
		t.Fatalf("create did not fill uid/creationTimestamp/resourceVersion: %+v", created.ObjectMeta)
	}
	if created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("pod defaults missing: restartPolicy=%q dnsPolicy=%q", created.Spec.RestartPolicy, created.Spec.DNSPolicy)
	}
	if created.Status.Phase != corev1.PodPending {
		t.Errorf("new pod phase = %q, want Pending", created.Status.Phase)
	}
	if _, err := pods.Create(c, testPod("web", nil), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: got %v, want AlreadyExists", err)
	}

	got, err := pods.Get(c, "web", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v %v", got, err)
	}

	// generateName
	gen, err := pods.Create(c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"},
		Spec: created.Spec}, metav1.CreateOptions{})
	if err != nil || !strings.HasPrefix(gen.Name, "gen-") || len(gen.Name) != len("gen-")+5 {
		t.Fatalf("generateName: %v %v", gen, err)
	}

	// Update with a stale resourceVersion conflicts.
	got.Labels["v"] = "2"
	updated, err := pods.Update(c, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion {
		t.Errorf("update kept resourceVersion %s", updated.ResourceVersion)
	}
	got.Labels["v"] = "3"
	if _, err := pods.Update(c, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: got %v, want Conflict", err)
	} else if !strings.Contains(err.Error(), "the object has been modified; please apply your changes to the latest version and try again") {
		t.Errorf("conflict message = %q", err.Error())
	}

	// The main resource never changes status.
	updated.Status.Phase = corev1.PodRunning
	updated.Labels["v"] = "4"
	u2, err := pods.Update(c, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u2.Status.Phase != corev1.PodPending || u2.Labels["v"] != "4" {
		t.Errorf("update changed status (%q) or lost labels (%v)", u2.Status.Phase, u2.Labels)
	}
	// The status subresource changes only status.
	u2.Status.Phase = corev1.PodRunning
	u2.Labels["v"] = "5"
	u3, err := pods.UpdateStatus(c, u2, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u3.Status.Phase != corev1.PodRunning || u3.Labels["v"] != "4" {
		t.Errorf("status update: phase %q labels %v", u3.Status.Phase, u3.Labels)
	}

	if err := pods.Delete(c, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(c, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if err := pods.Delete(c, "web", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
}

func TestGenerationBumpsOnlyOnSpecChange(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	deps := s.Client.AppsV1().Deployments("default")
	d, err := deps.Create(c, testDeployment("gen", 1), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 1 {
		t.Fatalf("generation on create = %d", d.Generation)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("deployment defaults missing: %+v", d.Spec.Strategy)
	}
	d.Labels = map[string]string{"x": "y"}
	d, err = deps.Update(c, d, metav1.UpdateOptions{})
	if err != nil || d.Generation != 1 {
		t.Fatalf("metadata-only update: generation %d err %v", d.Generation, err)
	}
	d.Spec.Replicas = ptr.To[int32](3)
	d, err = deps.Update(c, d, metav1.UpdateOptions{})
	if err != nil || d.Generation != 2 {
		t.Fatalf("spec update: generation %d err %v", d.Generation, err)
	}
}

func TestValidationErrors(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	bad := testPod("Bad_Name", nil)
	bad.Spec.Containers[0].Image = ""
	_, err := s.Client.CoreV1().Pods("default").Create(c, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422 Invalid", err)
	}
	for _, want := range []string{`Pod "Bad_Name" is invalid`, "metadata.name: Invalid value", "spec.containers[0].image: Required value"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err.Error(), want)
		}
	}
	// A missing namespace is refused.
	_, err = s.Client.CoreV1().ConfigMaps("nowhere").Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "nowhere" not found`) {
		t.Errorf("create in missing namespace: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	s := testserver.Start(t)
	hc := rawClient(t, s)
	base := s.URL + "/api/v1/namespaces/default/configmaps"
	cases := []struct {
		name, method, url, ct string
		body                  []byte
		code                  int
	}{
		{"malformed json", "POST", base, "application/json", []byte(`{"kind":"ConfigMap",`), 400},
		{"malformed yaml", "POST", base, "application/yaml", []byte("kind: [ConfigMap\n"), 400},
		{"unsupported media type", "POST", base, "text/plain", []byte(`hello`), 415},
		{"body too large", "POST", base, "application/json", bytes.Repeat([]byte("a"), 3*1024*1024+10), 413},
		{"unknown resource", "GET", s.URL + "/api/v1/namespaces/default/widgets", "", nil, 404},
		{"unknown group", "GET", s.URL + "/apis/nothing.example/v1/things", "", nil, 404},
		{"unsupported verb", "POST", base + "/some-name", "application/json", []byte(`{}`), 405},
		{"wrong kind", "POST", base, "application/json", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`), 400},
		{"strict unknown field", "POST", base + "?fieldValidation=Strict", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"bogus":1}`), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, hc, tc.method, tc.url, tc.ct, tc.body)
			if code != tc.code {
				t.Errorf("code = %d, want %d (body %v)", code, tc.code, body)
			}
			if body["kind"] != "Status" {
				t.Errorf("answer is not a Status: %v", body)
			}
		})
	}
	// Nothing was half-written by any of those (kube-root-ca.crt is the server's own).
	list, err := s.Client.CoreV1().ConfigMaps("default").List(ctx(t), metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("configmaps after bad input: %v %v", list, err)
	}
	// Warn mode (the default) accepts and warns.
	req, _ := http.NewRequest("POST", base, strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"bogus":1}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(resp.Header.Get("Warning"), `unknown field \"bogus\"`) {
		t.Errorf("warn mode: code %d warning %q", resp.StatusCode, resp.Header.Get("Warning"))
	}
	// Deleting a collection works with DELETE and an unsupported verb answers 405.
	code, _ := do(t, hc, "DELETE", s.URL+"/api/v1/namespaces/default/events", "", nil)
	if code != 200 {
		t.Errorf("deletecollection events = %d", code)
	}
	code, _ = do(t, hc, "OPTIONS", base, "", nil)
	if code != 405 {
		t.Errorf("OPTIONS = %d, want 405", code)
	}
}

func TestSelectorsAndPagination(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	pods := s.Client.CoreV1().Pods("default")
	envs := []string{"production", "qa", "dev"}
	tiers := []string{"frontend", "backend", "cache"}
	for i := 0; i < 9; i++ {
		p := testPod(fmt.Sprintf("p%d", i), map[string]string{"environment": envs[i%3], "tier": tiers[i/3]})
		if i == 0 {
			p.Spec.NodeName = "node-a"
		}
		if _, err := pods.Create(c, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(opts metav1.ListOptions) int {
		l, err := pods.List(c, opts)
		if err != nil {
			t.Fatalf("list %+v: %v", opts, err)
		}
		return len(l.Items)
	}
	for sel, want := range map[string]int{
		"environment=production":                      3,
		"environment=production,tier=frontend":        1,
		"environment in (production, qa)":             6,
		"tier notin (frontend, backend)":              3,
		"environment":                                 9,
		"!environment":                                0,
		"environment!=dev":                            6,
		"environment in (production),tier in (cache)": 1,
	} {
		if got := count(metav1.ListOptions{LabelSelector: sel}); got != want {
			t.Errorf("-l %q: %d pods, want %d", sel, got, want)
		}
	}
	if got := count(metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"}); got != 1 {
		t.Errorf("spec.nodeName=node-a: %d", got)
	}
	if got := count(metav1.ListOptions{FieldSelector: "metadata.name=p3"}); got != 1 {
		t.Errorf("metadata.name=p3: %d", got)
	}
	if got := count(metav1.ListOptions{FieldSelector: "status.phase=Pending"}); got != 9 {
		t.Errorf("status.phase=Pending: %d", got)
	}
	if _, err := pods.List(c, metav1.ListOptions{FieldSelector: "spec.bogus=1"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: %v", err)
	}

	// Pagination: pages of 4 cover everything once, even with writes between pages.
	seen := map[string]bool{}
	opts := metav1.ListOptions{Limit: 4}
	pages := 0
	for {
		l, err := pods.List(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range l.Items {
			if seen[p.Name] {
				t.Errorf("%s listed twice", p.Name)
			}
			seen[p.Name] = true
		}
		if pages == 1 {
			if l.RemainingItemCount == nil || *l.RemainingItemCount != 5 {
				t.Errorf("remainingItemCount = %v, want 5", l.RemainingItemCount)
			}
			if _, err := pods.Create(c, testPod("zz-late", nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if pages != 3 || len(seen) != 9 || seen["zz-late"] {
		t.Errorf("pagination: %d pages, %d pods (late pod seen: %v)", pages, len(seen), seen["zz-late"])
	}
}

func TestWatchResumeAndGone(t *testing.T) {
	s := testserver.Start(t, testserver.Options{StorageTuning: func(c *storage.Config) {
		c.BookmarkInterval = 500 * time.Millisecond
		c.EventWindow = 4
	}})
	c := ctx(t)
	cms := s.Client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	b.Data = map[string]string{"k": "v"}
	if _, err := cms.Update(c, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(c, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Resume after the first create: exactly the three later events, in order, then bookmarks.
	w, err := cms.Watch(c, metav1.ListOptions{ResourceVersion: first.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	want := []string{"ADDED b", "MODIFIED b", "DELETED a"}
	var got []string
	sawBookmark := false
	deadline := time.After(30 * time.Second)
	for !sawBookmark {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Bookmark {
				sawBookmark = true
				continue
			}
			got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.(*corev1.ConfigMap).Name))
		case <-deadline:
			t.Fatalf("watch: got %v and no bookmark", got)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", got, want)
	}

	// A watch from a revision older than the kept history answers 410 Gone.
	rv := first.ResourceVersion
	for i := 0; i < 5; i++ {
		if _, err := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w2, err := cms.Watch(c, metav1.ListOptions{ResourceVersion: rv})
	if err == nil {
		select {
		case ev := <-w2.ResultChan():
			st, ok := ev.Object.(*metav1.Status)
			if ev.Type != watch.Error || !ok || st.Code != http.StatusGone {
				t.Errorf("watch from compacted rv: %v %#v", ev.Type, ev.Object)
			}
		case <-time.After(30 * time.Second):
			t.Error("no event from watch of compacted rv")
		}
		w2.Stop()
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from compacted rv: %v", err)
	}
}

func TestFinalizersDryRunAndPatches(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	cms := s.Client.CoreV1().ConfigMaps("default")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}},
		Data: map[string]string{"a": "1"}}

	// dryRun creates nothing.
	if _, err := cms.Create(c, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(c, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create stored the object: %v", err)
	}
	if _, err := cms.Create(c, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Every patch type.
	p, err := cms.Patch(c, "f", types.MergePatchType, []byte(`{"data":{"b":"2"}}`), metav1.PatchOptions{})
	if err != nil || p.Data["b"] != "2" || p.Data["a"] != "1" {
		t.Fatalf("merge patch: %v %v", p, err)
	}
	p, err = cms.Patch(c, "f", types.JSONPatchType, []byte(`[{"op":"replace","path":"/data/a","value":"9"}]`), metav1.PatchOptions{})
	if err != nil || p.Data["a"] != "9" {
		t.Fatalf("json patch: %v %v", p, err)
	}
	p, err = cms.Patch(c, "f", types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"l":"x"}}}`), metav1.PatchOptions{})
	if err != nil || p.Labels["l"] != "x" {
		t.Fatalf("strategic patch: %v %v", p, err)
	}
	if _, err := cms.Patch(c, "f", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"1"}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("patch with stale resourceVersion: %v", err)
	}
	if _, err := cms.Patch(c, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("patch of missing object: %v", err)
	}
	// Strategic merge of a list keyed by name (containers) keeps the other fields.
	pods := s.Client.CoreV1().Pods("default")
	if _, err := pods.Create(c, testPod("smp", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pp, err := pods.Patch(c, "smp", types.StrategicMergePatchType,
		[]byte(`{"spec":{"containers":[{"name":"c","image":"bosun.local/hello:v2"}]}}`), metav1.PatchOptions{})
	if err != nil || pp.Spec.Containers[0].Image != "bosun.local/hello:v2" || pp.Spec.Containers[0].TerminationMessagePath == "" {
		t.Fatalf("strategic patch of containers: %v %v", pp, err)
	}

	// Delete with a finalizer: deletionTimestamp set, object stays until the finalizer goes.
	if err := cms.Delete(c, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held, err := cms.Get(c, "f", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil {
		t.Fatalf("object with finalizer after delete: %v %v", held, err)
	}
	held.Finalizers = append(held.Finalizers, "example.com/new")
	if _, err := cms.Update(c, held, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("adding a finalizer while deleting: %v", err)
	}
	held.Finalizers = nil
	if _, err := cms.Update(c, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(c, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("object still there after its last finalizer was removed: %v", err)
	}

	// Preconditions.
	x, _ := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pre"}}, metav1.CreateOptions{})
	err = cms.Delete(c, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("nope"))}})
	if !apierrors.IsConflict(err) {
		t.Errorf("delete with wrong uid precondition: %v", err)
	}
	if err := cms.Delete(c, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &x.UID}}); err != nil {
		t.Errorf("delete with right uid precondition: %v", err)
	}
}

func TestScaleAndBinding(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	deps := s.Client.AppsV1().Deployments("default")
	if _, err := deps.Create(c, testDeployment("sc", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := deps.GetScale(c, "sc", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=sc" {
		t.Fatalf("get scale: %+v %v", sc, err)
	}
	sc.Spec.Replicas = 4
	if _, err := deps.UpdateScale(c, "sc", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Patch(c, "sc", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	d, _ := deps.Get(c, "sc", metav1.GetOptions{})
	if *d.Spec.Replicas != 5 || d.Generation != 3 {
		t.Errorf("after scale: replicas %d generation %d", *d.Spec.Replicas, d.Generation)
	}
	if _, err := deps.UpdateScale(c, "sc", &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "sc"},
		Spec: autoscalingv1.ScaleSpec{Replicas: -1}}, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("negative scale: %v", err)
	}

	pods := s.Client.CoreV1().Pods("default")
	if _, err := pods.Create(c, testPod("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
	if err := pods.Bind(c, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := pods.Get(c, "b", metav1.GetOptions{})
	if p.Spec.NodeName != "node-a" || len(p.Status.Conditions) == 0 || p.Status.Conditions[0].Type != corev1.PodScheduled {
		t.Errorf("bound pod: node %q conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}
	if err := pods.Bind(c, bind, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("second bind: %v", err)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	nss := s.Client.CoreV1().Namespaces()
	for _, n := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if _, err := nss.Get(c, n, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", n, err)
		}
	}
	if err := nss.Delete(c, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete default: %v", err)
	}
	ns, err := nss.Create(c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("create namespace: %v %v", ns, err)
	}
	if err := nss.Delete(c, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err = nss.Get(c, "team", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("namespace after delete: %v %v", ns, err)
	}
	_, err = s.Client.CoreV1().ConfigMaps("team").Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
		t.Errorf("create in terminating namespace: %v", err)
	}
	ns.Spec.Finalizers = nil
	if _, err := nss.Finalize(c, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Get(c, "team", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after finalize: %v", err)
	}
}

func TestRestartKeepsObjects(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.Options{DataDir: dir})
	c := ctx(t)
	cm, err := s.Client.CoreV1().ConfigMaps("default").Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2 := testserver.Start(t, testserver.Options{DataDir: dir})
	got, err := s2.Client.CoreV1().ConfigMaps("default").Get(c, "keep", metav1.GetOptions{})
	if err != nil || got.UID != cm.UID || got.Data["k"] != "v" {
		t.Fatalf("after restart: %v %v", got, err)
	}
}

func TestTables(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	if _, err := s.Client.CoreV1().Pods("default").Create(c, testPod("t1", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc := rawClient(t, s)
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/namespaces/default/pods", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, col := range table.ColumnDefinitions {
		names = append(names, col.Name)
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "Name,Ready,Status,Restarts,Age,IP,Node") {
		t.Errorf("pod columns = %s", got)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != "t1" || table.Rows[0].Cells[1] != "0/1" || table.Rows[0].Cells[2] != "Pending" {
		t.Errorf("pod rows = %+v", table.Rows)
	}
}

var _ kubernetes.Interface

func TestGracefulDeleteAndPropagation(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	pods := s.Client.CoreV1().Pods("default")
	// A pod on a node is deleted gracefully: it stays with a deletionTimestamp until its kubelet
	// (here: the test) deletes it with grace 0.
	p := testPod("graceful", nil)
	p.Spec.NodeName = "node-a"
	if _, err := pods.Create(c, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(c, "graceful", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](20)}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(c, "graceful", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 20 {
		t.Fatalf("after graceful delete: %+v %v", got, err)
	}
	if err := pods.Delete(c, "graceful", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(c, "graceful", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete with grace 0: %v", err)
	}
	// An unscheduled pod goes at once.
	if _, err := pods.Create(c, testPod("pending", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(c, "pending", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(c, "pending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unscheduled pod after delete: %v", err)
	}

	// Foreground and orphan propagation leave the object with the matching finalizer for the
	// garbage collector.
	deps := s.Client.AppsV1().Deployments("default")
	for policy, finalizer := range map[metav1.DeletionPropagation]string{
		metav1.DeletePropagationForeground: metav1.FinalizerDeleteDependents,
		metav1.DeletePropagationOrphan:     metav1.FinalizerOrphanDependents,
	} {
		name := strings.ToLower(string(policy))
		if _, err := deps.Create(c, testDeployment(name, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := deps.Delete(c, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
		d, err := deps.Get(c, name, metav1.GetOptions{})
		if err != nil || d.DeletionTimestamp == nil || len(d.Finalizers) != 1 || d.Finalizers[0] != finalizer {
			t.Errorf("%s delete: %+v %v", policy, d, err)
		}
	}
	bg := metav1.DeletePropagationBackground
	if _, err := deps.Create(c, testDeployment("bg", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := deps.Delete(c, "bg", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Get(c, "bg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("background delete left the object: %v", err)
	}
}

func TestWatchTimeoutAndSelectors(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	cms := s.Client.CoreV1().ConfigMaps("default")
	start := time.Now()
	w, err := cms.Watch(c, metav1.ListOptions{TimeoutSeconds: ptr.To[int64](1)})
	if err != nil {
		t.Fatal(err)
	}
	for range w.ResultChan() {
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("watch with timeoutSeconds=1 lasted %v", d)
	}
	// A labelled watch sees an object enter (ADDED) and leave (DELETED) its selection.
	w2, err := cms.Watch(c, metav1.ListOptions{LabelSelector: "team=a"})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	cm, err := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "m", Labels: map[string]string{"team": "b"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Labels["team"] = "a"
	if cm, err = cms.Update(c, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Labels["team"] = "c"
	if _, err = cms.Update(c, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []watch.EventType
	for len(got) < 2 {
		select {
		case ev := <-w2.ResultChan():
			got = append(got, ev.Type)
		case <-time.After(30 * time.Second):
			t.Fatalf("selector transitions: got %v", got)
		}
	}
	if got[0] != watch.Added || got[1] != watch.Deleted {
		t.Errorf("selector transitions = %v, want [ADDED DELETED]", got)
	}
}

func TestUnconditionalUpdateAndGeneratedJobName(t *testing.T) {
	s := testserver.Start(t)
	c := ctx(t)
	cms := s.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "u"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// PUT without a resourceVersion is an unconditional update, as upstream allows.
	got, err := cms.Update(c, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "u"}, Data: map[string]string{"a": "b"}}, metav1.UpdateOptions{})
	if err != nil || got.Data["a"] != "b" {
		t.Fatalf("unconditional update: %v %v", got, err)
	}
	// A PUT of the same manifest again does not bump a deployment's generation (defaults are
	// applied before specs are compared).
	deps := s.Client.AppsV1().Deployments("default")
	if _, err := deps.Create(c, testDeployment("same", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := deps.Update(c, testDeployment("same", 1), metav1.UpdateOptions{})
	if err != nil || d.Generation != 1 {
		t.Fatalf("re-PUT of the same manifest: generation %d err %v", d.Generation, err)
	}
	// A Job with generateName gets labels carrying its generated name.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{GenerateName: "pi-"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "bosun.local/busybox:1.36"}}}}}}
	j, err := s.Client.BatchV1().Jobs("default").Create(c, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Spec.Template.Labels["job-name"] != j.Name || !strings.HasPrefix(j.Name, "pi-") {
		t.Errorf("generated job %q has template labels %v", j.Name, j.Spec.Template.Labels)
	}
	// /status may change annotations, never spec or labels.
	d.Annotations = map[string]string{"note": "x"}
	d.Labels = map[string]string{"l": "y"}
	d.Spec.Replicas = ptr.To[int32](9)
	d.Status.Replicas = 1
	st, err := deps.UpdateStatus(c, d, metav1.UpdateOptions{})
	if err != nil || st.Annotations["note"] != "x" || st.Labels["l"] == "y" || *st.Spec.Replicas != 1 || st.Status.Replicas != 1 {
		t.Errorf("status update: %+v %v", st, err)
	}
}
