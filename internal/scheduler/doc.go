// Package scheduler assigns pending pods to nodes: bosun's kube-scheduler.
//
// # Shape
//
// The Scheduler is an ordinary client-go client of the API. Shared informers feed three
// things: pods with no spec.nodeName whose schedulerName is "default-scheduler" go to the
// Queue; assigned pods, nodes and namespaces go to the Cache. Pods for other schedulers,
// gated pods (spec.schedulingGates) and pods being deleted are left alone.
//
// One goroutine pops pods from the Queue and asks the Algorithm for a node while holding
// the Cache's read lock, so that the decision sees a consistent, read-only picture and
// does no I/O. On success the pod is "assumed": a copy bound to the chosen node enters the
// Cache at once, so it counts against the node before the binding is even sent, and a
// bounded pool of goroutines calls the Binder (pods/binding). When the informer reports
// the pod bound, the real object replaces the assumed one; if the binding fails the
// assumed pod is forgotten and the pod backs off. On success the pod gets a Normal
// "Scheduled" event ("Successfully assigned default/web-1 to node-a").
//
// # The decision (Algorithm.Schedule)
//
// First the per-pod state is computed once over the whole cluster (prepare): parsed node
// affinity, counts of pods matching the pod's required (anti-)affinity terms per topology
// domain, the domains that existing pods' anti-affinity forbids, and the topology spread
// counts. Label indexes in the Cache keep those counts to the pods that can match.
//
// Then nodes are filtered, in upstream's order, stopping at a node's first failing
// filter: node unschedulable (cordon), spec.nodeName, taints and tolerations (NoSchedule,
// NoExecute; a node whose Ready condition is not True carries an implicit
// node.kubernetes.io/not-ready or unreachable taint), required node affinity and
// nodeSelector, host ports, resources (cpu, memory, ephemeral-storage, pod count,
// extended resources: containers, init containers and sidecars, and overhead, against
// allocatable minus what the node's pods request), topology spread (DoNotSchedule) and
// inter-pod affinity/anti-affinity. Like upstream, in a large cluster the search stops
// once enough feasible nodes are found (50% of 100 nodes, shrinking to 5% at 5,625+
// nodes, never fewer than 100) and the next pod starts where the last search ended.
//
// The feasible nodes are scored 0-100 by each score and summed with upstream's weights:
// least-allocated (or most-allocated, for bin packing) and balanced cpu/memory, PreferNoSchedule
// taints (3), preferred node affinity (2), topology spread ScheduleAnyway (2) and
// preferred inter-pod affinity/anti-affinity (2). Ties are broken at random. Pods of a
// ReplicaSet, StatefulSet or ReplicationController that declare no spread constraints get
// upstream's default soft spreading (skew 3 across nodes, 5 across zones, among pods with
// the same labels).
//
// If no node fits, the pod's PodScheduled condition becomes False with reason
// Unschedulable and a Warning FailedScheduling event tells why, node by node, as upstream
// words it: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's
// node affinity/selector."
//
// # The queue
//
// Pods wait in active (by priority, then age), backoff (1 s doubling to 10 s after each
// failure) or unschedulable. An unschedulable pod is tried again only when something that
// could make it fit happens: a node is added, or changes in a way that matters
// (allocatable, labels, taints, cordon, readiness); an assigned pod is deleted or
// finishes; for pods with required pod affinity, a pod is assigned. After five minutes it
// is tried anyway, as upstream does.
//
// # Leader election
//
// With LeaderElect the scheduler takes the kube-system/kube-scheduler Lease first, so
// several servers can run one scheduler between them; Run returns ErrLostLeadership if
// the lease is lost.
package scheduler
