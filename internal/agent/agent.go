package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
	coordv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/containerd"
	"github.com/bosun-k8s/bosun/internal/images"
	"github.com/bosun-k8s/bosun/internal/kubelet"
	"github.com/bosun-k8s/bosun/internal/version"
)

// Config configures a node agent.
type Config struct {
	// RESTConfig reaches the API server with the node's credentials.
	RESTConfig *rest.Config
	// NodeName; empty: the lower-cased hostname.
	NodeName string
	// NodeIP is the node's InternalIP; empty: the address of the
	// interface holding the default route.
	NodeIP string
	// DataDir holds containerd, CNI config, pod volumes and logs.
	DataDir string
	// ContainerRuntimeEndpoint is a running containerd's socket; empty:
	// the agent supervises its own containerd under DataDir.
	ContainerRuntimeEndpoint string
	// ContainerdBinary; empty: containerd from PATH.
	ContainerdBinary string
	// Bridge is the CNI bridge name; empty: bosun0.
	Bridge string
	// ClusterDNS is the pods' nameserver (10.43.0.10); ClusterDomain
	// their search domain (cluster.local).
	ClusterDNS    string
	ClusterDomain string
	Logger        *slog.Logger
	Clock         clock.WithTicker
	// BeforeFirstPod runs after containerd and the images are ready and
	// before the kubelet starts any pod (the network fence goes here).
	BeforeFirstPod func(ctx context.Context) error
	// ImageCacheDir caches compiled image programs; empty: DataDir/images.
	ImageCacheDir string
	// LeaseDuration; 0: 40s. Renewed every quarter of it (10 s).
	LeaseDuration time.Duration
	// KubeletTLS serves the kubelet's HTTPS API (logs, exec, attach,
	// port-forward; see kubelet.Handler) for the API server's proxy: a
	// serving certificate from the cluster CA and, to authenticate the API
	// server, ClientAuth RequireAndVerifyClientCert with the CA's pool. Nil:
	// the API is not served.
	KubeletTLS *tls.Config
	// RemovePodsOnExit stops and removes every pod sandbox when Run ends
	// (tests, throw-away clusters). Otherwise pods keep running and the
	// next start adopts them.
	RemovePodsOnExit bool
	// KubeletAddress is where that API listens; empty: ":10250". Its port
	// is published in the Node's status.daemonEndpoints.
	KubeletAddress string
}

// Agent is one node.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	clock  clock.WithTicker
	client kubernetes.Interface
	ready  chan struct{}

	sup *containerd.Supervisor // when supervising our own

	mu             sync.Mutex
	runtimeVersion string
	nodeReady      bool
	kubeletPort    int32
	images         []v1.ContainerImage
}

// New validates cfg and fills defaults. It starts nothing.
func New(cfg Config) (*Agent, error) {
	if cfg.RESTConfig == nil {
		return nil, errors.New("agent: RESTConfig is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("agent: DataDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("agent: hostname: %w", err)
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.NodeIP == "" {
		ip, err := defaultRouteIP()
		if err != nil {
			return nil, fmt.Errorf("agent: node IP: %w", err)
		}
		cfg.NodeIP = ip
	}
	if cfg.ClusterDNS == "" {
		cfg.ClusterDNS = "10.43.0.10"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.KubeletAddress == "" {
		cfg.KubeletAddress = ":10250"
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	cfg.DataDir = abs
	if cfg.ImageCacheDir == "" {
		cfg.ImageCacheDir = filepath.Join(cfg.DataDir, "images")
	}
	rc := rest.CopyConfig(cfg.RESTConfig)
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 100, 200
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "bosun-agent/" + version.GitVersion
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("agent: client: %w", err)
	}
	return &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), clock: cfg.Clock, client: client, ready: make(chan struct{})}, nil
}

// NodeName is the registered node's name.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

// Ready is closed once the node reported Ready and the kubelet runs.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run runs the node until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	start := a.clock.Now()
	var kubeletLn net.Listener
	a.kubeletPort = 10250
	if a.cfg.KubeletTLS != nil {
		ln, err := net.Listen("tcp", a.cfg.KubeletAddress)
		if err != nil {
			return fmt.Errorf("agent: kubelet API: %w", err)
		}
		defer ln.Close()
		kubeletLn = ln
		a.kubeletPort = int32(ln.Addr().(*net.TCPAddr).Port)
	}
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.leaseLoop(ctx) })
	// containerd outlives the other parts on the way down: it stops only
	// after the kubelet (and, with RemovePodsOnExit, the pods).
	supCtx, supCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer supCancel()
	// fail stops what runs and returns err with whatever they return.
	fail := func(err error) error {
		cancel()
		supCancel()
		return errors.Join(err, g.Wait())
	}

	cidr, err := a.waitPodCIDR(ctx)
	if err != nil {
		return fail(err)
	}
	a.log.Info("pod CIDR assigned", "podCIDR", cidr)

	endpoint := a.cfg.ContainerRuntimeEndpoint
	if endpoint == "" {
		sup, err := containerd.New(containerd.Config{
			DataDir: a.cfg.DataDir, PodCIDR: cidr, Logger: a.log.With("component", "containerd"),
			Binary: a.cfg.ContainerdBinary, Bridge: a.cfg.Bridge,
		})
		if err != nil {
			return fail(err)
		}
		a.sup = sup
		g.Go(func() error { return sup.Run(supCtx) })
		select {
		case <-sup.Ready():
		case <-ctx.Done():
			return fail(nil)
		}
		endpoint = sup.Endpoint()
	} else if err := containerd.WaitCRI(ctx, strings.TrimPrefix(endpoint, "unix://")); err != nil {
		return fail(err)
	}

	rt, err := kubelet.NewCRIRuntime(endpoint)
	if err != nil {
		return fail(err)
	}
	defer rt.Close()
	if v, err := rt.Version(ctx); err == nil {
		a.mu.Lock()
		a.runtimeVersion = v.RuntimeName + "://" + v.RuntimeVersion
		a.mu.Unlock()
	}

	builder, err := images.New(images.Config{Logger: a.log.With("component", "images"), CacheDir: a.cfg.ImageCacheDir})
	if err != nil {
		return fail(err)
	}
	if _, err := builder.EnsureLoaded(ctx, strings.TrimPrefix(endpoint, "unix://")); err != nil {
		return fail(fmt.Errorf("agent: images: %w", err))
	}
	if imgs, err := builder.Images(ctx); err == nil {
		var list []v1.ContainerImage
		for _, im := range imgs {
			list = append(list, v1.ContainerImage{
				Names:     []string{im.Name, strings.SplitN(im.Name, ":", 2)[0] + "@" + im.Digest},
				SizeBytes: int64(len(im.Layer) + len(im.Config) + len(im.Manifest)),
			})
		}
		a.mu.Lock()
		a.images = list
		a.mu.Unlock()
	}
	if a.cfg.BeforeFirstPod != nil {
		if err := a.cfg.BeforeFirstPod(ctx); err != nil {
			return fail(fmt.Errorf("agent: before first pod: %w", err))
		}
	}

	kl, err := kubelet.New(kubelet.Config{
		Client: a.client, NodeName: a.cfg.NodeName, NodeIP: a.cfg.NodeIP, Runtime: rt,
		DataDir: filepath.Join(a.cfg.DataDir, "kubelet"), ClusterDNS: a.cfg.ClusterDNS,
		ClusterDomain: a.cfg.ClusterDomain, Logger: a.log.With("component", "kubelet"), Clock: a.clock,
	})
	if err != nil {
		return fail(err)
	}
	kubeletDone := make(chan struct{})
	g.Go(func() error {
		defer close(kubeletDone)
		return kl.Run(ctx)
	})
	g.Go(func() error {
		<-ctx.Done()
		<-kubeletDone
		if a.cfg.RemovePodsOnExit {
			a.removePods(rt)
		}
		supCancel()
		return nil
	})
	if kubeletLn != nil {
		g.Go(func() error { return kl.Serve(ctx, kubeletLn, a.cfg.KubeletTLS) })
	}
	// The node is Ready once the kubelet acts on pods, not before.
	select {
	case <-kl.Started():
	case <-kubeletDone:
		return fail(nil)
	}

	a.mu.Lock()
	a.nodeReady = true
	a.mu.Unlock()
	if err := a.updateNodeStatus(ctx); err != nil {
		a.log.Warn("node status", "err", err)
	}
	a.log.Info("node ready", "startup", a.clock.Since(start).Round(time.Millisecond))
	close(a.ready)
	g.Go(func() error { return a.statusLoop(ctx, rt) })
	return g.Wait()
}

// removePods stops and removes every sandbox and container bosun created on
// this node. A container create the stopping kubelet cancelled may still
// complete inside containerd, so it sweeps until a pass finds nothing.
func (a *Agent) removePods(rt kubelet.Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sel := map[string]string{kubelet.LabelManaged: "true"}
	removed := 0
	for pass := 0; pass < 5; pass++ {
		sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
		if err != nil {
			a.log.Warn("remove pods on exit", "err", err)
			return
		}
		cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
		if err != nil {
			a.log.Warn("remove pods on exit", "err", err)
			return
		}
		if len(sbs) == 0 && len(cs) == 0 {
			break
		}
		for _, c := range cs {
			_ = rt.StopContainer(ctx, c.Id, 0)
			_ = rt.RemoveContainer(ctx, c.Id)
		}
		for _, sb := range sbs {
			if err := rt.StopPodSandbox(ctx, sb.Id); err != nil {
				a.log.Warn("remove pods on exit", "err", err)
			}
			if err := rt.RemovePodSandbox(ctx, sb.Id); err != nil {
				a.log.Warn("remove pods on exit", "err", err)
			}
		}
		removed += len(sbs)
		time.Sleep(500 * time.Millisecond)
	}
	a.log.Info("pods removed on exit", "sandboxes", removed)
}

// Cleanup removes the node network the supervised containerd set up (CNI
// bridge, masquerade rule): for tests and uninstalling, after Run returned
// and the pods are gone. Without a supervised containerd it does nothing.
func (a *Agent) Cleanup() error {
	if a.sup == nil {
		return nil
	}
	return a.sup.Cleanup()
}

// registerNode creates the Node, or refreshes it when it exists.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: a.nodeLabels()},
		Status:     a.nodeStatus(nil),
	}
	for {
		created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
		switch {
		case err == nil:
			// Some servers drop status on create: write it.
			created.Status = a.nodeStatus(nil)
			if _, err := nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				a.log.Warn("node status after register", "err", err)
			}
			a.log.Info("node registered")
			return nil
		case apierrors.IsAlreadyExists(err):
			existing, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("agent: get node: %w", err)
			}
			changed := false
			if existing.Labels == nil {
				existing.Labels = map[string]string{}
			}
			for k, v := range a.nodeLabels() {
				if existing.Labels[k] != v {
					existing.Labels[k], changed = v, true
				}
			}
			if changed {
				if existing, err = nodes.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("agent: update node: %w", err)
				}
			}
			existing.Status = a.nodeStatus(existing)
			if _, err := nodes.UpdateStatus(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("agent: update node status: %w", err)
			}
			a.log.Info("node re-registered")
			return nil
		default:
			a.log.Warn("register node; retrying", "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-a.clock.After(time.Second):
			}
		}
	}
}

func (a *Agent) nodeLabels() map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":  a.cfg.NodeName,
		"kubernetes.io/os":        runtime.GOOS,
		"kubernetes.io/arch":      runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
}

// nodeStatus is the node's status now; old supplies condition transition
// times.
func (a *Agent) nodeStatus(old *v1.Node) v1.NodeStatus {
	a.mu.Lock()
	ready, rtVersion, imgs := a.nodeReady, a.runtimeVersion, a.images
	if a.kubeletPort == 0 {
		a.kubeletPort = 10250
	}
	a.mu.Unlock()
	now := metav1.NewTime(time.Unix(a.clock.Now().Unix(), 0))
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(memTotal(), resource.BinarySI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(diskTotal(a.cfg.DataDir), resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
	}
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		c := v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		if old != nil {
			for _, oc := range old.Status.Conditions {
				if oc.Type == t && oc.Status == s {
					c.LastTransitionTime = oc.LastTransitionTime
				}
			}
		}
		return c
	}
	readyCond := cond(v1.NodeReady, v1.ConditionFalse, "KubeletNotReady", "container runtime is not ready")
	if ready {
		readyCond = cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	}
	kernel, osImage := unameRelease(), osPrettyName()
	return v1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Conditions: []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			readyCond,
		},
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: a.cfg.NodeIP},
			{Type: v1.NodeHostName, Address: a.cfg.NodeName},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: a.kubeletPort}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               readTrim("/etc/machine-id"),
			SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           kernel,
			OSImage:                 osImage,
			ContainerRuntimeVersion: rtVersion,
			KubeletVersion:          version.GitVersion,
			KubeProxyVersion:        version.GitVersion,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
		Images: imgs,
	}
}

// updateNodeStatus writes the status when it changed, or when the last
// heartbeat is a minute old.
func (a *Agent) updateNodeStatus(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("agent: get node: %w", err)
	}
	st := a.nodeStatus(node)
	if sameIgnoringHeartbeat(node.Status, st) {
		for _, c := range node.Status.Conditions {
			if c.Type == v1.NodeReady && a.clock.Since(c.LastHeartbeatTime.Time) < time.Minute {
				return nil
			}
		}
	}
	// Keep what others own (e.g. volumes in use).
	st.VolumesInUse, st.VolumesAttached = node.Status.VolumesInUse, node.Status.VolumesAttached
	node.Status = st
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("agent: update node status: %w", err)
	}
	return nil
}

func sameIgnoringHeartbeat(a, b v1.NodeStatus) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	for i := range a.Conditions {
		a.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	for i := range b.Conditions {
		b.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	return equality.Semantic.DeepEqual(a, b)
}

// statusLoop refreshes the node status every 10 s; the node turns
// NotReady while the container runtime does not answer.
func (a *Agent) statusLoop(ctx context.Context, rt kubelet.Runtime) error {
	t := a.clock.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := rt.Version(vctx)
			cancel()
			a.mu.Lock()
			if a.nodeReady != (err == nil) {
				a.log.Info("container runtime health changed", "healthy", err == nil, "err", err)
			}
			a.nodeReady = err == nil
			a.mu.Unlock()
			if err := a.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("node status", "err", err)
			}
		}
	}
}

// leaseLoop keeps the node's Lease in kube-node-lease fresh.
func (a *Agent) leaseLoop(ctx context.Context) error {
	interval := a.cfg.LeaseDuration / 4
	for {
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("renew lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.clock.After(interval):
		}
	}
}

func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	now := metav1.NewMicroTime(a.clock.Now())
	secs := int32(a.cfg.LeaseDuration / time.Second)
	lease, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l := &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: v1.NamespaceNodeLease},
			Spec:       coordv1.LeaseSpec{HolderIdentity: &a.cfg.NodeName, LeaseDurationSeconds: &secs, RenewTime: &now},
		}
		if node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); err == nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("agent: create lease: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: get lease: %w", err)
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = &a.cfg.NodeName, &secs, &now
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("agent: update lease: %w", err)
	}
	return nil
}

// waitPodCIDR waits until the server assigned the node a pod CIDR.
func (a *Agent) waitPodCIDR(ctx context.Context) (string, error) {
	logged := a.clock.Now()
	// The node IPAM controller usually answers within milliseconds; the
	// poll starts fast and slows down to 500 ms.
	interval := 10 * time.Millisecond
	for {
		node, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		if a.clock.Since(logged) > 10*time.Second {
			a.log.Info("waiting for the server to assign spec.podCIDR", "err", err)
			logged = a.clock.Now()
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-a.clock.After(interval):
		}
		interval = min(2*interval, 500*time.Millisecond)
	}
}

// defaultRouteIP is the first IPv4 address of the interface holding the
// default route (read from /proc/net/route: no packet is sent).
func defaultRouteIP() (string, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", err
	}
	iface := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			iface = f[0]
			break
		}
	}
	if iface == "" {
		return "", errors.New("no default route; set NodeIP")
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return "", err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", err
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no IPv4 address on %s; set NodeIP", iface)
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

func diskTotal(dir string) int64 {
	var st unix.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if unix.Statfs(d, &st) == nil {
			return int64(st.Blocks) * st.Bsize
		}
		if d == "/" {
			return 0
		}
	}
}

func unameRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func osPrettyName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
