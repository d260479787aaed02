// Package deps pins the libraries bosun builds on so that the module graph
// stays stable while the packages that use them are written.
package deps

import (
	_ "github.com/containerd/containerd"
	_ "github.com/google/go-containerregistry/pkg/v1"
	_ "github.com/google/nftables"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "golang.org/x/sync/errgroup"
	_ "gopkg.in/evanphx/json-patch.v4"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/util/strategicpatch"
	_ "k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
	_ "k8s.io/kube-openapi/pkg/common"
	_ "sigs.k8s.io/yaml"
)
