// Package statefulset runs StatefulSets: pods with stable names
// (<set>-<ordinal>), hostnames (under spec.serviceName) and storage (one
// PersistentVolumeClaim per volumeClaimTemplate and pod, kept when pods go
// unless persistentVolumeClaimRetentionPolicy says Delete: then the claims
// are owned by the set, or handed to a pod removed by scale-down, and the
// garbage collector removes them),
// as upstream's StatefulSet controller does.
//
// With OrderedReady pod management, pod N is created only once pods below
// it are Running and Ready, and scale-down removes the highest ordinal
// first, one at a time; Parallel acts on all ordinals at once. Each
// template version is a ControllerRevision (its name is the pods'
// controller-revision-hash); status.currentRevision and updateRevision
// name them. A RollingUpdate replaces pods from the highest ordinal down to
// the partition, one at a time, each waiting for the previous to be ready;
// OnDelete leaves replacement to users.
package statefulset
