// Command bench measures bosun's figures and prints one per line as "name: value unit".
// It starts the built binary (-bin) on a temporary data dir and a free port, and sends load
// only to that server on this machine.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	bin := flag.String("bin", "bin/bosun", "bosun binary")
	pods := flag.Int("pods", 10000, "pods to create")
	workers := flag.Int("workers", 16, "client workers creating pods")
	starts := flag.Int("starts", 5, "server starts to time")
	flag.DurationVar(&hold, "hold", 0, "keep the loaded server running this long at the end (for profiling)")
	flag.Parse()
	if err := run(*bin, *pods, *workers, *starts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var hold time.Duration

type server struct {
	cmd  *exec.Cmd
	dir  string
	port int
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, dir string) (*server, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--bind-address", "127.0.0.1",
		"--https-port", strconv.Itoa(port), "--disable-agent", "--disable-scheduler", "--disable-controller-manager", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	s := &server{cmd: cmd, dir: dir, port: port}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Since(t0) < 60*time.Second {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, time.Since(t0), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.stop()
	return nil, 0, fmt.Errorf("server not ready after 60s")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// rss reads the server's resident memory: the total, and the part that is its own (heap,
// stacks: RssAnon) rather than pages of the binary and of etcd's database file (RssFile).
func (s *server) rss() string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "unknown"
	}
	mb := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "RssAnon:" || f[0] == "RssFile:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mb[f[0]] = kb / 1024
		}
	}
	return fmt.Sprintf("%.0f MB (anonymous %.0f MB, file-backed %.0f MB)", mb["VmRSS:"], mb["RssAnon:"], mb["RssFile:"])
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func run(bin string, nPods, workers, starts int) error {
	root, err := os.MkdirTemp("", "bosun-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	// Start-up: fresh data dirs, then a restart on an existing one.
	var fresh []time.Duration
	for i := 0; i < starts; i++ {
		s, d, err := start(bin, filepath.Join(root, fmt.Sprintf("start%d", i)))
		if err != nil {
			return err
		}
		fresh = append(fresh, d)
		s.stop()
	}
	fmt.Printf("server start to /readyz (fresh data dir, median of %d): %s\n", starts, ms(percentile(fresh, 0.5)))
	var again []time.Duration
	for i := 0; i < starts; i++ {
		s, d, err := start(bin, filepath.Join(root, "start0"))
		if err != nil {
			return err
		}
		again = append(again, d)
		s.stop()
	}
	fmt.Printf("server start to /readyz (existing data dir, median of %d): %s\n", starts, ms(percentile(again, 0.5)))

	if os.Geteuid() == 0 {
		if err := clusterStarts(bin, root, starts); err != nil {
			return err
		}
	} else {
		fmt.Println("whole cluster start to node Ready: not measured (needs root)")
	}

	s, _, err := start(bin, filepath.Join(root, "load"))
	if err != nil {
		return err
	}
	defer s.stop()
	fmt.Printf("server RSS idle: %s\n", s.rss())
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kubeconfig"))
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100000, 100000
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	lat := make([]time.Duration, nPods)
	var wg sync.WaitGroup
	next := make(chan int, nPods)
	for i := 0; i < nPods; i++ {
		next <- i
	}
	close(next)
	var firstErr error
	var errMu sync.Mutex
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := benchPod(i)
				st := time.Now()
				_, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
				lat[i] = time.Since(st)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	total := time.Since(t0)
	if firstErr != nil {
		return fmt.Errorf("create: %w", firstErr)
	}
	fmt.Printf("pod creates/s (%d pods, %d workers): %.0f\n", nPods, workers, float64(nPods)/total.Seconds())
	fmt.Printf("pod create latency p50: %s\n", ms(percentile(lat, 0.5)))
	fmt.Printf("pod create latency p99: %s\n", ms(percentile(lat, 0.99)))

	for _, form := range []struct{ name, accept string }{
		{"JSON", "application/json"},
		{"Table", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
	} {
		var ds []time.Duration
		var size int
		for i := 0; i < 5; i++ {
			d, n, err := timedList(cfg, form.accept)
			if err != nil {
				return err
			}
			ds = append(ds, d)
			size = n
		}
		fmt.Printf("list %d pods as %s (median of 5, %.1f MB): %s\n", nPods, form.name, float64(size)/1e6, ms(percentile(ds, 0.5)))
	}
	fmt.Printf("server RSS with %d pods: %s\n", nPods, s.rss())
	if hold > 0 {
		fmt.Fprintf(os.Stderr, "holding: KUBECONFIG=%s\n", filepath.Join(s.dir, "kubeconfig"))
		time.Sleep(hold)
	}
	return nil
}

func timedList(cfg *rest.Config, accept string) (time.Duration, int, error) {
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return 0, 0, err
	}
	hc := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", cfg.Host+"/api/v1/namespaces/default/pods", nil)
	req.Header.Set("Accept", accept)
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("list: %d %v", resp.StatusCode, err)
	}
	return time.Since(t0), int(n), nil
}

func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Labels: map[string]string{"app": "bench", "shard": strconv.Itoa(i % 10)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "hello", Image: "bosun.local/hello:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

// clusterStarts times the whole cluster — API server, controllers and the
// agent with its containerd — from the process start to its node showing
// Ready, each on a fresh data dir (on an existing one the node still shows
// the Ready its last run wrote, so there is nothing to time).
func clusterStarts(bin, root string, starts int) error {
	var fresh []time.Duration
	for i := 0; i < starts; i++ {
		d, err := clusterStart(bin, filepath.Join(root, fmt.Sprintf("cluster%d", i)))
		if err != nil {
			return err
		}
		fresh = append(fresh, d)
	}
	fmt.Printf("whole cluster start to node Ready (fresh data dir, median of %d): %s\n", starts, ms(percentile(fresh, 0.5)))
	return nil
}

func clusterStart(bin, dir string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--bind-address", "127.0.0.1",
		"--https-port", strconv.Itoa(port), "--cleanup-on-exit", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	s := &server{cmd: cmd, dir: dir, port: port}
	defer s.stop()
	var cs *kubernetes.Clientset
	for time.Since(t0) < 60*time.Second {
		if cs == nil {
			if cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig")); err == nil {
				cfg.Host, cfg.Timeout = fmt.Sprintf("https://127.0.0.1:%d", port), time.Second
				cs, _ = kubernetes.NewForConfig(cfg)
			}
		}
		if cs != nil {
			nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
			if err == nil {
				for _, n := range nodes.Items {
					for _, c := range n.Status.Conditions {
						if c.Type == "Ready" && c.Status == "True" {
							return time.Since(t0), nil
						}
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("no node Ready 60s after the start")
}
