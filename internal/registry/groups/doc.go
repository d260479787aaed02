// Package groups describes the kinds bosun's API server serves outside the core group:
// apps/v1 (deployments, replicasets, statefulsets, daemonsets, controllerrevisions),
// batch/v1 (jobs, cronjobs), coordination.k8s.io/v1 (leases), discovery.k8s.io/v1
// (endpointslices), events.k8s.io/v1 (events), networking.k8s.io/v1 (ingresses,
// ingressclasses, networkpolicies), storage.k8s.io/v1 (storageclasses, csidrivers, csinodes,
// volumeattachments, csistoragecapacities), rbac.authorization.k8s.io/v1 (roles,
// rolebindings, clusterroles, clusterrolebindings), policy/v1 (poddisruptionbudgets),
// scheduling.k8s.io/v1 (priorityclasses), autoscaling/v2 (horizontalpodautoscalers),
// node.k8s.io/v1 (runtimeclasses) and flowcontrol.apiserver.k8s.io/v1 (flowschemas,
// prioritylevelconfigurations: stored and validated, not yet applied to requests).
//
// There is one file per API group. Each kind is a *registry.Kind whose hooks the generic API
// server calls in the order registry.go documents (PrepareForCreate/PrepareForUpdate, then
// Default, then Validate and ValidateUpdate). The hooks hold only what is particular to a
// kind, learnt from upstream Kubernetes 1.33 and written anew here:
//
//   - Default fills what upstream's SetDefaults_* functions fill (deployment strategy 25%/25%,
//     job backoffLimit 6, storage class reclaimPolicy Delete, …); pod templates get the pod
//     defaults of the core package.
//   - Validate and ValidateUpdate return field errors with upstream's paths and wording, so
//     a 422 reads as it would from kube-apiserver ("spec.template.metadata.labels: Invalid
//     value: map[string]string{...}: `selector` does not match template `labels`").
//   - Columns and Row reproduce upstream's server-side printers (`kubectl get`), with
//     registry.Since for every cell that shows an age.
//   - Scale rules expose spec.replicas for the /scale subresource of deployments,
//     replicasets and statefulsets.
//
// Upstream defaults an object while decoding it, before its strategy compares it with the
// stored one; here Default runs after PrepareForUpdate, so the update hooks that compare
// (deployment generation, daemon set template generation, endpoint slice generation) default
// the new object first.
//
// Helpers for the rest of bosun: ParseCronSchedule is the cron syntax CronJob validation
// accepts, with Next for the cronjob controller; SystemPriorityClasses are the classes the API
// server creates at start; EventToCore and EventFromCore map events.k8s.io/v1 events onto
// core/v1 ones, for a server that stores events once and serves both versions as upstream.
//
// Object metadata, uid, timestamps, generation and the /status split are generic and live in
// the API server. Kinds whose names are not DNS subdomains set Kind.NameValidation
// (statefulsets: DNS label; RBAC kinds: path segment, so "system:controller:foo" is valid).
package groups
