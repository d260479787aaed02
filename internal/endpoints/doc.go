// Package endpoints runs the controllers that turn Services and Pods into
// the objects service consumers read:
//
//   - the Endpoints controller writes one Endpoints object per Service with a
//     selector: ready pods under addresses, not-ready ones under
//     notReadyAddresses, each with targetRef and nodeName, grouped into
//     subsets by their resolved ports;
//   - the EndpointSlice controller writes the same pods as EndpointSlices
//     (at most 100 endpoints each, one group of slices per address type and
//     resolved port list) with ready/serving/terminating conditions, so a
//     terminating pod stays visible as serving-but-not-ready while it
//     drains;
//   - the mirroring controller copies Endpoints of Services without a
//     selector (written by users, or the API server for `kubernetes`) into
//     EndpointSlices, unless the Endpoints carry
//     endpointslice.kubernetes.io/skip-mirror=true.
//
// Named target ports are resolved per pod against its containers' ports (a
// pod without the named port is left out of that port's group). A Service
// with publishNotReadyAddresses lists every pod with an IP as ready, even
// terminating ones. Pods in a terminal phase or without an IP are never
// listed; terminating pods only appear in slices (as not ready) or with
// publishNotReadyAddresses.
//
// An Endpoints object holds at most 1000 addresses (then it carries
// endpoints.kubernetes.io/over-capacity: truncated); slices hold them all.
// Pod updates that change nothing endpoints depend on (restart counts,
// annotations…) wake no controller.
//
// The computation (desiredSubsets, desiredSlices) is pure and table-tested;
// the controllers follow the usual pattern: handlers enqueue the Service's
// key, a level-triggered sync compares the desired objects with the lister's
// and writes only differences.
package endpoints
