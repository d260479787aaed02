package groups

import (
	"reflect"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func TestStorageClass(t *testing.T) {
	k := kindFor(t, "storage.k8s.io", "storageclasses")
	sc := &storagev1.StorageClass{ObjectMeta: meta("local-path"), Provisioner: "rancher.io/local-path"}
	if errs := create(k, sc); len(errs) != 0 {
		t.Fatalf("valid class rejected: %v", errs)
	}
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: reclaim %s binding %s", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	want := []interface{}{"rancher.io/local-path", "Delete", "Immediate", false, registry.Since(created.Time)}
	if got := k.Row(sc); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	up := sc.DeepCopy()
	up.Parameters = map[string]string{"x": "y"}
	up.ReclaimPolicy = ptrTo(corev1.PersistentVolumeReclaimRetain)
	up.VolumeBindingMode = ptrTo(storagev1.VolumeBindingWaitForFirstConsumer)
	up.AllowVolumeExpansion = ptrTo(true) // the one field that may change
	wantErrs(t, update(k, up, sc),
		"parameters: Forbidden: updates to parameters are forbidden.",
		"reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
		`volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable`)
	wantErrs(t, create(k, &storagev1.StorageClass{ObjectMeta: meta("x"), ReclaimPolicy: ptrTo(corev1.PersistentVolumeReclaimRecycle)}),
		"provisioner: Required value",
		`reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`)
}

func TestCSIAndAttachments(t *testing.T) {
	dk := kindFor(t, "storage.k8s.io", "csidrivers")
	d := &storagev1.CSIDriver{ObjectMeta: meta("hostpath.csi.k8s.io")}
	if errs := create(dk, d); len(errs) != 0 {
		t.Fatalf("driver rejected: %v", errs)
	}
	want := []interface{}{true, false, false, "<unset>", false, "Persistent", registry.Since(created.Time)}
	if got := dk.Row(d); !reflect.DeepEqual(got, want) {
		t.Errorf("csidriver row = %#v", got)
	}
	if msgs := dk.NameValidation("Hostpath.CSI.k8s.io", false); len(msgs) != 0 {
		t.Errorf("mixed-case driver name refused: %v", msgs)
	}
	if msgs := dk.NameValidation(strings.Repeat("a", 64), false); len(msgs) == 0 {
		t.Errorf("64-character driver name accepted")
	}
	nk := kindFor(t, "storage.k8s.io", "csinodes")
	n := &storagev1.CSINode{ObjectMeta: meta("node-1"), Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "a", NodeID: "n1"}, {Name: "a"}}}}
	wantErrs(t, create(nk, n), "spec.drivers[1].name: Duplicate value: \"a\"", "spec.drivers[1].nodeID: Required value")
	if got := nk.Row(n)[0]; got != int64(2) {
		t.Errorf("csinode drivers cell = %v", got)
	}
	vk := kindFor(t, "storage.k8s.io", "volumeattachments")
	v := &storagev1.VolumeAttachment{ObjectMeta: meta("csi-123"), Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "hostpath.csi.k8s.io", NodeName: "node-1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptrTo("pv-1")}}}
	if errs := create(vk, v); len(errs) != 0 {
		t.Fatalf("attachment rejected: %v", errs)
	}
	v.Status.Attached = true
	want = []interface{}{"hostpath.csi.k8s.io", "pv-1", "node-1", true, registry.Since(created.Time)}
	if got := vk.Row(v); !reflect.DeepEqual(got, want) {
		t.Errorf("attachment row = %#v", got)
	}
	moved := v.DeepCopy()
	moved.Spec.NodeName = "node-2"
	if got := update(vk, moved, v); len(got) != 1 || !strings.HasSuffix(got[0], "field is immutable") {
		t.Errorf("spec change: %v", got)
	}
	wantErrs(t, create(vk, &storagev1.VolumeAttachment{ObjectMeta: meta("y"), Spec: storagev1.VolumeAttachmentSpec{NodeName: "n"}}),
		"spec.attacher: Required value", "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName")
}

func TestRBAC(t *testing.T) {
	rk := kindFor(t, "rbac.authorization.k8s.io", "clusterroles")
	cr := &rbacv1.ClusterRole{ObjectMeta: meta("system:controller:job-controller"), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list"}},
		{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}},
	}}
	if errs := create(rk, cr); len(errs) != 0 {
		t.Fatalf("valid cluster role rejected: %v", errs)
	}
	if msgs := rk.NameValidation(cr.Name, false); len(msgs) != 0 {
		t.Errorf("name %q refused: %v", cr.Name, msgs)
	}
	if msgs := rk.NameValidation("a/b", false); len(msgs) == 0 {
		t.Errorf("name with a slash accepted")
	}
	if got := rk.Row(cr); !reflect.DeepEqual(got, []interface{}{"2026-01-02T03:04:05Z"}) || rk.Columns[0].Name != "Created At" {
		t.Errorf("row = %v, columns %v", got, rk.Columns)
	}

	role := kindFor(t, "rbac.authorization.k8s.io", "roles")
	wantErrs(t, create(role, &rbacv1.Role{ObjectMeta: meta("r"), Rules: []rbacv1.PolicyRule{{}, {NonResourceURLs: []string{"/x"}, Verbs: []string{"get"}}}}),
		"rules[0].verbs: Required value: verbs must contain at least one value",
		"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
		"rules[0].resources: Required value: resource rules must supply at least one resource",
		`rules[1].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs`)

	bk := kindFor(t, "rbac.authorization.k8s.io", "rolebindings")
	rb := &rbacv1.RoleBinding{ObjectMeta: meta("read"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Name: "ci", Namespace: "build"}, {Kind: "User", Name: "bob"}}}
	if errs := create(bk, rb); len(errs) != 0 {
		t.Fatalf("valid binding rejected: %v", errs)
	}
	if rb.RoleRef.APIGroup != "rbac.authorization.k8s.io" || rb.Subjects[0].APIGroup != "rbac.authorization.k8s.io" || rb.Subjects[2].APIGroup != "" {
		t.Errorf("api groups not defaulted: %+v %+v", rb.RoleRef, rb.Subjects)
	}
	want := []interface{}{"ClusterRole/view", registry.Since(created.Time), "alice, bob", "devs", "build/ci"}
	if got := bk.Row(rb); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	changed := rb.DeepCopy()
	changed.RoleRef.Name = "edit"
	wantErrs(t, update(bk, changed, rb), `roleRef: Invalid value: v1.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef`)

	ck := kindFor(t, "rbac.authorization.k8s.io", "clusterrolebindings")
	wantErrs(t, create(ck, &rbacv1.ClusterRoleBinding{ObjectMeta: meta("x"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci"}, {Kind: "Robot", Name: "r2"}}}),
		`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`,
		"subjects[0].namespace: Required value",
		`subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`)
}

func TestPodDisruptionBudget(t *testing.T) {
	k := kindFor(t, "policy", "poddisruptionbudgets")
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: meta("web"), Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: ptrTo(intstr.FromString("50%")), Selector: &metav1.LabelSelector{MatchLabels: appLabels}}}
	if errs := create(k, pdb); len(errs) != 0 {
		t.Fatalf("valid budget rejected: %v", errs)
	}
	pdb.Status.DisruptionsAllowed = 1
	want := []interface{}{"50%", "N/A", int64(1), registry.Since(created.Time)}
	if got := k.Row(pdb); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	both := pdb.DeepCopy()
	both.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(-1))
	got := create(k, both)
	if len(got) != 2 || !strings.HasSuffix(got[0], ": minAvailable and maxUnavailable cannot be both set") ||
		got[1] != "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0" {
		t.Errorf("errors = %q", got)
	}
	st := pdb.DeepCopy()
	st.Status.ExpectedPods = -1
	wantErrs(t, errStrings(k.ValidateStatusUpdate(st, pdb)), "status.expectedPods: Invalid value: -1: must be greater than or equal to 0")
}

func TestPriorityClass(t *testing.T) {
	k := kindFor(t, "scheduling.k8s.io", "priorityclasses")
	pc := &schedulingv1.PriorityClass{ObjectMeta: meta("high"), Value: 1000}
	if errs := create(k, pc); len(errs) != 0 {
		t.Fatalf("valid class rejected: %v", errs)
	}
	if *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("preemptionPolicy = %s", *pc.PreemptionPolicy)
	}
	want := []interface{}{int64(1000), false, registry.Since(created.Time), "PreemptLowerPriority"}
	if got := k.Row(pc); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	wantErrs(t, create(k, &schedulingv1.PriorityClass{ObjectMeta: meta("huge"), Value: 2000000000}),
		"value: Forbidden: maximum allowed value of a user defined priority is 1000000000")
	wantErrs(t, create(k, &schedulingv1.PriorityClass{ObjectMeta: meta("system-mine"), Value: 1}),
		"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class")
	if errs := create(k, &schedulingv1.PriorityClass{ObjectMeta: meta("system-node-critical"), Value: 2000001000}); len(errs) != 0 {
		t.Errorf("built-in class rejected: %v", errs)
	}
	for _, sys := range SystemPriorityClasses() {
		if errs := create(k, sys); len(errs) != 0 {
			t.Errorf("%s rejected: %v", sys.Name, errs)
		}
	}
	if got := SystemPriorityClasses(); len(got) != 2 || got[0].Name != "system-node-critical" || got[0].Value != 2000001000 || got[1].Value != 2000000000 {
		t.Errorf("system classes: %+v", got)
	}
	up := pc.DeepCopy()
	up.Value = 5
	wantErrs(t, update(k, up, pc), "value: Forbidden: may not be changed in an update.")
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	k := kindFor(t, "autoscaling", "horizontalpodautoscalers")
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    5,
		Behavior:       &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptrTo[int32](60)}},
	}}
	if errs := create(k, h); len(errs) != 0 {
		t.Fatalf("valid hpa rejected: %v", errs)
	}
	if *h.Spec.MinReplicas != 1 || len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		*h.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("defaults: %+v", h.Spec)
	}
	up, down := h.Spec.Behavior.ScaleUp, h.Spec.Behavior.ScaleDown
	if *up.StabilizationWindowSeconds != 0 || len(up.Policies) != 2 || up.Policies[0].Value != 4 || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect ||
		*down.StabilizationWindowSeconds != 60 || len(down.Policies) != 1 || down.Policies[0].Type != autoscalingv2.PercentScalingPolicy {
		t.Errorf("behavior defaults: up %+v down %+v", up, down)
	}

	h.Status.CurrentReplicas = 2
	h.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptrTo[int32](42)}}}}
	want := []interface{}{"Deployment/web", "cpu: 42%/80%", "1", int64(5), int64(2), registry.Since(created.Time)}
	if got := k.Row(h); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	q := resource.MustParse("100Mi")
	h.Spec.Metrics = append(h.Spec.Metrics,
		autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}}},
		autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Target: autoscalingv2.MetricTarget{AverageValue: &q}}})
	if got := k.Row(h)[1]; got != "cpu: 42%/80%, memory: <unknown>/100Mi + 1 more..." {
		t.Errorf("targets = %q", got)
	}

	broken := h.DeepCopy()
	broken.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}
	if got := k.Row(broken)[1]; got != "<unknown type>" {
		t.Errorf("targets of a metric without its source = %q", got)
	}
	bad := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("x"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MinReplicas: ptrTo[int32](3), MaxReplicas: 2}}
	wantErrs(t, create(k, bad), "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`")
	ref := autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}
	pods := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("p"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MaxReplicas: 3,
		Metrics: []autoscalingv2.MetricSpec{
			{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}}},
			{Type: autoscalingv2.ExternalMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: "qps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}}},
		}}}
	wantErrs(t, create(k, pods),
		"spec.metrics[0].pods.metric.name: Required value: must specify a metric name",
		"spec.metrics[0].pods.target.averageValue: Required value: must specify a positive target averageValue",
		"spec.metrics[1].external: Required value: must populate information for the given metric source")
	noRef := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("y"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 1, MinReplicas: ptrTo[int32](0)}}
	wantErrs(t, create(k, noRef),
		"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
		"spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value")
}

func TestLease(t *testing.T) {
	k := kindFor(t, "coordination.k8s.io", "leases")
	l := &coordinationv1.Lease{ObjectMeta: meta("node-1"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptrTo("node-1"), LeaseDurationSeconds: ptrTo[int32](40),
		Strategy: ptrTo(coordinationv1.OldestEmulationVersion)}}
	if errs := create(k, l); len(errs) != 0 {
		t.Fatalf("valid lease rejected: %v", errs)
	}
	if l.Spec.Strategy != nil {
		t.Errorf("strategy of a disabled feature kept")
	}
	if got := k.Row(l); !reflect.DeepEqual(got, []interface{}{"node-1", registry.Since(created.Time)}) {
		t.Errorf("row = %#v", got)
	}
	wantErrs(t, create(k, &coordinationv1.Lease{ObjectMeta: meta("x"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptrTo[int32](0), LeaseTransitions: ptrTo[int32](-1)}}),
		"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
		"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0")
	if got := k.Row(&coordinationv1.Lease{})[0]; got != "" {
		t.Errorf("holder of an unheld lease = %q", got)
	}
}

func TestRuntimeClass(t *testing.T) {
	k := kindFor(t, "node.k8s.io", "runtimeclasses")
	rc := &nodev1.RuntimeClass{ObjectMeta: meta("gvisor"), Handler: "runsc",
		Overhead: &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}
	if errs := create(k, rc); len(errs) != 0 {
		t.Fatalf("valid runtime class rejected: %v", errs)
	}
	if got := k.Row(rc); !reflect.DeepEqual(got, []interface{}{"runsc", registry.Since(created.Time)}) {
		t.Errorf("row = %#v", got)
	}
	up := rc.DeepCopy()
	up.Handler = "kata"
	wantErrs(t, update(k, up, rc), `handler: Invalid value: "kata": field is immutable`)
	bad := &nodev1.RuntimeClass{ObjectMeta: meta("x"), Handler: "Run_SC",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Mi")}},
		Scheduling: &nodev1.Scheduling{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}}}
	wantErrs(t, create(k, bad),
		`handler: Invalid value: "Run_SC": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
		`overhead.limits[memory]: Invalid value: "-1Mi": must be greater than or equal to 0`,
		`scheduling.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `+"`key`"+` is empty, which means "match all values and all keys"`)
}

func TestCSIStorageCapacity(t *testing.T) {
	k := kindFor(t, "storage.k8s.io", "csistoragecapacities")
	q := resource.MustParse("10Gi")
	c := &storagev1.CSIStorageCapacity{ObjectMeta: meta("cap-1"), StorageClassName: "local", Capacity: &q,
		NodeTopology: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/hostname": "node-1"}}}
	if errs := create(k, c); len(errs) != 0 {
		t.Fatalf("valid capacity rejected: %v", errs)
	}
	if got := k.Row(c); !reflect.DeepEqual(got, []interface{}{"local", "10Gi"}) {
		t.Errorf("row = %#v", got)
	}
	up := c.DeepCopy()
	up.StorageClassName = "other"
	wantErrs(t, update(k, up, c), `storageClassName: Invalid value: "other": field is immutable`)
	got := create(k, &storagev1.CSIStorageCapacity{ObjectMeta: meta("x")})
	if len(got) != 2 || got[0] != "storageClassName: Required value" {
		t.Errorf("capacity without a class: %q", got)
	}
}
