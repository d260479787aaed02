// Package deployment rolls Deployments out through ReplicaSets, as upstream
// does.
//
// Each pod template gets its own ReplicaSet, named "<deployment>-<hash>"
// where the hash (label pod-template-hash) is controllerutil.ComputeHash of
// the template. The ReplicaSet whose template equals the Deployment's
// (ignoring that label) is the "new" one; all others are "old". A sync
// claims the ReplicaSets the Deployment's selector matches, then:
//
//   - being deleted: only status is updated;
//   - paused, or a scaling event (replicas changed while a ReplicaSet's
//     desired-replicas annotation still shows the old figure): ReplicaSets
//     are scaled proportionally, nothing new rolls out;
//   - RollingUpdate: the new ReplicaSet grows while the total stays within
//     replicas+maxSurge, and old ones shrink while available pods stay at
//     or above replicas-maxUnavailable;
//   - Recreate: old ReplicaSets go to zero, and once none of their pods run,
//     the new one is scaled up.
//
// Revisions live in the deployment.kubernetes.io/revision annotation of the
// Deployment and its ReplicaSets; a template equal to an old ReplicaSet's
// (what `kubectl rollout undo` writes) makes that ReplicaSet new again with
// the next revision, its old numbers kept in revision-history. Status and
// the Progressing and Available conditions are what `kubectl rollout status`
// reads; a rollout that makes no progress for progressDeadlineSeconds is
// marked ProgressDeadlineExceeded.
package deployment
