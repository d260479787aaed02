// Package podgc removes pods nothing else will: pods bound to a Node that
// no longer exists (after a quarantine, confirmed with a fresh read), pods
// being deleted that were never scheduled, and — beyond a threshold — the
// oldest finished pods. Orphaned pods are first marked Failed with a
// DisruptionTarget condition (reason DeletionByPodGC), then force-deleted,
// as upstream's pod garbage collector does. It runs every 20 seconds.
package podgc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Name is the controller's name in logs and the manager's list.
const Name = "podgc"

// Defaults, as upstream.
const (
	DefaultPeriod     = 20 * time.Second
	DefaultQuarantine = 40 * time.Second
	DefaultThreshold  = 12500
)

// Config configures the collector.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
	Clock     clock.WithTicker
	// Period between passes (default 20s); Quarantine is how long a node
	// must have been missing (default 40s); Threshold is how many finished
	// pods may stay (default 12500).
	Period     time.Duration
	Quarantine time.Duration
	Threshold  int
}

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	log        *slog.Logger
	clock      clock.WithTicker
	period     time.Duration
	quarantine time.Duration
	threshold  int
	pods       corelisters.PodLister
	nodes      corelisters.NodeLister
	synced     []cache.InformerSynced
	// missingSince remembers when each node name was first seen missing.
	missingSince map[string]time.Time
}

// New validates cfg and registers the informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("podgc: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Quarantine == 0 {
		cfg.Quarantine = DefaultQuarantine
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	return &Controller{
		client: cfg.Client, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		period: cfg.Period, quarantine: cfg.Quarantine, threshold: cfg.Threshold,
		pods: podInf.Lister(), nodes: nodeInf.Lister(),
		synced:       []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		missingSince: map[string]time.Time{},
	}, nil
}

// Run collects every period until ctx ends.
func (c *Controller) Run(ctx context.Context, _ int) error {
	if !cache.WaitForNamedCacheSync(Name, ctx.Done(), c.synced...) {
		return nil
	}
	t := c.clock.NewTicker(c.period)
	defer t.Stop()
	for {
		if err := c.gc(ctx); err != nil && ctx.Err() == nil {
			c.log.Info("pod garbage collection incomplete", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// gc runs one pass.
func (c *Controller) gc(ctx context.Context) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	known := sets.New[string]()
	for _, n := range nodes {
		known.Insert(n.Name)
	}
	var errs []error
	errs = append(errs, c.gcTerminated(ctx, pods))
	errs = append(errs, c.gcOrphaned(ctx, pods, known))
	errs = append(errs, c.gcUnscheduledTerminating(ctx, pods))
	return errors.Join(errs...)
}

func (c *Controller) forceDelete(ctx context.Context, p *corev1.Pod) error {
	zero := int64(0)
	uid := p.UID
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// gcTerminated deletes the oldest finished pods beyond the threshold.
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) error {
	var done []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			done = append(done, p)
		}
	}
	excess := len(done) - c.threshold
	if excess <= 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i].CreationTimestamp.Before(&done[j].CreationTimestamp) })
	var errs []error
	for _, p := range done[:excess] {
		errs = append(errs, c.forceDelete(ctx, p))
	}
	return errors.Join(errs...)
}

// gcOrphaned removes pods bound to nodes that have been gone for the
// quarantine period.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod, known sets.Set[string]) error {
	now := c.clock.Now()
	missing := sets.New[string]()
	for _, p := range pods {
		if p.Spec.NodeName != "" && !known.Has(p.Spec.NodeName) {
			missing.Insert(p.Spec.NodeName)
		}
	}
	for name := range c.missingSince {
		if !missing.Has(name) {
			delete(c.missingSince, name)
		}
	}
	gone := sets.New[string]()
	for name := range missing {
		since, ok := c.missingSince[name]
		if !ok {
			c.missingSince[name] = now
			continue
		}
		if now.Sub(since) < c.quarantine {
			continue
		}
		// Confirm with the API: the cache may lag.
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			gone.Insert(name)
		case err == nil:
			delete(c.missingSince, name)
		default:
			return fmt.Errorf("get node %s: %w", name, err)
		}
	}
	var errs []error
	for _, p := range pods {
		if !gone.Has(p.Spec.NodeName) {
			continue
		}
		c.log.Info("deleting pod of a deleted node", "pod", p.Namespace+"/"+p.Name, "node", p.Spec.NodeName)
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			cp := p.DeepCopy()
			cp.Status.Phase = corev1.PodFailed
			cp.Status.Conditions = append(cp.Status.Conditions, corev1.PodCondition{
				Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC",
				Message: "PodGC: node no longer exists", LastTransitionTime: metav1.NewTime(now),
			})
			if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("mark pod %s/%s failed: %w", p.Namespace, p.Name, err))
				continue
			}
		}
		errs = append(errs, c.forceDelete(ctx, p))
	}
	return errors.Join(errs...)
}

// gcUnscheduledTerminating force-deletes pods being deleted that no node
// will ever finish.
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			errs = append(errs, c.forceDelete(ctx, p))
		}
	}
	return errors.Join(errs...)
}
