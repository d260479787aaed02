// Package replicaset keeps each ReplicaSet's pods at its desired count.
//
// Informer handlers map pod and ReplicaSet events to the owning ReplicaSet's
// key. The worker's sync lists the pods in the ReplicaSet's namespace,
// claims them (adopting matching orphans, releasing pods whose labels no
// longer match), and — when its expectations from the previous sync have
// been observed — creates missing pods in slow-start batches (1, 2, 4, …) or
// deletes surplus pods, least valuable first (see
// controllerutil.ActivePodsWithRanks). It then writes status: replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas (honouring
// minReadySeconds), observedGeneration and the ReplicaFailure condition.
package replicaset
