package core

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func kindByResource(t *testing.T, resource string) *registry.Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind %q", resource)
	return nil
}

// cellText renders a cell the way the API server's JSON does (Since cells aside).
func cellText(t *testing.T, c interface{}) string {
	t.Helper()
	if s, ok := c.(registry.Since); ok {
		return "since:" + time.Time(s).UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal cell %v: %v", c, err)
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

func newPod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "bosun.local/hello:v1"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func TestPodPrepareForCreate(t *testing.T) {
	k := kindByResource(t, "pods")
	res := func(req, lim corev1.ResourceList) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: req, Limits: lim}
	}
	cpuMem := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	tests := []struct {
		name string
		res  corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"no resources", corev1.ResourceRequirements{}, corev1.PodQOSBestEffort},
		{"limits only (requests defaulted)", res(nil, cpuMem("100m", "64Mi")), corev1.PodQOSGuaranteed},
		{"requests equal limits", res(cpuMem("100m", "64Mi"), cpuMem("100m", "64Mi")), corev1.PodQOSGuaranteed},
		{"requests below limits", res(cpuMem("50m", "64Mi"), cpuMem("100m", "64Mi")), corev1.PodQOSBurstable},
		{"requests only", res(cpuMem("50m", "64Mi"), nil), corev1.PodQOSBurstable},
		{"cpu limit only", res(nil, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}), corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod("p", func(p *corev1.Pod) {
				p.Spec.Containers[0].Resources = tt.res
				p.Status.Phase = corev1.PodRunning
				p.Status.PodIP = "10.42.0.9"
			})
			k.PrepareForCreate(p)
			if p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
				t.Errorf("status after create = %+v, want only phase Pending", p.Status)
			}
			if p.Status.QOSClass != tt.want {
				t.Errorf("qosClass = %s, want %s", p.Status.QOSClass, tt.want)
			}
			if *p.Spec.EnableServiceLinks != true || *p.Spec.Priority != 0 || *p.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
				t.Errorf("pod defaults missing: %+v", p.Spec)
			}
		})
	}
	gated := newPod("g", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}} })
	k.PrepareForCreate(gated)
	if len(gated.Status.Conditions) != 1 || gated.Status.Conditions[0].Reason != "SchedulingGated" {
		t.Errorf("gated pod conditions = %+v", gated.Status.Conditions)
	}
}

func TestPodDefaultsRequestsFromLimits(t *testing.T) {
	k := kindByResource(t, "pods")
	p := newPod("p", func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}
		p.Spec.HostNetwork = true
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
	k.Default(p)
	r := p.Spec.Containers[0].Resources.Requests
	if m := r[corev1.ResourceMemory]; m.String() != "128Mi" {
		t.Errorf("memory request = %s, want 128Mi from the limit", m.String())
	}
	if c := r[corev1.ResourceCPU]; c.String() != "10m" {
		t.Errorf("cpu request = %s, want 10m kept", c.String())
	}
	if hp := p.Spec.Containers[0].Ports[0].HostPort; hp != 8080 {
		t.Errorf("hostPort under hostNetwork = %d, want 8080", hp)
	}
	if p.Spec.DeprecatedServiceAccount != p.Spec.ServiceAccountName {
		t.Errorf("serviceAccount %q != serviceAccountName %q", p.Spec.DeprecatedServiceAccount, p.Spec.ServiceAccountName)
	}
	// Templates do not get pod-only defaults.
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}
	DefaultPodTemplateSpec(&tmpl)
	if tmpl.Spec.Containers[0].Resources.Requests != nil || tmpl.Spec.EnableServiceLinks != nil {
		t.Errorf("template got pod-only defaults: %+v", tmpl.Spec)
	}
}

func TestPodValidateCreate(t *testing.T) {
	k := kindByResource(t, "pods")
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", nil, nil},
		{"hostNetwork hostPort mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81}}
		}, []string{"spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true"}},
		{"gated pod with node", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "g"}}
			p.Spec.NodeName = "n1"
		}, []string{"spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"}},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}, []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
		{"init container probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"init container duplicates a container name", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []string{`spec.initContainers[0].name: Duplicate value: "app"`}},
		{"toleration without key needs Exists", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, []string{"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""}},
		{"token volume without service account", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}}
		}, []string{"spec.volumes[0].projected.sources[0].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set"}},
		{"image with spaces", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " busybox" },
			[]string{`spec.containers[0].image: Invalid value: " busybox": must not have leading or trailing whitespace`}},
		{"node affinity value", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a b"}}},
					MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1", "n2"}}},
				}}}}}
		}, []string{
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
		}},
		{"deletion cost", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": "lots"}
		}, []string{`metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "lots": must be a 32bit integer`}},
		{"active deadline zero", func(p *corev1.Pod) {
			z := int64(0)
			p.Spec.ActiveDeadlineSeconds = &z
		}, []string{"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod("p", tt.mutate)
			k.PrepareForCreate(p)
			k.Default(p)
			got := errStrings(k.Validate(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPodValidateUpdate(t *testing.T) {
	k := kindByResource(t, "pods")
	base := newPod("p", func(p *corev1.Pod) {
		p.ResourceVersion = "5"
		p.Spec.NodeName = "node-1"
		p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	})
	k.Default(base)
	tests := []struct {
		name    string
		mutate  func(*corev1.Pod)
		wantSub []string // each error must contain the matching substring
	}{
		{"image change", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "bosun.local/hello:v2" }, nil},
		{"add toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "b", Operator: corev1.TolerationOpExists})
		}, nil},
		{"set activeDeadlineSeconds", func(p *corev1.Pod) { v := int64(30); p.Spec.ActiveDeadlineSeconds = &v }, nil},
		{"replace without nodeName keeps the binding", func(p *corev1.Pod) { p.Spec.NodeName = "" }, nil},
		{"move to another node", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" },
			[]string{"spec: Forbidden: pod updates may not change fields other than"}},
		{"change restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"}},
		{"add container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x"})
		}, []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
		{"remove toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil },
			[]string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{"new scheduling gate", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "late"}} },
			[]string{"spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
				"spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'late'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base.DeepCopy()
			tt.mutate(p)
			k.PrepareForUpdate(p, base)
			k.Default(p)
			errs := append(k.Validate(p), k.ValidateUpdate(p, base)...)
			got := errStrings(errs)
			if len(got) != len(tt.wantSub) {
				t.Fatalf("got %d errors %q, want %d", len(got), got, len(tt.wantSub))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.wantSub[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], tt.wantSub[i])
				}
			}
		})
	}
}

func TestPodGracefulDelete(t *testing.T) {
	k := kindByResource(t, "pods")
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name      string
		nodeName  string
		phase     corev1.PodPhase
		podGrace  *int64
		requested *int64
		want      int64
	}{
		{"scheduled, default grace", "n1", corev1.PodRunning, i64(30), nil, 30},
		{"scheduled, pod grace", "n1", corev1.PodRunning, i64(5), nil, 5},
		{"scheduled, requested", "n1", corev1.PodRunning, i64(30), i64(0), 0},
		{"scheduled, requested 10", "n1", corev1.PodRunning, i64(30), i64(10), 10},
		{"unscheduled", "", corev1.PodPending, i64(30), nil, 0},
		{"succeeded", "n1", corev1.PodSucceeded, i64(30), nil, 0},
		{"failed", "n1", corev1.PodFailed, i64(30), i64(20), 0},
		{"negative", "n1", corev1.PodRunning, i64(-5), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod("p", func(p *corev1.Pod) {
				p.Spec.NodeName = tt.nodeName
				p.Status.Phase = tt.phase
				p.Spec.TerminationGracePeriodSeconds = tt.podGrace
			})
			got, graceful := k.GracefulDelete(p, tt.requested)
			if got != tt.want || !graceful {
				t.Errorf("grace = %d, %v; want %d, true", got, graceful, tt.want)
			}
		})
	}
}

func TestPodRow(t *testing.T) {
	k := kindByResource(t, "pods")
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	terminated := func(r string, code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: r, ExitCode: code}}
	}
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name         string
		mutate       func(*corev1.Pod)
		ready        string
		status       string
		restartsPref string
	}{
		{"pending", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }, "0/1", "Pending", "0"},
		{"container creating", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: waiting("ContainerCreating")}}
		}, "0/1", "ContainerCreating", "0"},
		{"running", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}
		}, "1/1", "Running", "0"},
		{"crash loop with restarts", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: waiting("CrashLoopBackOff"), RestartCount: 3,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1,
					FinishedAt: metav1.NewTime(time.Now().Add(-5 * time.Minute))}}}}
		}, "0/1", "CrashLoopBackOff", "3 (5m"},
		{"init running", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: running}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}
		}, "0/1", "Init:0/1", "0"},
		{"init crash loop", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: waiting("CrashLoopBackOff"), RestartCount: 2}}
		}, "0/1", "Init:CrashLoopBackOff", "2"},
		{"init failed with exit code", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: terminated("", 2)}}
		}, "0/1", "Init:ExitCode:2", "0"},
		{"sidecar counts as a container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", Image: "busybox", RestartPolicy: &always}}
			started := true
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "side", Started: &started, Ready: true, State: running}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}
		}, "2/2", "Running", "0"},
		{"completed", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: terminated("Completed", 0)}}
		}, "0/1", "Completed", "0"},
		{"error", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: terminated("Error", 1)}}
		}, "0/1", "Error", "0"},
		{"one completed one running is NotReady", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x"})
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{
				{Name: "app", State: terminated("Completed", 0)},
				{Name: "b", Ready: true, State: running},
			}
		}, "1/2", "NotReady", "0"},
		{"terminating", func(p *corev1.Pod) {
			now := metav1.Now()
			p.DeletionTimestamp = &now
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, State: running}}
		}, "1/1", "Terminating", "0"},
		{"node lost", func(p *corev1.Pod) {
			now := metav1.Now()
			p.DeletionTimestamp = &now
			p.Status.Phase = corev1.PodRunning
			p.Status.Reason = "NodeLost"
		}, "0/1", "Unknown", "0"},
		{"scheduling gated", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SchedulingGated"}}
		}, "0/1", "SchedulingGated", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod("p", tt.mutate)
			p.CreationTimestamp = metav1.NewTime(created)
			row := k.Row(p)
			if len(row) != len(k.Columns) {
				t.Fatalf("row has %d cells for %d columns", len(row), len(k.Columns))
			}
			if got := cellText(t, row[0]); got != tt.ready {
				t.Errorf("READY = %q, want %q", got, tt.ready)
			}
			if got := cellText(t, row[1]); got != tt.status {
				t.Errorf("STATUS = %q, want %q", got, tt.status)
			}
			if got := cellText(t, row[2]); !strings.HasPrefix(got, tt.restartsPref) {
				t.Errorf("RESTARTS = %q, want prefix %q", got, tt.restartsPref)
			}
			if got := cellText(t, row[3]); got != "since:2026-01-02T03:04:05Z" {
				t.Errorf("AGE = %q", got)
			}
		})
	}
	wide := newPod("w", func(p *corev1.Pod) {
		p.Spec.NodeName = "node-1"
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}}
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: "a", Status: corev1.ConditionTrue}, {Type: "b", Status: corev1.ConditionFalse}}
	})
	row := k.Row(wide)
	var got []string
	for _, c := range row[4:] {
		got = append(got, cellText(t, c))
	}
	if strings.Join(got, " ") != "10.42.0.7 node-1 <none> 1/2" {
		t.Errorf("wide cells = %q", got)
	}
}

func TestPodFields(t *testing.T) {
	k := kindByResource(t, "pods")
	p := newPod("p", func(p *corev1.Pod) {
		p.Spec.NodeName = "node-1"
		p.Spec.HostNetwork = true
		p.Spec.ServiceAccountName = "builder"
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}, {IP: "fd00::7"}}
		p.Status.NominatedNodeName = "node-2"
	})
	k.Default(p)
	f := k.Fields(p)
	want := map[string]string{
		"spec.nodeName": "node-1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
		"spec.serviceAccountName": "builder", "spec.hostNetwork": "true", "status.phase": "Running",
		"status.podIP": "10.42.0.7", "status.nominatedNodeName": "node-2",
	}
	if len(f) != len(want) {
		t.Errorf("fields = %v", f)
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("field %s = %q, want %q", k, f[k], v)
		}
	}
}

func TestPodStatusUpdate(t *testing.T) {
	k := kindByResource(t, "pods")
	old := newPod("p", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever })
	old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
	p := old.DeepCopy()
	p.Status.PodIP = "10.42.0.7"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.8"}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}, {Name: "ghost"}}
	got := errStrings(k.ValidateStatusUpdate(p, old))
	if p.Status.PodIP != "10.42.0.7" || len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != "10.42.0.7" {
		t.Errorf("podIP is authoritative: %q %v", p.Status.PodIP, p.Status.PodIPs)
	}
	want := []string{
		"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPodStatusIPs(t *testing.T) {
	k := kindByResource(t, "pods")
	old := newPod("p", nil)
	tests := []struct {
		name   string
		podIP  string
		podIPs []string
		wantIP string
		want   string
	}{
		{"list only", "", []string{"10.42.0.5"}, "10.42.0.5", ""},
		{"singular only", "10.42.0.5", nil, "10.42.0.5", ""},
		{"dual stack", "", []string{"10.42.0.5", "fd00::5"}, "10.42.0.5", ""},
		{"two v4", "", []string{"10.42.0.5", "10.42.0.6"}, "10.42.0.5",
			`status.podIPs: Invalid value: []v1.PodIP{v1.PodIP{IP:"10.42.0.5"}, v1.PodIP{IP:"10.42.0.6"}}: may specify no more than one IP for each IP family`},
		{"duplicate", "", []string{"fd00::5", "fd00::5"}, "fd00::5",
			`status.podIPs: Invalid value: []v1.PodIP{v1.PodIP{IP:"fd00::5"}, v1.PodIP{IP:"fd00::5"}}: may specify no more than one IP for each IP family` + "\n" +
				`status.podIPs[1]: Duplicate value: v1.PodIP{IP:"fd00::5"}`},
		{"garbage", "", []string{"nope"}, "nope", `status.podIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := old.DeepCopy()
			p.Status.PodIP = tt.podIP
			for _, ip := range tt.podIPs {
				p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
			}
			got := joinErrs(errStrings(k.ValidateStatusUpdate(p, old)))
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if p.Status.PodIP != tt.wantIP {
				t.Errorf("podIP = %q, want %q", p.Status.PodIP, tt.wantIP)
			}
		})
	}
}

func TestPodStatusTransitions(t *testing.T) {
	k := kindByResource(t, "pods")
	term := func(code int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		was    corev1.ContainerState
		qos    corev1.PodQOSClass
		want   string
	}{
		{"always restarts", corev1.RestartPolicyAlways, term(0), "", ""},
		{"on failure after failure", corev1.RestartPolicyOnFailure, term(1), "", ""},
		{"on failure after success", corev1.RestartPolicyOnFailure, term(0), "",
			"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"},
		{"qos kept when empty", corev1.RestartPolicyAlways, running, "", ""},
		{"qos change", corev1.RestartPolicyAlways, running, corev1.PodQOSGuaranteed,
			`status.qosClass: Invalid value: "Guaranteed": field is immutable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newPod("p", func(p *corev1.Pod) { p.Spec.RestartPolicy = tt.policy })
			old.Status.QOSClass = corev1.PodQOSBestEffort
			old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: tt.was}}
			p := old.DeepCopy()
			p.Status.QOSClass = tt.qos
			p.Status.ContainerStatuses[0].State = running
			if got := joinErrs(errStrings(k.ValidateStatusUpdate(p, old))); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.qos == "" && p.Status.QOSClass != corev1.PodQOSBestEffort {
				t.Errorf("qosClass not carried over: %q", p.Status.QOSClass)
			}
		})
	}
}

func TestEphemeralContainers(t *testing.T) {
	k := kindByResource(t, "pods")
	old := newPod("p", func(p *corev1.Pod) { p.ResourceVersion = "3" })
	k.PrepareForCreate(old)
	k.Default(old)
	debug := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "bosun.local/busybox:1.36", Stdin: true, TTY: true}, TargetContainerName: "app"}

	p := old.DeepCopy()
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debug}
	k.Default(p)
	if errs := ValidateEphemeralContainersUpdate(p, old); len(errs) != 0 {
		t.Fatalf("adding a debug container rejected: %v", errs)
	}
	if p.Spec.EphemeralContainers[0].TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("ephemeral container not defaulted")
	}

	bad := p.DeepCopy()
	bad.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}
	bad.Spec.EphemeralContainers[0].TargetContainerName = "ghost"
	got := joinErrs(errStrings(ValidateEphemeralContainersUpdate(bad, old)))
	want := "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container\n" +
		`spec.ephemeralContainers[0].targetContainerName: Not found: "ghost"`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	removed := old.DeepCopy()
	withDebug := p.DeepCopy()
	if got := joinErrs(errStrings(ValidateEphemeralContainersUpdate(removed, withDebug))); got != "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be removed\n" {
		t.Errorf("removal: %q", got)
	}
}

func TestAffinityLabelKeys(t *testing.T) {
	k := kindByResource(t, "pods")
	p := newPod("p", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web", "pod-template-hash": "abc"}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey:       "kubernetes.io/hostname",
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				MatchLabelKeys:    []string{"pod-template-hash"},
				MismatchLabelKeys: []string{"missing"},
			}}}}
	})
	k.PrepareForCreate(p)
	got := p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions
	if len(got) != 1 || got[0].Key != "pod-template-hash" || got[0].Operator != metav1.LabelSelectorOpIn || got[0].Values[0] != "abc" {
		t.Errorf("match expressions %+v", got)
	}
}
