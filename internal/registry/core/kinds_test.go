package core

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validObjects are minimal objects a user could create, one per kind.
func validObjects() map[string]runtime.Object {
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default"}
	cluster := metav1.ObjectMeta{Name: "x"}
	one := int32(1)
	return map[string]runtime.Object{
		"namespaces": &corev1.Namespace{ObjectMeta: cluster},
		"pods":       newPod("x", nil),
		"services": &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		"endpoints": &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}}, Ports: []corev1.EndpointPort{{Port: 8080}}}}},
		"configmaps":      &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a.conf": "x"}},
		"secrets":         &corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"password": "s3cret"}},
		"serviceaccounts": &corev1.ServiceAccount{ObjectMeta: meta},
		"events": &corev1.Event{ObjectMeta: meta, Reason: "Started", Type: "Normal",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}},
		"nodes": &corev1.Node{ObjectMeta: cluster, Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
		"persistentvolumes": &corev1.PersistentVolume{ObjectMeta: cluster, Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}}},
		"persistentvolumeclaims": &corev1.PersistentVolumeClaim{ObjectMeta: meta, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
		"resourcequotas": &corev1.ResourceQuota{ObjectMeta: meta, Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsCPU: resource.MustParse("2")}}},
		"limitranges": &corev1.LimitRange{ObjectMeta: meta, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
		"podtemplates": &corev1.PodTemplate{ObjectMeta: meta, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}},
		"replicationcontrollers": &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{
			Replicas: &one,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}}},
	}
}

func TestKindsNames(t *testing.T) {
	want := map[string]struct {
		kind       string
		short      string
		categories string
		namespaced bool
		status     bool
	}{
		"namespaces":             {"Namespace", "ns", "", false, true},
		"pods":                   {"Pod", "po", "all", true, true},
		"services":               {"Service", "svc", "all", true, true},
		"endpoints":              {"Endpoints", "ep", "", true, false},
		"configmaps":             {"ConfigMap", "cm", "", true, false},
		"secrets":                {"Secret", "", "", true, false},
		"serviceaccounts":        {"ServiceAccount", "sa", "", true, false},
		"events":                 {"Event", "ev", "", true, false},
		"nodes":                  {"Node", "no", "", false, true},
		"persistentvolumes":      {"PersistentVolume", "pv", "", false, true},
		"persistentvolumeclaims": {"PersistentVolumeClaim", "pvc", "", true, true},
		"resourcequotas":         {"ResourceQuota", "quota", "", true, true},
		"limitranges":            {"LimitRange", "limits", "", true, false},
		"podtemplates":           {"PodTemplate", "", "", true, false},
		"replicationcontrollers": {"ReplicationController", "rc", "all", true, true},
	}
	kinds := Kinds()
	if len(kinds) != len(want) {
		t.Errorf("%d kinds, want %d", len(kinds), len(want))
	}
	for _, k := range kinds {
		w, ok := want[k.Resource]
		if !ok {
			t.Errorf("unexpected kind %s", k.Resource)
			continue
		}
		if k.GVK.Group != "" || k.GVK.Version != "v1" || k.GVK.Kind != w.kind {
			t.Errorf("%s: GVK %v", k.Resource, k.GVK)
		}
		if got := strings.Join(k.ShortNames, ","); got != w.short {
			t.Errorf("%s: short names %q, want %q", k.Resource, got, w.short)
		}
		if got := strings.Join(k.Categories, ","); got != w.categories {
			t.Errorf("%s: categories %q, want %q", k.Resource, got, w.categories)
		}
		if k.Namespaced != w.namespaced || k.Status != w.status {
			t.Errorf("%s: namespaced %v status %v", k.Resource, k.Namespaced, k.Status)
		}
		if k.New == nil || k.NewList == nil {
			t.Errorf("%s: New/NewList missing", k.Resource)
		}
	}
	returnsDeleted := map[string]bool{"pods": true, "services": true, "namespaces": true, "serviceaccounts": true,
		"persistentvolumes": true, "persistentvolumeclaims": true, "podtemplates": true, "resourcequotas": true}
	createOnUpdate := map[string]bool{"endpoints": true, "events": true, "limitranges": true}
	for _, k := range kinds {
		if k.ReturnDeletedObject != returnsDeleted[k.Resource] {
			t.Errorf("%s: ReturnDeletedObject = %v", k.Resource, k.ReturnDeletedObject)
		}
		if k.CreateOnUpdate != createOnUpdate[k.Resource] {
			t.Errorf("%s: CreateOnUpdate = %v", k.Resource, k.CreateOnUpdate)
		}
	}
	names := []struct {
		resource, name string
		valid          bool
	}{
		{"namespaces", "team-a", true}, {"namespaces", "team.a", false},
		{"services", "web", true}, {"services", "1web", false}, {"services", "web.x", false},
	}
	for _, n := range names {
		k := kindByResource(t, n.resource)
		if k.NameValidation == nil {
			t.Fatalf("%s: no name validation", n.resource)
		}
		if got := len(k.NameValidation(n.name, false)) == 0; got != n.valid {
			t.Errorf("%s name %q valid = %v, want %v", n.resource, n.name, got, n.valid)
		}
	}
	if n := kindByResource(t, "nodes"); !n.KeepStatusOnCreate {
		t.Errorf("nodes must keep status on create")
	}
	if rc := kindByResource(t, "replicationcontrollers"); rc.Scale == nil {
		t.Errorf("replicationcontrollers need a scale subresource")
	}
}

// TestKindsAcceptValidObjects runs each kind's create path on a minimal object: it must
// validate cleanly and give one cell per column.
func TestKindsAcceptValidObjects(t *testing.T) {
	objs := validObjects()
	for _, k := range Kinds() {
		t.Run(k.Resource, func(t *testing.T) {
			obj, ok := objs[k.Resource]
			if !ok {
				t.Fatalf("no sample object")
			}
			if k.PrepareForCreate != nil {
				k.PrepareForCreate(obj)
			}
			if k.Default != nil {
				k.Default(obj)
			}
			if k.Validate != nil {
				if errs := k.Validate(obj); len(errs) != 0 {
					t.Fatalf("valid object rejected: %v", errs)
				}
			}
			if k.Row == nil || k.Columns == nil {
				t.Fatalf("no table columns")
			}
			// The server fills the "name"-format column itself when a kind has one.
			want := len(k.Columns)
			for _, c := range k.Columns {
				if c.Format == "name" {
					want--
				}
			}
			if row := k.Row(obj); len(row) != want {
				t.Errorf("row has %d cells, want %d", len(row), want)
			}
			// An unchanged update is valid too.
			old := obj.DeepCopyObject()
			upd := obj.DeepCopyObject()
			if k.PrepareForUpdate != nil {
				k.PrepareForUpdate(upd, old)
			}
			if k.Default != nil {
				k.Default(upd)
			}
			if k.ValidateUpdate != nil {
				if errs := k.ValidateUpdate(upd, old); len(errs) != 0 {
					t.Errorf("unchanged update rejected: %v", errs)
				}
			}
			if k.ValidateStatusUpdate != nil {
				if errs := k.ValidateStatusUpdate(upd, old); len(errs) != 0 {
					t.Errorf("unchanged status update rejected: %v", errs)
				}
			}
		})
	}
}

func TestServiceDefaults(t *testing.T) {
	k := kindByResource(t, "services")
	tests := []struct {
		name  string
		svc   corev1.ServiceSpec
		check func(t *testing.T, s *corev1.ServiceSpec)
	}{
		{"cluster IP", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}, func(t *testing.T, s *corev1.ServiceSpec) {
			if s.Type != corev1.ServiceTypeClusterIP || s.SessionAffinity != corev1.ServiceAffinityNone ||
				s.Ports[0].Protocol != corev1.ProtocolTCP || s.Ports[0].TargetPort != intstr.FromInt32(80) ||
				*s.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster || s.ExternalTrafficPolicy != "" {
				t.Errorf("defaults: %+v", s)
			}
		}},
		{"named target port kept", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
			func(t *testing.T, s *corev1.ServiceSpec) {
				if s.Ports[0].TargetPort != intstr.FromString("http") {
					t.Errorf("targetPort %v", s.Ports[0].TargetPort)
				}
			}},
		{"node port", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
			func(t *testing.T, s *corev1.ServiceSpec) {
				if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.AllocateLoadBalancerNodePorts != nil {
					t.Errorf("defaults: %+v", s)
				}
			}},
		{"load balancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
			func(t *testing.T, s *corev1.ServiceSpec) {
				if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.AllocateLoadBalancerNodePorts == nil || !*s.AllocateLoadBalancerNodePorts {
					t.Errorf("defaults: %+v", s)
				}
			}},
		{"client IP affinity", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 80}}},
			func(t *testing.T, s *corev1.ServiceSpec) {
				if s.SessionAffinityConfig == nil || *s.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 {
					t.Errorf("affinity config: %+v", s.SessionAffinityConfig)
				}
			}},
		{"external name", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
			func(t *testing.T, s *corev1.ServiceSpec) {
				if s.InternalTrafficPolicy != nil {
					t.Errorf("internalTrafficPolicy set on ExternalName")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}, Spec: tt.svc}
			k.PrepareForCreate(s)
			k.Default(s)
			tt.check(t, &s.Spec)
			if errs := k.Validate(s); len(errs) != 0 {
				t.Errorf("defaulted service invalid: %v", errs)
			}
		})
	}
}

func TestServiceValidation(t *testing.T) {
	k := kindByResource(t, "services")
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
	}{
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"headless without ports", func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }, nil},
		{"two ports need names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}}
		}, []string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value"}},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80}, {Name: "web", Port: 443}}
		}, []string{`spec.ports[1].name: Duplicate value: "web"`}},
		{"duplicate ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
		}, []string{`spec.ports[1]: Duplicate value: v1.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`}},
		{"bad protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" },
			[]string{`spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`}},
		{"bad type", func(s *corev1.Service) { s.Spec.Type = "Magic" },
			[]string{`spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{"node port on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"port out of range", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 },
			[]string{"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				"spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"}},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "-x"} },
			[]string{`spec.selector: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"cluster IPs mismatch", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.5"; s.Spec.ClusterIPs = []string{"10.43.0.6"} },
			[]string{`spec.clusterIPs: Invalid value: []string{"10.43.0.6"}: first value must match ` + "`clusterIP`"}},
		{"external name needs a name", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName },
			[]string{"spec.externalName: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
			tt.mutate(s)
			k.PrepareForCreate(s)
			k.Default(s)
			got := errStrings(k.Validate(s))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestServiceUpdate(t *testing.T) {
	k := kindByResource(t, "services")
	old := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", ResourceVersion: "3"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.43.0.20", ClusterIPs: []string{"10.43.0.20"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}
	k.Default(old)

	// A replace without allocated values keeps them.
	upd := old.DeepCopy()
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs, upd.Spec.Ports[0].NodePort = "", nil, 0
	k.PrepareForUpdate(upd, old)
	k.Default(upd)
	if upd.Spec.ClusterIP != "10.43.0.20" || upd.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("allocated values not carried over: %+v", upd.Spec)
	}
	if errs := append(k.Validate(upd), k.ValidateUpdate(upd, old)...); len(errs) != 0 {
		t.Errorf("replace rejected: %v", errs)
	}

	// Changing the cluster IP is refused.
	chg := old.DeepCopy()
	chg.Spec.ClusterIP, chg.Spec.ClusterIPs = "10.43.0.21", nil
	k.PrepareForUpdate(chg, old)
	got := errStrings(k.ValidateUpdate(chg, old))
	if strings.Join(got, "\n") != `spec.clusterIPs[0]: Invalid value: []string{"10.43.0.21"}: may not change once set` {
		t.Errorf("cluster IP change: %q", got)
	}

	// NodePort -> ClusterIP drops the node ports and the external traffic policy.
	toCIP := old.DeepCopy()
	toCIP.Spec.Type = corev1.ServiceTypeClusterIP
	k.PrepareForUpdate(toCIP, old)
	k.Default(toCIP)
	if toCIP.Spec.Ports[0].NodePort != 0 || toCIP.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("type change kept node-port fields: %+v", toCIP.Spec)
	}
	if errs := k.Validate(toCIP); len(errs) != 0 {
		t.Errorf("type change rejected: %v", errs)
	}
}

func TestServiceRow(t *testing.T) {
	k := kindByResource(t, "services")
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		lb   []corev1.LoadBalancerIngress
		want string
	}{
		{"cluster IP", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.0.1"},
			Ports: []corev1.ServicePort{{Port: 443, Protocol: "TCP"}}}, nil, "ClusterIP|10.43.0.1|<none>|443/TCP|<none>"},
		{"node port with selector", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.43.0.9"},
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}}, nil,
			"NodePort|10.43.0.9|<none>|80:30080/TCP,53/UDP|app=web"},
		{"pending load balancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.9"}}, nil,
			"LoadBalancer|10.43.0.9|<pending>|<none>|<none>"},
		{"load balancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.9"}},
			[]corev1.LoadBalancerIngress{{IP: "192.168.1.10"}}, "LoadBalancer|10.43.0.9|192.168.1.10|<none>|<none>"},
		{"long load balancer list", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.9"}},
			[]corev1.LoadBalancerIngress{{IP: "192.168.1.10"}, {IP: "192.168.1.11"}}, "LoadBalancer|10.43.0.9|192.168.1.10,...|<none>|<none>"},
		{"external name", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}, nil,
			"ExternalName|<none>|example.com|<none>|<none>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{Spec: tt.spec}
			s.Status.LoadBalancer.Ingress = tt.lb
			row := k.Row(s)
			var got []string
			for i, c := range row {
				if i == 4 {
					continue // AGE
				}
				got = append(got, cellText(t, c))
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("row = %q, want %q", strings.Join(got, "|"), tt.want)
			}
		})
	}
}

// TestKindsHandleEmptyObjects runs every hook on zero-valued objects: none may panic.
func TestKindsHandleEmptyObjects(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Resource, func(t *testing.T) {
			obj, old := k.New(), k.New()
			if k.PrepareForCreate != nil {
				k.PrepareForCreate(obj)
			}
			if k.Default != nil {
				k.Default(obj)
			}
			if k.Validate != nil {
				_ = k.Validate(obj)
			}
			if k.PrepareForUpdate != nil {
				k.PrepareForUpdate(k.New(), old)
			}
			if k.ValidateUpdate != nil {
				_ = k.ValidateUpdate(k.New(), old)
			}
			if k.ValidateStatusUpdate != nil {
				_ = k.ValidateStatusUpdate(k.New(), old)
			}
			if k.GracefulDelete != nil {
				_, _ = k.GracefulDelete(k.New(), nil)
			}
			if k.Row != nil {
				for _, c := range k.Row(k.New()) {
					_ = cellText(t, c)
				}
			}
			if k.Fields != nil {
				_ = k.Fields(k.New())
			}
			if k.Scale != nil {
				_, _, _ = k.Scale.Get(k.New())
			}
		})
	}
}
