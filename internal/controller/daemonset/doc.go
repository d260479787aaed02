// Package daemonset runs one pod of each DaemonSet on every node that
// should run it, as upstream's DaemonSet controller does.
//
// A node should run a DaemonSet's pod when it matches the template's
// nodeSelector and required node affinity and every NoSchedule/NoExecute
// taint is tolerated (the pod also gets the DaemonSet default tolerations
// for not-ready, unreachable, pressure and unschedulable nodes). Pods are
// created with a required node affinity on metadata.name so the scheduler
// places each on its node; surplus, failed and mis-scheduled pods are
// deleted.
//
// Each template version is a ControllerRevision (named <ds>-<hash>, the
// hash labelled controller-revision-hash on pods), so `kubectl rollout
// history|undo` work; unused revisions beyond revisionHistoryLimit are
// removed. A RollingUpdate replaces old pods while at most maxUnavailable
// nodes lack an available pod; OnDelete waits for users to delete them.
package daemonset
