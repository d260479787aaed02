package core

import (
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const nodeRolePrefix = "node-role.kubernetes.io/"

func nodeKind() *registry.Kind {
	return &registry.Kind{
		GVK:                corev1.SchemeGroupVersion.WithKind("Node"),
		Resource:           "nodes",
		ShortNames:         []string{"no"},
		New:                func() runtime.Object { return &corev1.Node{} },
		NewList:            func() runtime.Object { return &corev1.NodeList{} },
		Status:             true,
		KeepStatusOnCreate: true,
		Default:            func(obj runtime.Object) { defaultNodeStatus(&obj.(*corev1.Node).Status) },
		Validate:           func(obj runtime.Object) field.ErrorList { return validateNode(obj.(*corev1.Node)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
		},
		// The status path has no Default hook: status defaults are applied here.
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			n := obj.(*corev1.Node)
			defaultNodeStatus(&n.Status)
			return append(validateNode(n), validateNodeUpdate(n, old.(*corev1.Node))...)
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Status", Type: "string", Description: "The status of the node"},
			{Name: "Roles", Type: "string", Description: "The roles of the node"},
			registry.AgeColumn,
			{Name: "Version", Type: "string", Description: "Kubelet Version reported by the node."},
			{Name: "Internal-IP", Type: "string", Priority: 1, Description: "List of addresses reachable to the node."},
			{Name: "External-IP", Type: "string", Priority: 1, Description: "List of addresses reachable to the node."},
			{Name: "OS-Image", Type: "string", Priority: 1, Description: "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."},
			{Name: "Kernel-Version", Type: "string", Priority: 1, Description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."},
			{Name: "Container-Runtime", Type: "string", Priority: 1, Description: "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."},
		},
		Row: func(obj runtime.Object) []interface{} { return nodeRow(obj.(*corev1.Node)) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
	}
}

func validateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	// Upstream reports taints under "metadata" and resources as child fields, not keys.
	if len(n.Spec.Taints) > 0 {
		errs = append(errs, validateNodeTaints(n.Spec.Taints, field.NewPath("metadata", "taints"))...)
	}
	for _, name := range sortedResourceNames(n.Status.Capacity) {
		errs = append(errs, validateResourceQuantityValue(name, n.Status.Capacity[name], field.NewPath("status", "capacity", string(name)))...)
	}
	for _, name := range sortedResourceNames(n.Status.Allocatable) {
		errs = append(errs, validateResourceQuantityValue(name, n.Status.Allocatable[name], field.NewPath("status", "allocatable", string(name)))...)
	}
	cidrs := field.NewPath("spec", "podCIDRs")
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(cidrs.Index(i), c)...)
	}
	if len(n.Spec.PodCIDRs) > 1 {
		v4 := 0
		for _, c := range n.Spec.PodCIDRs {
			if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
				v4++
			}
		}
		if len(n.Spec.PodCIDRs) > 2 || v4 != 1 {
			errs = append(errs, field.Invalid(cidrs, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		seen := sets.New[string]()
		for i, c := range n.Spec.PodCIDRs {
			if seen.Has(c) {
				errs = append(errs, field.Duplicate(cidrs.Index(i), c))
			}
			seen.Insert(c)
		}
	}
	return errs
}

func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		p := fldPath.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, validateTaintEffect(t.Effect, false, p.Child("effect"))...)
		if seen[t.Effect].Has(t.Key) {
			d := field.Duplicate(p, t)
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return errs
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	addrs := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if addrs[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		addrs[a] = true
	}
	if len(old.Spec.PodCIDRs) > 0 {
		changed := len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs)
		for i := 0; !changed && i < len(old.Spec.PodCIDRs); i++ {
			changed = old.Spec.PodCIDRs[i] != n.Spec.PodCIDRs[i]
		}
		if changed {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

func nodeRow(n *corev1.Node) []interface{} {
	var status []string
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = append(status, string(c.Type))
			} else {
				status = append(status, "Not"+string(c.Type))
			}
			break
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if r := strings.TrimPrefix(k, nodeRolePrefix); r != "" {
				roles.Insert(r)
			}
		case k == "kubernetes.io/role" && v != "":
			roles.Insert(v)
		}
	}
	rolesStr := strings.Join(sets.List(roles), ",")
	if rolesStr == "" {
		rolesStr = "<none>"
	}
	addr := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	unknown := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	info := n.Status.NodeInfo
	return []interface{}{strings.Join(status, ","), rolesStr, age(&n.ObjectMeta), info.KubeletVersion,
		addr(corev1.NodeInternalIP), addr(corev1.NodeExternalIP), unknown(info.OSImage), unknown(info.KernelVersion),
		unknown(info.ContainerRuntimeVersion)}
}

// defaultNodeStatus fills allocatable from capacity when the kubelet gives only capacity.
func defaultNodeStatus(st *corev1.NodeStatus) {
	if st.Allocatable == nil && st.Capacity != nil {
		st.Allocatable = st.Capacity.DeepCopy()
	}
	defaultResourceList(st.Capacity)
	defaultResourceList(st.Allocatable)
}
