// Package kubeletproxy serves the pod subresources that stream from a node — pods/log,
// pods/exec, pods/attach and pods/portforward — by proxying them to the kubelet of the pod's
// node over HTTPS, as upstream's API server does. Upgraded connections (SPDY and WebSocket,
// which kubectl uses for exec, attach and port-forward) pass through unchanged.
package kubeletproxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"github.com/bosun-k8s/bosun/internal/apiserver"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Getter reads the objects the proxy needs (the API server's own storage).
type Getter interface {
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// Config configures a Proxy.
type Config struct {
	Getter Getter
	// TLS authenticates the API server to kubelets (a client certificate from the cluster CA)
	// and verifies their serving certificates.
	TLS    *tls.Config
	Logger *slog.Logger
	// DefaultPort is used when a node does not report its kubelet endpoint (10250).
	DefaultPort int32
}

// Proxy forwards streaming pod subresources to kubelets.
type Proxy struct {
	cfg       Config
	transport *http.Transport
}

// New returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Getter == nil {
		return nil, fmt.Errorf("kubeletproxy: Getter is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DefaultPort == 0 {
		cfg.DefaultPort = 10250
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg.TLS,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false, // upgrades need HTTP/1.1
	}
	return &Proxy{cfg: cfg, transport: tr}, nil
}

// Handlers returns the subresource handlers keyed "pods/log", "pods/exec", "pods/attach",
// "pods/portforward".
func (p *Proxy) Handlers() map[string]func(w http.ResponseWriter, r *http.Request, namespace, name string) {
	return map[string]func(http.ResponseWriter, *http.Request, string, string){
		"pods/log":         p.serveLog,
		"pods/exec":        p.streaming("exec"),
		"pods/attach":      p.streaming("attach"),
		"pods/portforward": p.portForward,
	}
}

// container picks the container a request names, or the only one the pod has.
func container(pod *corev1.Pod, requested string) (string, error) {
	if requested != "" {
		for _, c := range allContainers(pod) {
			if c == requested {
				return requested, nil
			}
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", requested, pod.Name))
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	if def := pod.Annotations["kubectl.kubernetes.io/default-container"]; def != "" {
		return def, nil
	}
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " "))
	if len(pod.Spec.InitContainers) > 0 {
		var inits []string
		for _, c := range pod.Spec.InitContainers {
			inits = append(inits, c.Name)
		}
		msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(inits, " "))
	}
	return "", apierrors.NewBadRequest(msg)
}

func allContainers(pod *corev1.Pod) []string {
	var out []string
	for _, c := range pod.Spec.InitContainers {
		out = append(out, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		out = append(out, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		out = append(out, c.Name)
	}
	return out
}

// kubeletURL locates the kubelet of the pod's node.
func (p *Proxy) kubeletURL(ctx context.Context, pod *corev1.Pod) (*url.URL, error) {
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	node, err := p.cfg.Getter.Node(ctx, pod.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	host := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no address", node.Name))
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		port = p.cfg.DefaultPort
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, target *url.URL) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport:     p.transport,
		FlushInterval: -1, // stream logs as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.cfg.Logger.Info("kubelet proxy error", "url", target.Redacted(), "err", err)
			apiserver.WriteError(w, apierrors.NewInternalError(fmt.Errorf("error dialing backend: %w", err)))
		},
	}
	rp.ServeHTTP(w, r)
}

// serveLog proxies GET pods/{name}/log to /containerLogs/{ns}/{pod}/{container}.
func (p *Proxy) serveLog(w http.ResponseWriter, r *http.Request, namespace, name string) {
	if r.Method != http.MethodGet {
		apiserver.WriteError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/log"}, r.Method))
		return
	}
	pod, err := p.cfg.Getter.Pod(r.Context(), namespace, name)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	q := r.URL.Query()
	c, err := container(pod, q.Get("container"))
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	base, err := p.kubeletURL(r.Context(), pod)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	out := url.Values{}
	for _, k := range []string{"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	base.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", namespace, name, c)
	base.RawQuery = out.Encode()
	p.forward(w, r, base)
}

// streaming proxies pods/{name}/exec and /attach to /exec|/attach/{ns}/{pod}/{container}.
func (p *Proxy) streaming(kind string) func(http.ResponseWriter, *http.Request, string, string) {
	return func(w http.ResponseWriter, r *http.Request, namespace, name string) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			apiserver.WriteError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/" + kind}, r.Method))
			return
		}
		pod, err := p.cfg.Getter.Pod(r.Context(), namespace, name)
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			apiserver.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("cannot %s into a container in a completed pod; current phase is %s", kind, pod.Status.Phase)))
			return
		}
		q := r.URL.Query()
		c, err := container(pod, q.Get("container"))
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		base, err := p.kubeletURL(r.Context(), pod)
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		q.Del("container")
		base.Path = fmt.Sprintf("/%s/%s/%s/%s", kind, namespace, name, c)
		base.RawQuery = q.Encode()
		p.forward(w, r, base)
	}
}

// portForward proxies pods/{name}/portforward to /portForward/{ns}/{pod}.
func (p *Proxy) portForward(w http.ResponseWriter, r *http.Request, namespace, name string) {
	pod, err := p.cfg.Getter.Pod(r.Context(), namespace, name)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	if pod.Status.Phase != corev1.PodRunning {
		apiserver.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s is not running: %s", name, pod.Status.Phase)))
		return
	}
	base, err := p.kubeletURL(r.Context(), pod)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	base.Path = fmt.Sprintf("/portForward/%s/%s", namespace, name)
	base.RawQuery = r.URL.RawQuery
	p.forward(w, r, base)
}

func jsonEncode(w http.ResponseWriter, v any) error { return json.NewEncoder(w).Encode(v) }
