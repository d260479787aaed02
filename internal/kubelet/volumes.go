package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func (k *Kubelet) volumesDir(uid types.UID) string {
	return filepath.Join(k.podDir(uid), "volumes")
}

// setupVolumes prepares every volume of pod on the host and returns the
// host path of each by name. It is idempotent and cheap when nothing
// changed; configMap, secret, downwardAPI and projected contents are
// rewritten (atomically) when their source changed.
func (k *Kubelet) setupVolumes(ctx context.Context, pod *v1.Pod, podIPs []string) (map[string]string, error) {
	paths := make(map[string]string, len(pod.Spec.Volumes))
	base := k.volumesDir(pod.UID)
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		dir := filepath.Join(base, vol.Name)
		var err error
		switch {
		case vol.EmptyDir != nil:
			err = setupEmptyDir(dir, vol.EmptyDir)
		case vol.HostPath != nil:
			dir = vol.HostPath.Path
			err = setupHostPath(vol.HostPath)
		case vol.ConfigMap != nil:
			var payload map[string]fileData
			payload, err = k.configMapPayload(ctx, pod, vol.ConfigMap.Name, vol.ConfigMap.Items, vol.ConfigMap.DefaultMode, vol.ConfigMap.Optional)
			if err == nil {
				err = writeAtomic(dir, payload)
			}
		case vol.Secret != nil:
			var payload map[string]fileData
			payload, err = k.secretPayload(ctx, pod, vol.Secret.SecretName, vol.Secret.Items, vol.Secret.DefaultMode, vol.Secret.Optional)
			if err == nil {
				err = writeAtomic(dir, payload)
			}
		case vol.DownwardAPI != nil:
			var payload map[string]fileData
			payload, err = k.downwardPayload(pod, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode, podIPs)
			if err == nil {
				err = writeAtomic(dir, payload)
			}
		case vol.Projected != nil:
			var payload map[string]fileData
			payload, err = k.projectedPayload(ctx, pod, vol.Projected, podIPs)
			if err == nil {
				err = writeAtomic(dir, payload)
			}
		default:
			err = errors.New("volume type not supported by bosun")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vol.Name, err)
		}
		paths[vol.Name] = dir
	}
	return paths, nil
}

func setupEmptyDir(dir string, ed *v1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if ed.Medium != v1.StorageMediumMemory || isMountPoint(dir) {
		return nil
	}
	opts := "mode=1777"
	if ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
		opts += fmt.Sprintf(",size=%d", ed.SizeLimit.Value())
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	return nil
}

func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

func setupHostPath(hp *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, statErr := os.Stat(hp.Path)
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if statErr != nil {
			return os.MkdirAll(hp.Path, 0o755)
		}
		if !fi.IsDir() {
			return fmt.Errorf("hostPath %s exists and is not a directory", hp.Path)
		}
	case v1.HostPathDirectory:
		if statErr != nil || !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", hp.Path)
		}
	case v1.HostPathFileOrCreate:
		if statErr != nil {
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if fi.IsDir() {
			return fmt.Errorf("hostPath %s exists and is a directory", hp.Path)
		}
	case v1.HostPathFile:
		if statErr != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", hp.Path)
		}
	case v1.HostPathSocket:
		if statErr != nil || fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", hp.Path)
		}
	case v1.HostPathCharDev:
		if statErr != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", hp.Path)
		}
	case v1.HostPathBlockDev:
		if statErr != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", hp.Path)
		}
	}
	return nil
}

// fileData is one file of a projected volume.
type fileData struct {
	data []byte
	mode os.FileMode
}

func fileMode(item *int32, def *int32) os.FileMode {
	if item != nil {
		return os.FileMode(*item)
	}
	if def != nil {
		return os.FileMode(*def)
	}
	return 0o644
}

func (k *Kubelet) configMapPayload(ctx context.Context, pod *v1.Pod, name string, items []v1.KeyToPath, defMode *int32, optional *bool) (map[string]fileData, error) {
	cm, err := k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return map[string]fileData{}, nil
		}
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	all := map[string][]byte{}
	for key, v := range cm.Data {
		all[key] = []byte(v)
	}
	for key, v := range cm.BinaryData {
		all[key] = v
	}
	return keyPayload(all, items, defMode, optional, "configmap", name)
}

func (k *Kubelet) secretPayload(ctx context.Context, pod *v1.Pod, name string, items []v1.KeyToPath, defMode *int32, optional *bool) (map[string]fileData, error) {
	s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return map[string]fileData{}, nil
		}
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return keyPayload(s.Data, items, defMode, optional, "secret", name)
}

func keyPayload(all map[string][]byte, items []v1.KeyToPath, defMode *int32, optional *bool, kind, name string) (map[string]fileData, error) {
	out := map[string]fileData{}
	if len(items) == 0 {
		for key, v := range all {
			out[key] = fileData{v, fileMode(nil, defMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := all[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		out[it.Path] = fileData{v, fileMode(it.Mode, defMode)}
	}
	return out, nil
}

func (k *Kubelet) downwardPayload(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, defMode *int32, podIPs []string) (map[string]fileData, error) {
	out := map[string]fileData{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = k.fieldValue(pod, it.FieldRef.FieldPath, podIPs)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downwardAPI: no container %q", it.ResourceFieldRef.ContainerName)
			}
			v, err = resourceValue(c, it.ResourceFieldRef)
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = fileData{[]byte(v), fileMode(it.Mode, defMode)}
	}
	return out, nil
}

func (k *Kubelet) projectedPayload(ctx context.Context, pod *v1.Pod, p *v1.ProjectedVolumeSource, podIPs []string) (map[string]fileData, error) {
	out := map[string]fileData{}
	merge := func(m map[string]fileData) {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, src := range p.Sources {
		switch {
		case src.ConfigMap != nil:
			m, err := k.configMapPayload(ctx, pod, src.ConfigMap.Name, src.ConfigMap.Items, p.DefaultMode, src.ConfigMap.Optional)
			if err != nil {
				return nil, err
			}
			merge(m)
		case src.Secret != nil:
			m, err := k.secretPayload(ctx, pod, src.Secret.Name, src.Secret.Items, p.DefaultMode, src.Secret.Optional)
			if err != nil {
				return nil, err
			}
			merge(m)
		case src.DownwardAPI != nil:
			m, err := k.downwardPayload(pod, src.DownwardAPI.Items, p.DefaultMode, podIPs)
			if err != nil {
				return nil, err
			}
			merge(m)
		case src.ServiceAccountToken != nil:
			tok, err := k.serviceAccountToken(ctx, pod, src.ServiceAccountToken)
			if err != nil {
				// The pod still starts: a cluster without token
				// issuance leaves the file out rather than the pod down.
				k.log.Warn("service account token", "pod", pod.Namespace+"/"+pod.Name, "err", err)
				continue
			}
			out[src.ServiceAccountToken.Path] = fileData{[]byte(tok), fileMode(nil, p.DefaultMode)}
		}
	}
	return out, nil
}

// serviceAccountToken returns a token for the pod's service account,
// cached until 80% of its lifetime passed (as upstream's token manager).
func (k *Kubelet) serviceAccountToken(ctx context.Context, pod *v1.Pod, src *v1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	key := fmt.Sprintf("%s/%s/%s/%d", pod.UID, sa, src.Audience, exp)
	k.tokensMu.Lock()
	cached, ok := k.tokens[key]
	k.tokensMu.Unlock()
	if ok && k.clock.Now().Before(cached.refresh) {
		return cached.token, nil
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := k.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(cctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	life := time.Duration(exp) * time.Second
	if !resp.Status.ExpirationTimestamp.IsZero() {
		life = resp.Status.ExpirationTimestamp.Sub(k.clock.Now())
	}
	k.tokensMu.Lock()
	k.tokens[key] = cachedToken{token: resp.Status.Token, refresh: k.clock.Now().Add(life * 8 / 10)}
	k.tokensMu.Unlock()
	return resp.Status.Token, nil
}

type cachedToken struct {
	token   string
	refresh time.Time
}

// forgetTokens drops the cached tokens of a pod.
func (k *Kubelet) forgetTokens(uid types.UID) {
	k.tokensMu.Lock()
	defer k.tokensMu.Unlock()
	for key := range k.tokens {
		if strings.HasPrefix(key, string(uid)+"/") {
			delete(k.tokens, key)
		}
	}
}

// writeAtomic writes payload into dir the way upstream's atomic writer
// does: the files go into a fresh timestamped directory, the "..data"
// symlink is swapped to it in one rename, and each top-level name is a
// symlink through "..data". Containers therefore see either the old or the
// new contents, never a mix. Nothing is written when nothing changed.
func writeAtomic(dir string, payload map[string]fileData) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataLink := filepath.Join(dir, "..data")
	if cur, err := os.Readlink(dataLink); err == nil && samePayload(filepath.Join(dir, cur), payload) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for p, f := range payload {
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			return fmt.Errorf("invalid path %q", p)
		}
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(dataLink)
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(ts), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		return err
	}
	// Top-level names point through ..data.
	want := map[string]bool{}
	for p := range payload {
		top := strings.SplitN(p, "/", 2)[0]
		want[top] = true
	}
	for top := range want {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") || want[n] {
			continue
		}
		_ = os.Remove(filepath.Join(dir, n))
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

func samePayload(dir string, payload map[string]fileData) bool {
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, ok := payload[rel]
		if !ok || fi.Mode().Perm() != f.mode.Perm() {
			return errors.New("differs")
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != string(f.data) {
			return errors.New("differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(payload)
}

// makeMounts maps a container's volumeMounts (with subPath and
// subPathExpr) to CRI mounts.
func (k *Kubelet) makeMounts(pod *v1.Pod, c *v1.Container, volumes map[string]string, lookup func(string) (string, bool)) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %s is not ready", m.Name, m.MountPath)
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, lookup)
		}
		if sub != "" {
			if filepath.IsAbs(sub) || strings.Contains(sub, "..") {
				return nil, fmt.Errorf("invalid subPath %q", sub)
			}
			p := filepath.Join(host, sub)
			if _, err := os.Lstat(p); os.IsNotExist(err) {
				if err := os.MkdirAll(p, 0o777); err != nil {
					return nil, fmt.Errorf("subPath %q: %w", sub, err)
				}
			}
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil, fmt.Errorf("subPath %q: %w", sub, err)
			}
			if !strings.HasPrefix(resolved, host) {
				return nil, fmt.Errorf("subPath %q leaves its volume", sub)
			}
			host = resolved
		}
		prop := runtimeapi.MountPropagation_PROPAGATION_PRIVATE
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case v1.MountPropagationHostToContainer:
				prop = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case v1.MountPropagationBidirectional:
				prop = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly, Propagation: prop})
	}
	return out, nil
}

// teardownVolumes unmounts memory-backed volumes and removes the pod dir.
func (k *Kubelet) teardownVolumes(uid types.UID) error {
	base := k.volumesDir(uid)
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if isMountPoint(dir) {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", dir, err)
			}
		}
	}
	if err := os.RemoveAll(k.podDir(uid)); err != nil {
		return fmt.Errorf("remove pod dir: %w", err)
	}
	return nil
}
