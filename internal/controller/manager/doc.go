// Package manager runs bosun's controllers as one component, as
// kube-controller-manager does: replicaset, replicationcontroller,
// deployment, daemonset, statefulset, job, cronjob, garbage
// collector, namespace, serviceaccount, node IPAM, node lifecycle (with
// taint-based eviction), pod GC, resource quota usage, disruption budgets,
// ClusterRole aggregation and the
// kube-root-ca.crt publisher.
//
// New builds one shared informer factory (typed) and one metadata informer
// factory, an Event broadcaster that writes core/v1 Events through the API,
// and the selected controllers, each registering its informer handlers.
// Run optionally takes the Lease kube-system/kube-controller-manager through
// client-go leader election (so several servers can run, one active), then
// starts the informers and every controller's workers, and blocks until ctx
// ends or leadership is lost. Losing the lease is an error: the controllers
// cannot safely continue and the caller should stop the process.
package manager
