// Package namespace empties and removes deleted namespaces.
//
// When a Namespace gets a deletionTimestamp, the controller sets its phase
// to Terminating, deletes every namespaced resource in it that discovery
// lists (a deletecollection per resource, falling back to list and delete),
// and keeps checking until nothing is left — pods with a grace period stay
// until their kubelet lets them go. Progress shows in the namespace's
// conditions (NamespaceContentRemaining, NamespaceDeletionContentFailure,
// NamespaceDeletionDiscoveryFailure). Once empty, it removes the
// "kubernetes" finalizer through the namespaces/{name}/finalize
// subresource; with no finalizers left the Namespace is deleted.
package namespace
