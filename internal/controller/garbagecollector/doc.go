// Package garbagecollector deletes objects whose owners are gone, honouring
// the three deletion propagation policies, as upstream's garbage collector
// does.
//
// A metadata informer watches every resource that discovery lists with the
// list, watch and delete verbs (events aside; rediscovered every 30 s so
// new resources are picked up). One goroutine folds their events into a
// graph: a node per object UID with its ownerReferences, and for each owner
// the set of its dependents. An owner referenced before it is observed is a
// "virtual" node until an informer reports it or a GET proves it absent.
//
// Two rate-limited queues act on the graph:
//
//   - attemptToDelete: for an object, classify each owner as solid (exists),
//     dangling (gone, or a different UID) or waiting (being deleted in the
//     foreground). With a solid owner, only dangling and waiting references
//     are removed. Otherwise the object is deleted — in the foreground if an
//     owner waits for it and it has dependents of its own, else with the
//     policy its finalizers ask for, else in the background. An owner in
//     foreground deletion (deletionTimestamp plus the foregroundDeletion
//     finalizer) loses that finalizer once no dependent with
//     blockOwnerDeletion remains.
//   - attemptToOrphan: for an owner deleted with the orphan policy (orphan
//     finalizer), remove its ownerReference from every dependent, then the
//     finalizer.
//
// Writes are JSON merge patches carrying the object's resourceVersion, so a
// concurrent change makes them fail and retry rather than clobber it.
package garbagecollector
