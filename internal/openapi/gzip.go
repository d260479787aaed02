package openapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// compressed holds a document's gzip encoding, made on first request and kept.
type compressed struct {
	once sync.Once
	b    []byte
	err  error
}

func (c *compressed) get(plain []byte) ([]byte, error) {
	c.once.Do(func() {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(plain); err != nil {
			c.err = fmt.Errorf("openapi: gzip: %w", err)
			return
		}
		if err := zw.Close(); err != nil {
			c.err = fmt.Errorf("openapi: gzip: %w", err)
			return
		}
		c.b = buf.Bytes()
	})
	return c.b, c.err
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		fields := strings.Split(part, ";")
		if strings.TrimSpace(strings.ToLower(fields[0])) != "gzip" {
			continue
		}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// serveDocument writes a document (handling If-None-Match, If-Modified-Since and HEAD
// through http.ServeContent), gzip-encoded from the kept encoding when the client accepts it.
func serveDocument(w http.ResponseWriter, r *http.Request, modified time.Time, plain []byte, gz *compressed) error {
	w.Header().Add("Vary", "Accept-Encoding")
	body := plain
	if acceptsGzip(r) {
		b, err := gz.get(plain)
		if err != nil {
			return err
		}
		body = b
		w.Header().Set("Content-Encoding", "gzip")
	}
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
	return nil
}
