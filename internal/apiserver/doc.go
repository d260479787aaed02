// Package apiserver serves the Kubernetes REST API over bosun's storage.
//
// It is generic: every resource is described by a registry.Kind and stored by a
// storage.Resource, and the handlers here implement the verbs the way upstream's API server
// does for any kind.
//
// A request flows through:
//
//	recoverPanics → authenticate (client certificate, else bearer token) → route (requestInfo) →
//	  authorize (Config.Authorizer; 403 as upstream) →
//	  read:  get (etcd) | list, watch (watch cache, bytes copied, Tables from cached cells)
//	  write: decode (JSON/YAML/protobuf, strict per fieldValidation) → generic prepare
//	         (uid, timestamps, generation, status rules) → Kind hooks (prepare, default) →
//	         Config.Mutate (mutating admission) → Kind validation → admission (namespace
//	         exists and is not terminating; Config.Admit) → storage
//
// Responses are chosen by the Accept header: JSON, YAML, a meta.k8s.io Table (what kubectl get
// asks for), or PartialObjectMetadata (metadata informers). Errors are metav1.Status objects
// built with k8s.io/apimachinery/pkg/api/errors, worded as upstream.
//
// Subresources: status (only status changes), scale (autoscaling/v1 Scale), pods/binding (the
// scheduler's), namespaces/finalize (the namespace controller's). authentication.k8s.io/v1
// selfsubjectreviews tells a client who it is (kubectl auth whoami), authorization.k8s.io/v1
// selfsubjectaccessreviews what it may do (kubectl auth can-i).
package apiserver
