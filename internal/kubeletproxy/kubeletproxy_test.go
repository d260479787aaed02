package kubeletproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeGetter struct {
	pods  map[string]*corev1.Pod
	nodes map[string]*corev1.Node
}

func (f *fakeGetter) Pod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := f.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
}

func (f *fakeGetter) Node(_ context.Context, name string) (*corev1.Node, error) {
	if n, ok := f.nodes[name]; ok {
		return n, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
}

// fakeKubelet answers logs with the request it got, and upgrades /exec to an echo stream.
func fakeKubelet(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/exec/") {
			if r.Header.Get("Upgrade") == "" {
				http.Error(w, "upgrade required", http.StatusBadRequest)
				return
			}
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
			brw.Flush()
			line, _ := brw.ReadString('\n')
			fmt.Fprintf(brw, "echo:%s?%s:%s", r.URL.Path, r.URL.RawQuery, line)
			brw.Flush()
			return
		}
		fmt.Fprintf(w, "%s?%s", r.URL.Path, r.URL.RawQuery)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func setup(t *testing.T) (*httptest.Server, *Proxy) {
	kubelet := fakeKubelet(t)
	u, _ := url.Parse(kubelet.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	one := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "one"},
		Spec:   corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "web"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	two := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "two"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	pending := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pending"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}}
	g := &fakeGetter{pods: map[string]*corev1.Pod{"default/one": one, "default/two": two, "default/pending": pending},
		nodes: map[string]*corev1.Node{"node-a": node}}
	p, err := New(Config{Getter: g, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for key, h := range p.Handlers() {
		res, sub, _ := strings.Cut(key, "/")
		h := h
		mux.HandleFunc("/api/v1/namespaces/{ns}/"+res+"/{name}/"+sub, func(w http.ResponseWriter, r *http.Request) {
			h(w, r, r.PathValue("ns"), r.PathValue("name"))
		})
	}
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return api, p
}

func TestLogs(t *testing.T) {
	api, _ := setup(t)
	cases := []struct {
		path, want string
		code       int
	}{
		{"/api/v1/namespaces/default/pods/one/log?follow=true&tailLines=5&timestamps=true", "/containerLogs/default/one/web?follow=true&tailLines=5&timestamps=true", 200},
		{"/api/v1/namespaces/default/pods/two/log?container=b&previous=true", "/containerLogs/default/two/b?previous=true", 200},
		{"/api/v1/namespaces/default/pods/two/log", "a container name must be specified for pod two, choose one of: [a b]", 400},
		{"/api/v1/namespaces/default/pods/two/log?container=zz", "container zz is not valid for pod two", 400},
		{"/api/v1/namespaces/default/pods/pending/log", "pod pending does not have a host assigned", 400},
		{"/api/v1/namespaces/default/pods/nope/log", `pods \"nope\" not found`, 404},
	}
	for _, tc := range cases {
		resp, err := http.Get(api.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want %d %q", tc.path, resp.StatusCode, body, tc.code, tc.want)
		}
	}
}

func TestExecUpgradePassesThrough(t *testing.T) {
	api, _ := setup(t)
	u, _ := url.Parse(api.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/namespaces/default/pods/one/exec?command=ls&stdout=true HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n", u.Host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	fmt.Fprintf(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "echo:/exec/default/one/web?command=ls&stdout=true:hello\n"; line != want {
		t.Errorf("stream answered %q, want %q", line, want)
	}
}
