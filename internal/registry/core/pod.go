package core

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// podUpdateForbiddenMsg is upstream's message for a pod update touching immutable fields.
const podUpdateForbiddenMsg = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

func podKind() *registry.Kind {
	return &registry.Kind{
		GVK:                 corev1.SchemeGroupVersion.WithKind("Pod"),
		Resource:            "pods",
		ShortNames:          []string{"po"},
		Categories:          []string{"all"},
		Namespaced:          true,
		New:                 func() runtime.Object { return &corev1.Pod{} },
		NewList:             func() runtime.Object { return &corev1.PodList{} },
		Status:              true,
		Generation:          true,
		ReturnDeletedObject: true,
		PrepareForCreate: func(obj runtime.Object) {
			p := obj.(*corev1.Pod)
			// Requests defaulted from limits count for the QoS class, as upstream defaults
			// before its strategy runs.
			defaultPod(p)
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOS(&p.Spec)}
			applyAffinityLabelKeys(p)
			if len(p.Spec.SchedulingGates) > 0 {
				p.Status.Conditions = []corev1.PodCondition{{
					Type:    corev1.PodScheduled,
					Status:  corev1.ConditionFalse,
					Reason:  corev1.PodReasonSchedulingGated,
					Message: "Scheduling is blocked due to non-empty scheduling gates",
				}}
			}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
			p.Status = o.Status
			// A bound pod stays bound when an update leaves nodeName out (a replace of the
			// original manifest); changing it to another node is still refused.
			if p.Spec.NodeName == "" {
				p.Spec.NodeName = o.Spec.NodeName
			}
		},
		Default: func(obj runtime.Object) {
			p := obj.(*corev1.Pod)
			defaultPod(p)
			normalizePodStatusIPs(&p.Status)
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validatePod(obj.(*corev1.Pod)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		GracefulDelete: func(obj runtime.Object, requested *int64) (int64, bool) {
			return podGracePeriod(obj.(*corev1.Pod), requested), true
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
			{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
			{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
			registry.AgeColumn,
			{Name: "IP", Type: "string", Priority: 1, Description: "podIP address allocated to the pod."},
			{Name: "Node", Type: "string", Priority: 1, Description: "NodeName indicates in which node this pod is scheduled."},
			{Name: "Nominated Node", Type: "string", Priority: 1, Description: "nominatedNodeName is set only when this pod preempts other pods on the node."},
			{Name: "Readiness Gates", Type: "string", Priority: 1, Description: "If specified, all readiness gates will be evaluated for pod readiness."},
		},
		Row:    func(obj runtime.Object) []interface{} { return podRow(obj.(*corev1.Pod)) },
		Fields: func(obj runtime.Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
	}
}

// podGracePeriod is the grace a pod delete gets: the requested value or the pod's
// terminationGracePeriodSeconds, zero for pods not on a node or already terminal, and at
// least 1 when negative.
func podGracePeriod(p *corev1.Pod, requested *int64) int64 {
	var period int64
	if requested != nil {
		period = *requested
	} else if p.Spec.TerminationGracePeriodSeconds != nil {
		period = *p.Spec.TerminationGracePeriodSeconds
	}
	if p.Spec.NodeName == "" {
		period = 0
	}
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	return period
}

// podQOS computes the QoS class the way upstream does from requests and limits of cpu and
// memory over regular and init containers.
func podQOS(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	add := func(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if cur, ok := l[name]; ok {
			q.Add(cur)
		}
		l[name] = q
	}
	all := make([]corev1.Container, 0, len(spec.Containers)+len(spec.InitContainers))
	all = append(all, spec.Containers...)
	all = append(all, spec.InitContainers...)
	for _, c := range all {
		for name, q := range c.Resources.Requests {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
				add(requests, name, q.DeepCopy())
			}
		}
		found := 0
		for name, q := range c.Resources.Limits {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && q.Sign() > 0 {
				found++
				add(limits, name, q.DeepCopy())
			}
		}
		if found != 2 {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func validatePod(p *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validatePodAnnotations(p.Annotations, &p.Spec, field.NewPath("metadata", "annotations"))
	errs = append(errs, validatePodSpec(&p.Spec, specPath, podOpts{isPod: true})...)
	if len(p.Spec.EphemeralContainers) > 0 && p.ResourceVersion == "" {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if p.Spec.ServiceAccountName == "" {
		for vi, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for _, cs := range []struct {
		name string
		list []corev1.Container
	}{{"containers", p.Spec.Containers}, {"initContainers", p.Spec.InitContainers}} {
		for i, c := range cs.list {
			if len(strings.TrimSpace(c.Image)) != len(c.Image) {
				errs = append(errs, field.Invalid(specPath.Child(cs.name).Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	if len(p.Spec.SchedulingGates) > 0 && p.Spec.NodeName != "" {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

func validateContainerUpdates(newC, oldC []corev1.Container, p *field.Path) (field.ErrorList, bool) {
	if len(newC) != len(oldC) {
		return field.ErrorList{field.Forbidden(p, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range newC {
		if c.Image == "" {
			errs = append(errs, field.Required(p.Index(i).Child("image"), ""))
		}
		if len(strings.TrimSpace(c.Image)) != len(c.Image) {
			errs = append(errs, field.Invalid(p.Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	return errs, false
}

func validatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	e, stop := validateContainerUpdates(p.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	errs = append(errs, e...)
	if stop {
		return errs
	}
	e, stop = validateContainerUpdates(p.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	errs = append(errs, e...)
	if stop {
		return errs
	}
	if p.Spec.ActiveDeadlineSeconds != nil {
		v := *p.Spec.ActiveDeadlineSeconds
		if v < 0 || v > math.MaxInt32 {
			return append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < v {
			return append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), v, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), p.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, validateOnlyAddedTolerations(p.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyDeletedSchedulingGates(p.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	munged := p.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	if len(old.Spec.SchedulingGates) > 0 {
		// Gated pods may gain node selectors and affinity; the scheduler has not seen them yet.
		munged.NodeSelector = old.Spec.NodeSelector
		munged.Affinity = old.Spec.Affinity
	}
	if !equality.Semantic.DeepEqual(*munged, old.Spec) {
		diff := cmp.Diff(old.Spec, *munged)
		errs = append(errs, field.Forbidden(specPath, podUpdateForbiddenMsg+"\n"+diff))
	}
	return errs
}

func validateOnlyAddedTolerations(newT, oldT []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, o := range oldT {
		found := false
		for _, n := range newT {
			c := o
			c.TolerationSeconds = n.TolerationSeconds
			if reflect.DeepEqual(c, n) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return validateTolerations(newT, p)
}

func validateOnlyDeletedSchedulingGates(newG, oldG []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	old := sets.New[string]()
	for _, g := range oldG {
		old.Insert(g.Name)
	}
	for i, g := range newG {
		if !old.Has(g.Name) {
			errs = append(errs, field.Forbidden(p.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// normalizePodStatusIPs keeps podIP/podIPs and hostIP/hostIPs consistent the way upstream's
// v1 conversion does: the singular field wins when both are set and differ, and fills the
// list when it is empty; the singular field always mirrors the first entry.
func normalizePodStatusIPs(st *corev1.PodStatus) {
	if st.PodIP != "" && (len(st.PodIPs) == 0 || st.PodIPs[0].IP != st.PodIP) {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if st.HostIP != "" && (len(st.HostIPs) == 0 || st.HostIPs[0].IP != st.HostIP) {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
	if len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	}
}

// validatePodStatusUpdate checks a /status write. The status path has no Default hook, so it
// first normalizes what upstream's decoding would (pod and host IP fields).
func validatePodStatusUpdate(p, old *corev1.Pod) field.ErrorList {
	normalizePodStatusIPs(&p.Status)
	var errs field.ErrorList
	sp := field.NewPath("status")
	if p.Status.NominatedNodeName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(p.Status.NominatedNodeName) {
			errs = append(errs, field.Invalid(sp.Child("nominatedNodeName"), p.Status.NominatedNodeName, msg))
		}
	}
	errs = append(errs, validateIPList(p.Status.PodIPs, func(ip corev1.PodIP) string { return ip.IP }, sp.Child("podIPs"))...)
	errs = append(errs, validateIPList(p.Status.HostIPs, func(ip corev1.HostIP) string { return ip.IP }, sp.Child("hostIPs"))...)
	for i, c := range p.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
		default:
			// Upstream spells the field "Type" here.
			errs = append(errs, validateQualifiedName(string(c.Type), sp.Child("conditions").Index(i).Child("Type"))...)
		}
	}
	// Upstream refuses statuses of unknown containers only when they carry
	// allocatedResourcesStatus.
	errs = append(errs, validateContainerStatusNames(p.Status.ContainerStatuses, p.Spec.Containers, sp.Child("containerStatuses"))...)
	errs = append(errs, validateContainerStatusNames(p.Status.InitContainerStatuses, p.Spec.InitContainers, sp.Child("initContainerStatuses"))...)
	// A terminated container of a pod that never restarts stays terminated.
	errs = append(errs, validateNoRestart(p.Status.ContainerStatuses, old.Status.ContainerStatuses, old.Spec.RestartPolicy, sp.Child("containerStatuses"))...)
	// The QoS class is set at create and kept (old kubelets drop it, so an empty one is refilled).
	if p.Status.QOSClass == "" {
		p.Status.QOSClass = old.Status.QOSClass
	}
	errs = append(errs, apivalidation.ValidateImmutableField(p.Status.QOSClass, old.Status.QOSClass, sp.Child("qosClass"))...)
	return errs
}

// validateIPList checks status.podIPs or status.hostIPs: valid addresses, at most one per
// family, no duplicates.
func validateIPList[T any](list []T, ipOf func(T) string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range list {
		errs = append(errs, validation.IsValidIP(p.Index(i), ipOf(e))...)
	}
	if len(list) > 1 {
		v4 := 0
		for _, e := range list {
			if ip := net.ParseIP(ipOf(e)); ip != nil && ip.To4() != nil {
				v4++
			}
		}
		if len(list) > 2 || v4 != 1 {
			errs = append(errs, field.Invalid(p, list, "may specify no more than one IP for each IP family"))
		}
		seen := sets.New[string]()
		for i, e := range list {
			if seen.Has(ipOf(e)) {
				errs = append(errs, field.Duplicate(p.Index(i), e))
			}
			seen.Insert(ipOf(e))
		}
	}
	return errs
}

func validateContainerStatusNames(st []corev1.ContainerStatus, cs []corev1.Container, p *field.Path) field.ErrorList {
	names := sets.New[string]()
	for _, c := range cs {
		names.Insert(c.Name)
	}
	var errs field.ErrorList
	for i, s := range st {
		if len(s.AllocatedResourcesStatus) > 0 && !names.Has(s.Name) {
			errs = append(errs, field.Invalid(p.Index(i).Child("allocatedResourcesStatus"), s.AllocatedResourcesStatus,
				"cannot add allocatedResourcesStatus for a container that doesn't exist"))
		}
	}
	return errs
}

// validateNoRestart: under restartPolicy Never (or OnFailure, after success) a terminated
// container stays terminated. Errors carry the old status's index, as upstream's do.
func validateNoRestart(newS, oldS []corev1.ContainerStatus, policy corev1.RestartPolicy, p *field.Path) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range oldS {
		if o.State.Terminated == nil || (o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure) {
			continue
		}
		for _, n := range newS {
			if n.Name == o.Name && n.State.Terminated == nil {
				errs = append(errs, field.Forbidden(p.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

// restartsCell is the RESTARTS cell: a count, and when a container restarted, how long ago.
// The age is relative to the time the table is rendered, so the cell renders itself then.
type restartsCell struct {
	count int
	last  time.Time
}

// MarshalJSON renders the cell as upstream prints it: "3" or "3 (5m ago)".
func (c restartsCell) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.String())
}

func (c restartsCell) String() string {
	if c.count == 0 || c.last.IsZero() {
		return strconv.Itoa(c.count)
	}
	return fmt.Sprintf("%d (%s ago)", c.count, duration.HumanDuration(time.Since(c.last)))
}

func isRestartableInit(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podStatusCells computes READY, STATUS and RESTARTS the way `kubectl get pods` shows them.
func podStatusCells(p *corev1.Pod) (ready string, status string, restarts restartsCell) {
	var restartCount, sidecarRestarts int
	total := len(p.Spec.Containers)
	readyCount := 0
	var lastRestart, lastSidecarRestart time.Time

	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	inits := make(map[string]*corev1.Container, len(p.Spec.InitContainers))
	for i := range p.Spec.InitContainers {
		inits[p.Spec.InitContainers[i].Name] = &p.Spec.InitContainers[i]
		if isRestartableInit(&p.Spec.InitContainers[i]) {
			total++
		}
	}
	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		restartCount += int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
		sidecar := isRestartableInit(inits[cs.Name])
		if sidecar {
			sidecarRestarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastSidecarRestart) {
				lastSidecarRestart = t.FinishedAt.Time
			}
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecar && cs.Started != nil && *cs.Started:
			if cs.Ready {
				readyCount++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			if t.Reason == "" {
				if t.Signal != 0 {
					reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
				} else {
					reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
				}
			} else {
				reason = "Init:" + t.Reason
			}
			initializing = true
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
			initializing = true
		}
		break
	}
	if !initializing || podConditionTrue(p.Status.Conditions, corev1.PodInitialized) {
		restartCount = sidecarRestarts
		lastRestart = lastSidecarRestart
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			restartCount += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(lastRestart) {
				lastRestart = t.FinishedAt.Time
			}
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil:
				if cs.State.Terminated.Signal != 0 {
					reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
				} else {
					reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
				}
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				readyCount++
			}
		}
		if reason == "Completed" && hasRunning {
			if podConditionTrue(p.Status.Conditions, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}
	if p.DeletionTimestamp != nil && p.Status.Reason == "NodeLost" {
		reason = "Unknown"
	} else if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		reason = "Terminating"
	}
	return fmt.Sprintf("%d/%d", readyCount, total), reason, restartsCell{count: restartCount, last: lastRestart}
}

func podConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podRow(p *corev1.Pod) []interface{} {
	ready, status, restarts := podStatusCells(p)
	ip := ""
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if len(p.Spec.ReadinessGates) > 0 {
		n := 0
		for _, g := range p.Spec.ReadinessGates {
			for _, c := range p.Status.Conditions {
				if c.Type == g.ConditionType {
					if c.Status == corev1.ConditionTrue {
						n++
					}
					break
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", n, len(p.Spec.ReadinessGates))
	}
	return []interface{}{ready, status, restarts, registry.Since(p.CreationTimestamp.Time),
		noneIfEmpty(ip), noneIfEmpty(p.Spec.NodeName), noneIfEmpty(p.Status.NominatedNodeName), gates}
}

func podFields(p *corev1.Pod) fields.Set {
	ip := ""
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             ip,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

// ValidateEphemeralContainersUpdate checks an update through the pods/ephemeralcontainers
// subresource: the pod stays valid, ephemeral containers are only added (never removed or
// changed), and static pods get none.
func ValidateEphemeralContainersUpdate(p, old *corev1.Pod) field.ErrorList {
	if _, ok := old.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	errs := validatePodAnnotations(p.Annotations, &p.Spec, field.NewPath("metadata", "annotations"))
	errs = append(errs, validatePodSpec(&p.Spec, field.NewPath("spec"), podOpts{isPod: true})...)
	specPath := field.NewPath("spec", "ephemeralContainers")
	byName := make(map[string]*corev1.EphemeralContainer, len(p.Spec.EphemeralContainers))
	for i := range p.Spec.EphemeralContainers {
		byName[p.Spec.EphemeralContainers[i].Name] = &p.Spec.EphemeralContainers[i]
	}
	for _, o := range old.Spec.EphemeralContainers {
		n, ok := byName[o.Name]
		if !ok {
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", o.Name)))
		} else if !equality.Semantic.DeepEqual(o, *n) {
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%v", o.Name, cmp.Diff(o, *n))))
		}
	}
	return errs
}

// applyAffinityLabelKeys turns the matchLabelKeys and mismatchLabelKeys of pod (anti-)affinity
// terms into selector requirements on the pod's own label values, as upstream does when a
// pod is created.
func applyAffinityLabelKeys(p *corev1.Pod) {
	a := p.Spec.Affinity
	if a == nil {
		return
	}
	apply := func(t *corev1.PodAffinityTerm) {
		if (len(t.MatchLabelKeys) == 0 && len(t.MismatchLabelKeys) == 0) || t.LabelSelector == nil {
			return
		}
		for _, k := range t.MatchLabelKeys {
			if v, ok := p.Labels[k]; ok {
				t.LabelSelector.MatchExpressions = append(t.LabelSelector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
			}
		}
		for _, k := range t.MismatchLabelKeys {
			if v, ok := p.Labels[k]; ok {
				t.LabelSelector.MatchExpressions = append(t.LabelSelector.MatchExpressions,
					metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpNotIn, Values: []string{v}})
			}
		}
	}
	terms := func(req []corev1.PodAffinityTerm, pref []corev1.WeightedPodAffinityTerm) {
		for i := range req {
			apply(&req[i])
		}
		for i := range pref {
			apply(&pref[i].PodAffinityTerm)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
}
