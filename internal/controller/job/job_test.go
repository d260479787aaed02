package job

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func newJob(completions, parallelism *int32, opts ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions: completions, Parallelism: parallelism, BackoffLimit: ptr(int32(6)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"batch.kubernetes.io/controller-uid": "job-uid", "batch.kubernetes.io/job-name": "pi"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "pi", Image: "bosun.local/busybox:1.36"}}},
			},
		},
		Status: batchv1.JobStatus{StartTime: ptr(metav1.NewTime(now.Add(-time.Minute)))},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func pod(j *batchv1.Job, name string, phase corev1.PodPhase, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Labels:            map[string]string{"batch.kubernetes.io/controller-uid": "job-uid"},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{*controllerutil.NewControllerRef(j, jobKind)}},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withIndex(i string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{CompletionIndexAnnotation: i} }
}

func failedAt(t time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(t)}}}}
	}
}

func TestSync(t *testing.T) {
	j3of2 := newJob(ptr(int32(3)), ptr(int32(2)))
	indexed := newJob(ptr(int32(3)), ptr(int32(3)), func(j *batchv1.Job) { j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion) })
	tests := []struct {
		name        string
		job         *batchv1.Job
		pods        []*corev1.Pod
		wantActions []string
		wantCond    batchv1.JobConditionType
		wantReason  string
		check       func(t *testing.T, j *batchv1.Job, actions []string, events []string)
	}{
		{
			name:        "starts parallelism pods",
			job:         j3of2,
			wantActions: []string{"create pods default/pi-*", "create pods default/pi-*", "update jobs/status default/pi"},
		},
		{
			name:        "replaces only what is still needed",
			job:         j3of2,
			pods:        []*corev1.Pod{pod(j3of2, "a", corev1.PodSucceeded), pod(j3of2, "b", corev1.PodSucceeded), pod(j3of2, "c", corev1.PodRunning)},
			wantActions: []string{"update jobs/status default/pi"},
			check: func(t *testing.T, j *batchv1.Job, _, _ []string) {
				if j.Status.Succeeded != 2 || j.Status.Active != 1 {
					t.Errorf("status = %+v", j.Status)
				}
			},
		},
		{
			name:        "completes when enough pods succeeded",
			job:         j3of2,
			pods:        []*corev1.Pod{pod(j3of2, "a", corev1.PodSucceeded), pod(j3of2, "b", corev1.PodSucceeded), pod(j3of2, "c", corev1.PodSucceeded)},
			wantActions: []string{"update jobs/status default/pi"},
			wantCond:    batchv1.JobComplete, wantReason: ReasonCompletionsReached,
			check: func(t *testing.T, j *batchv1.Job, _, events []string) {
				if j.Status.CompletionTime == nil || !conditionTrue(&j.Status, batchv1.JobSuccessCriteriaMet) {
					t.Errorf("completion time or SuccessCriteriaMet missing: %+v", j.Status)
				}
				if !slices.Contains(events, "Normal Completed Job completed") {
					t.Errorf("events = %q", events)
				}
			},
		},
		{
			name: "fails past the backoff limit and stops running pods",
			job:  newJob(ptr(int32(3)), ptr(int32(1)), func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(1)) }),
			pods: []*corev1.Pod{
				pod(j3of2, "f1", corev1.PodFailed), pod(j3of2, "f2", corev1.PodFailed), pod(j3of2, "r", corev1.PodRunning),
			},
			wantActions: []string{"delete pods default/r", "update jobs/status default/pi"},
			wantCond:    batchv1.JobFailed, wantReason: ReasonBackoffLimitExceeded,
		},
		{
			name:        "fails past the active deadline",
			job:         newJob(ptr(int32(1)), ptr(int32(1)), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(int64(30)) }),
			pods:        []*corev1.Pod{pod(j3of2, "r", corev1.PodRunning)},
			wantActions: []string{"delete pods default/r", "update jobs/status default/pi"},
			wantCond:    batchv1.JobFailed, wantReason: ReasonDeadlineExceeded,
		},
		{
			name:        "backs off after a recent failure",
			job:         newJob(ptr(int32(1)), ptr(int32(1))),
			pods:        []*corev1.Pod{pod(j3of2, "f1", corev1.PodFailed, failedAt(now.Add(-2*time.Second)))},
			wantActions: []string{"update jobs/status default/pi"},
		},
		{
			name:        "retries once the back-off has passed",
			job:         newJob(ptr(int32(1)), ptr(int32(1))),
			pods:        []*corev1.Pod{pod(j3of2, "f1", corev1.PodFailed, failedAt(now.Add(-time.Minute)))},
			wantActions: []string{"create pods default/pi-*", "update jobs/status default/pi"},
		},
		{
			name:        "indexed job creates the missing indexes",
			job:         indexed,
			pods:        []*corev1.Pod{pod(indexed, "one", corev1.PodSucceeded, withIndex("1"))},
			wantActions: []string{"create pods default/pi-0-*", "create pods default/pi-2-*", "update jobs/status default/pi"},
			check: func(t *testing.T, j *batchv1.Job, _, _ []string) {
				if j.Status.CompletedIndexes != "1" {
					t.Errorf("completedIndexes = %q, want 1", j.Status.CompletedIndexes)
				}
			},
		},
		{
			name:        "suspended job stops its pods",
			job:         newJob(ptr(int32(3)), ptr(int32(1)), func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) }),
			pods:        []*corev1.Pod{pod(j3of2, "r", corev1.PodRunning)},
			wantActions: []string{"delete pods default/r", "update jobs/status default/pi"},
			wantCond:    batchv1.JobSuspended, wantReason: ReasonSuspended,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.job}
			for _, p := range tc.pods {
				objs = append(objs, p)
			}
			client := fake.NewSimpleClientset(objs...)
			client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
			factory := informers.NewSharedInformerFactory(client, 0)
			rec := record.NewFakeRecorder(100)
			c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Clock: clocktesting.NewFakeClock(now),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			_ = factory.Batch().V1().Jobs().Informer().GetIndexer().Add(tc.job)
			for _, p := range tc.pods {
				_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(p)
			}
			if err := c.sync(context.Background(), "default/pi"); err != nil {
				t.Fatal(err)
			}
			got := controllertest.FilterActions(client.Actions())
			if !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions:\n got %q\nwant %q", got, tc.wantActions)
			}
			j, err := client.BatchV1().Jobs("default").Get(context.Background(), "pi", metav1.GetOptions{})
			if apierrors.IsNotFound(err) && slices.Contains(tc.wantActions, "delete jobs default/pi") {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantCond != "" {
				found := false
				for _, cond := range j.Status.Conditions {
					if cond.Type == tc.wantCond && cond.Status == corev1.ConditionTrue && cond.Reason == tc.wantReason {
						found = true
					}
				}
				if !found {
					t.Errorf("conditions = %+v, want %s/%s", j.Status.Conditions, tc.wantCond, tc.wantReason)
				}
			} else if finished(&j.Status) {
				t.Errorf("job finished unexpectedly: %+v", j.Status.Conditions)
			}
			var events []string
			for len(rec.Events) > 0 {
				events = append(events, <-rec.Events)
			}
			if tc.check != nil {
				tc.check(t, j, got, events)
			}
		})
	}
}

func TestIndexesRoundTrip(t *testing.T) {
	for _, s := range []string{"", "0", "0-2", "0-2,5,7-9"} {
		if got := formatIndexes(parseIndexes(s)); got != s {
			t.Errorf("format(parse(%q)) = %q", s, got)
		}
	}
	if got := formatIndexes(parseIndexes("3,1,2")); got != "1-3" {
		t.Errorf("unordered indexes formatted as %q", got)
	}
}
