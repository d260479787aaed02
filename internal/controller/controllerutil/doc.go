// Package controllerutil holds the pieces every bosun controller shares:
// expectations (so a controller does not act twice on a cache that has not
// yet seen its own writes), slow-start batching of creations, the ranking
// that picks which pods to delete first, the pod-template hash, adoption and
// release of objects through controller ownerReferences, and the worker loop
// that drains a rate-limited workqueue into a level-triggered sync function.
//
// Controllers follow one pattern: informer event handlers only enqueue
// "namespace/name" keys; workers call sync(ctx, key), which reads listers,
// never mutates cached objects (it deep-copies first), and writes through the
// client. A returned error requeues the key with back-off; a permanent
// problem is recorded as an Event and the sync returns nil.
package controllerutil
