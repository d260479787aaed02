package scheduler

import (
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Defaults counted for a container that requests no cpu or memory, used only when
// scoring (so that many "free" pods do not all land on one node), as upstream does.
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
)

// Resources is an amount of the resources the scheduler accounts for.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is the number of pods (meaningful for allocatable amounts).
	Pods int64
	// Scalar holds extended resources and hugepages, by name.
	Scalar map[v1.ResourceName]int64
}

// isScalarResource reports whether a resource name is accounted in Resources.Scalar:
// extended resources (a domain-qualified name outside kubernetes.io) and hugepages.
func isScalarResource(name v1.ResourceName) bool {
	s := string(name)
	if strings.HasPrefix(s, v1.ResourceHugePagesPrefix) {
		return true
	}
	if !strings.Contains(s, "/") {
		return false
	}
	if strings.HasPrefix(s, v1.ResourceDefaultNamespacePrefix) || strings.HasPrefix(s, "requests.") {
		return false
	}
	return true
}

// resourcesFromList converts an allocatable list.
func resourcesFromList(rl v1.ResourceList) Resources {
	var r Resources
	r.addList(rl)
	if q, ok := rl[v1.ResourcePods]; ok {
		r.Pods = q.Value()
	}
	return r
}

func (r *Resources) addList(rl v1.ResourceList) {
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		default:
			if isScalarResource(name) {
				if r.Scalar == nil {
					r.Scalar = map[v1.ResourceName]int64{}
				}
				r.Scalar[name] += q.Value()
			}
		}
	}
}

// add adds o to r.
func (r *Resources) add(o *Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// sub subtracts o from r.
func (r *Resources) sub(o *Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		r.Scalar[k] -= v
	}
}

// setMax raises each amount of r to at least the one in o.
func (r *Resources) setMax(o *Resources) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.Pods = max(r.Pods, o.Pods)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[v1.ResourceName]int64{}
		}
		if v > r.Scalar[k] {
			r.Scalar[k] = v
		}
	}
}

func (r *Resources) clone() Resources {
	c := *r
	if r.Scalar != nil {
		c.Scalar = make(map[v1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// isZero reports whether r asks for nothing.
func (r *Resources) isZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// containerRequests returns what a container requests. A limit without a request counts
// as the request, as API defaulting makes it.
func containerRequests(c *v1.Container) Resources {
	var r Resources
	r.addList(c.Resources.Requests)
	for name, q := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; ok {
			continue
		}
		r.addList(v1.ResourceList{name: q})
	}
	return r
}

// nonZero returns r with cpu and memory raised to the scoring defaults when unset.
func nonZero(r Resources) Resources {
	if r.MilliCPU == 0 {
		r.MilliCPU = defaultMilliCPURequest
	}
	if r.Memory == 0 {
		r.Memory = defaultMemoryRequest
	}
	return r
}

// podRequests computes the effective requests of a pod: the larger of the sum over its
// containers (plus restartable "sidecar" init containers, which keep running) and the
// largest need during init (each init container plus the sidecars started before it),
// plus the pod overhead. The second result is the same with the scoring defaults applied
// per container.
func podRequests(pod *v1.Pod) (req, nonZeroReq Resources) {
	var sidecars, sidecarsNZ Resources
	var initMax, initMaxNZ Resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := containerRequests(c)
		nz := nonZero(r)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sidecars.add(&r)
			sidecarsNZ.add(&nz)
			// A sidecar's own start also needs the sidecars before it.
			initMax.setMax(&sidecars)
			initMaxNZ.setMax(&sidecarsNZ)
			continue
		}
		r.add(&sidecars)
		nz.add(&sidecarsNZ)
		initMax.setMax(&r)
		initMaxNZ.setMax(&nz)
	}
	for i := range pod.Spec.Containers {
		r := containerRequests(&pod.Spec.Containers[i])
		nz := nonZero(r)
		req.add(&r)
		nonZeroReq.add(&nz)
	}
	req.add(&sidecars)
	nonZeroReq.add(&sidecarsNZ)
	req.setMax(&initMax)
	nonZeroReq.setMax(&initMaxNZ)
	if pod.Spec.Overhead != nil {
		var o Resources
		o.addList(pod.Spec.Overhead)
		req.add(&o)
		nonZeroReq.add(&o)
	}
	return req, nonZeroReq
}
