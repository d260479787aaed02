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
// ctx ends the kubelet and containerd stop; running pods keep running (their
// shims are separate processes) and are adopted by the next start.
package agent
