package server

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/bosun-k8s/bosun/internal/agent"
	"github.com/bosun-k8s/bosun/internal/certs"
	"github.com/bosun-k8s/bosun/internal/node"
)

// newNode assembles the local node: its own client certificate (system:node:<name>), a kubelet
// serving certificate from the cluster CA, and the node's parts.
func (s *Server) newNode(adminCfg *rest.Config, nodeIP netip.Addr) (*node.Node, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	name := strings.ToLower(host)
	tlsDir := filepath.Join(s.cfg.DataDir, "tls")
	ca, err := certs.LoadOrCreateCA(tlsDir, "bosun-server-ca")
	if err != nil {
		return nil, err
	}
	if _, err := ca.Issue(tlsDir, "node", certs.Leaf{CommonName: "system:node:" + name,
		Organization: []string{"system:nodes"}, Client: true}); err != nil {
		return nil, err
	}
	nodeCfg := rest.CopyConfig(adminCfg)
	nodeCfg.TLSClientConfig.CertFile = filepath.Join(tlsDir, "node.crt")
	nodeCfg.TLSClientConfig.KeyFile = filepath.Join(tlsDir, "node.key")
	kubeletTLS, err := agent.KubeletTLS(ca, tlsDir, name, nodeIP.String())
	if err != nil {
		return nil, err
	}
	return node.New(node.Config{
		RESTConfig: nodeCfg, NodeName: name, NodeIP: nodeIP,
		DataDir:                  filepath.Join(s.cfg.DataDir, "agent"),
		ContainerRuntimeEndpoint: s.cfg.ContainerRuntimeEndpoint,
		ClusterCIDR:              s.cfg.ClusterCIDR, ServiceCIDR: s.cfg.ServiceCIDR,
		ClusterDNS: s.cfg.ClusterDNS, ClusterDomain: s.cfg.ClusterDomain,
		KubeletTLS: kubeletTLS, CleanupOnExit: s.cfg.CleanupOnExit, Logger: s.log,
	})
}
