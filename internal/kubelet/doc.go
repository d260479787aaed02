// Package kubelet runs the pods bound to one node on a CRI runtime
// (containerd) and reports their status to the API server.
//
// # Shape
//
// The Kubelet watches pods with fieldSelector spec.nodeName=<node> through a
// client-go informer. Every pod UID gets one podWorker: a goroutine that owns
// everything about that pod (its sandbox, containers, volumes, probes and
// back-off) and is the only writer of its status. Informer events, the
// relister and the probers only "kick" a worker; the worker then runs a
// level-triggered sync against the latest pod it has seen and the runtime's
// current containers, so a missed or duplicated kick is harmless.
//
// # A pod worker's state machine
//
//	                  pod seen (informer add, or adopted at start)
//	                                  │
//	                                  ▼
//	┌──────────────────────────────────────────────────────────────┐
//	│ syncing: make the runtime match the spec — sandbox, volumes, │◄─┐ kick / timer
//	│ images, init containers in order, app containers, restarts   │──┘ (resync)
//	│ with back-off, probes; write status when it changes          │
//	└──────────────────────────────────────────────────────────────┘
//	   │ deletionTimestamp set,            │ phase became Succeeded/Failed
//	   │ pod gone from the API, or         │ (restartPolicy says nothing
//	   │ orphan found in the runtime       │  will run again)
//	   ▼                                   ▼
//	┌──────────────────────────────────────────────────────────────┐
//	│ terminating: preStop hooks, SIGTERM via StopContainer with   │
//	│ the grace period (SIGKILL after it), stop the sandbox        │
//	└──────────────────────────────────────────────────────────────┘
//	   │ everything stopped
//	   ▼
//	┌──────────────────────────────────────────────────────────────┐
//	│ terminated: final status written; if the pod was deleted,    │
//	│ containers, sandbox and volumes removed and the pod object   │
//	│ deleted with grace 0 (UID precondition); a terminal pod that │
//	│ was not deleted keeps its exited containers for its logs     │
//	└──────────────────────────────────────────────────────────────┘
//	   │ pod gone from the informer
//	   ▼
//	worker exits (a terminal pod deleted later re-enters terminating
//	only to remove what is left)
//
// States only move forward; a pod UID never runs again once it left syncing.
//
// # Ownership
//
// Every sandbox and container the kubelet creates carries the label
// bosun.dev/managed=true plus the pod's UID, name and namespace, and the
// kubelet lists only with that label: containers bosun did not create are
// never touched. After a restart the informer's pods get workers whose first
// sync finds their running sandbox and containers by UID and adopts them
// (restart counts come from the CRI attempt numbers); sandboxes whose pod no
// longer exists are terminated by the housekeeping pass.
//
// # Restarts
//
// A container that exited is restarted according to restartPolicy with
// upstream's back-off: the first restart is immediate, later ones wait 10 s,
// doubling to 5 min (CrashLoopBackOff); a back-off not extended for 10 min is
// forgotten. Failed pulls back off the same way (ErrImagePull, then
// ImagePullBackOff). Init containers run one at a time in order; sidecars
// (init containers with restartPolicy Always) start in their turn and then
// run beside the app containers, and are stopped after them.
//
// # Change detection
//
// A relister lists the runtime's bosun containers every 250 ms and kicks the
// workers whose containers changed state; probes kick their worker when a
// result flips; informer updates kick only when something the kubelet acts
// on changed (not for its own status writes). Running pods resync every 10 s,
// which also refreshes configMap, secret, downwardAPI and projected volumes
// (written atomically through a "..data" symlink, as upstream does).
//
// # Status
//
// buildStatus is a pure function from the pod, the runtime's containers, the
// waiting reasons of the last sync and the probe results to the PodStatus
// upstream writes: phase, the conditions PodReadyToStartContainers,
// Initialized, Ready, ContainersReady (readiness gates honoured; foreign
// conditions such as PodScheduled kept), container and init container
// statuses with state, lastState, restartCount, ready, started, image,
// imageID and containerID, pod IPs, host IPs, start time and QoS class.
//
// # HTTP API
//
// Handler serves what the API server proxies pods/log, pods/exec,
// pods/attach and pods/portforward to: container logs are read from the CRI
// log files; exec, attach and port-forward are proxied to containerd's CRI
// streaming server (SPDY, and WebSocket up to v4.channel.k8s.io — containerd
// 1.6 answers v5 with 403, on which kubectl falls back to SPDY).
package kubelet
