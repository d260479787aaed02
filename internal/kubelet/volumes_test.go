package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestWriteAtomicSwapsContents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if err := writeAtomic(dir, map[string]fileData{"a": {[]byte("one"), 0o644}, "sub/b": {[]byte("two"), 0o400}}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if read("a") != "one" || read("sub/b") != "two" {
		t.Fatalf("contents a=%q sub/b=%q", read("a"), read("sub/b"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "sub/b")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("mode of sub/b: %v %v", fi.Mode(), err)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	// Same payload: nothing rewritten.
	if err := writeAtomic(dir, map[string]fileData{"a": {[]byte("one"), 0o644}, "sub/b": {[]byte("two"), 0o400}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("unchanged payload rewritten: %s → %s", first, again)
	}
	// New payload: a changes, sub/b disappears, c appears.
	if err := writeAtomic(dir, map[string]fileData{"a": {[]byte("uno"), 0o644}, "c": {[]byte("three"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if read("a") != "uno" || read("c") != "three" {
		t.Errorf("after update a=%q c=%q", read("a"), read("c"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("stale entry sub still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old data dir %s still there", first)
	}
}

func TestConfigMapVolumeFollowsUpdates(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"greeting": "hi"}}
	pod := testPod("vols", "a")
	mode := int32(0o600)
	pod.Spec.Volumes = []v1.Volume{
		{Name: "cm", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"},
			Items: []v1.KeyToPath{{Key: "greeting", Path: "dir/hello.txt", Mode: &mode}}}}},
		{Name: "down", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		}}}},
		{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
		{Name: "cm", MountPath: "/etc/cfg", ReadOnly: true},
		{Name: "cm", MountPath: "/hello.txt", SubPath: "dir/hello.txt"},
		{Name: "down", MountPath: "/etc/podinfo"},
		{Name: "scratch", MountPath: "/scratch", SubPath: "x/y"},
	}
	h := startKubelet(t, rt, cm, pod)
	h.waitPod("default", "vols", "Running", running)
	volDir := h.kl.volumesDir(pod.UID)
	read := func(p string) string {
		b, _ := os.ReadFile(filepath.Join(volDir, p))
		return string(b)
	}
	if read("cm/dir/hello.txt") != "hi" || read("down/name") != "vols" || read("down/labels") != `app="vols"` {
		t.Errorf("volume contents: %q %q %q", read("cm/dir/hello.txt"), read("down/name"), read("down/labels"))
	}
	if fi, err := os.Stat(filepath.Join(volDir, "cm/dir/hello.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("item mode: %v %v", fi, err)
	}
	rt.mu.Lock()
	mounts := map[string]string{}
	for _, c := range rt.containers {
		for _, m := range c.cfg.Mounts {
			mounts[m.ContainerPath] = m.HostPath
		}
	}
	rt.mu.Unlock()
	// A subPath is resolved to the real file (not a symlink a container
	// could follow elsewhere).
	if fi, err := os.Lstat(mounts["/hello.txt"]); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("subPath mount source %s: %v %v", mounts["/hello.txt"], fi, err)
	}
	if fi, err := os.Stat(mounts["/scratch"]); err != nil || !fi.IsDir() {
		t.Errorf("emptyDir subPath not created: %v", err)
	}
	if _, ok := mounts["/etc/hosts"]; !ok {
		t.Error("no kubelet-managed /etc/hosts mount")
	}

	cm.Data["greeting"] = "hello again"
	if _, err := h.client.CoreV1().ConfigMaps("default").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the configMap volume to follow the update", func() bool { return read("cm/dir/hello.txt") == "hello again" })
}

// TestServiceAccountTokenVolume: the kube-api-access volume gets a token the kubelet asks the
// API for (bound to the pod, for its service account), the CA and the namespace.
func TestServiceAccountTokenVolume(t *testing.T) {
	rt := newFakeRuntime("bosun.local/hello:v1")
	ca := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "default"}, Data: map[string]string{"ca.crt": "CA PEM"}}
	pod := testPod("tok", "a")
	pod.Spec.ServiceAccountName = "builder"
	exp := int64(3607)
	pod.Spec.Volumes = []v1.Volume{{Name: "kube-api-access-abcde", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
		{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
		{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
	}}}}}
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{{Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}
	var mu sync.Mutex
	var asked []*authv1.TokenRequest
	h := startKubeletWith(t, rt, func(c *fake.Clientset) {
		c.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "token" {
				return false, nil, nil
			}
			ca := a.(k8stesting.CreateActionImpl)
			tr := ca.GetObject().(*authv1.TokenRequest).DeepCopy()
			mu.Lock()
			asked = append(asked, tr)
			mu.Unlock()
			if ca.Name != "builder" {
				return true, nil, fmt.Errorf("token for %q", ca.Name)
			}
			tr.Status.Token = "token-for-builder"
			return true, tr, nil
		})
	}, ca, pod)
	h.waitPod("default", "tok", "Running", running)
	volDir := filepath.Join(h.kl.volumesDir(pod.UID), "kube-api-access-abcde")
	for file, want := range map[string]string{"token": "token-for-builder", "ca.crt": "CA PEM", "namespace": "default"} {
		if b, err := os.ReadFile(filepath.Join(volDir, file)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", file, b, err, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 {
		t.Fatal("no token requested")
	}
	ref := asked[0].Spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" || ref.Name != "tok" || ref.UID != pod.UID || *asked[0].Spec.ExpirationSeconds != 3607 {
		t.Errorf("token request %+v", asked[0].Spec)
	}
}
