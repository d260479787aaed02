package kubelet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Annotations on containers the kubelet creates.
const (
	annImage             = "bosun.dev/image"
	annTerminationLog    = "bosun.dev/termination-log"
	annTerminationPolicy = "bosun.dev/termination-message-policy"
)

func (k *Kubelet) logDir(pod *v1.Pod) string {
	return filepath.Join(k.cfg.DataDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

func podLabels(pod *v1.Pod) map[string]string {
	l := make(map[string]string, len(pod.Labels)+4)
	for k, v := range pod.Labels {
		l[k] = v
	}
	l[LabelManaged] = "true"
	l[LabelPodUID] = string(pod.UID)
	l[LabelPodName] = pod.Name
	l[LabelPodNamespace] = pod.Namespace
	return l
}

// sandboxConfig is the CRI sandbox for pod.
func (k *Kubelet) sandboxConfig(pod *v1.Pod, attempt uint32) (*runtimeapi.PodSandboxConfig, error) {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: k.logDir(pod),
		DnsConfig:    k.dnsConfig(pod),
		Labels:       podLabels(pod),
		Annotations:  map[string]string{},
	}
	if pod.Spec.HostNetwork {
		cfg.Hostname = ""
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case v1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case v1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP,
			})
		}
	}
	psc := pod.Spec.SecurityContext
	sc := &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
	}
	if psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			sc.Privileged = true
		}
	}
	linux := &runtimeapi.LinuxPodSandboxConfig{SecurityContext: sc, Sysctls: map[string]string{}}
	if psc != nil {
		for _, s := range psc.Sysctls {
			linux.Sysctls[s.Name] = s.Value
		}
	}
	cfg.Linux = linux
	return cfg, nil
}

func namespaceOptions(pod *v1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

// dnsConfig is the pod's resolv.conf per dnsPolicy; nil means the host's.
func (k *Kubelet) dnsConfig(pod *v1.Pod) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = v1.DNSClusterFirst
	}
	if policy == v1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = v1.DNSDefault
	}
	var cfg *runtimeapi.DNSConfig
	switch policy {
	case v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet:
		if k.cfg.ClusterDNS == "" {
			break
		}
		d := k.cfg.ClusterDomain
		cfg = &runtimeapi.DNSConfig{
			Servers:  []string{k.cfg.ClusterDNS},
			Searches: []string{pod.Namespace + ".svc." + d, "svc." + d, d},
			Options:  []string{"ndots:5"},
		}
	case v1.DNSNone:
		cfg = &runtimeapi.DNSConfig{}
	}
	if pc := pod.Spec.DNSConfig; pc != nil {
		if cfg == nil {
			cfg = hostDNS()
		}
		cfg.Servers = append(cfg.Servers, pc.Nameservers...)
		cfg.Searches = append(cfg.Searches, pc.Searches...)
		for _, o := range pc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = mergeOption(cfg.Options, o.Name, opt)
		}
	}
	return cfg
}

func mergeOption(opts []string, name, opt string) []string {
	for i, o := range opts {
		if o == name || strings.HasPrefix(o, name+":") {
			opts[i] = opt
			return opts
		}
	}
	return append(opts, opt)
}

// hostDNS reads the host's resolv.conf.
func hostDNS() *runtimeapi.DNSConfig {
	cfg := &runtimeapi.DNSConfig{}
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return cfg
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			cfg.Servers = append(cfg.Servers, f[1])
		case "search":
			cfg.Searches = append(cfg.Searches, f[1:]...)
		case "options":
			cfg.Options = append(cfg.Options, f[1:]...)
		}
	}
	return cfg
}

// writeHostsFile writes the pod's kubelet-managed /etc/hosts.
func (k *Kubelet) writeHostsFile(pod *v1.Pod, ips []string) error {
	if pod.Spec.HostNetwork {
		return nil
	}
	dir := k.podDir(pod.UID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("pod dir: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	for _, ip := range ips {
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, hostname, pod.Spec.Subdomain, pod.Namespace, k.cfg.ClusterDomain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, h := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", h.IP, strings.Join(h.Hostnames, "\t"))
		}
	}
	return writeFileAtomic(filepath.Join(dir, "etc-hosts"), []byte(b.String()), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// containerConfig is the CRI config of one container instance.
func (k *Kubelet) containerConfig(ctx context.Context, pod *v1.Pod, c *v1.Container, attempt uint32, imageRef string, init bool, podIPs []string, volumes map[string]string) (*runtimeapi.ContainerConfig, error) {
	env, err := k.makeEnv(ctx, pod, c, podIPs)
	if err != nil {
		return nil, err
	}
	lookup := envLookup(env)
	cmd := expandAll(c.Command, lookup)
	args := expandAll(c.Args, lookup)

	labels := map[string]string{
		LabelManaged:      "true",
		LabelPodUID:       string(pod.UID),
		LabelPodName:      pod.Name,
		LabelPodNamespace: pod.Namespace,
		LabelContainer:    c.Name,
	}
	if init {
		labels[LabelInit] = "true"
	}
	policy := c.TerminationMessagePolicy
	if policy == "" {
		policy = v1.TerminationMessageReadFile
	}
	ann := map[string]string{annImage: c.Image, annTerminationPolicy: string(policy)}

	mounts, err := k.makeMounts(pod, c, volumes, lookup)
	if err != nil {
		return nil, err
	}
	// The termination message file.
	tmPath := c.TerminationMessagePath
	if tmPath == "" {
		tmPath = v1.TerminationMessagePathDefault
	}
	hostTM := filepath.Join(k.podDir(pod.UID), "containers", c.Name, randomID())
	if err := os.MkdirAll(filepath.Dir(hostTM), 0o750); err != nil {
		return nil, fmt.Errorf("termination log: %w", err)
	}
	if err := os.WriteFile(hostTM, nil, 0o666); err != nil {
		return nil, fmt.Errorf("termination log: %w", err)
	}
	_ = os.Chmod(hostTM, 0o666)
	ann[annTerminationLog] = hostTM
	mounts = append(mounts, &runtimeapi.Mount{ContainerPath: tmPath, HostPath: hostTM})
	// The kubelet-managed /etc/hosts.
	if !pod.Spec.HostNetwork && !mountsPath(mounts, "/etc/hosts") {
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: filepath.Join(k.podDir(pod.UID), "etc-hosts")})
	}

	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     cmd,
		Args:        args,
		WorkingDir:  c.WorkingDir,
		Labels:      labels,
		Annotations: ann,
		Mounts:      mounts,
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(attempt))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
	}
	for _, e := range env {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: e.Value})
	}
	sc, err := containerSecurity(pod, c)
	if err != nil {
		return nil, err
	}
	cfg.Linux = &runtimeapi.LinuxContainerConfig{Resources: containerResources(pod, c), SecurityContext: sc}
	return cfg, nil
}

func mountsPath(ms []*runtimeapi.Mount, p string) bool {
	for _, m := range ms {
		if m.ContainerPath == p {
			return true
		}
	}
	return false
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// containerResources maps requests and limits to cgroup settings as the
// upstream kubelet does.
func containerResources(pod *v1.Pod, c *v1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{}
	cpuReq := c.Resources.Requests.Cpu()
	cpuLim := c.Resources.Limits.Cpu()
	if cpuReq.IsZero() && !cpuLim.IsZero() {
		cpuReq = cpuLim
	}
	shares := cpuReq.MilliValue() * 1024 / 1000
	if shares < 2 {
		shares = 2
	}
	r.CpuShares = shares
	if !cpuLim.IsZero() {
		r.CpuPeriod = 100000
		q := cpuLim.MilliValue() * 100000 / 1000
		if q < 1000 {
			q = 1000
		}
		r.CpuQuota = q
	}
	if mem := c.Resources.Limits.Memory(); !mem.IsZero() {
		r.MemoryLimitInBytes = mem.Value()
	}
	switch qosClass(pod) {
	case v1.PodQOSGuaranteed:
		r.OomScoreAdj = -997
	case v1.PodQOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		r.OomScoreAdj = 500
	}
	return r
}

// qosClass is the pod's QoS class as the API server computes it.
func qosClass(pod *v1.Pod) v1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	requests, limits := v1.ResourceList{}, v1.ResourceList{}
	guaranteed := true
	any := false
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, n := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[n]
			lim, hasLim := c.Resources.Limits[n]
			if hasReq && !req.IsZero() {
				any = true
				addQty(requests, n, req)
			}
			if hasLim && !lim.IsZero() {
				any = true
				addQty(limits, n, lim)
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	default:
		return v1.PodQOSBurstable
	}
}

func addQty(l v1.ResourceList, n v1.ResourceName, q resource.Quantity) {
	cur := l[n]
	cur.Add(q)
	l[n] = cur
}

func containerSecurity(pod *v1.Pod, c *v1.Container) (*runtimeapi.LinuxContainerSecurityContext, error) {
	sc := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
	}
	var runAsNonRoot *bool
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		runAsNonRoot = psc.RunAsNonRoot
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
		if psc.SeccompProfile != nil && psc.SeccompProfile.Type == v1.SeccompProfileTypeRuntimeDefault {
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		if csc.RunAsNonRoot != nil {
			runAsNonRoot = csc.RunAsNonRoot
		}
		if csc.Privileged != nil {
			sc.Privileged = *csc.Privileged
		}
		if csc.ReadOnlyRootFilesystem != nil {
			sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
		}
		if csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation {
			sc.NoNewPrivs = true
		}
		if caps := csc.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, a := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, capName(a))
			}
			for _, d := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, capName(d))
			}
		}
		if csc.SeccompProfile != nil && csc.SeccompProfile.Type == v1.SeccompProfileTypeRuntimeDefault {
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}
		if csc.ProcMount != nil && *csc.ProcMount == v1.UnmaskedProcMount {
			sc.MaskedPaths, sc.ReadonlyPaths = []string{}, []string{}
		}
	}
	if runAsNonRoot != nil && *runAsNonRoot && sc.RunAsUser != nil && sc.RunAsUser.Value == 0 {
		return nil, fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod.Namespace+"/"+pod.Name, c.Name)
	}
	if runAsNonRoot != nil && *runAsNonRoot && sc.RunAsUser == nil {
		// bosun's images and most others run as root unless told otherwise.
		return nil, fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod.Namespace+"/"+pod.Name, c.Name)
	}
	return sc, nil
}

func capName(c v1.Capability) string {
	s := strings.ToUpper(string(c))
	if s == "ALL" || strings.HasPrefix(s, "CAP_") {
		return s
	}
	return "CAP_" + s
}
