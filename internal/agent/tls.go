package agent

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/bosun-k8s/bosun/internal/certs"
)

// KubeletTLS issues (or reuses) the kubelet's serving certificate from the
// cluster CA — named after the node, with its IP — and returns the
// Config.KubeletTLS that requires clients (the API server) to present a
// certificate from the same CA. Files go to dir/kubelet.{crt,key}.
func KubeletTLS(ca *certs.CA, dir, nodeName, nodeIP string) (*tls.Config, error) {
	leaf := certs.Leaf{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"},
		DNSNames: []string{nodeName, "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}
	if ip := net.ParseIP(nodeIP); ip != nil {
		leaf.IPs = append(leaf.IPs, ip)
	}
	cert, err := ca.Issue(dir, "kubelet", leaf)
	if err != nil {
		return nil, fmt.Errorf("agent: kubelet serving certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
