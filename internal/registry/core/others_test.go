package core

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func joinErrs(errs []string) string { return strings.Join(errs, "\n") }

func rowText(t *testing.T, row []interface{}, skip ...int) string {
	t.Helper()
	var out []string
	for i, c := range row {
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == i
		}
		if !skipped {
			out = append(out, cellText(t, c))
		}
	}
	return strings.Join(out, "|")
}

func TestNamespace(t *testing.T) {
	k := kindByResource(t, "namespaces")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/x"}}}
	k.PrepareForCreate(ns)
	k.Default(ns)
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase %q", ns.Status.Phase)
	}
	if got := ns.Spec.Finalizers; len(got) != 2 || got[1] != corev1.FinalizerKubernetes {
		t.Errorf("finalizers %v", got)
	}
	if ns.Labels[corev1.LabelMetadataName] != "team-a" {
		t.Errorf("labels %v", ns.Labels)
	}
	// Finalizers do not change through an update of the main resource.
	upd := ns.DeepCopy()
	upd.Spec.Finalizers = nil
	k.PrepareForUpdate(upd, ns)
	if len(upd.Spec.Finalizers) != 2 {
		t.Errorf("update changed finalizers: %v", upd.Spec.Finalizers)
	}
	bad := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"custom"}}}
	if got := joinErrs(errStrings(k.Validate(bad))); got != `spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified` {
		t.Errorf("finalizer validation: %q", got)
	}
	// Status: Terminating only while deleting.
	st := ns.DeepCopy()
	st.Status.Phase = corev1.NamespaceTerminating
	if got := joinErrs(errStrings(k.ValidateStatusUpdate(st, ns))); got != "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty" {
		t.Errorf("status validation: %q", got)
	}
	if f := k.Fields(ns); f["status.phase"] != "Active" || f["name"] != "team-a" {
		t.Errorf("fields %v", f)
	}
	if got := rowText(t, k.Row(ns), 1); got != "Active" {
		t.Errorf("row %q", got)
	}
}

func TestConfigMapAndSecret(t *testing.T) {
	cm := kindByResource(t, "configmaps")
	sec := kindByResource(t, "secrets")
	big := strings.Repeat("x", maxDataSize)
	tests := []struct {
		name string
		k    string
		obj  runtime.Object
		want string
	}{
		{"configmap bad key", "configmaps", &corev1.ConfigMap{Data: map[string]string{"a b": "x"}},
			`data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"configmap duplicate key", "configmaps", &corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": {1}}},
			`data[k]: Invalid value: "k": duplicate of key present in binaryData`},
		{"configmap too big", "configmaps", &corev1.ConfigMap{Data: map[string]string{"a": big, "b": "y"}},
			"[]: Too long: may not be more than 1048576 bytes"},
		{"secret too big", "secrets", &corev1.Secret{Data: map[string][]byte{"a": []byte(big), "b": {1}}},
			"data: Too long: may not be more than 1048576 bytes"},
		{"tls secret needs key and cert", "secrets", &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{}},
			"data[tls.crt]: Required value\ndata[tls.key]: Required value"},
		{"service account token secret", "secrets", &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			"metadata.annotations[kubernetes.io/service-account.name]: Required value"},
		{"docker config json must be json", "secrets", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`},
		{"basic auth", "secrets", &corev1.Secret{Type: corev1.SecretTypeBasicAuth, Data: map[string][]byte{"other": {1}}},
			"data[username]: Required value\ndata[password]: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := cm
			if tt.k == "secrets" {
				k = sec
			}
			if k.Default != nil {
				k.Default(tt.obj)
			}
			if got := joinErrs(errStrings(k.Validate(tt.obj))); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("1")}, StringData: map[string]string{"a": "2", "b": "3"}}
	sec.Default(s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["a"]) != "2" || string(s.Data["b"]) != "3" || s.StringData != nil {
		t.Errorf("secret defaults: %+v", s)
	}
	if sec.Fields(s)["type"] != "Opaque" {
		t.Errorf("secret fields %v", sec.Fields(s))
	}
	if got := rowText(t, sec.Row(s), 2); got != "Opaque|2" {
		t.Errorf("secret row %q", got)
	}
	changed := s.DeepCopy()
	changed.Type = corev1.SecretTypeTLS
	if got := joinErrs(errStrings(sec.ValidateUpdate(changed, s))); got != `type: Invalid value: "kubernetes.io/tls": field is immutable` {
		t.Errorf("secret type change: %q", got)
	}
	yes := true
	frozen := &corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"a": "1"}}
	thawed := &corev1.ConfigMap{Data: map[string]string{"a": "2"}}
	if got := joinErrs(errStrings(cm.ValidateUpdate(thawed, frozen))); got != "immutable: Forbidden: field is immutable when `immutable` is set\ndata: Forbidden: field is immutable when `immutable` is set" {
		t.Errorf("immutable configmap: %q", got)
	}
	if got := rowText(t, cm.Row(&corev1.ConfigMap{Data: map[string]string{"a": ""}, BinaryData: map[string][]byte{"b": nil}}), 1); got != "2" {
		t.Errorf("configmap row %q", got)
	}
}

func TestEvent(t *testing.T) {
	k := kindByResource(t, "events")
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "u1", APIVersion: "v1", FieldPath: "spec.containers{app}"},
		Reason:         "Pulled", Message: " pulled image \n", Type: "Normal",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: metav1.NewTime(first),
		Count:          3,
	}
	if errs := k.Validate(ev); len(errs) != 0 {
		t.Fatalf("valid event rejected: %v", errs)
	}
	if got := rowText(t, k.Row(ev)); got != "since:2026-01-01T00:00:00Z|Normal|Pulled|pod/web|spec.containers{app}|kubelet, node-1|pulled image|since:2026-01-01T00:00:00Z|3" {
		t.Errorf("row %q", got)
	}
	f := k.Fields(ev)
	for key, want := range map[string]string{"involvedObject.kind": "Pod", "involvedObject.name": "web", "involvedObject.uid": "u1",
		"involvedObject.fieldPath": "spec.containers{app}", "reason": "Pulled", "source": "kubelet", "type": "Normal", "reportingComponent": ""} {
		if f[key] != want {
			t.Errorf("field %s = %q, want %q", key, f[key], want)
		}
	}
	other := ev.DeepCopy()
	other.InvolvedObject.Namespace = "kube-system"
	if got := joinErrs(errStrings(k.Validate(other))); got != `involvedObject.namespace: Invalid value: "kube-system": does not match event.namespace` {
		t.Errorf("namespace mismatch: %q", got)
	}
	// New-style events need the reporting fields.
	nev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, EventTime: metav1.NewMicroTime(first),
		InvolvedObject: corev1.ObjectReference{Namespace: "default"}}
	want := "reportingComponent: Required value\nreportingComponent: Invalid value: \"\": name part must be non-empty\n" +
		"reportingComponent: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n" +
		"reportingInstance: Required value\naction: Required value\nreason: Required value"
	if got := joinErrs(errStrings(k.Validate(nev))); got != want {
		t.Errorf("new event:\n%s\nwant\n%s", got, want)
	}
}

func TestNode(t *testing.T) {
	k := kindByResource(t, "nodes")
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "edge"}},
		Spec: corev1.NodeSpec{Unschedulable: true, PodCIDRs: []string{"10.42.1.0/24"}},
		Status: corev1.NodeStatus{
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.0.5"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-bosun", OSImage: "Debian GNU/Linux 12 (bookworm)", ContainerRuntimeVersion: "containerd://1.6.20"},
		},
	}
	k.Default(n)
	if q := n.Status.Allocatable[corev1.ResourcePods]; q.String() != "110" {
		t.Errorf("allocatable not defaulted from capacity: %v", n.Status.Allocatable)
	}
	if got := rowText(t, k.Row(n), 2); got != "Ready,SchedulingDisabled|control-plane,edge,master|v1.33.0-bosun|192.168.0.5|<none>|Debian GNU/Linux 12 (bookworm)|<unknown>|containerd://1.6.20" {
		t.Errorf("row %q", got)
	}
	if k.Fields(n)["spec.unschedulable"] != "true" {
		t.Errorf("fields %v", k.Fields(n))
	}
	notReady := n.DeepCopy()
	notReady.Status.Conditions[1].Status = corev1.ConditionUnknown
	notReady.Spec.Unschedulable = false
	if got := cellText(t, k.Row(notReady)[0]); got != "NotReady" {
		t.Errorf("status cell %q", got)
	}
	upd := n.DeepCopy()
	upd.Spec.PodCIDRs = []string{"10.42.2.0/24"}
	upd.Spec.Taints = []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "b"}}
	got := joinErrs(errStrings(append(k.Validate(upd), k.ValidateUpdate(upd, n)...)))
	want := `metadata.taints[1]: Duplicate value: v1.Taint{Key:"a", Value:"", Effect:"NoSchedule", TimeAdded:<nil>}: taints must be unique by key and effect pair` + "\n" +
		"metadata.taints[2].effect: Required value\n" +
		`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPersistentVolumes(t *testing.T) {
	pvk := kindByResource(t, "persistentvolumes")
	pvck := kindByResource(t, "persistentvolumeclaims")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}}
	pvk.PrepareForCreate(pv)
	pvk.Default(pv)
	got := joinErrs(errStrings(pvk.Validate(pv)))
	want := "spec.accessModes: Required value\nspec.capacity: Required value\n" +
		`spec.capacity: Unsupported value: v1.ResourceList(nil): supported values: "storage"` + "\nspec: Required value: must specify a volume type"
	if got != want {
		t.Errorf("empty PV:\n%s\nwant\n%s", got, want)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem ||
		pv.Status.Phase != corev1.VolumePending || pv.Status.LastPhaseTransitionTime == nil {
		t.Errorf("PV defaults: %+v", pv)
	}
	pv = validObjects()["persistentvolumes"].(*corev1.PersistentVolume)
	pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data"}
	pv.Spec.StorageClassName = "local"
	pvk.Default(pv)
	pv.Status.Phase = corev1.VolumeBound
	if got := rowText(t, pvk.Row(pv), 8); got != "1Gi|RWO|Retain|Bound|default/data|local|<unset>||Filesystem" {
		t.Errorf("PV row %q", got)
	}
	moved := pv.DeepCopy()
	moved.Spec.HostPath.Path = "/elsewhere"
	if errs := errStrings(pvk.ValidateUpdate(moved, pv)); len(errs) != 1 || !strings.HasPrefix(errs[0], "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n") {
		t.Errorf("PV source change: %q", errs)
	}

	pvc := validObjects()["persistentvolumeclaims"].(*corev1.PersistentVolumeClaim)
	pvck.Default(pvc)
	if *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("PVC defaults: %+v", pvc)
	}
	if got := rowText(t, pvck.Row(pvc), 6); got != "Pending|||||<unset>|Filesystem" {
		t.Errorf("pending PVC row %q", got)
	}
	// Binding (volumeName once) is allowed; other spec changes are not.
	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pv1"
	if errs := pvck.ValidateUpdate(bound, pvc); len(errs) != 0 {
		t.Errorf("binding rejected: %v", errs)
	}
	grown := pvc.DeepCopy()
	grown.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	if errs := errStrings(pvck.ValidateUpdate(grown, pvc)); len(errs) != 1 || !strings.HasPrefix(errs[0], "spec: Forbidden: spec is immutable after creation except resources.requests for bound claims\n") {
		t.Errorf("access mode change: %q", errs)
	}
	bound.Status.Phase = corev1.ClaimBound
	expand := bound.DeepCopy()
	expand.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	if errs := pvck.ValidateUpdate(expand, bound); len(errs) != 0 {
		t.Errorf("expanding a bound claim rejected: %v", errs)
	}
	shrink := bound.DeepCopy()
	shrink.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("512Mi")
	if got := joinErrs(errStrings(pvck.ValidateUpdate(shrink, bound))); got != "spec.resources.requests.storage: Forbidden: field can not be less than previous value" {
		t.Errorf("shrink: %q", got)
	}
	noSize := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{}}
	pvck.Default(noSize)
	if got := joinErrs(errStrings(pvck.Validate(noSize))); got != "spec.accessModes: Required value: at least 1 access mode is required\nspec.resources[storage]: Required value" {
		t.Errorf("empty PVC: %q", got)
	}
}

func TestQuotaAndLimitRange(t *testing.T) {
	qk := kindByResource(t, "resourcequotas")
	q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		"pods": resource.MustParse("1.5"), "widgets": resource.MustParse("1"), "requests.cpu": resource.MustParse("-1")}}}
	got := joinErrs(errStrings(qk.Validate(q)))
	want := "spec.hard[pods]: Invalid value: \"1500m\": must be an integer\n" +
		"spec.hard[requests.cpu]: Invalid value: \"-1\": must be greater than or equal to 0\n" +
		// Upstream reports this twice (resource name, then quota resource name); the API error
		// message deduplicates it.
		"spec.hard[widgets]: Invalid value: widgets: must be a standard resource type or fully qualified\n" +
		"spec.hard[widgets]: Invalid value: widgets: must be a standard resource type or fully qualified"
	if got != want {
		t.Errorf("quota:\n%s\nwant\n%s", got, want)
	}
	q.Status.Hard = corev1.ResourceList{"pods": resource.MustParse("10"), "limits.cpu": resource.MustParse("2"), "requests.memory": resource.MustParse("1Gi")}
	q.Status.Used = corev1.ResourceList{"pods": resource.MustParse("3")}
	if got := rowText(t, qk.Row(q), 0); got != "pods: 3/10, requests.memory: 0/1Gi|limits.cpu: 0/2" {
		t.Errorf("quota row %q", got)
	}
	scoped := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{
		Hard:   corev1.ResourceList{corev1.ResourceServices: resource.MustParse("1")},
		Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort}}}
	want = "spec.scopes: Invalid value: []v1.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\"}: unsupported scope applied to resource\n" +
		"spec.scopes: Invalid value: []v1.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\"}: unsupported scope applied to resource\n" +
		"spec.scopes: Invalid value: []v1.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\"}: conflicting scopes"
	if got := joinErrs(errStrings(qk.Validate(scoped))); got != want {
		t.Errorf("scopes:\n%s\nwant\n%s", got, want)
	}
	if got := rowText(t, qk.Row(q), 0); got == "" {
		t.Errorf("quota row %q", got)
	}

	lk := kindByResource(t, "limitranges")
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		Min:  corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}}}
	lk.Default(lr)
	it := lr.Spec.Limits[0]
	if c := it.Default[corev1.ResourceCPU]; c.String() != "1" {
		t.Errorf("default limit from max: %v", it.Default)
	}
	if c, m := it.DefaultRequest[corev1.ResourceCPU], it.DefaultRequest[corev1.ResourceMemory]; c.String() != "1" || m.String() != "64Mi" {
		t.Errorf("default request: %v", it.DefaultRequest)
	}
	if errs := lk.Validate(lr); len(errs) != 0 {
		t.Errorf("valid limit range rejected: %v", errs)
	}
	lr.Spec.Limits[0].Min[corev1.ResourceCPU] = resource.MustParse("2")
	// Upstream passes the quantity itself, so the value prints as a Go struct.
	if got := joinErrs(errStrings(lk.Validate(lr))); !strings.HasPrefix(got, `spec.limits[0].min[cpu]: Invalid value: resource.Quantity{`) ||
		!strings.Contains(got, `: min value 2 is greater than max value 1`) {
		t.Errorf("min > max: %q", got)
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	lr.CreationTimestamp = metav1.NewTime(created)
	if got := rowText(t, lk.Row(lr)); got != "2026-03-04T05:06:07Z" || lk.Columns[0].Name != "Created At" {
		t.Errorf("limit range row %q", got)
	}
}

func TestReplicationController(t *testing.T) {
	k := kindByResource(t, "replicationcontrollers")
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "bosun.local/hello:v1"}}}}}}
	k.Default(rc)
	if *rc.Spec.Replicas != 1 || rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" ||
		rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("defaults: %+v", rc)
	}
	if errs := k.Validate(rc); len(errs) != 0 {
		t.Fatalf("valid rc rejected: %v", errs)
	}
	spec, status, sel := k.Scale.Get(rc)
	if spec != 1 || status != 0 || sel != "app=web" {
		t.Errorf("scale = %d %d %q", spec, status, sel)
	}
	k.Scale.SetReplicas(rc, 3)
	rc.Status.Replicas, rc.Status.ReadyReplicas = 3, 2
	if got := rowText(t, k.Row(rc), 3); got != "3|3|2|web|bosun.local/hello:v1|app=web" {
		t.Errorf("row %q", got)
	}
	if k.Fields(rc)["status.replicas"] != "3" {
		t.Errorf("fields %v", k.Fields(rc))
	}
	bad := rc.DeepCopy()
	bad.Spec.Selector = map[string]string{"app": "other"}
	bad.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	want := "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`\n" +
		`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`
	if got := joinErrs(errStrings(k.Validate(bad))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	st := rc.DeepCopy()
	st.Status.ReadyReplicas = 5
	if got := joinErrs(errStrings(k.ValidateStatusUpdate(st, rc))); got != "status.readyReplicas: Invalid value: 5: cannot be greater than status.replicas" {
		t.Errorf("status: %q", got)
	}
}

func TestEndpoints(t *testing.T) {
	k := kindByResource(t, "endpoints")
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}, {IP: "10.42.0.6"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}}},
	}}
	k.Default(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("protocol not defaulted")
	}
	if errs := k.Validate(ep); len(errs) != 0 {
		t.Errorf("valid endpoints rejected: %v", errs)
	}
	if got := cellText(t, k.Row(ep)[0]); got != "10.42.0.5:8080,10.42.0.6:8080,10.42.0.5:9090 + 1 more..." {
		t.Errorf("endpoints cell %q", got)
	}
	if got := cellText(t, k.Row(&corev1.Endpoints{})[0]); got != "<none>" {
		t.Errorf("empty endpoints cell %q", got)
	}
	bad := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{}, {Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}},
		Ports: []corev1.EndpointPort{{Port: 80, Protocol: "TCP"}, {Port: 81, Protocol: "TCP"}}}}}
	want := "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`\n" +
		`subsets[1].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)` + "\n" +
		"subsets[1].ports[0].name: Required value\nsubsets[1].ports[1].name: Required value"
	if got := joinErrs(errStrings(k.Validate(bad))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPodTemplateGeneration(t *testing.T) {
	k := kindByResource(t, "podtemplates")
	pt := validObjects()["podtemplates"].(*corev1.PodTemplate)
	k.PrepareForCreate(pt)
	k.Default(pt)
	if pt.Generation != 1 {
		t.Fatalf("generation on create = %d", pt.Generation)
	}
	same := pt.DeepCopy()
	same.Labels = map[string]string{"touched": "yes"}
	k.PrepareForUpdate(same, pt)
	if same.Generation != 1 {
		t.Errorf("metadata change bumped generation to %d", same.Generation)
	}
	changed := pt.DeepCopy()
	changed.Template.Spec.Containers[0].Image = "busybox:2"
	k.PrepareForUpdate(changed, pt)
	if changed.Generation != 2 {
		t.Errorf("template change: generation %d, want 2", changed.Generation)
	}
	if got := rowText(t, k.Row(pt)); got != "a|busybox|app=x" {
		t.Errorf("row %q", got)
	}
}

func TestServiceAccountCleansSecretReferences(t *testing.T) {
	k := kindByResource(t, "serviceaccounts")
	sa := &corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Name: "tok", Namespace: "x", UID: "u"}}}
	k.PrepareForCreate(sa)
	if sa.Secrets[0] != (corev1.ObjectReference{Name: "tok"}) {
		t.Errorf("secret reference %+v", sa.Secrets[0])
	}
	if got := rowText(t, k.Row(sa), 1); got != "1" {
		t.Errorf("row %q", got)
	}
}

// The status path has no Default hook; the kinds apply status defaults while validating.
func TestStatusPathDefaults(t *testing.T) {
	nk := kindByResource(t, "nodes")
	n := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}}
	if errs := nk.ValidateStatusUpdate(n, n.DeepCopy()); len(errs) != 0 {
		t.Fatalf("node status: %v", errs)
	}
	if c := n.Status.Allocatable[corev1.ResourceCPU]; c.String() != "4" {
		t.Errorf("allocatable %v", n.Status.Allocatable)
	}
	sk := kindByResource(t, "services")
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}}
	if errs := sk.ValidateStatusUpdate(s, s.DeepCopy()); len(errs) != 0 {
		t.Fatalf("service status: %v", errs)
	}
	if m := s.Status.LoadBalancer.Ingress[0].IPMode; m == nil || *m != corev1.LoadBalancerIPModeVIP {
		t.Errorf("ipMode %v", m)
	}
	ck := kindByResource(t, "persistentvolumeclaims")
	c := &corev1.PersistentVolumeClaim{}
	if errs := ck.ValidateStatusUpdate(c, c.DeepCopy()); len(errs) != 0 || c.Status.Phase != corev1.ClaimPending {
		t.Errorf("pvc status: %v %q", errs, c.Status.Phase)
	}
	pk := kindByResource(t, "persistentvolumes")
	old := &corev1.PersistentVolume{Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable}}
	pv := old.DeepCopy()
	pv.Status.Phase = corev1.VolumeBound
	if errs := pk.ValidateStatusUpdate(pv, old); len(errs) != 0 || pv.Status.LastPhaseTransitionTime == nil {
		t.Errorf("pv status: %v %v", errs, pv.Status.LastPhaseTransitionTime)
	}
}

func TestEndpointsRepack(t *testing.T) {
	k := kindByResource(t, "endpoints")
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.9"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 80}}},
		{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.2"}}, NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.42.0.3"}},
			Ports: []corev1.EndpointPort{{Name: "http", Port: 80}}},
		{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.7"}}, Ports: []corev1.EndpointPort{{Name: "metrics", Port: 9090}}},
		{NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.42.0.7"}}, Ports: []corev1.EndpointPort{{Name: "metrics", Port: 9090}}},
	}}
	k.Default(ep)
	var got []string
	for _, ss := range ep.Subsets {
		var parts []string
		for _, a := range ss.Addresses {
			parts = append(parts, a.IP)
		}
		for _, a := range ss.NotReadyAddresses {
			parts = append(parts, "!"+a.IP)
		}
		for _, p := range ss.Ports {
			parts = append(parts, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		got = append(got, strings.Join(parts, " "))
	}
	want := "10.42.0.2 10.42.0.9 !10.42.0.3 http:80/TCP | 10.42.0.7 metrics:9090/TCP"
	if strings.Join(got, " | ") != want {
		t.Errorf("repacked = %q, want %q", strings.Join(got, " | "), want)
	}
	// Repacking is idempotent and independent of the input order.
	again := ep.DeepCopy()
	k.Default(again)
	reversed := ep.DeepCopy()
	for i, j := 0, len(reversed.Subsets)-1; i < j; i, j = i+1, j-1 {
		reversed.Subsets[i], reversed.Subsets[j] = reversed.Subsets[j], reversed.Subsets[i]
	}
	k.Default(reversed)
	if !equality.Semantic.DeepEqual(again.Subsets, ep.Subsets) || !equality.Semantic.DeepEqual(reversed.Subsets, ep.Subsets) {
		t.Errorf("repack not canonical:\n%+v\n%+v\n%+v", ep.Subsets, again.Subsets, reversed.Subsets)
	}
	// Headless endpoints without ports keep their addresses.
	headless := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}}}}}
	k.Default(headless)
	if len(headless.Subsets) != 1 || len(headless.Subsets[0].Addresses) != 1 || len(headless.Subsets[0].Ports) != 0 {
		t.Errorf("headless = %+v", headless.Subsets)
	}
}
