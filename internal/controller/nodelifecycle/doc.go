// Package nodelifecycle notices when nodes go down and reacts, as
// upstream's node lifecycle controller and taint manager do.
//
// Every MonitorPeriod (5 s) it checks each Node's heartbeat: the Ready
// condition's lastHeartbeatTime and the renewTime of its Lease in
// kube-node-lease. A heartbeat is judged by when this controller saw it
// change, so clock skew between machines does not matter. A node silent
// for GracePeriod (50 s) gets its Ready, MemoryPressure, DiskPressure and
// PIDPressure conditions set to Unknown ("Kubelet stopped posting node
// status."), a NodeNotReady event, and its pods marked not ready so
// endpoints stop sending them traffic.
//
// Taints follow the Ready condition: False adds node.kubernetes.io/not-ready
// and Unknown adds node.kubernetes.io/unreachable, each with NoSchedule and
// NoExecute effects; True removes them. Pods on a node with a NoExecute
// taint are evicted (DisruptionTarget condition, then deleted) when they do
// not tolerate it, or once their tolerationSeconds run out. A pod with no
// toleration at all for not-ready/unreachable is treated as tolerating them
// for DefaultTolerationSeconds (300 s), as the DefaultTolerationSeconds
// admission plugin would have written.
package nodelifecycle
