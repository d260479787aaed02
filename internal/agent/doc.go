// Package agent assembles a bosun node: it registers the Node, keeps its
// Lease and status fresh, supervises containerd, loads bosun's images and
// runs the kubelet. The same code runs inside `bosun server` (the local
// node) and as `bosun agent` on other machines.
//
// Start-up order (each step waits for the one before):
//
//	register Node (NotReady) ──► renew Lease every 10 s (from now on)
//	      │
//	      ▼
//	wait for spec.podCIDR (the node IPAM controller assigns it)
//	      │
//	      ▼
//	containerd: supervise our own (config + CNI conflist for the podCIDR)
//	            or use ContainerRuntimeEndpoint
//	      │
//	      ▼
//	load bosun.local images ──► BeforeFirstPod (network fence)
//	      │
//	      ▼
//	Node Ready ──► kubelet runs pods; node status refreshed every minute
//
// Everything runs in one errgroup: the first failure stops the node. When
// ctx ends the kubelet stops first, then containerd; running pods keep
// running (their shims are separate processes) and are adopted by the next
// start — or, with RemovePodsOnExit, are removed before containerd stops
// (tests, throw-away clusters; Cleanup then removes the bridge and the
// masquerade rule). The node status turns NotReady while the runtime does
// not answer.
//
// With KubeletTLS set (KubeletTLS() issues it from the cluster CA) the
// kubelet's HTTPS API — logs, exec, attach, port-forward — listens on
// KubeletAddress (:10250) and its port is published in the Node's
// status.daemonEndpoints for the API server's proxy.
package agent
