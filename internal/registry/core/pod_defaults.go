package core

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Priorities of the two built-in priority classes, as upstream's Priority admission resolves
// them.
const (
	systemClusterCritical = 2000000000
	systemNodeCritical    = 2000001000
)

// DefaultPodTemplateSpec fills the upstream defaults of a pod template (the spec defaults of
// DefaultPodSpec; the pod-only defaults such as requests from limits are not applied to
// templates, as upstream).
func DefaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	DefaultPodSpec(&t.Spec)
}

// DefaultPodSpec fills the upstream defaults of a pod spec wherever it appears (pods and pod
// templates): dnsPolicy, restartPolicy, securityContext, terminationGracePeriodSeconds,
// schedulerName, and the defaults of containers, ports, probes, lifecycle handlers, env
// field references and volumes.
func DefaultPodSpec(s *corev1.PodSpec) {
	if s == nil {
		return
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(corev1.DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &g
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	dropDisabledFields(s)
	// The v1 conversion mirrors serviceAccountName into the deprecated serviceAccount field.
	if s.ServiceAccountName == "" && s.DeprecatedServiceAccount != "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for i := range s.EphemeralContainers {
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		defaultContainer(&c)
		s.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
	defaultResourceList(s.Overhead)
	if s.Resources != nil {
		defaultResourceList(s.Resources.Limits)
		defaultResourceList(s.Resources.Requests)
	}
}

// defaultPod applies the defaults upstream gives only to Pod objects (not templates):
// requests from limits, enableServiceLinks, host ports under hostNetwork, and the priority
// and preemption policy the Priority admission plugin would set.
func defaultPod(p *corev1.Pod) {
	DefaultPodSpec(&p.Spec)
	defaultRequestsFromLimits(p.Spec.Containers)
	defaultRequestsFromLimits(p.Spec.InitContainers)
	if p.Spec.EnableServiceLinks == nil {
		t := corev1.DefaultEnableServiceLinks
		p.Spec.EnableServiceLinks = &t
	}
	if p.Spec.HostNetwork {
		defaultHostNetworkPorts(p.Spec.Containers)
		defaultHostNetworkPorts(p.Spec.InitContainers)
	}
	// Priority as upstream's Priority admission resolves it for the built-in classes (and no
	// class); other class names are left for admission to resolve.
	if p.Spec.Priority == nil {
		switch p.Spec.PriorityClassName {
		case "":
			p.Spec.Priority = int32Ptr(0)
		case "system-cluster-critical":
			p.Spec.Priority = int32Ptr(systemClusterCritical)
		case "system-node-critical":
			p.Spec.Priority = int32Ptr(systemNodeCritical)
		}
	}
	if p.Spec.PreemptionPolicy == nil {
		pp := corev1.PreemptLowerPriority
		p.Spec.PreemptionPolicy = &pp
	}
}

func defaultRequestsFromLimits(cs []corev1.Container) {
	for i := range cs {
		r := &cs[i].Resources
		if r.Limits == nil {
			continue
		}
		if r.Requests == nil {
			r.Requests = make(corev1.ResourceList, len(r.Limits))
		}
		for k, v := range r.Limits {
			if _, ok := r.Requests[k]; !ok {
				r.Requests[k] = v.DeepCopy()
			}
		}
	}
}

func defaultHostNetworkPorts(cs []corev1.Container) {
	for i := range cs {
		for j := range cs[i].Ports {
			if cs[i].Ports[j].HostPort == 0 {
				cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
			}
		}
	}
}

// defaultResourceList rounds quantities up to milli scale, as upstream does for every
// resource list it decodes.
func defaultResourceList(l corev1.ResourceList) {
	for k, v := range l {
		if exact := v.RoundUp(resource.Milli); !exact {
			l[k] = v
		}
	}
}

func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		if imageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	defaultResourceList(c.Resources.Limits)
	defaultResourceList(c.Resources.Requests)
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		defaultLifecycleHandler(c.Lifecycle.PostStart)
		defaultLifecycleHandler(c.Lifecycle.PreStop)
	}
}

// imageTag returns the tag of an image reference the way upstream's image-name parser sees
// it: "latest" when neither tag nor digest is given, "" when only a digest is.
func imageTag(image string) string {
	name := image
	digest := ""
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	slash := strings.LastIndexByte(name, '/')
	if i := strings.LastIndexByte(name, ':'); i > slash {
		return name[i+1:]
	}
	if digest != "" {
		return ""
	}
	return "latest"
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		s := ""
		p.GRPC.Service = &s
	}
}

func defaultLifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func int32Ptr(v int32) *int32 { return &v }

func defaultVolume(v *corev1.Volume) {
	s := &v.VolumeSource
	if s.HostPath == nil && s.EmptyDir == nil && s.GCEPersistentDisk == nil &&
		s.AWSElasticBlockStore == nil && s.GitRepo == nil && s.Secret == nil && s.NFS == nil &&
		s.ISCSI == nil && s.Glusterfs == nil && s.PersistentVolumeClaim == nil && s.RBD == nil &&
		s.FlexVolume == nil && s.Cinder == nil && s.CephFS == nil && s.Flocker == nil &&
		s.DownwardAPI == nil && s.FC == nil && s.AzureFile == nil && s.ConfigMap == nil &&
		s.VsphereVolume == nil && s.Quobyte == nil && s.AzureDisk == nil &&
		s.PhotonPersistentDisk == nil && s.Projected == nil && s.PortworxVolume == nil &&
		s.ScaleIO == nil && s.StorageOS == nil && s.CSI == nil && s.Ephemeral == nil &&
		s.Image == nil {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if s.HostPath != nil && s.HostPath.Type == nil {
		t := corev1.HostPathUnset
		s.HostPath.Type = &t
	}
	if s.Secret != nil && s.Secret.DefaultMode == nil {
		s.Secret.DefaultMode = int32Ptr(corev1.SecretVolumeSourceDefaultMode)
	}
	if s.ConfigMap != nil && s.ConfigMap.DefaultMode == nil {
		s.ConfigMap.DefaultMode = int32Ptr(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if s.DownwardAPI != nil {
		if s.DownwardAPI.DefaultMode == nil {
			s.DownwardAPI.DefaultMode = int32Ptr(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		defaultDownwardAPIItems(s.DownwardAPI.Items)
	}
	if s.Projected != nil {
		if s.Projected.DefaultMode == nil {
			s.Projected.DefaultMode = int32Ptr(corev1.ProjectedVolumeSourceDefaultMode)
		}
		for i := range s.Projected.Sources {
			src := &s.Projected.Sources[i]
			if src.DownwardAPI != nil {
				defaultDownwardAPIItems(src.DownwardAPI.Items)
			}
			if src.ServiceAccountToken != nil && src.ServiceAccountToken.ExpirationSeconds == nil {
				h := int64(3600)
				src.ServiceAccountToken.ExpirationSeconds = &h
			}
		}
	}
	if s.ISCSI != nil && s.ISCSI.ISCSIInterface == "" {
		s.ISCSI.ISCSIInterface = "default"
	}
	if s.RBD != nil {
		if s.RBD.RBDPool == "" {
			s.RBD.RBDPool = "rbd"
		}
		if s.RBD.RadosUser == "" {
			s.RBD.RadosUser = "admin"
		}
		if s.RBD.Keyring == "" {
			s.RBD.Keyring = "/etc/ceph/keyring"
		}
	}
	if s.Image != nil && s.Image.PullPolicy == "" {
		if imageTag(s.Image.Reference) == "latest" {
			s.Image.PullPolicy = corev1.PullAlways
		} else {
			s.Image.PullPolicy = corev1.PullIfNotPresent
		}
	}
	if s.Ephemeral != nil && s.Ephemeral.VolumeClaimTemplate != nil {
		defaultPVCSpec(&s.Ephemeral.VolumeClaimTemplate.Spec)
	}
	if s.EmptyDir != nil && s.EmptyDir.SizeLimit != nil {
		s.EmptyDir.SizeLimit.RoundUp(resource.Milli)
	}
}

func defaultDownwardAPIItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

func defaultPVCSpec(s *corev1.PersistentVolumeClaimSpec) {
	// Volume attributes classes are off by default in 1.33; upstream drops the field.
	s.VolumeAttributesClassName = nil
	if s.VolumeMode == nil {
		m := corev1.PersistentVolumeFilesystem
		s.VolumeMode = &m
	}
	defaultResourceList(s.Resources.Limits)
	defaultResourceList(s.Resources.Requests)
}

// intOrStringUnset reports whether a service target port is unset.
func intOrStringUnset(v intstr.IntOrString) bool {
	return v == intstr.FromInt32(0) || v == intstr.FromString("")
}

// dropDisabledFields clears the pod spec fields of features that Kubernetes 1.33 keeps off
// by default, as upstream drops them when an object that did not use them is written:
// pod-level resources, container stop signals, dynamic resource claims and cluster trust
// bundle projections. (Image volumes, also off, are refused by validation as the empty
// source upstream's drop leaves behind would be.)
func dropDisabledFields(s *corev1.PodSpec) {
	s.Resources = nil
	s.ResourceClaims = nil
	drop := func(c *corev1.Container) {
		if c.Lifecycle != nil {
			c.Lifecycle.StopSignal = nil
		}
		c.Resources.Claims = nil
	}
	for i := range s.Containers {
		drop(&s.Containers[i])
	}
	for i := range s.InitContainers {
		drop(&s.InitContainers[i])
	}
	for i := range s.EphemeralContainers {
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		drop(&c)
		s.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	for i := range s.Volumes {
		if pr := s.Volumes[i].Projected; pr != nil {
			for j := range pr.Sources {
				pr.Sources[j].ClusterTrustBundle = nil
			}
		}
	}
}
