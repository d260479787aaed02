// Package cronjob creates Jobs on a cron schedule, as upstream's CronJob
// controller does: at each scheduled time (the most recent one missed, if
// several were, and not past startingDeadlineSeconds) it creates a Job
// named <cronjob>-<minutes since the epoch>, honouring suspend and the
// concurrency policy (Allow, Forbid, Replace); it keeps status.active,
// lastScheduleTime and lastSuccessfulTime, trims finished Jobs beyond the
// history limits, and wakes itself up for the next scheduled time.
package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "cronjob"

// ScheduledTimestampAnnotation records a Job's scheduled time.
const ScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Controller is the CronJob controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock
	cjLister batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("cronjob: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	cjInf := cfg.Informers.Batch().V1().CronJobs()
	jobInf := cfg.Informers.Batch().V1().Jobs()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		cjLister: cjInf.Lister(), jobs: jobInf.Lister(),
		synced: []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue:  controllerutil.NewQueue(Name),
	}
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
	}); err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	jobEvent := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if j, ok := obj.(*batchv1.Job); ok {
			if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Kind == cronJobKind.Kind {
				c.queue.Add(j.Namespace + "/" + ref.Name)
			}
		}
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: jobEvent, UpdateFunc: func(_, n any) { jobEvent(n) }, DeleteFunc: jobEvent,
	}); err != nil {
		return nil, fmt.Errorf("cronjob: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

func jobFinished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			return cond.Type, true
		}
	}
	return "", false
}

// sync reconciles the CronJob named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	cj := cached.DeepCopy()
	all, err := c.jobs.Jobs(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var owned []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.UID == cj.UID {
			owned = append(owned, j)
		}
	}
	now := c.clock.Now()
	st := cj.Status.DeepCopy()
	st.Active = nil
	var active []*batchv1.Job
	for _, j := range owned {
		if cond, done := jobFinished(j); done {
			if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
				(st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
				st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			}
			continue
		}
		if j.DeletionTimestamp != nil {
			continue
		}
		active = append(active, j)
		st.Active = append(st.Active, corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job",
			Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion})
	}
	sched, perr := parseSchedule(cj.Spec.Schedule)
	var requeue time.Duration
	if perr != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, perr)
	} else if cj.DeletionTimestamp == nil {
		loc := time.Local
		if cj.Spec.TimeZone != nil {
			if l, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
				loc = l
			} else {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
				loc = nil
			}
		}
		if loc != nil {
			requeue, err = c.maybeRun(ctx, cj, st, active, sched, now.In(loc))
			if err != nil {
				return err
			}
		}
	}
	if err := c.trimHistory(ctx, cj, owned); err != nil {
		return err
	}
	if !equalStatus(&cj.Status, st) {
		cj.Status = *st
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of cronjob %s: %w", key, err)
		}
	}
	if requeue > 0 {
		c.queue.AddAfter(key, requeue)
	}
	return nil
}

func equalStatus(a, b *batchv1.CronJobStatus) bool {
	if len(a.Active) != len(b.Active) || !a.LastScheduleTime.Equal(b.LastScheduleTime) || !a.LastSuccessfulTime.Equal(b.LastSuccessfulTime) {
		return false
	}
	for i := range a.Active {
		if a.Active[i].UID != b.Active[i].UID {
			return false
		}
	}
	return true
}

// maybeRun starts the Job for the latest missed scheduled time, if any,
// and returns how long until the next one.
func (c *Controller) maybeRun(ctx context.Context, cj *batchv1.CronJob, st *batchv1.CronJobStatus, active []*batchv1.Job, sched *schedule, now time.Time) (time.Duration, error) {
	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if lim := now.Add(-time.Duration(*d) * time.Second); lim.After(earliest) {
			earliest = lim
		}
	}
	earliest = earliest.In(now.Location())
	var missed time.Time
	for t := sched.next(earliest); !t.IsZero() && !t.After(now); t = sched.next(t) {
		missed = t
	}
	nextRun := sched.next(now)
	requeue := time.Duration(0)
	if !nextRun.IsZero() {
		requeue = nextRun.Sub(now) + 100*time.Millisecond
	}
	if missed.IsZero() || (cj.Spec.Suspend != nil && *cj.Spec.Suspend) {
		return requeue, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && now.Sub(missed) > time.Duration(*d)*time.Second {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", missed.UTC().Format(time.RFC1123Z))
		return requeue, nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(active) > 0 {
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return requeue, nil
		}
	case batchv1.ReplaceConcurrent:
		bg := metav1.DeletePropagationBackground
		for _, j := range active {
			err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, fmt.Errorf("replace job %s: %w", j.Name, err)
			}
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
		}
		st.Active = nil
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            fmt.Sprintf("%s-%d", cj.Name, missed.Unix()/60),
			Namespace:       cj.Namespace,
			Labels:          copyMap(cj.Spec.JobTemplate.Labels),
			Annotations:     copyMap(cj.Spec.JobTemplate.Annotations),
			OwnerReferences: []metav1.OwnerReference{*controllerutil.NewControllerRef(cj, cronJobKind)},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[ScheduledTimestampAnnotation] = missed.Format(time.RFC3339)
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Made by an earlier sync whose status update was lost.
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return 0, fmt.Errorf("create job: %w", err)
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
		st.Active = append(st.Active, corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job",
			Namespace: created.Namespace, Name: created.Name, UID: created.UID, ResourceVersion: created.ResourceVersion})
	}
	t := metav1.NewTime(missed)
	st.LastScheduleTime = &t
	return requeue, nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// trimHistory deletes the oldest finished Jobs beyond the history limits.
func (c *Controller) trimHistory(ctx context.Context, cj *batchv1.CronJob, owned []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range owned {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch cond, done := jobFinished(j); {
		case done && cond == batchv1.JobComplete:
			ok = append(ok, j)
		case done:
			failed = append(failed, j)
		}
	}
	limit := func(p *int32, def int) int {
		if p == nil {
			return def
		}
		return int(*p)
	}
	var errs []error
	for _, group := range []struct {
		jobs  []*batchv1.Job
		limit int
	}{{ok, limit(cj.Spec.SuccessfulJobsHistoryLimit, 3)}, {failed, limit(cj.Spec.FailedJobsHistoryLimit, 1)}} {
		if extra := len(group.jobs) - group.limit; extra > 0 {
			sort.Slice(group.jobs, func(i, k int) bool {
				return group.jobs[i].CreationTimestamp.Before(&group.jobs[k].CreationTimestamp)
			})
			bg := metav1.DeletePropagationBackground
			for _, j := range group.jobs[:extra] {
				err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
				if err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
					continue
				}
				c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
			}
		}
	}
	return errors.Join(errs...)
}
