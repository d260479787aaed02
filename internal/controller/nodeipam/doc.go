// Package nodeipam gives each Node a pod subnet: every Node without
// spec.podCIDR gets the next free block (a /24 by default) of the cluster
// CIDR (10.42.0.0/16 by default), written with a merge patch of
// spec.podCIDR and spec.podCIDRs. The set of used blocks is rebuilt from
// the existing Nodes when the controller starts, so allocations are stable
// across restarts; a deleted Node's block is freed. Allocation runs in one
// worker so two Nodes never get the same block.
package nodeipam
