package groups

import (
	"reflect"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// TestKindsDiscovery checks what discovery will publish for each kind against upstream 1.33.
func TestKindsDiscovery(t *testing.T) {
	type want struct {
		kind       string
		namespaced bool
		short      []string
		categories []string
		status     bool
		scale      bool
	}
	wants := map[string]want{
		"apps/v1/deployments":                                         {"Deployment", true, []string{"deploy"}, []string{"all"}, true, true},
		"apps/v1/replicasets":                                         {"ReplicaSet", true, []string{"rs"}, []string{"all"}, true, true},
		"apps/v1/statefulsets":                                        {"StatefulSet", true, []string{"sts"}, []string{"all"}, true, true},
		"apps/v1/daemonsets":                                          {"DaemonSet", true, []string{"ds"}, []string{"all"}, true, false},
		"apps/v1/controllerrevisions":                                 {"ControllerRevision", true, nil, nil, false, false},
		"batch/v1/jobs":                                               {"Job", true, nil, []string{"all"}, true, false},
		"batch/v1/cronjobs":                                           {"CronJob", true, []string{"cj"}, []string{"all"}, true, false},
		"coordination.k8s.io/v1/leases":                               {"Lease", true, nil, nil, false, false},
		"discovery.k8s.io/v1/endpointslices":                          {"EndpointSlice", true, nil, nil, false, false},
		"events.k8s.io/v1/events":                                     {"Event", true, []string{"ev"}, nil, false, false},
		"networking.k8s.io/v1/ingresses":                              {"Ingress", true, []string{"ing"}, nil, true, false},
		"networking.k8s.io/v1/ingressclasses":                         {"IngressClass", false, nil, nil, false, false},
		"networking.k8s.io/v1/networkpolicies":                        {"NetworkPolicy", true, []string{"netpol"}, nil, false, false},
		"storage.k8s.io/v1/storageclasses":                            {"StorageClass", false, []string{"sc"}, nil, false, false},
		"storage.k8s.io/v1/csidrivers":                                {"CSIDriver", false, nil, nil, false, false},
		"storage.k8s.io/v1/csinodes":                                  {"CSINode", false, nil, nil, false, false},
		"storage.k8s.io/v1/volumeattachments":                         {"VolumeAttachment", false, nil, nil, true, false},
		"storage.k8s.io/v1/csistoragecapacities":                      {"CSIStorageCapacity", true, nil, nil, false, false},
		"node.k8s.io/v1/runtimeclasses":                               {"RuntimeClass", false, nil, nil, false, false},
		"flowcontrol.apiserver.k8s.io/v1/flowschemas":                 {"FlowSchema", false, nil, nil, true, false},
		"flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations": {"PriorityLevelConfiguration", false, nil, nil, true, false},
		"rbac.authorization.k8s.io/v1/roles":                          {"Role", true, nil, nil, false, false},
		"rbac.authorization.k8s.io/v1/rolebindings":                   {"RoleBinding", true, nil, nil, false, false},
		"rbac.authorization.k8s.io/v1/clusterroles":                   {"ClusterRole", false, nil, nil, false, false},
		"rbac.authorization.k8s.io/v1/clusterrolebindings":            {"ClusterRoleBinding", false, nil, nil, false, false},
		"policy/v1/poddisruptionbudgets":                              {"PodDisruptionBudget", true, []string{"pdb"}, nil, true, false},
		"scheduling.k8s.io/v1/priorityclasses":                        {"PriorityClass", false, []string{"pc"}, nil, false, false},
		"autoscaling/v2/horizontalpodautoscalers":                     {"HorizontalPodAutoscaler", true, []string{"hpa"}, []string{"all"}, true, false},
	}
	seen := map[string]bool{}
	for _, k := range Kinds() {
		key := k.GVK.GroupVersion().String() + "/" + k.Resource
		if seen[key] {
			t.Errorf("%s registered twice", key)
		}
		seen[key] = true
		w, ok := wants[key]
		if !ok {
			t.Errorf("unexpected kind %s", key)
			continue
		}
		if k.GVK.Kind != w.kind || k.Namespaced != w.namespaced || !reflect.DeepEqual(k.ShortNames, w.short) ||
			!reflect.DeepEqual(k.Categories, w.categories) || k.Status != w.status || (k.Scale != nil) != w.scale {
			t.Errorf("%s: kind %s namespaced %v short %v categories %v status %v scale %v; want %+v",
				key, k.GVK.Kind, k.Namespaced, k.ShortNames, k.Categories, k.Status, k.Scale != nil, w)
		}
		// New and NewList return the types the scheme knows for this GVK
		gvks, _, err := scheme.Scheme.ObjectKinds(k.New())
		if err != nil || len(gvks) == 0 || gvks[0].Kind != k.GVK.Kind {
			t.Errorf("%s: New() is %T (%v)", key, k.New(), err)
		}
		if gvks, _, err := scheme.Scheme.ObjectKinds(k.NewList()); err != nil || gvks[0].Kind != k.GVK.Kind+"List" {
			t.Errorf("%s: NewList() is %T (%v)", key, k.NewList(), err)
		}
	}
	for key := range wants {
		if !seen[key] {
			t.Errorf("missing kind %s", key)
		}
	}
	// the registry accepts them all
	r := registry.New(Kinds()...)
	if got := len(r.Kinds()); got != len(wants) {
		t.Errorf("registry holds %d kinds, want %d", got, len(wants))
	}
}

// TestRowsMatchColumns renders every kind's row for a new, defaulted object: one cell per
// column, of the types the server encodes, and the AGE column in upstream's place.
func TestRowsMatchColumns(t *testing.T) {
	for _, k := range Kinds() {
		if k.Columns == nil {
			t.Errorf("%s: no columns", k.Resource)
			continue
		}
		obj := k.New()
		m := obj.(metav1.Object)
		m.SetName("x")
		m.SetCreationTimestamp(created)
		if k.Default != nil {
			k.Default(obj)
		}
		cells := k.Row(obj)
		if len(cells) != len(k.Columns) {
			t.Errorf("%s: %d cells for %d columns", k.Resource, len(cells), len(k.Columns))
			continue
		}
		for i, c := range cells {
			switch c.(type) {
			case string, int64, int32, bool, float64, registry.Since:
			default:
				t.Errorf("%s: cell %d (%s) has type %T", k.Resource, i, k.Columns[i].Name, c)
			}
			if k.Columns[i].Name == "Age" && c != registry.Since(created.Time) {
				t.Errorf("%s: Age cell = %v", k.Resource, c)
			}
		}
		// priority-1 (wide) columns come after the default ones, except where upstream
		// interleaves them (events)
		var names []string
		for _, c := range k.Columns {
			names = append(names, c.Name)
		}
		if !sort.SliceIsSorted(k.Columns, func(i, j int) bool { return k.Columns[i].Priority < k.Columns[j].Priority }) && k.Resource != "events" {
			t.Errorf("%s: wide columns before default ones: %v", k.Resource, names)
		}
	}
}

// TestKindsAreFresh checks that Kinds returns new values, so a caller may change them.
func TestKindsAreFresh(t *testing.T) {
	a, b := Kinds(), Kinds()
	a[0].ShortNames = append(a[0].ShortNames, "changed")
	if reflect.DeepEqual(a[0].ShortNames, b[0].ShortNames) {
		t.Errorf("Kinds shares values between calls")
	}
	// no two kinds share a column slice, within a call or across calls
	for _, k := range a {
		k.Columns[0].Name = "changed-" + k.Resource
	}
	for i, k := range a {
		if k.Columns[0].Name != "changed-"+k.Resource {
			t.Errorf("%s shares its columns with another kind", k.Resource)
		}
		if b[i].Columns[0].Name == k.Columns[0].Name {
			t.Errorf("%s: columns shared between calls", k.Resource)
		}
	}
	var _ runtime.Object = a[0].New()
}

// TestHooksOnEmptyObjects runs every hook on empty objects, as a client could send them: they
// may be refused, but no hook may panic.
func TestHooksOnEmptyObjects(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Resource, func(t *testing.T) {
			obj, old := k.New(), k.New()
			if k.PrepareForCreate != nil {
				k.PrepareForCreate(obj)
			}
			if k.PrepareForUpdate != nil {
				k.PrepareForUpdate(k.New(), old)
			}
			if k.Default != nil {
				k.Default(obj)
			}
			if k.Validate != nil {
				k.Validate(k.New())
				k.Validate(obj)
			}
			if k.ValidateUpdate != nil {
				k.ValidateUpdate(k.New(), old)
			}
			if k.ValidateStatusUpdate != nil {
				k.ValidateStatusUpdate(k.New(), old)
			}
			k.Row(k.New())
			if k.Fields != nil {
				k.Fields(k.New())
			}
			if k.Scale != nil {
				k.Scale.Get(k.New())
				k.Scale.SetReplicas(k.New(), 2)
			}
		})
	}
}
