package cronjob

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
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

var (
	created = time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	now     = time.Date(2026, 1, 1, 10, 5, 10, 0, time.UTC)
)

func newCronJob(opts ...func(*batchv1.CronJob)) *batchv1.CronJob {
	utc := "UTC"
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", TimeZone: &utc, ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

func job(cj *batchv1.CronJob, name string, age time.Duration, done batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		CreationTimestamp: metav1.NewTime(now.Add(-age)),
		OwnerReferences:   []metav1.OwnerReference{*controllerutil.NewControllerRef(cj, cronJobKind)}}}
	if done != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: done, Status: corev1.ConditionTrue}}
	}
	return j
}

func TestSync(t *testing.T) {
	due := fmt.Sprintf("create jobs default/tick-%d", time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC).Unix()/60)
	ten := int64(1)
	tests := []struct {
		name string
		cj   *batchv1.CronJob
		jobs []*batchv1.Job
		want []string
	}{
		{name: "starts the latest missed run", cj: newCronJob(), want: []string{due, "update cronjobs/status default/tick"}},
		{name: "suspended", cj: newCronJob(func(c *batchv1.CronJob) { s := true; c.Spec.Suspend = &s })},
		{
			name: "forbid skips while a job runs",
			cj:   newCronJob(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			jobs: []*batchv1.Job{job(newCronJob(), "running", time.Minute, "")},
			want: []string{"update cronjobs/status default/tick"},
		},
		{
			name: "replace deletes the running job first",
			cj:   newCronJob(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			jobs: []*batchv1.Job{job(newCronJob(), "running", time.Minute, "")},
			want: []string{"delete jobs default/running", due, "update cronjobs/status default/tick"},
		},
		{
			name: "past the starting deadline",
			cj:   newCronJob(func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = &ten }),
		},
		{
			name: "already ran this minute",
			cj: newCronJob(func(c *batchv1.CronJob) {
				t := metav1.NewTime(time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC))
				c.Status.LastScheduleTime = &t
			}),
		},
		{
			name: "trims finished jobs beyond the limits",
			cj: newCronJob(func(c *batchv1.CronJob) {
				t := metav1.NewTime(time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC))
				c.Status.LastScheduleTime = &t
			}),
			jobs: []*batchv1.Job{
				job(newCronJob(), "ok1", 5*time.Minute, batchv1.JobComplete), job(newCronJob(), "ok2", 4*time.Minute, batchv1.JobComplete),
				job(newCronJob(), "ok3", 3*time.Minute, batchv1.JobComplete), job(newCronJob(), "ok4", 2*time.Minute, batchv1.JobComplete),
				job(newCronJob(), "bad1", 5*time.Minute, batchv1.JobFailed), job(newCronJob(), "bad2", 1*time.Minute, batchv1.JobFailed),
			},
			want: []string{"delete jobs default/ok1", "delete jobs default/bad1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.cj}
			for _, j := range tc.jobs {
				objs = append(objs, j)
			}
			client := fake.NewSimpleClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory, Recorder: record.NewFakeRecorder(100),
				Clock: clocktesting.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			_ = factory.Batch().V1().CronJobs().Informer().GetIndexer().Add(tc.cj)
			for _, j := range tc.jobs {
				_ = factory.Batch().V1().Jobs().Informer().GetIndexer().Add(j)
			}
			client.ClearActions()
			if err := c.sync(context.Background(), "default/tick"); err != nil {
				t.Fatal(err)
			}
			if got := controllertest.FilterActions(client.Actions()); !slices.Equal(got, tc.want) {
				t.Errorf("actions:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
