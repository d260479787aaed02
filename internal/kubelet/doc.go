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
// doubling to 5 min (CrashLoopBackOff); the back-off resets after a container
// ran 10 minutes.
package kubelet
