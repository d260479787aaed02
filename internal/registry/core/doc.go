// Package core describes the core/v1 kinds bosun's API server serves: namespaces, pods,
// services, endpoints, configmaps, secrets, serviceaccounts, events, nodes, persistent
// volumes and claims, resource quotas, limit ranges, pod templates and replication
// controllers.
//
// Each kind lives in its own file as a *registry.Kind: the upstream defaults (written anew
// from the behaviour of upstream's SetDefaults_* functions), validation worded and located
// as upstream words and locates it (field paths such as spec.containers[0].image), the
// columns `kubectl get` prints and the fields a field selector may use. The generic parts
// (object metadata, uid, timestamps, status handling, namespace existence) belong to the API
// server and are not repeated here.
//
// The pod spec helpers DefaultPodSpec, DefaultPodTemplateSpec, ValidatePodSpec and
// ValidatePodTemplateSpec are exported for the workload kinds of other groups (apps, batch),
// whose templates follow the same rules.
package core
