package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "job"

// Labels and annotations of Job pods.
const (
	CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index"
	CompletionIndexEnv        = "JOB_COMPLETION_INDEX"
)

// Back-off after pod failures.
const (
	DefaultBackoff = 10 * time.Second
	MaxBackoff     = 6 * time.Minute
)

// Condition reasons and messages, as upstream.
const (
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonCompletionsReached   = "CompletionsReached"
	ReasonSuspended            = "JobSuspended"
	ReasonPodFailurePolicy     = "PodFailurePolicy"
	ReasonResumed              = "JobResumed"
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Controller is the Job controller.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock

	jobLister    batchlisters.JobLister
	podLister    corelisters.PodLister
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("job: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	jobInf := cfg.Informers.Batch().V1().Jobs()
	podInf := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client: cfg.Client, recorder: cfg.Recorder, log: cfg.Logger.With("controller", Name), clock: cfg.Clock,
		jobLister: jobInf.Lister(), podLister: podInf.Lister(),
		synced:       []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:        controllerutil.NewQueue(Name),
		expectations: controllerutil.NewExpectations(cfg.Clock),
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, n any) { c.enqueue(n) },
		DeleteFunc: func(obj any) {
			if key, ok := controllerutil.KeyOf(obj); ok {
				c.expectations.Delete(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := c.ownerKey(obj); ok {
				c.expectations.CreationObserved(key)
				c.queue.Add(key)
			}
		},
		UpdateFunc: func(o, n any) {
			if key, ok := c.ownerKey(o); ok {
				c.queue.Add(key)
			}
			if key, ok := c.ownerKey(n); ok {
				c.queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if key, ok := c.ownerKey(obj); ok {
				if p, ok := obj.(*corev1.Pod); ok {
					c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
				}
				c.queue.Add(key)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("job: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// ownerKey returns the key of the Job controlling pod obj.
func (c *Controller) ownerKey(obj any) (string, bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return "", false
	}
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != jobKind.Kind {
		return "", false
	}
	return p.Namespace + "/" + ref.Name, true
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

func conditionTrue(st *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func finished(st *batchv1.JobStatus) bool {
	return conditionTrue(st, batchv1.JobComplete) || conditionTrue(st, batchv1.JobFailed)
}

// setCondition sets or updates a condition; it reports whether st changed.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) bool {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status == s && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != s {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = s, reason, msg, metav1.NewTime(now)
		return true
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{
		Type: t, Status: s, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	})
	return true
}

func int32Or(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func isIndexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[CompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[CompletionIndexAnnotation]
	}
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// sync reconciles the Job named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	job := cached.DeepCopy()
	if finished(&job.Status) {
		return c.expireFinished(ctx, job, key)
	}
	needsSync := c.expectations.Satisfied(key)
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	st := job.Status.DeepCopy()

	var active, terminating []*corev1.Pod
	var succeededPods, failedPods []*corev1.Pod
	var restarts int32
	var failJobMsg string
	ready := int32(0)
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			succeededPods = append(succeededPods, p)
		case p.Status.Phase == corev1.PodFailed:
			action, msg := matchFailurePolicy(job, p)
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				continue // does not count as a failure
			case batchv1.PodFailurePolicyActionFailJob:
				if failJobMsg == "" {
					failJobMsg = msg
				}
			}
			failedPods = append(failedPods, p)
		case p.DeletionTimestamp != nil:
			terminating = append(terminating, p)
		default:
			active = append(active, p)
			if controllerutil.IsPodReady(p) {
				ready++
			}
			for _, cs := range p.Status.ContainerStatuses {
				restarts += cs.RestartCount
			}
		}
	}
	indexed := isIndexed(job)
	var doneIndexes sets.Set[int]
	if indexed {
		doneIndexes = parseIndexes(st.CompletedIndexes)
		for _, p := range succeededPods {
			if i, ok := podIndex(p); ok && i < int(int32Or(job.Spec.Completions, 1)) {
				doneIndexes.Insert(i)
			}
		}
		st.CompletedIndexes = formatIndexes(doneIndexes)
		st.Succeeded = int32(doneIndexes.Len())
	} else {
		st.Succeeded = max(st.Succeeded, int32(len(succeededPods)))
	}
	st.Failed = max(st.Failed, int32(len(failedPods)))
	st.Active = int32(len(active))
	st.Ready = &ready
	nTerm := int32(len(terminating))
	st.Terminating = &nTerm
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}

	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	var manageErr error
	var requeue time.Duration
	switch {
	case suspended:
		if st.Active > 0 {
			manageErr = c.deletePods(ctx, job, key, active)
			st.Active = 0
		}
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, ReasonSuspended, "Job suspended", now) {
			c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		st.StartTime = nil
	default:
		if conditionTrue(st, batchv1.JobSuspended) {
			setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, ReasonResumed, "Job resumed", now)
			c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
			st.StartTime = nil
		}
		if st.StartTime == nil {
			t := metav1.NewTime(now)
			st.StartTime = &t
		}
		failures := st.Failed
		if job.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			failures += restarts
		}
		completions := job.Spec.Completions
		complete := false
		if completions != nil {
			complete = st.Succeeded >= *completions
		} else {
			complete = st.Succeeded > 0 && st.Active == 0
		}
		deadline := job.Spec.ActiveDeadlineSeconds
		switch {
		case complete:
			if st.Active > 0 {
				manageErr = c.deletePods(ctx, job, key, active)
				st.Active = 0
			}
			setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, ReasonCompletionsReached, "Reached expected number of succeeded pods", now)
			setCondition(st, batchv1.JobComplete, corev1.ConditionTrue, ReasonCompletionsReached, "Reached expected number of succeeded pods", now)
			t := metav1.NewTime(now)
			st.CompletionTime = &t
			c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		case failJobMsg != "":
			manageErr = c.fail(ctx, job, key, st, active, ReasonPodFailurePolicy, failJobMsg, now)
		case deadline != nil && now.Sub(st.StartTime.Time) >= time.Duration(*deadline)*time.Second:
			manageErr = c.fail(ctx, job, key, st, active, ReasonDeadlineExceeded, "Job was active longer than specified deadline", now)
		case failures > int32Or(job.Spec.BackoffLimit, 6):
			manageErr = c.fail(ctx, job, key, st, active, ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", now)
		default:
			if deadline != nil {
				requeue = time.Duration(*deadline)*time.Second - now.Sub(st.StartTime.Time)
			}
			if needsSync && job.DeletionTimestamp == nil {
				var wait time.Duration
				wait, manageErr = c.manage(ctx, job, key, st, active, terminating, failedPods, doneIndexes, now)
				if wait > 0 && (requeue == 0 || wait < requeue) {
					requeue = wait
				}
			}
		}
	}
	if requeue > 0 {
		c.queue.AddAfter(key, requeue)
	}
	if !apiequality.Semantic.DeepEqual(&job.Status, st) {
		job.Status = *st
		if _, err := c.client.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update status of job %s: %w", key, err)
		}
	}
	return manageErr
}

// expireFinished deletes a finished Job once ttlSecondsAfterFinished have
// passed since it finished (its pods go with it, in the foreground), or
// schedules a look for then.
func (c *Controller) expireFinished(ctx context.Context, job *batchv1.Job, key string) error {
	ttl := job.Spec.TTLSecondsAfterFinished
	if ttl == nil || job.DeletionTimestamp != nil {
		return nil
	}
	var at time.Time
	for _, cond := range job.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			at = cond.LastTransitionTime.Time
		}
	}
	if job.Status.CompletionTime != nil {
		at = job.Status.CompletionTime.Time
	}
	if at.IsZero() {
		return nil
	}
	if left := at.Add(time.Duration(*ttl) * time.Second).Sub(c.clock.Now()); left > 0 {
		c.queue.AddAfter(key, left)
		return nil
	}
	fg := metav1.DeletePropagationForeground
	uid := job.UID
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete expired job %s: %w", key, err)
	}
	return nil
}

// fail marks the Job failed and stops its pods.
func (c *Controller) fail(ctx context.Context, job *batchv1.Job, key string, st *batchv1.JobStatus, active []*corev1.Pod, reason, msg string, now time.Time) error {
	err := c.deletePods(ctx, job, key, active)
	st.Active = 0
	setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, now)
	setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, reason, msg, now)
	c.recorder.Event(job, corev1.EventTypeWarning, reason, msg)
	return err
}

// manage creates or deletes pods so the right number run. It returns how
// long to wait before creating more when backing off after failures.
func (c *Controller) manage(ctx context.Context, job *batchv1.Job, key string, st *batchv1.JobStatus, active, terminating, failed []*corev1.Pod, done sets.Set[int], now time.Time) (time.Duration, error) {
	parallelism := int32Or(job.Spec.Parallelism, 1)
	want := parallelism
	if job.Spec.Completions != nil {
		want = min(parallelism, *job.Spec.Completions-st.Succeeded)
	} else if st.Succeeded > 0 {
		want = st.Active // a work queue: no new pods once one succeeded
	}
	want = max(want, 0)
	if st.Active > want {
		sort.Sort(controllerutil.ActivePodsWithRanks{Pods: active, Rank: make([]int, len(active)), Now: metav1.NewTime(now)})
		return 0, c.deletePods(ctx, job, key, active[:st.Active-want])
	}
	if st.Active == want {
		return 0, nil
	}
	// With podReplacementPolicy Failed, a terminating pod is replaced only
	// once it has fully failed.
	if p := job.Spec.PodReplacementPolicy; p != nil && *p == batchv1.Failed && st.Active+int32(len(terminating)) >= want {
		return 0, nil
	}
	if wait := backoff(failed, now); wait > 0 {
		return wait, nil
	}
	n := int(want - st.Active)
	var indexes []int
	if isIndexed(job) {
		running := sets.New[int]()
		for _, p := range active {
			if i, ok := podIndex(p); ok {
				running.Insert(i)
			}
		}
		for i := 0; i < int(int32Or(job.Spec.Completions, 1)) && len(indexes) < n; i++ {
			if !done.Has(i) && !running.Has(i) {
				indexes = append(indexes, i)
			}
		}
		n = len(indexes)
	}
	if n == 0 {
		return 0, nil
	}
	c.expectations.ExpectCreations(key, n)
	ref := controllerutil.NewControllerRef(job, jobKind)
	var mu sync.Mutex
	next := 0
	created, err := controllerutil.SlowStartBatch(n, controllerutil.SlowStartInitialBatchSize, func() error {
		pod := controllerutil.PodFromTemplate(&job.Spec.Template, job.Namespace, job.Name, ref)
		if isIndexed(job) {
			mu.Lock()
			idx := indexes[next]
			next++
			mu.Unlock()
			addIndex(pod, job.Name, idx)
		}
		p, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.Name)
		return nil
	})
	for i := 0; i < n-created; i++ {
		c.expectations.CreationObserved(key)
	}
	st.Active += int32(created)
	return 0, err
}

// addIndex gives an Indexed Job's pod its completion index.
func addIndex(pod *corev1.Pod, jobName string, idx int) {
	s := strconv.Itoa(idx)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[CompletionIndexAnnotation] = s
	pod.Labels[CompletionIndexAnnotation] = s
	pod.GenerateName = fmt.Sprintf("%s-%d-", jobName, idx)
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", jobName, idx)
	}
	env := corev1.EnvVar{Name: CompletionIndexEnv, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['" + CompletionIndexAnnotation + "']"}}}
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].Env = append(pod.Spec.InitContainers[i].Env, env)
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Env = append(pod.Spec.Containers[i].Env, env)
	}
}

// backoff returns how long to wait after the latest pod failure before a
// new pod may start: 10 s doubling per failure, capped at 6 min.
func backoff(failed []*corev1.Pod, now time.Time) time.Duration {
	if len(failed) == 0 {
		return 0
	}
	var last time.Time
	for _, p := range failed {
		t := p.CreationTimestamp.Time
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
				t = term.FinishedAt.Time
			}
		}
		if t.After(last) {
			last = t
		}
	}
	d := DefaultBackoff
	for i := 1; i < len(failed) && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	if wait := last.Add(d).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

func (c *Controller) deletePods(ctx context.Context, job *batchv1.Job, key string, pods []*corev1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = controllerutil.PodKey(p)
	}
	c.expectations.ExpectDeletions(key, keys)
	var errs []error
	for _, p := range pods {
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
		if err != nil {
			c.expectations.DeletionObserved(key, controllerutil.PodKey(p))
			if !apierrors.IsNotFound(err) {
				c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs = append(errs, err)
			}
			continue
		}
		c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	}
	return errors.Join(errs...)
}

func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	if job.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, nil
	}
	all, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	m := controllerutil.NewPodRefManager(ctx, c.client, job, jobKind, sel, func(ctx context.Context) (metav1.Object, error) {
		return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	})
	var out []*corev1.Pod
	var errs []error
	for _, p := range all {
		ok, err := m.Claim(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// parseIndexes reads a completedIndexes string such as "0-2,5".
func parseIndexes(s string) sets.Set[int] {
	out := sets.New[int]()
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out.Insert(i)
		}
	}
	return out
}

// formatIndexes renders indexes as ranges: "0-2,5".
func formatIndexes(s sets.Set[int]) string {
	idx := sets.List(s)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// matchFailurePolicy applies the Job's podFailurePolicy to a failed pod:
// the first matching rule's action (Count when none matches) and, for
// FailJob, the message upstream writes.
func matchFailurePolicy(job *batchv1.Job, p *corev1.Pod) (batchv1.PodFailurePolicyAction, string) {
	pol := job.Spec.PodFailurePolicy
	if pol == nil {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	for i, rule := range pol.Rules {
		if r := rule.OnExitCodes; r != nil {
			for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				term := cs.State.Terminated
				if term == nil || term.ExitCode == 0 || (r.ContainerName != nil && *r.ContainerName != cs.Name) {
					continue
				}
				in := false
				for _, v := range r.Values {
					in = in || v == term.ExitCode
				}
				if (r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
					return rule.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
						cs.Name, p.Namespace, p.Name, term.ExitCode, rule.Action, i)
				}
			}
		}
		for _, pc := range rule.OnPodConditions {
			for _, c := range p.Status.Conditions {
				if c.Type == pc.Type && c.Status == pc.Status {
					return rule.Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
						p.Namespace, p.Name, c.Type, rule.Action, i)
				}
			}
		}
	}
	return batchv1.PodFailurePolicyActionCount, ""
}
