// Package containerd supervises the containerd a bosun node runs its pods on.
//
// Run writes a config.toml (version 2) under <DataDir>/containerd with the
// node's own socket, root and state directories, and the CRI plugin set up
// for these machines: restrict_oom_score_adj (lowering oom_score_adj is
// denied), cgroupfs (SystemdCgroup = false), the sandbox image
// bosun.local/pause:3.10, the CNI plugins found in /usr/lib/cni or
// /opt/cni/bin, a streaming server on a random loopback port, and network
// namespaces mounted under the state dir. Next to it, it writes the CNI
// conflist for the node's pod CIDR: a bridge (bosun0) that is the pods'
// gateway, host-local IPAM over the pod CIDR, and portmap for hostPorts
// (containerd adds loopback itself). The pods' egress masquerade is one
// nftables rule the supervisor installs (masq.go) rather than the bridge
// plugin's per-pod iptables chains.
//
// It then starts containerd as a child process, waits until the CRI answers
// a Version call on the socket, closes the Ready channel, and restarts the
// process with back-off whenever it exits while ctx is live. When ctx ends it
// stops containerd by PID (SIGTERM, then SIGKILL). Pods keep running across a
// containerd restart: their shims are separate processes.
//
//	Run ──► write config ──► start ──► wait for CRI ──► Ready
//	          ▲                                   │ process exits
//	          └──────── back-off (1s … 30s) ◄─────┘
package containerd
