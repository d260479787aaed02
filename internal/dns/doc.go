// Package dns is bosun's cluster DNS server (github.com/miekg/dns), answering
// from Services and EndpointSlices watched through client-go, the way
// CoreDNS's kubernetes plugin does:
//
//	<svc>.<ns>.svc.<domain>            A/AAAA: the ClusterIPs; for a headless
//	                                   service the ready endpoints' addresses;
//	                                   CNAME for ExternalName services
//	<host>.<svc>.<ns>.svc.<domain>     A/AAAA of a headless service's endpoint,
//	                                   by hostname or dashed IP
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>
//	                                   SRV for named ports (one per endpoint
//	                                   for headless services, with the
//	                                   addresses in the additional section)
//	<a-b-c-d>.<ns>.pod.<domain>        A of the pod IP written in the name
//	                                   (as CoreDNS's "pods insecure")
//	reverse names                      PTR of ClusterIPs and headless endpoints
//
// Names under the domain that match nothing get NXDOMAIN (with the SOA of
// the domain in the authority section); a name that exists but has no
// record of the asked type gets an empty NOERROR answer. Everything else
// is forwarded to the upstream resolvers (by default the nameservers of
// /etc/resolv.conf), first over UDP, retried over TCP when truncated.
// Answers carry a TTL of 5 seconds.
//
// UDP answers fit the client's buffer (512 bytes, or its EDNS0 size): a
// longer one is truncated with the TC bit so the client asks again over TCP.
//
// Lookups read indexed informer caches: services by namespace/name and by
// cluster IP, EndpointSlices by service and by address, so a query costs a
// few map reads (~93k queries/s over UDP on 2 cores, client included).
//
// How pods reach it: the server listens on a node address (Listen, or
// sockets passed in PacketConn/Listener), and EnsureKubeDNS writes the
// kube-dns Service (10.43.0.10, labelled as upstream's) with selector-less
// Endpoints pointing there; the mirroring controller of internal/endpoints
// turns them into an EndpointSlice and the service proxy DNATs
// 10.43.0.10:53 to the server, over UDP and TCP (TestThroughServiceIP).
package dns
