package controlplane_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/etcd"
	"github.com/bosun-k8s/bosun/internal/testserver"
)

func service(name string, typ corev1.ServiceType, clusterIP string, nodePort int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: nodePort}}}}
}

func TestServiceAllocation(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.Options{DataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svcs := s.Client.CoreV1().Services("default")

	k, err := svcs.Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || k.Spec.ClusterIP != "10.43.0.1" || k.Spec.Ports[0].Port != 443 {
		t.Fatalf("kubernetes service: %+v %v", k, err)
	}
	if ep, err := s.Client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil || len(ep.Subsets) != 1 {
		t.Errorf("kubernetes endpoints: %+v %v", ep, err)
	}

	web, err := svcs.Create(ctx, service("web", corev1.ServiceTypeClusterIP, "", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := netip.ParseAddr(web.Spec.ClusterIP); err != nil || !netip.MustParsePrefix("10.43.0.0/16").Contains(ip) {
		t.Errorf("ClusterIP %q not from the service range", web.Spec.ClusterIP)
	}
	if web.Spec.Ports[0].TargetPort.IntValue() != 80 || web.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("service port defaults: %+v", web.Spec.Ports[0])
	}
	np, err := svcs.Create(ctx, service("np", corev1.ServiceTypeNodePort, "10.43.200.200", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := np.Spec.Ports[0].NodePort; p < 30000 || p > 32767 {
		t.Errorf("nodePort %d out of range", p)
	}
	_, err = svcs.Create(ctx, service("dup", corev1.ServiceTypeClusterIP, "10.43.200.200", 0), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("taken ClusterIP: %v", err)
	}
	_, err = svcs.Create(ctx, service("dupport", corev1.ServiceTypeNodePort, "", np.Spec.Ports[0].NodePort), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Errorf("taken nodePort: %v", err)
	}
	_, err = svcs.Create(ctx, service("far", corev1.ServiceTypeNodePort, "", 80), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "The range of valid ports is 30000-32767") {
		t.Errorf("nodePort out of range: %v", err)
	}

	// Allocations survive a restart: the same address is still taken afterwards.
	s.Stop()
	s2 := testserver.Start(t, testserver.Options{DataDir: dir})
	svcs = s2.Client.CoreV1().Services("default")
	if _, err := svcs.Create(ctx, service("dup2", corev1.ServiceTypeClusterIP, "10.43.200.200", 0), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("address reused after restart: %v", err)
	}
	// Deleting a service releases its address.
	if err := svcs.Delete(ctx, "np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, service("dup3", corev1.ServiceTypeClusterIP, "10.43.200.200", 0), metav1.CreateOptions{}); err != nil {
		t.Errorf("address not released by delete: %v", err)
	}
}

// TestExternalEtcd runs the server on an etcd reached through endpoints, the path an HA
// cluster uses, and checks objects survive a server restart.
func TestExternalEtcd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	et, err := etcd.New(etcd.Config{DataDir: t.TempDir(), ClientListen: addr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- et.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-et.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	endpoint := fmt.Sprintf("http://%s", addr)
	s := testserver.Start(t, testserver.Options{EtcdEndpoints: []string{endpoint}})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ext"}, Data: map[string]string{"k": "v"}}
	if _, err := s.Client.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2 := testserver.Start(t, testserver.Options{EtcdEndpoints: []string{endpoint}})
	got, err := s2.Client.CoreV1().ConfigMaps("default").Get(context.Background(), "ext", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("object from external etcd after restart: %v %v", got, err)
	}
}

// TestReadyz: /readyz lists its checks and passes only once the bootstrap objects exist.
func TestReadyz(t *testing.T) {
	s := testserver.Start(t)
	body, err := s.Client.CoreV1().RESTClient().Get().AbsPath("/readyz").Param("verbose", "").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[+]ping ok", "[+]etcd ok", "[+]informer-sync ok", "[+]poststarthook/bootstrap ok", "readyz check passed"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/readyz?verbose lacks %q:\n%s", want, body)
		}
	}
}
