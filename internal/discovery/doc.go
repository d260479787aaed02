// Package discovery serves the API discovery documents of bosun exactly as upstream's
// kube-apiserver shapes them:
//
//	/api                 metav1.APIVersions (core group versions; serverAddressByClientCIDRs)
//	/api/v1              metav1.APIResourceList of the core group (no apiVersion, as upstream)
//	/apis                metav1.APIGroupList of every other group
//	/apis/<g>            metav1.APIGroup
//	/apis/<g>/<v>        metav1.APIResourceList
//
// and, when the Accept header asks for it, the aggregated form of /api and /apis
// (apidiscovery.k8s.io v2, or v2beta1 for older clients: APIGroupDiscoveryList with every
// group, version, resource and subresource in one document), which kubectl and client-go ask
// for first. Aggregated answers carry the Content-Type parameters g, v and as that clients
// read to tell the forms apart, Vary: Accept, and an ETag (a 304 answers If-None-Match).
//
// Everything is computed from the registry once, in New: groups are ordered as upstream's
// aggregator orders them (core, apps, events.k8s.io, authentication.k8s.io, ...; unknown
// groups last, by name), versions by upstream's version priority, resources by name with
// their subresources (/status and /scale from the registry, the others from
// WithSubresources) after them. Each document is encoded to JSON at once; YAML and protobuf
// encodings are made on first request and kept. Only /api is made per request, as it reports
// the address the client reached (or the one given with WithServerAddress).
package discovery
