package core

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestDefaultPodSpec(t *testing.T) {
	s := corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "a", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}},
			{Name: "b", Image: "nginx:1.25"},
			{Name: "c", Image: "registry:5000/x:latest"},
			{Name: "d", Image: "registry:5000/x"},
			{Name: "e", Image: "x@sha256:abcd"},
			{Name: "f", Image: "x", ImagePullPolicy: corev1.PullNever},
		},
		Volumes: []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
			{Name: "hp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
			{Name: "none"},
		},
	}
	DefaultPodSpec(&s)
	if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst ||
		*s.TerminationGracePeriodSeconds != 30 || s.SchedulerName != "default-scheduler" || s.SecurityContext == nil {
		t.Errorf("spec defaults: %+v", s)
	}
	wantPull := []corev1.PullPolicy{"Always", "IfNotPresent", "Always", "Always", "IfNotPresent", "Never"}
	for i, c := range s.Containers {
		if c.ImagePullPolicy != wantPull[i] {
			t.Errorf("container %s (%s): pull policy %s, want %s", c.Name, c.Image, c.ImagePullPolicy, wantPull[i])
		}
		if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != "File" {
			t.Errorf("container %s termination message defaults: %q %q", c.Name, c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
	}
	if s.Containers[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol %q", s.Containers[0].Ports[0].Protocol)
	}
	pr := s.Containers[0].LivenessProbe
	if pr.TimeoutSeconds != 1 || pr.PeriodSeconds != 10 || pr.SuccessThreshold != 1 || pr.FailureThreshold != 3 ||
		pr.HTTPGet.Scheme != corev1.URISchemeHTTP || pr.HTTPGet.Path != "/" {
		t.Errorf("probe defaults: %+v", pr)
	}
	if *s.Volumes[0].ConfigMap.DefaultMode != 420 || *s.Volumes[1].Secret.DefaultMode != 420 ||
		*s.Volumes[2].HostPath.Type != "" || s.Volumes[3].EmptyDir == nil {
		t.Errorf("volume defaults: %+v", s.Volumes)
	}
	// Defaulting twice changes nothing.
	again := s.DeepCopy()
	DefaultPodSpec(again)
	if again.String() != s.String() {
		t.Errorf("defaulting is not idempotent")
	}
}

func validSpec() corev1.PodSpec {
	s := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "bosun.local/hello:v1"}}}
	DefaultPodSpec(&s)
	return s
}

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestValidatePodSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   []string
	}{
		{"valid", func(*corev1.PodSpec) {}, nil},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"no image", func(s *corev1.PodSpec) { s.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"bad name", func(s *corev1.PodSpec) { s.Containers[0].Name = "Foo" },
			[]string{`spec.containers[0].name: Invalid value: "Foo": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"duplicate name", func(s *corev1.PodSpec) { s.Containers = append(s.Containers, s.Containers[0]) },
			[]string{`spec.containers[1].name: Duplicate value: "app"`}},
		{"bad restart policy", func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"bad dns policy", func(s *corev1.PodSpec) { s.DNSPolicy = "x" },
			[]string{`spec.dnsPolicy: Unsupported value: "x": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`}},
		{"mount of unknown volume", func(s *corev1.PodSpec) {
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[0].name: Not found: "data"`}},
		{"two volume sources", func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, []string{`spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type`}},
		{"bad env name", func(s *corev1.PodSpec) { s.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} },
			[]string{`spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`}},
		{"downward API env", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{
				{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
				{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}},
				{Name: "PHASE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.phase"}}},
				{Name: "BAD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.bogus"}}},
				{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
				{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("2")}}},
			}
		}, []string{
			`spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`,
			`spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Invalid value: "spec.bogus": error converting fieldPath: field label not supported: spec.bogus`,
			`spec.containers[0].env[5].valueFrom.resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor's values 1m and 1 are supported with the cpu resource`,
		}},
		{"envFrom without source", func(s *corev1.PodSpec) { s.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "X_"}} },
			[]string{"spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"}},
		{"sysctls", func(s *corev1.PodSpec) {
			s.HostNetwork = true
			s.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}, {Name: "Bad!"}, {Name: "kernel.shm_rmid_forced"}, {Name: "kernel.shm_rmid_forced"}}
		}, []string{
			`spec.securityContext.sysctls[0].name: Invalid value: "net.core.somaxconn": may not be specified when 'hostNetwork' is true`,
			`spec.securityContext.sysctls[1].name: Invalid value: "Bad!": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`,
			`spec.securityContext.sysctls[3].name: Duplicate value: "kernel.shm_rmid_forced"`,
		}},
		{"hugepages alone", func(s *corev1.PodSpec) {
			hp := corev1.ResourceList{"hugepages-2Mi": resource.MustParse("2Mi")}
			s.Containers[0].Resources = corev1.ResourceRequirements{Limits: hp, Requests: hp}
		}, []string{"spec.containers[0].resources: Forbidden: HugePages require cpu or memory"}},
		{"unknown resource claim", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
		}, []string{`spec.containers[0].resources.claims[0]: Not found: "gpu": must be one of the names in pod.spec.resourceClaims which is empty`}},
		{"seccomp localhost without profile", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}
		}, []string{"spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost"}},
		{"privileged without escalation", func(s *corev1.PodSpec) {
			yes, no := true, false
			s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes, AllowPrivilegeEscalation: &no}
		}, []string{"spec.containers[0].securityContext: Invalid value: v1.SecurityContext{Capabilities:(*v1.Capabilities)(nil), Privileged:(*bool)(0x"}},
		{"topology spread", func(s *corev1.PodSpec) {
			two := int32(2)
			sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel, MinDomains: &two},
				{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel, MatchLabelKeys: []string{"app"}},
			}
		}, []string{
			`spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: "{zone, ScheduleAnyway}"`,
			`spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway`,
			`spec.topologySpreadConstraints[1].maxSkew: Invalid value: 0: must be greater than zero`,
			`spec.topologySpreadConstraints[1].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`,
		}},
		{"http probe", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromString("Not_A_Port"), Scheme: "FTP", HTTPHeaders: []corev1.HTTPHeader{{Name: "bad header"}}}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 2, FailureThreshold: 3}
		}, []string{
			`spec.containers[0].livenessProbe.httpGet.port: Invalid value: "Not_A_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
			`spec.containers[0].livenessProbe.httpGet.httpHeaders: Invalid value: "bad header": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`,
			`spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`,
		}},
		{"secret volume items", func(s *corev1.PodSpec) {
			mode := int32(01000)
			s.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls", DefaultMode: &mode,
				Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "../escape"}, {Path: "/abs"}}}}}}
		}, []string{
			"spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
			`spec.volumes[0].secret.items[0].path: Invalid value: "../escape": must not contain '..'`,
			"spec.volumes[0].secret.items[1].key: Required value",
			`spec.volumes[0].secret.items[1].path: Invalid value: "/abs": must be a relative path`,
		}},
		{"env key refs", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "B", Value: "x", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{}},
			}
		}, []string{
			"spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value",
			"spec.containers[0].env[1].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
			"spec.containers[0].env[2].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
		}},
		{"dns none without config", func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone },
			[]string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"resize policy", func(s *corev1.PodSpec) {
			s.RestartPolicy = corev1.RestartPolicyNever
			s.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.RestartContainer}}
		}, []string{`spec.containers[0].resizePolicy: Invalid value: "RestartContainer": must be 'NotRequired' when ` + "`restartPolicy`" + ` is 'Never'`}},
		{"port out of range", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: "TCP"}}
		}, []string{`spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`}},
		{"request above limit", func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
			}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "200m": must be less than or equal to cpu limit of 100m`}},
		{"negative quantity", func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}}
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"probe with two handlers", func(s *corev1.PodSpec) {
			s.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
		}, []string{`spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`}},
		{"probe without handler", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
		}, []string{`spec.containers[0].livenessProbe: Required value: must specify a handler type`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			got := errStrings(ValidatePodSpec(&s, field.NewPath("spec")))
			if len(got) == 1 && len(tt.want) == 1 && strings.HasSuffix(tt.want[0], "(0x") && strings.HasPrefix(got[0], tt.want[0]) {
				return // the value holds pointers, printed as addresses
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidatePodTemplateSpec(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: validSpec()}
	tmpl.Labels = map[string]string{"app": "web"}
	if errs := ValidatePodTemplateSpec(&tmpl, field.NewPath("spec", "template")); len(errs) != 0 {
		t.Fatalf("valid template: %v", errs)
	}
	tmpl.Spec.Containers[0].Image = ""
	tmpl.Labels["bad key!"] = "x"
	got := errStrings(ValidatePodTemplateSpec(&tmpl, field.NewPath("spec", "template")))
	want := []string{
		`spec.template.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		"spec.template.spec.containers[0].image: Required value",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Fields of features Kubernetes 1.33 keeps off by default behave as upstream: dropped, or
// refused where the drop would leave an empty source.
func TestDisabledFeatures(t *testing.T) {
	sig := corev1.SIGTERM
	s := corev1.PodSpec{
		Resources:      &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		ResourceClaims: []corev1.PodResourceClaim{{Name: "gpu"}},
		Containers: []corev1.Container{{Name: "a", Image: "x", Lifecycle: &corev1.Lifecycle{StopSignal: &sig},
			Resources: corev1.ResourceRequirements{Claims: []corev1.ResourceClaim{{Name: "gpu"}}}}},
		Volumes: []corev1.Volume{{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "x:1"}}}},
	}
	DefaultPodSpec(&s)
	if s.Resources != nil || s.ResourceClaims != nil || s.Containers[0].Lifecycle.StopSignal != nil || s.Containers[0].Resources.Claims != nil {
		t.Errorf("disabled fields kept: %+v", s)
	}
	got := joinErrs(errStrings(ValidatePodSpec(&s, field.NewPath("spec"))))
	if got != "spec.volumes[0]: Required value: must specify a volume type" {
		t.Errorf("image volume: %q", got)
	}
}
