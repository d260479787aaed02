package groups

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bosun-k8s/bosun/internal/registry"
)

var appLabels = map[string]string{"app": "web"}

func newDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: meta("web"),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate(map[string]string{"app": "web"}, ""),
		},
	}
}

func TestDeploymentDefaults(t *testing.T) {
	k := kindFor(t, "apps", "deployments")
	d := newDeployment()
	if errs := create(k, d); len(errs) != 0 {
		t.Fatalf("valid deployment rejected: %v", errs)
	}
	pct := intstr.FromString("25%")
	want := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &pct, MaxSurge: &pct}}
	if !reflect.DeepEqual(d.Spec.Strategy, want) {
		t.Errorf("strategy = %+v, want RollingUpdate 25%%/25%%", d.Spec.Strategy)
	}
	for name, got := range map[string]*int32{"replicas": d.Spec.Replicas, "revisionHistoryLimit": d.Spec.RevisionHistoryLimit, "progressDeadlineSeconds": d.Spec.ProgressDeadlineSeconds} {
		wantV := map[string]int32{"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}[name]
		if got == nil || *got != wantV {
			t.Errorf("%s = %v, want %d", name, got, wantV)
		}
	}
	// the pod template got the core pod defaults
	if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || d.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("template not defaulted: restartPolicy %q dnsPolicy %q", d.Spec.Template.Spec.RestartPolicy, d.Spec.Template.Spec.DNSPolicy)
	}

	// Recreate gets no rolling update parameters; explicit values are kept.
	r := newDeployment()
	r.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	r.Spec.Replicas = ptrTo[int32](0)
	create(k, r)
	if r.Spec.Strategy.RollingUpdate != nil || *r.Spec.Replicas != 0 {
		t.Errorf("Recreate deployment: rollingUpdate %v replicas %d", r.Spec.Strategy.RollingUpdate, *r.Spec.Replicas)
	}
}

func TestDeploymentValidation(t *testing.T) {
	k := kindFor(t, "apps", "deployments")
	for _, tc := range []struct {
		name   string
		modify func(*appsv1.Deployment)
		want   []string
	}{
		{"valid", func(*appsv1.Deployment) {}, nil},
		{"selector does not match template", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			[]string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"}},
		{"selector missing", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			// as upstream: a nil selector selects nothing, so the template does not match either
			[]string{"spec.selector: Required value",
				"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"}},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"}},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptrTo[int32](-1) },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"both zero", func(d *appsv1.Deployment) {
			zero := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &zero}
		}, []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"}},
		{"bad percentages", func(d *appsv1.Deployment) {
			over, bad := intstr.FromString("150%"), intstr.FromString("ten")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &bad, MaxUnavailable: &over}
		}, []string{
			"spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"ten\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
		}},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""}},
		{"deadline not above minReady", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 700
		}, []string{"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"}},
		{"container without image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment()
			tc.modify(d)
			wantErrs(t, create(k, d), tc.want...)
		})
	}
}

func TestDeploymentUpdate(t *testing.T) {
	k := kindFor(t, "apps", "deployments")
	old := newDeployment()
	create(k, old)
	old.Generation = 3

	// the selector is immutable in apps/v1
	d := old.DeepCopy()
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
	d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "x"}
	wantErrs(t, update(k, d, old), `spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`)

	// annotation changes bump the generation (they are copied to replica sets)
	a := old.DeepCopy()
	a.Annotations = map[string]string{"note": "x"}
	if errs := update(k, a, old); len(errs) != 0 {
		t.Fatalf("annotation update rejected: %v", errs)
	}
	if a.Generation != 4 {
		t.Errorf("generation after annotation change = %d, want 4", a.Generation)
	}
	same := old.DeepCopy()
	update(k, same, old)
	if same.Generation != 3 {
		t.Errorf("generation after no-op update = %d, want 3", same.Generation)
	}
	// a PUT of the original, undefaulted manifest changes nothing
	replaced := newDeployment()
	replaced.Generation = 4 // as a server comparing undefaulted specs would have bumped it
	update(k, replaced, old)
	if replaced.Generation != 3 {
		t.Errorf("generation after replacing with the same manifest = %d, want 3", replaced.Generation)
	}
}

func TestDeploymentStatusValidation(t *testing.T) {
	k := kindFor(t, "apps", "deployments")
	old := newDeployment()
	old.Status.CollisionCount = ptrTo[int32](2)
	d := old.DeepCopy()
	d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 3, AvailableReplicas: 1, CollisionCount: ptrTo[int32](1)}
	wantErrs(t, errStrings(k.ValidateStatusUpdate(d, old)),
		"status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
		"status.collisionCount: Invalid value: 1: cannot be decremented")
}

func TestDeploymentRowAndScale(t *testing.T) {
	k := kindFor(t, "apps", "deployments")
	d := newDeployment()
	create(k, d)
	d.Spec.Replicas = ptrTo[int32](3)
	d.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}
	got := k.Row(d)
	want := []interface{}{"2/3", int64(3), int64(2), registry.Since(created.Time), "web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36", "app=web"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
	if len(k.Columns) != len(want) {
		t.Errorf("%d columns for %d cells", len(k.Columns), len(want))
	}
	names := []string{}
	for _, c := range k.Columns {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"}) {
		t.Errorf("columns = %v", names)
	}

	spec, status, sel := k.Scale.Get(d)
	if spec != 3 || status != 3 || sel != "app=web" {
		t.Errorf("scale = %d %d %q", spec, status, sel)
	}
	k.Scale.SetReplicas(d, 7)
	if *d.Spec.Replicas != 7 {
		t.Errorf("SetReplicas: replicas = %d", *d.Spec.Replicas)
	}
}

func TestReplicaSet(t *testing.T) {
	k := kindFor(t, "apps", "replicasets")
	rs := &appsv1.ReplicaSet{ObjectMeta: meta("web-abc"), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}}},
		Template: podTemplate(appLabels, ""),
	}}
	if errs := create(k, rs); len(errs) != 0 {
		t.Fatalf("valid replica set rejected: %v", errs)
	}
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicas default = %d, want 1", *rs.Spec.Replicas)
	}
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1}
	got := k.Row(rs)
	want := []interface{}{int64(1), int64(1), int64(1), registry.Since(created.Time), "web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36", "app in (api,web)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
	_, _, sel := k.Scale.Get(rs)
	if sel != "app in (api,web)" {
		t.Errorf("scale selector = %q", sel)
	}

	bad := rs.DeepCopy()
	bad.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo[int64](5)
	bad.Spec.Replicas = ptrTo[int32](-2)
	wantErrs(t, create(k, bad),
		"spec.replicas: Invalid value: -2: must be greater than or equal to 0",
		"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported")

	st := rs.DeepCopy()
	st.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 2, ObservedGeneration: -1}
	wantErrs(t, errStrings(k.ValidateStatusUpdate(st, rs)),
		"status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
		"status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas")
}

func newStatefulSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
		Selector:    &metav1.LabelSelector{MatchLabels: appLabels},
		Template:    podTemplate(appLabels, ""),
		ServiceName: "db",
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}}},
	}}
}

func TestStatefulSet(t *testing.T) {
	k := kindFor(t, "apps", "statefulsets")
	s := newStatefulSet()
	if errs := create(k, s); len(errs) != 0 {
		t.Fatalf("valid statefulset rejected: %v", errs)
	}
	sp := s.Spec
	if sp.PodManagementPolicy != appsv1.OrderedReadyPodManagement || sp.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType ||
		sp.UpdateStrategy.RollingUpdate == nil || *sp.UpdateStrategy.RollingUpdate.Partition != 0 ||
		*sp.Replicas != 1 || *sp.RevisionHistoryLimit != 10 ||
		sp.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		sp.PersistentVolumeClaimRetentionPolicy.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("defaults wrong: %+v", sp)
	}
	if c := sp.VolumeClaimTemplates[0]; *c.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || c.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim template defaults: volumeMode %v phase %q", c.Spec.VolumeMode, c.Status.Phase)
	}
	if msgs := k.NameValidation("db.primary", false); len(msgs) == 0 {
		t.Errorf("statefulset name with a dot accepted; must be a DNS label")
	}

	s.Status.ReadyReplicas = 1
	want := []interface{}{"1/1", registry.Since(created.Time), "web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36"}
	if got := k.Row(s); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v, want %#v", got, want)
	}

	// replicas, template, update strategy may change; the service name may not
	up := s.DeepCopy()
	up.Spec.Replicas = ptrTo[int32](3)
	up.Spec.Template.Spec.Containers[0].Image = "bosun.local/hello:v2"
	if errs := update(k, up, s); len(errs) != 0 {
		t.Errorf("allowed update rejected: %v", errs)
	}
	bad := s.DeepCopy()
	bad.Spec.ServiceName = "other"
	wantErrs(t, update(k, bad, s), "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")

	inv := newStatefulSet()
	inv.Spec.PodManagementPolicy = "Sometimes"
	inv.Spec.Template.Labels = map[string]string{"app": "x"}
	inv.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: ptrTo(intstr.FromInt32(0))}}
	wantErrs(t, create(k, inv),
		`spec.podManagementPolicy: Invalid value: "Sometimes": must be 'OrderedReady' or 'Parallel'`,
		"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
		"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: cannot be 0")

	_, _, sel := k.Scale.Get(s)
	if sel != "app=web" {
		t.Errorf("scale selector = %q", sel)
	}
}

func newDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels},
		Template: podTemplate(appLabels, ""),
	}}
}

func TestDaemonSet(t *testing.T) {
	k := kindFor(t, "apps", "daemonsets")
	d := newDaemonSet()
	d.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	if errs := create(k, d); len(errs) != 0 {
		t.Fatalf("valid daemonset rejected: %v", errs)
	}
	ru := d.Spec.UpdateStrategy.RollingUpdate
	if d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil ||
		*ru.MaxUnavailable != intstr.FromInt32(1) || *ru.MaxSurge != intstr.FromInt32(0) || *d.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("defaults wrong: %+v", d.Spec.UpdateStrategy)
	}
	if g := d.Annotations[daemonSetTemplateGenerationAnnotation]; g != "1" {
		t.Errorf("template generation on create = %q, want 1", g)
	}

	// a template change bumps the template generation, other changes do not
	changed := d.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "bosun.local/hello:v2"
	update(k, changed, d)
	if g := changed.Annotations[daemonSetTemplateGenerationAnnotation]; g != "2" {
		t.Errorf("template generation after template change = %q, want 2", g)
	}
	same := d.DeepCopy()
	same.Spec.MinReadySeconds = 5
	same.Annotations[daemonSetTemplateGenerationAnnotation] = "9" // users cannot set it
	update(k, same, d)
	if g := same.Annotations[daemonSetTemplateGenerationAnnotation]; g != "1" {
		t.Errorf("template generation after other change = %q, want 1", g)
	}

	// the same manifest sent again (without defaults) is no template change
	again := newDaemonSet()
	again.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	update(k, again, d)
	if g := again.Annotations[daemonSetTemplateGenerationAnnotation]; g != "1" {
		t.Errorf("template generation after resending the manifest = %q, want 1", g)
	}

	d.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}
	want := []interface{}{int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", registry.Since(created.Time),
		"web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36", "app=web"}
	if got := k.Row(d); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}

	both := newDaemonSet()
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	both.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &one, MaxSurge: &one}}
	wantErrs(t, create(k, both), "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero")
	none := newDaemonSet()
	none.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero, MaxSurge: &zero}}
	wantErrs(t, create(k, none), "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0")

	sel := d.DeepCopy()
	sel.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "x": "y"}}
	sel.Spec.Template.Labels = map[string]string{"app": "web", "x": "y"}
	got := update(k, sel, d)
	if len(got) != 1 || got[0][:len("spec.selector: Invalid value")] != "spec.selector: Invalid value" {
		t.Errorf("selector change: %v, want one immutable error", got)
	}
}

func TestControllerRevision(t *testing.T) {
	k := kindFor(t, "apps", "controllerrevisions")
	r := &appsv1.ControllerRevision{ObjectMeta: meta("agent-5d4f"), Revision: 2, Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}}
	r.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", Controller: ptrTo(true)}}
	if errs := create(k, r); len(errs) != 0 {
		t.Fatalf("valid revision rejected: %v", errs)
	}
	want := []interface{}{"daemonset.apps/agent", int64(2), registry.Since(created.Time)}
	if got := k.Row(r); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v, want %#v", got, want)
	}
	wantErrs(t, create(k, &appsv1.ControllerRevision{ObjectMeta: meta("x"), Revision: -1}),
		"data: Required value: data is mandatory",
		"revision: Invalid value: -1: must be greater than or equal to 0")
	changed := r.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"x":1}}`)
	if got := update(k, changed, r); len(got) != 1 {
		t.Errorf("data change: %v, want one immutable error", got)
	}
	orphan := r.DeepCopy()
	orphan.OwnerReferences = nil
	if got := k.Row(orphan)[0]; got != "<none>" {
		t.Errorf("controller of an orphan = %v", got)
	}
}
