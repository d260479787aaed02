// Command hello is bosun's demo web application, built into
// bosun.local/hello:v1 and bosun.local/hello:v2. It answers every request on
// port 8080 (PORT overrides) with "Hello from <hostname> (<version>)", serves
// /healthz, and on SIGTERM keeps serving for SHUTDOWN_DELAY (default 3s)
// before it shuts down, as a well-behaved web app behind a load balancer does.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run() error {
	version := envOr("HELLO_VERSION", "v1")
	port := envOr("PORT", "8080")
	delay, err := time.ParseDuration(envOr("SHUTDOWN_DELAY", "3s"))
	if err != nil {
		return fmt.Errorf("parse SHUTDOWN_DELAY: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	greeting := fmt.Sprintf("Hello from %s (%s)\n", host, version)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, greeting)
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("hello %s listening on :%s as %s\n", version, port, host)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errc:
		return err
	case sig := <-sigs:
		fmt.Printf("hello: %v received, serving %v more before shutdown\n", sig, delay)
	}
	time.Sleep(delay)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Println("hello: bye")
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
