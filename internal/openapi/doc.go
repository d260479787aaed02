// Package openapi serves bosun's OpenAPI documents as upstream's kube-apiserver does:
//
//	/openapi/v2             swagger 2.0 of every served path, JSON or protobuf
//	                        (application/com.github.proto-openapi.spec.v2@v1.0+protobuf,
//	                        which client-go's OpenAPISchema asks for)
//	/openapi/v3             index: {"paths": {"api/v1": {"serverRelativeURL":
//	                        "/openapi/v3/api/v1?hash=..."}, "apis/apps/v1": ...}}
//	/openapi/v3/<path>      one OpenAPI 3.0 document per group version (and for api, apis,
//	                        apis/<group>, version), JSON or protobuf; fetched with ?hash= it
//	                        is cached immutably, a stale hash is redirected
//
// Schemas are never written by hand: zz_generated.openapi.go holds the definitions that
// kube-openapi's openapi-gen generates from the k8s.io/api Go types (hack/update-openapi.sh
// regenerates it at the versions go.mod pins). Definitions are named as upstream names them
// (io.k8s.api.core.v1.Pod) and carry x-kubernetes-group-version-kind for every kind their Go
// type is registered as in client-go's scheme.
//
// Paths come from the registry: for each kind (and its /status, /scale and the subresources
// given with WithSubresources) the routes upstream's API installer would register are
// described in kube-openapi's route model (routes.go) — same paths, operation ids
// (listCoreV1NamespacedPod), tags, x-kubernetes-action and x-kubernetes-group-version-kind,
// query parameters taken by reflection from the option types (ListOptions, CreateOptions,
// PatchOptions with fieldValidation, ...), media types and responses — and kube-openapi's
// builder and builder3 turn them into the documents. kubectl relies on these shapes:
// `kubectl explain` finds a resource's GVK on its list operation and the schema by that GVK;
// `kubectl apply/create/edit` look for fieldValidation on the resource's PATCH operations to
// choose server-side field validation; client-side apply reads patch strategies from the
// schemas.
//
// Nothing is built in New. The documents are built together on first request (or by Warm,
// meant to run in the background after start) and kept only as encoded bytes with their
// ETags (the document trees are dropped): for the full registry about 0.4 s of CPU once and
// 7 MB kept (v2 JSON 1.4 MB + protobuf 1.3 MB, v3 JSON ~4 MB; v3 protobuf on first request).
// TypeConverter offers server-side apply the structured schema of every served kind.
package openapi

//go:generate ../../hack/update-openapi.sh
