package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// testCert issues a certificate for 127.0.0.1 signed by ca (self-signed when ca is nil).
func testCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "bosun-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestExternalTLS connects to an etcd that requires client certificates.
func TestExternalTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM, _ := testCert(t, nil, nil, true)
	_, _, srvPEM, srvKey := testCert(t, ca, caKey, false)
	_, _, cliPEM, cliKey := testCert(t, ca, caKey, false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", caPEM)

	peer, err := freeLoopbackURL()
	if err != nil {
		t.Fatal(err)
	}
	client, err := freeLoopbackURL()
	if err != nil {
		t.Fatal(err)
	}
	client.Scheme = "https"
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile: write("server.pem", srvPEM), KeyFile: write("server-key.pem", srvKey),
		TrustedCAFile: caFile, ClientCertAuth: true,
	}
	cfg.LogLevel = "error"
	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	select {
	case <-srv.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("TLS etcd not ready")
	}

	pair, err := tls.X509KeyPair(cliPEM, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	e := start(t, Config{
		Endpoints: []string{client.String()},
		TLS:       &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx := context.Background()
	if _, err := e.Client().Put(ctx, "/tls", "ok"); err != nil {
		t.Fatalf("put over TLS: %v", err)
	}
	if err := e.Healthy(ctx); err != nil {
		t.Fatalf("Healthy over TLS: %v", err)
	}

	// Without a client certificate the server refuses: the certificate really is in use.
	anon, err := clientv3.New(clientv3.Config{Endpoints: []string{client.String()}, TLS: &tls.Config{RootCAs: pool}, DialTimeout: 5 * time.Second})
	if err == nil {
		defer anon.Close()
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = anon.Put(tctx, "/tls", "anonymous")
	}
	if err == nil {
		t.Fatal("put without a client certificate succeeded")
	}
}
