package core

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestServiceTypeChanges replays the type changes upstream's conformance suite makes: the
// client sends back what it read with only the type (and external name) changed.
func TestServiceTypeChanges(t *testing.T) {
	k := kindByResource(t, "services")
	single := corev1.IPFamilyPolicySingleStack
	stored := func(typ corev1.ServiceType) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", ResourceVersion: "7"},
			Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}
		if typ == corev1.ServiceTypeExternalName {
			s.Spec.ExternalName = "old.example.com"
			s.Spec.Ports = nil
		} else {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.30", []string{"10.43.0.30"}
			s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = []corev1.IPFamily{corev1.IPv4Protocol}, &single
		}
		if typ == corev1.ServiceTypeNodePort || typ == corev1.ServiceTypeLoadBalancer {
			s.Spec.Ports[0].NodePort = 30080
		}
		if typ == corev1.ServiceTypeLoadBalancer {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.9"}}
		}
		k.Default(s)
		return s
	}
	tests := []struct {
		from, to corev1.ServiceType
		check    func(t *testing.T, s *corev1.Service)
	}{
		{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil || s.Spec.IPFamilyPolicy != nil {
				t.Errorf("cluster IP fields kept: %+v", s.Spec)
			}
		}},
		{corev1.ServiceTypeNodePort, corev1.ServiceTypeExternalName, func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("node port fields kept: %+v", s.Spec)
			}
		}},
		{corev1.ServiceTypeExternalName, corev1.ServiceTypeClusterIP, func(t *testing.T, s *corev1.Service) {
			if s.Spec.InternalTrafficPolicy == nil {
				t.Errorf("internalTrafficPolicy not defaulted")
			}
		}},
		{corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP, func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.AllocateLoadBalancerNodePorts != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
				t.Errorf("load balancer fields kept: %+v %+v", s.Spec, s.Status)
			}
			if s.Spec.ClusterIP != "10.43.0.30" {
				t.Errorf("cluster IP lost: %q", s.Spec.ClusterIP)
			}
		}},
		{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, func(t *testing.T, s *corev1.Service) {
			if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("externalTrafficPolicy %q", s.Spec.ExternalTrafficPolicy)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+" to "+string(tt.to), func(t *testing.T) {
			old := stored(tt.from)
			s := old.DeepCopy()
			s.Spec.Type = tt.to
			if tt.to == corev1.ServiceTypeExternalName {
				s.Spec.ExternalName = "new.example.com"
			}
			if tt.from == corev1.ServiceTypeExternalName {
				s.Spec.ExternalName = ""
				s.Spec.Ports = []corev1.ServicePort{{Port: 80}}
			}
			k.PrepareForUpdate(s, old)
			k.Default(s)
			if errs := append(k.Validate(s), k.ValidateUpdate(s, old)...); len(errs) != 0 {
				t.Fatalf("type change rejected: %v", errs)
			}
			tt.check(t, s)
		})
	}
}

func TestServiceLoadBalancerStatus(t *testing.T) {
	k := kindByResource(t, "services")
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	vip := corev1.LoadBalancerIPModeVIP
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "1.2.3.4"}, {Hostname: "lb.example.com", IPMode: &vip}, {IP: "nope"}}
	got := joinErrs(errStrings(k.ValidateStatusUpdate(s, s.DeepCopy())))
	want := strings.Join([]string{
		`status.loadBalancer.ingress[0].hostname: Invalid value: "1.2.3.4": must be a DNS name, not an IP address`,
		"status.loadBalancer.ingress[1].ipMode: Forbidden: may not be specified when `ip` is not set",
		`status.loadBalancer.ingress[2].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestServiceStatusOnlyForLoadBalancers(t *testing.T) {
	k := kindByResource(t, "services")
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}}
	got := joinErrs(errStrings(k.ValidateStatusUpdate(s, s.DeepCopy())))
	if got != "status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'" {
		t.Errorf("got %q", got)
	}
}

func TestServiceAffinityAndRanges(t *testing.T) {
	k := kindByResource(t, "services")
	big := int32(90000)
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   string
	}{
		{"affinity timeout too long", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &big}}
		}, "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and less than 86400"},
		{"source ranges on ClusterIP", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8", "bad"} },
			"spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'\n" +
				`spec.LoadBalancerSourceRanges[1]: Invalid value: "bad": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		{"external IP loopback", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} },
			`spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
		{"local traffic policy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
			tt.mutate(s)
			k.PrepareForCreate(s)
			k.Default(s)
			if got := joinErrs(errStrings(k.Validate(s))); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestServiceDualStackChanges(t *testing.T) {
	k := kindByResource(t, "services")
	prefer := corev1.IPFamilyPolicyPreferDualStack
	single := corev1.IPFamilyPolicySingleStack
	old := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Port: 80}}, ClusterIP: "10.43.0.5", ClusterIPs: []string{"10.43.0.5", "fd00::5"},
		IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, IPFamilyPolicy: &prefer}}
	k.Default(old)
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   string
	}{
		{"release secondary with SingleStack", func(s *corev1.Service) {
			s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = []string{"10.43.0.5"}, []corev1.IPFamily{corev1.IPv4Protocol}, &single
		}, ""},
		{"release secondary without SingleStack", func(s *corev1.Service) {
			s.Spec.ClusterIPs, s.Spec.IPFamilies = []string{"10.43.0.5"}, []corev1.IPFamily{corev1.IPv4Protocol}
		}, "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.5\"}: `ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP\n" +
			"spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.5\"}: `ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary ipFamily"},
		{"families do not match", func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
		}, "spec.ipFamilies[0]: Invalid value: []v1.IPFamily{\"IPv6\", \"IPv4\"}: may not change once set\n" +
			"spec.ipFamilies[0]: Invalid value: []v1.IPFamily{\"IPv6\", \"IPv4\"}: may not change once set"},
		{"swap secondary", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.43.0.5", "fd00::6"} },
			`spec.clusterIPs[1]: Invalid value: []string{"10.43.0.5", "fd00::6"}: may not change once set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := old.DeepCopy()
			tt.mutate(s)
			k.PrepareForUpdate(s, old)
			if tt.name == "families do not match" {
				v := joinErrs(errStrings(k.Validate(s)))
				if v != "spec.clusterIPs[0]: Invalid value: \"10.43.0.5\": expected an IPv6 value as indicated by `ipFamilies[0]`\n"+
					"spec.clusterIPs[1]: Invalid value: \"fd00::5\": expected an IPv4 value as indicated by `ipFamilies[1]`" {
					t.Errorf("family mismatch: %q", v)
				}
			}
			if got := joinErrs(errStrings(k.ValidateUpdate(s, old))); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
