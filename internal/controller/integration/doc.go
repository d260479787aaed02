// Package integration tests the controller manager against a real bosun API
// server on a real embedded etcd (internal/testserver). There is no kubelet:
// a stand-in in the tests marks pods Running and Ready through the status
// subresource, so rollouts can be driven and their bounds checked.
package integration
