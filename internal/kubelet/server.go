package kubelet

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Handler is the kubelet's HTTP API, the part the API server proxies to:
//
//	GET  /healthz
//	GET  /pods                                      the node's pods (PodList)
//	GET  /containerLogs/{ns}/{pod}/{container}      follow, previous, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes
//	*    /exec/{ns}/{pod}/{container}               command=…&input=1&output=1&error=1&tty=1
//	*    /attach/{ns}/{pod}/{container}             input, output, error, tty
//	*    /portForward/{ns}/{pod}                    port=…&port=… (or the API's ports=a,b)
//
// exec, attach and portForward are proxied (with their SPDY or WebSocket
// upgrade) to the runtime's CRI streaming server.
func (k *Kubelet) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /pods", k.servePods)
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.serveLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", k.serveExec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", k.serveAttach)
	mux.HandleFunc("/portForward/{ns}/{pod}", k.servePortForward)
	return mux
}

// Serve serves Handler on ln (with TLS when tlsCfg is set; the API server
// then authenticates with a client certificate) until ctx ends.
func (k *Kubelet) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	srv := &http.Server{Handler: k.Handler(), ReadHeaderTimeout: 30 * time.Second, TLSConfig: tlsCfg,
		ErrorLog: slog.NewLogLogger(k.log.Handler(), slog.LevelDebug)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	var err error
	if tlsCfg != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("kubelet server: %w", err)
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (k *Kubelet) servePods(w http.ResponseWriter, _ *http.Request) {
	pods, err := k.podLister.List(labels.Everything())
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	list := v1.PodList{}
	list.Kind, list.APIVersion = "PodList", "v1"
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

// findContainer returns the newest (or, with previous, the one before it)
// instance of a pod's container.
func (k *Kubelet) findInstance(ctx context.Context, ns, podName, container string, previous bool) (*v1.Pod, *runtimeapi.ContainerStatus, int, error) {
	pod, err := k.podLister.Pods(ns).Get(podName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, http.StatusNotFound, fmt.Errorf("pod %s/%s not found on this node", ns, podName)
		}
		return nil, nil, http.StatusInternalServerError, err
	}
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			var names []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return nil, nil, http.StatusBadRequest, fmt.Errorf("a container name must be specified for pod %s, choose one of: %v", podName, names)
		}
		container = pod.Spec.Containers[0].Name
	}
	if findContainer(pod, container) == nil {
		return nil, nil, http.StatusBadRequest, fmt.Errorf("container %s is not valid for pod %s", container, podName)
	}
	list, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{
		LabelManaged: "true", LabelPodUID: string(pod.UID), LabelContainer: container,
	}})
	if err != nil {
		return nil, nil, http.StatusInternalServerError, err
	}
	sort.Slice(list, func(i, j int) bool {
		if a, b := list[i].GetMetadata().GetAttempt(), list[j].GetMetadata().GetAttempt(); a != b {
			return a > b
		}
		return list[i].CreatedAt > list[j].CreatedAt
	})
	idx := 0
	if previous {
		idx = 1
	}
	if len(list) <= idx {
		if previous {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("previous terminated container %q in pod %q not found", container, podName)
		}
		return nil, nil, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, podName)
	}
	st, err := k.runtime.ContainerStatus(ctx, list[idx].Id)
	if err != nil {
		return nil, nil, http.StatusInternalServerError, err
	}
	return pod, st, 0, nil
}

type logOptions struct {
	follow, timestamps bool
	tail               int64 // -1: all
	since              time.Time
	limit              int64 // 0: none
}

func parseLogOptions(q url.Values) (logOptions, error) {
	o := logOptions{tail: -1}
	o.follow = boolParam(q, "follow")
	o.timestamps = boolParam(q, "timestamps")
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return o, fmt.Errorf("invalid tailLines %q", v)
		}
		o.tail = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("invalid sinceSeconds %q", v)
		}
		o.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return o, fmt.Errorf("invalid sinceTime %q", v)
		}
		o.since = t
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return o, fmt.Errorf("invalid limitBytes %q", v)
		}
		o.limit = n
	}
	return o, nil
}

func boolParam(q url.Values, name string) bool {
	v := q.Get(name)
	return v == "1" || strings.EqualFold(v, "true")
}

func (k *Kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	opts, err := parseLogOptions(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	_, st, code, err := k.findInstance(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), boolParam(r.URL.Query(), "previous"))
	if err != nil {
		httpError(w, code, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	out := io.Writer(w)
	if opts.limit > 0 {
		out = &limitWriter{w: w, n: opts.limit}
	}
	running := func() bool {
		s, err := k.runtime.ContainerStatus(r.Context(), st.Id)
		return err == nil && s.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	if err := streamLog(r.Context(), st.LogPath, opts, out, running); err != nil && !errors.Is(err, errLimit) {
		k.log.Debug("log stream ended", "err", err)
	}
}

var errLimit = errors.New("limitBytes reached")

// rfc3339NanoFixed is how log timestamps are written (always 9 digits).
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	trunc := false
	if int64(len(p)) > l.n {
		p, trunc = p[:l.n], true
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err == nil && trunc {
		err = errLimit
	}
	return n, err
}

// logLine is one parsed line of a CRI log file.
type logLine struct {
	ts      time.Time
	text    string
	partial bool
}

func parseLogLine(s string) (logLine, bool) {
	parts := strings.SplitN(s, " ", 4)
	if len(parts) < 3 {
		return logLine{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return logLine{}, false
	}
	l := logLine{ts: ts, partial: parts[2] == "P"}
	if len(parts) == 4 {
		l.text = parts[3]
	}
	return l, true
}

// streamLog writes the container log at path per opts; with follow it
// keeps reading until the container stopped and the file is drained, or
// ctx ends.
func streamLog(ctx context.Context, path string, opts logOptions, w io.Writer, running func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		} else if lw, ok := w.(*limitWriter); ok {
			if fl, ok := lw.w.(http.Flusher); ok {
				fl.Flush()
			}
		}
	}
	emit := func(l logLine) error {
		if !opts.since.IsZero() && l.ts.Before(opts.since) {
			return nil
		}
		text := l.text
		if !l.partial {
			text += "\n"
		}
		if opts.timestamps {
			text = l.ts.Format(rfc3339NanoFixed) + " " + text
		}
		_, err := io.WriteString(w, text)
		return err
	}
	rd := bufio.NewReaderSize(f, 64<<10)
	// With tailLines, read everything first and keep the last lines.
	var pending []logLine
	var partialBuf string
	readLines := func(collect bool) error {
		for {
			s, err := rd.ReadString('\n')
			if err == io.EOF {
				partialBuf += s
				return nil
			}
			if err != nil {
				return err
			}
			s = partialBuf + strings.TrimSuffix(s, "\n")
			partialBuf = ""
			l, ok := parseLogLine(s)
			if !ok {
				continue
			}
			if collect {
				pending = append(pending, l)
				continue
			}
			if err := emit(l); err != nil {
				return err
			}
		}
	}
	if opts.tail >= 0 {
		if err := readLines(true); err != nil {
			return err
		}
		// Count whole lines (a run of partials plus its final part).
		start, lines := len(pending), int64(0)
		for i := len(pending) - 1; i >= 0; i-- {
			if !pending[i].partial {
				if lines == opts.tail {
					break
				}
				lines++
			}
			start = i
		}
		if opts.tail == 0 {
			start = len(pending)
		}
		for _, l := range pending[start:] {
			if err := emit(l); err != nil {
				return err
			}
		}
		pending = nil
	} else if err := readLines(false); err != nil {
		return err
	}
	flush()
	if !opts.follow {
		return nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		wasRunning := running()
		if err := readLines(false); err != nil {
			return err
		}
		flush()
		if !wasRunning {
			// One last read after the container stopped.
			return readLines(false)
		}
	}
}

// serveExec asks the runtime for an exec session and proxies to it.
func (k *Kubelet) serveExec(w http.ResponseWriter, r *http.Request) {
	_, st, code, err := k.findInstance(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		httpError(w, code, "%v", err)
		return
	}
	q := r.URL.Query()
	cmd := q["command"]
	if len(cmd) == 0 {
		httpError(w, http.StatusBadRequest, "missing command")
		return
	}
	in, out, errOut, tty := streams(q)
	u, err := k.runtime.Exec(r.Context(), &runtimeapi.ExecRequest{ContainerId: st.Id, Cmd: cmd, Tty: tty, Stdin: in, Stdout: out, Stderr: errOut && !tty})
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	proxyStream(w, r, u)
}

func (k *Kubelet) serveAttach(w http.ResponseWriter, r *http.Request) {
	_, st, code, err := k.findInstance(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		httpError(w, code, "%v", err)
		return
	}
	in, out, errOut, tty := streams(r.URL.Query())
	u, err := k.runtime.Attach(r.Context(), &runtimeapi.AttachRequest{ContainerId: st.Id, Tty: tty, Stdin: in, Stdout: out, Stderr: errOut && !tty})
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	proxyStream(w, r, u)
}

func (k *Kubelet) servePortForward(w http.ResponseWriter, r *http.Request) {
	pod, err := k.podLister.Pods(r.PathValue("ns")).Get(r.PathValue("pod"))
	if err != nil {
		httpError(w, http.StatusNotFound, "pod %s/%s not found on this node", r.PathValue("ns"), r.PathValue("pod"))
		return
	}
	sbs, err := k.runtime.ListPodSandbox(r.Context(), &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{LabelManaged: "true", LabelPodUID: string(pod.UID)},
	})
	if err != nil || len(sbs) == 0 {
		httpError(w, http.StatusBadRequest, "pod %s/%s has no running sandbox", pod.Namespace, pod.Name)
		return
	}
	// The kubelet's spelling is port=…&port=…; the API's is ports=a,b.
	var ports []int32
	q := r.URL.Query()
	for _, p := range append(q["port"], q["ports"]...) {
		for _, f := range strings.Split(p, ",") {
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil || n == 0 {
				httpError(w, http.StatusBadRequest, "invalid port %q", f)
				return
			}
			ports = append(ports, int32(n))
		}
	}
	u, err := k.runtime.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sbs[0].Id, Port: ports})
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	proxyStream(w, r, u)
}

// streams reads the stream flags in both the kubelet's (input/output/
// error) and the API's (stdin/stdout/stderr) spelling.
func streams(q url.Values) (in, out, errOut, tty bool) {
	get := func(a, b string) bool { return boolParam(q, a) || boolParam(q, b) }
	return get("input", "stdin"), get("output", "stdout"), get("error", "stderr"), boolParam(q, "tty")
}

// proxyStream forwards the (upgrading) request to the runtime's streaming
// URL and copies both directions until either side closes.
func proxyStream(w http.ResponseWriter, r *http.Request, streamURL string) {
	target, err := url.Parse(streamURL)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "bad streaming URL %q: %v", streamURL, err)
		return
	}
	rp := &httputil.ReverseProxy{
		Director: func(out *http.Request) {
			out.URL.Scheme, out.URL.Host, out.URL.Path, out.URL.RawPath = target.Scheme, target.Host, target.Path, target.RawPath
			// The streaming server reads some parameters from the
			// query (port-forward over WebSocket: ports=…).
			if target.RawQuery != "" {
				out.URL.RawQuery = target.RawQuery
			}
			out.Host = target.Host
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			httpError(w, http.StatusBadGateway, "streaming server: %v", err)
		},
	}
	rp.ServeHTTP(w, r)
}
