// Package core describes the core/v1 kinds bosun's API server serves: namespaces, pods,
// services, endpoints, configmaps, secrets, serviceaccounts, events, nodes, persistent
// volumes and claims, resource quotas, limit ranges, pod templates and replication
// controllers. Kinds returns them as *registry.Kind values.
//
// Each kind lives in its own file: the upstream defaults (written anew from the behaviour of
// upstream's SetDefaults_* functions and v1 conversions, e.g. secret stringData folded into
// data, podIP/podIPs kept in step), validation worded and located as upstream words and
// locates it (spec.containers[0].image: Required value, including upstream's quirks such as
// the "metadata.taints" path of node taints), the strategy rules of upstream's registry
// (pod status Pending and QoS class on create, allocated service values kept on replace,
// type-dependent service fields dropped, namespace finalizers, graceful pod deletion), the
// columns `kubectl get` prints and the fields a field selector may use. The generic parts
// (object metadata, uid, timestamps, status reset and carry-over, namespace existence)
// belong to the API server and are not repeated here.
//
// Two details follow from the registry contract:
//
//   - The /status path has no Default or PrepareForUpdate hook, so ValidateStatusUpdate also
//     applies the status defaults upstream's decoding would (node allocatable, load balancer
//     ipMode, claim and volume phases, pod IP fields, the pod QoS class carried over).
//   - Rows are computed once per stored version, so time-relative cells are registry.Since,
//     and the pod RESTARTS cell ("3 (5m ago)") is a value that renders itself when the table
//     is encoded.
//
// The pod spec helpers DefaultPodSpec, DefaultPodTemplateSpec, ValidatePodSpec and
// ValidatePodTemplateSpec are exported for the workload kinds of other groups (apps, batch),
// whose templates follow the same rules.
//
// For the API server's subresources and admission, written from upstream's behaviour but not
// wired by this package: ValidateBinding (pods/binding), ValidateEphemeralContainersUpdate
// (pods/ephemeralcontainers), PrepareResize and ValidateResize (pods/resize),
// ValidateNamespaceFinalize (namespaces/finalize), ValidateKubeFinalizerNames (metadata of
// every built-in kind), AddDefaultTolerations (DefaultTolerationSeconds), the service account
// token volume helpers (ServiceAccount admission), ApplyLimitRangeDefaults,
// ValidatePodLimitRanges and ValidatePVCLimitRanges (LimitRanger), and
// RepackEndpointSubsets for an endpoints controller comparing against stored endpoints.
package core
