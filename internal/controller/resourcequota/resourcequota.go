// Package resourcequota keeps each ResourceQuota's status current: hard
// copied from spec and used recomputed from the namespace's objects —
// object counts (pods, services, configmaps, secrets, claims, replication
// controllers, quotas and count/<resource>.<group> for the workload kinds),
// pod compute requests and limits (honouring the Terminating,
// NotTerminating, BestEffort, NotBestEffort and PriorityClass scopes),
// NodePorts, load balancers and claimed storage (also per storage class).
// Admission enforces the quota in the API server; this controller only
// measures. It recomputes a namespace's quotas when anything in it changes
// and every five minutes.
package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "resourcequota"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
	Clock     clock.Clock
	// ResyncPeriod of full recomputation (default 5m).
	ResyncPeriod time.Duration
}

// Controller measures quota usage.
type Controller struct {
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.Clock
	resync time.Duration
	inf    informers.SharedInformerFactory
	quotas corelisters.ResourceQuotaLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	// counters count objects of a resource in a namespace.
	counters map[corev1.ResourceName]func(ns string) (int, error)
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("resourcequota: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = 5 * time.Minute
	}
	f := cfg.Informers
	c := &Controller{
		client: cfg.Client, log: cfg.Logger.With("controller", Name), clock: cfg.Clock, resync: cfg.ResyncPeriod,
		inf: f, quotas: f.Core().V1().ResourceQuotas().Lister(), queue: controllerutil.NewQueue(Name),
	}
	c.counters = map[corev1.ResourceName]func(string) (int, error){
		corev1.ResourceServices: func(ns string) (int, error) {
			l, err := f.Core().V1().Services().Lister().Services(ns).List(labels.Everything())
			return len(l), err
		},
		corev1.ResourceConfigMaps: func(ns string) (int, error) {
			l, err := f.Core().V1().ConfigMaps().Lister().ConfigMaps(ns).List(labels.Everything())
			return len(l), err
		},
		corev1.ResourceSecrets: func(ns string) (int, error) {
			l, err := f.Core().V1().Secrets().Lister().Secrets(ns).List(labels.Everything())
			return len(l), err
		},
		corev1.ResourcePersistentVolumeClaims: func(ns string) (int, error) {
			l, err := f.Core().V1().PersistentVolumeClaims().Lister().PersistentVolumeClaims(ns).List(labels.Everything())
			return len(l), err
		},
		corev1.ResourceReplicationControllers: func(ns string) (int, error) {
			l, err := f.Core().V1().ReplicationControllers().Lister().ReplicationControllers(ns).List(labels.Everything())
			return len(l), err
		},
		corev1.ResourceQuotas: func(ns string) (int, error) {
			l, err := f.Core().V1().ResourceQuotas().Lister().ResourceQuotas(ns).List(labels.Everything())
			return len(l), err
		},
		"count/deployments.apps": func(ns string) (int, error) {
			l, err := f.Apps().V1().Deployments().Lister().Deployments(ns).List(labels.Everything())
			return len(l), err
		},
		"count/replicasets.apps": func(ns string) (int, error) {
			l, err := f.Apps().V1().ReplicaSets().Lister().ReplicaSets(ns).List(labels.Everything())
			return len(l), err
		},
		"count/statefulsets.apps": func(ns string) (int, error) {
			l, err := f.Apps().V1().StatefulSets().Lister().StatefulSets(ns).List(labels.Everything())
			return len(l), err
		},
		"count/daemonsets.apps": func(ns string) (int, error) {
			l, err := f.Apps().V1().DaemonSets().Lister().DaemonSets(ns).List(labels.Everything())
			return len(l), err
		},
		"count/jobs.batch": func(ns string) (int, error) {
			l, err := f.Batch().V1().Jobs().Lister().Jobs(ns).List(labels.Everything())
			return len(l), err
		},
		"count/cronjobs.batch": func(ns string) (int, error) {
			l, err := f.Batch().V1().CronJobs().Lister().CronJobs(ns).List(labels.Everything())
			return len(l), err
		},
	}
	for _, alias := range []corev1.ResourceName{corev1.ResourceServices, corev1.ResourceConfigMaps, corev1.ResourceSecrets,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceReplicationControllers, corev1.ResourceQuotas} {
		c.counters["count/"+alias] = c.counters[alias]
	}
	informersToWatch := []cache.SharedIndexInformer{
		f.Core().V1().Pods().Informer(), f.Core().V1().Services().Informer(), f.Core().V1().ConfigMaps().Informer(),
		f.Core().V1().Secrets().Informer(), f.Core().V1().PersistentVolumeClaims().Informer(),
		f.Core().V1().ReplicationControllers().Informer(), f.Apps().V1().Deployments().Informer(),
		f.Apps().V1().ReplicaSets().Informer(), f.Apps().V1().StatefulSets().Informer(), f.Apps().V1().DaemonSets().Informer(),
		f.Batch().V1().Jobs().Informer(), f.Batch().V1().CronJobs().Informer(),
	}
	quotaInf := f.Core().V1().ResourceQuotas().Informer()
	c.synced = append(c.synced, quotaInf.HasSynced)
	for _, inf := range informersToWatch {
		c.synced = append(c.synced, inf.HasSynced)
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueNamespaceOf,
			UpdateFunc: func(_, n any) { c.enqueueNamespaceOf(n) },
			DeleteFunc: c.enqueueNamespaceOf,
		}); err != nil {
			return nil, fmt.Errorf("resourcequota: %w", err)
		}
	}
	if _, err := quotaInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueQuota,
		UpdateFunc: func(_, n any) { c.enqueueQuota(n) },
		DeleteFunc: c.enqueueNamespaceOf,
	}); err != nil {
		return nil, fmt.Errorf("resourcequota: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueQuota(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
	c.enqueueNamespaceOf(obj) // the quota count itself changed
}

// enqueueNamespaceOf queues every quota in obj's namespace.
func (c *Controller) enqueueNamespaceOf(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	qs, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range qs {
		c.queue.Add(q.Namespace + "/" + q.Name)
	}
}

// Run runs workers until ctx ends, recomputing every quota each resync.
func (c *Controller) Run(ctx context.Context, workers int) error {
	go func() {
		t := time.NewTicker(c.resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				qs, _ := c.quotas.List(labels.Everything())
				for _, q := range qs {
					c.queue.Add(q.Namespace + "/" + q.Name)
				}
			}
		}
	}()
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

// sync recomputes one quota's usage.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	q, err := c.quotas.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, err := c.usage(ns, q)
	if err != nil {
		return err
	}
	st := corev1.ResourceQuotaStatus{Hard: q.Spec.Hard.DeepCopy(), Used: used}
	if apiequality.Semantic.DeepEqual(q.Status, st) {
		return nil
	}
	cp := q.DeepCopy()
	cp.Status = st
	if _, err := c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of quota %s: %w", key, err)
	}
	return nil
}

// usage measures every resource q limits.
func (c *Controller) usage(ns string, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	used := corev1.ResourceList{}
	var podUsage corev1.ResourceList
	for res := range q.Spec.Hard {
		if isPodResource(res) {
			if podUsage == nil {
				var err error
				if podUsage, err = c.podUsage(ns, q); err != nil {
					return nil, err
				}
			}
			v := podUsage[res]
			used[res] = v.DeepCopy()
			continue
		}
		if len(q.Spec.Scopes) > 0 || q.Spec.ScopeSelector != nil {
			continue // scoped quotas only track pods
		}
		if count, ok := c.counters[res]; ok {
			n, err := count(ns)
			if err != nil {
				return nil, err
			}
			used[res] = *resource.NewQuantity(int64(n), resource.DecimalSI)
			continue
		}
		switch {
		case res == corev1.ResourceServicesNodePorts || res == corev1.ResourceServicesLoadBalancers:
			nodePorts, lbs, err := c.serviceUsage(ns)
			if err != nil {
				return nil, err
			}
			n := nodePorts
			if res == corev1.ResourceServicesLoadBalancers {
				n = lbs
			}
			used[res] = *resource.NewQuantity(int64(n), resource.DecimalSI)
		case res == corev1.ResourceRequestsStorage || strings.HasSuffix(string(res), ".storageclass.storage.k8s.io/requests.storage") ||
			strings.HasSuffix(string(res), ".storageclass.storage.k8s.io/persistentvolumeclaims"):
			v, err := c.claimUsage(ns, res)
			if err != nil {
				return nil, err
			}
			used[res] = v
		}
	}
	return used, nil
}

func isPodResource(r corev1.ResourceName) bool {
	switch r {
	case corev1.ResourcePods, "count/pods", corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage:
		return true
	}
	return strings.HasPrefix(string(r), corev1.DefaultResourceRequestsPrefix)
}

// podUsage sums the pods q's scopes select.
func (c *Controller) podUsage(ns string, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	pods, err := c.inf.Core().V1().Pods().Lister().Pods(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	total := corev1.ResourceList{}
	add := func(name corev1.ResourceName, q resource.Quantity) {
		v := total[name]
		v.Add(q)
		total[name] = v
	}
	var count int64
	for _, p := range pods {
		if !countsForQuota(p, now) || !matchesScopes(p, q) {
			continue
		}
		count++
		req, lim := podRequestsAndLimits(p)
		for name, v := range req {
			add(corev1.DefaultResourceRequestsPrefix+name, v)
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage {
				add(name, v)
			}
		}
		for name, v := range lim {
			add(corev1.ResourceName("limits."+string(name)), v)
		}
	}
	total[corev1.ResourcePods] = *resource.NewQuantity(count, resource.DecimalSI)
	total["count/pods"] = *resource.NewQuantity(count, resource.DecimalSI)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceRequestsCPU,
		corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory} {
		if _, ok := total[r]; !ok {
			total[r] = resource.MustParse("0")
		}
	}
	return total, nil
}

// countsForQuota: pods that are finished, or past their deletion grace
// period, no longer count.
func countsForQuota(p *corev1.Pod, now time.Time) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil {
		end := p.DeletionTimestamp.Add(time.Duration(*p.DeletionGracePeriodSeconds) * time.Second)
		if now.After(end) {
			return false
		}
	}
	return true
}

// podRequestsAndLimits sums containers, taking init containers' maximum
// where it is larger, plus the pod overhead.
func podRequestsAndLimits(p *corev1.Pod) (req, lim corev1.ResourceList) {
	sum := func(get func(corev1.Container) corev1.ResourceList) corev1.ResourceList {
		out := corev1.ResourceList{}
		for _, c := range p.Spec.Containers {
			for n, v := range get(c) {
				cur := out[n]
				cur.Add(v)
				out[n] = cur
			}
		}
		for _, c := range p.Spec.InitContainers {
			for n, v := range get(c) {
				if cur, ok := out[n]; !ok || v.Cmp(cur) > 0 {
					out[n] = v.DeepCopy()
				}
			}
		}
		for n, v := range p.Spec.Overhead {
			if cur, ok := out[n]; ok {
				cur.Add(v)
				out[n] = cur
			}
		}
		return out
	}
	req = sum(func(c corev1.Container) corev1.ResourceList { return c.Resources.Requests })
	lim = sum(func(c corev1.Container) corev1.ResourceList { return c.Resources.Limits })
	return req, lim
}

func isBestEffort(p *corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			return false
		}
	}
	return true
}

// matchesScopes reports whether p falls under every scope of q.
func matchesScopes(p *corev1.Pod, q *corev1.ResourceQuota) bool {
	for _, s := range q.Spec.Scopes {
		if !matchScope(p, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists}) {
			return false
		}
	}
	if q.Spec.ScopeSelector != nil {
		for _, r := range q.Spec.ScopeSelector.MatchExpressions {
			if !matchScope(p, r) {
				return false
			}
		}
	}
	return true
}

func matchScope(p *corev1.Pod, r corev1.ScopedResourceSelectorRequirement) bool {
	switch r.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds >= 0
	case corev1.ResourceQuotaScopeNotTerminating:
		return p.Spec.ActiveDeadlineSeconds == nil || *p.Spec.ActiveDeadlineSeconds < 0
	case corev1.ResourceQuotaScopeBestEffort:
		return isBestEffort(p)
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !isBestEffort(p)
	case corev1.ResourceQuotaScopePriorityClass:
		pc := p.Spec.PriorityClassName
		switch r.Operator {
		case corev1.ScopeSelectorOpExists:
			return pc != ""
		case corev1.ScopeSelectorOpDoesNotExist:
			return pc == ""
		case corev1.ScopeSelectorOpIn:
			for _, v := range r.Values {
				if v == pc {
					return true
				}
			}
			return false
		case corev1.ScopeSelectorOpNotIn:
			for _, v := range r.Values {
				if v == pc {
					return false
				}
			}
			return true
		}
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		a := p.Spec.Affinity
		if a == nil {
			return false
		}
		for _, terms := range [][]corev1.PodAffinityTerm{termsOf(a.PodAffinity), termsOf2(a.PodAntiAffinity)} {
			for _, t := range terms {
				if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
					return true
				}
			}
		}
		return false
	}
	return false
}

func termsOf(a *corev1.PodAffinity) []corev1.PodAffinityTerm {
	if a == nil {
		return nil
	}
	out := append([]corev1.PodAffinityTerm(nil), a.RequiredDuringSchedulingIgnoredDuringExecution...)
	for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
		out = append(out, w.PodAffinityTerm)
	}
	return out
}

func termsOf2(a *corev1.PodAntiAffinity) []corev1.PodAffinityTerm {
	if a == nil {
		return nil
	}
	out := append([]corev1.PodAffinityTerm(nil), a.RequiredDuringSchedulingIgnoredDuringExecution...)
	for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
		out = append(out, w.PodAffinityTerm)
	}
	return out
}

func (c *Controller) serviceUsage(ns string) (nodePorts, lbs int, err error) {
	svcs, err := c.inf.Core().V1().Services().Lister().Services(ns).List(labels.Everything())
	if err != nil {
		return 0, 0, err
	}
	for _, s := range svcs {
		switch s.Spec.Type {
		case corev1.ServiceTypeLoadBalancer:
			lbs++
			fallthrough
		case corev1.ServiceTypeNodePort:
			for _, p := range s.Spec.Ports {
				if p.NodePort != 0 || s.Spec.Type == corev1.ServiceTypeNodePort {
					nodePorts++
				}
			}
		}
	}
	return nodePorts, lbs, nil
}

func (c *Controller) claimUsage(ns string, res corev1.ResourceName) (resource.Quantity, error) {
	claims, err := c.inf.Core().V1().PersistentVolumeClaims().Lister().PersistentVolumeClaims(ns).List(labels.Everything())
	if err != nil {
		return resource.Quantity{}, err
	}
	class, field, perClass := strings.Cut(string(res), ".storageclass.storage.k8s.io/")
	total := resource.MustParse("0")
	for _, pvc := range claims {
		if perClass {
			sc := ""
			if pvc.Spec.StorageClassName != nil {
				sc = *pvc.Spec.StorageClassName
			}
			if sc != class {
				continue
			}
			if field == "persistentvolumeclaims" {
				total.Add(resource.MustParse("1"))
				continue
			}
		}
		if v, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			total.Add(v)
		}
	}
	return total, nil
}
