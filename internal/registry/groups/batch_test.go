package groups

import (
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone tests must not depend on the machine's zoneinfo

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func newJob(labels map[string]string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: podTemplate(labels, corev1.RestartPolicyNever)}}
}

func TestJobCreateGeneratesSelectorAndDefaults(t *testing.T) {
	k := kindFor(t, "batch", "jobs")
	j := newJob(map[string]string{"app": "pi"})
	if errs := create(k, j); len(errs) != 0 {
		t.Fatalf("valid job rejected: %v", errs)
	}
	wantLabels := map[string]string{
		"app":                                "pi",
		"batch.kubernetes.io/controller-uid": "uid-1",
		"batch.kubernetes.io/job-name":       "pi",
		"controller-uid":                     "uid-1",
		"job-name":                           "pi",
	}
	if !reflect.DeepEqual(j.Spec.Template.Labels, wantLabels) {
		t.Errorf("template labels = %v", j.Spec.Template.Labels)
	}
	// the job had no labels of its own: it carries its template's, generated ones included
	if !reflect.DeepEqual(j.Labels, wantLabels) {
		t.Errorf("job labels = %v", j.Labels)
	}
	if want := (&metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "uid-1"}}); !reflect.DeepEqual(j.Spec.Selector, want) {
		t.Errorf("selector = %v", j.Spec.Selector)
	}
	s := j.Spec
	if *s.Parallelism != 1 || *s.Completions != 1 || *s.BackoffLimit != 6 || *s.CompletionMode != batchv1.NonIndexedCompletion ||
		*s.Suspend || *s.ManualSelector || *s.PodReplacementPolicy != batchv1.TerminatingOrFailed {
		t.Errorf("defaults wrong: %+v", s)
	}

	// a template without labels leaves the job without labels, as upstream
	bare := newJob(nil)
	create(k, bare)
	if len(bare.Labels) != 0 || bare.Spec.Template.Labels["job-name"] != "pi" {
		t.Errorf("job labels %v, template labels %v", bare.Labels, bare.Spec.Template.Labels)
	}

	// parallelism alone: completions stays unset; per-index backoff limits the job's own
	par := newJob(nil)
	par.Spec.Parallelism = ptrTo[int32](3)
	create(k, par)
	if par.Spec.Completions != nil {
		t.Errorf("completions defaulted to %d with parallelism set", *par.Spec.Completions)
	}
	idx := newJob(nil)
	idx.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
	idx.Spec.Completions = ptrTo[int32](3)
	idx.Spec.BackoffLimitPerIndex = ptrTo[int32](1)
	idx.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}}}
	if errs := create(k, idx); len(errs) != 0 {
		t.Fatalf("indexed job rejected: %v", errs)
	}
	if *idx.Spec.BackoffLimit != 2147483647 || *idx.Spec.PodReplacementPolicy != batchv1.Failed ||
		idx.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
		t.Errorf("indexed defaults: backoffLimit %d replacement %s", *idx.Spec.BackoffLimit, *idx.Spec.PodReplacementPolicy)
	}

	// a manual selector is left alone and must match the template
	man := newJob(map[string]string{"app": "pi"})
	man.Spec.ManualSelector = ptrTo(true)
	man.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
	if errs := create(k, man); len(errs) != 0 {
		t.Fatalf("manual selector job rejected: %v", errs)
	}
	if _, ok := man.Spec.Template.Labels["controller-uid"]; ok {
		t.Errorf("labels generated for a manual selector: %v", man.Spec.Template.Labels)
	}
}

func TestJobValidation(t *testing.T) {
	k := kindFor(t, "batch", "jobs")
	for _, tc := range []struct {
		name   string
		modify func(*batchv1.Job)
		want   []string
	}{
		{"restart Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"restart unset", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = ptrTo[int32](-1), ptrTo[int32](-2), ptrTo[int32](-3)
		}, []string{
			"spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
			"spec.completions: Invalid value: -2: must be greater than or equal to 0",
			"spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0",
		}},
		{"conflicting generated label", func(j *batchv1.Job) { j.Spec.Template.Labels = map[string]string{"job-name": "other"} },
			[]string{`spec.template.metadata.labels[job-name]: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":"uid-1", "batch.kubernetes.io/job-name":"pi", "controller-uid":"uid-1", "job-name":"other"}: must be 'pi'`}},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptrTo[int32](2)
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"maxFailedIndexes without backoffLimitPerIndex", func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptrTo[int32](1) },
			[]string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
				"spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"}},
		{"success policy", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = ptrTo[int32](5), ptrTo[int32](5)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{SucceededIndexes: ptrTo("0,2-4"), SucceededCount: ptrTo[int32](4)},
				{SucceededIndexes: ptrTo("3,1")},
				{SucceededIndexes: ptrTo("1-7")},
				{SucceededCount: ptrTo[int32](6)},
				{},
			}}
		}, []string{
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "1-7": error parsing succeededIndexes: too large index: "7"`,
			"spec.successPolicy.rules[3].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
			"spec.successPolicy.rules[4]: Required value: at least one of succeededCount or succeededIndexes must be specified",
		}},
		{"pod failure policy rules", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{0, 5, 3, 5}, ContainerName: ptrTo("nope")}},
				{Action: "Retry", OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "bad type!", Status: corev1.ConditionTrue}}},
			}}
		}, []string{
			`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template`,
			"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 5",
			"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 5, 3, 5}: must be ordered",
			`spec.podFailurePolicy.rules[1].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
			`spec.podFailurePolicy.rules[1].onPodConditions[0].type: Invalid value: "bad type!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
		{"pod failure policy needs Never", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(nil)
			tc.modify(j)
			wantErrs(t, create(k, j), tc.want...)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	k := kindFor(t, "batch", "jobs")
	old := newJob(nil)
	create(k, old)

	img := old.DeepCopy()
	img.Spec.Template.Spec.Containers[0].Image = "other"
	got := update(k, img, old)
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec.template: Invalid value: ") || !strings.HasSuffix(got[0], ": field is immutable") {
		t.Errorf("template change: %v, want one immutable error", got)
	}
	compl := old.DeepCopy()
	compl.Spec.Completions = ptrTo[int32](5)
	wantErrs(t, update(k, compl, old), "spec.completions: Invalid value: 5: field is immutable")

	// a suspended job that never started may change where its pods run
	sus := old.DeepCopy()
	sus.Spec.Suspend = ptrTo(true)
	moved := sus.DeepCopy()
	moved.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
	if errs := update(k, moved, sus); len(errs) != 0 {
		t.Errorf("node selector change of a suspended job rejected: %v", errs)
	}
	started := sus.DeepCopy()
	started.Status.StartTime = &created
	moved2 := started.DeepCopy()
	moved2.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
	if errs := update(k, moved2, started); len(errs) != 1 {
		t.Errorf("node selector change of a started job: %v, want one immutable error", errs)
	}
	// parallelism may change
	par := old.DeepCopy()
	par.Spec.Parallelism = ptrTo[int32](4)
	if errs := update(k, par, old); len(errs) != 0 {
		t.Errorf("parallelism change rejected: %v", errs)
	}
}

func TestJobStatusUpdate(t *testing.T) {
	k := kindFor(t, "batch", "jobs")
	old := newJob(nil)
	create(k, old)
	done := old.DeepCopy()
	done.Status = batchv1.JobStatus{Active: 1, Ready: ptrTo[int32](2), Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	wantErrs(t, errStrings(k.ValidateStatusUpdate(done, old)),
		"status.completionTime: Required value: completionTime is required for Complete jobs",
		"status.active: Invalid value: 1: active>0 is invalid for finished job",
		"status.startTime: Required value: startTime is required for finished job",
		"status.ready: Invalid value: 2: cannot set more ready pods than active")

	ok := old.DeepCopy()
	start, end := metav1.NewTime(created.Add(time.Minute)), metav1.NewTime(created.Add(3*time.Minute))
	ok.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &end, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	if errs := k.ValidateStatusUpdate(ok, old); len(errs) != 0 {
		t.Errorf("valid completion rejected: %v", errs)
	}
	idx := ok.DeepCopy()
	idx.Status.CompletedIndexes = "0"
	wantErrs(t, errStrings(k.ValidateStatusUpdate(idx, ok)), `status.completedIndexes: Invalid value: "0": cannot set non-empty completedIndexes when non-indexed completion mode`)
	back := ok.DeepCopy()
	back.Status.Conditions = nil
	back.Status.CompletionTime = nil
	wantErrs(t, errStrings(k.ValidateStatusUpdate(back, ok)), "status.conditions: Invalid value: cannot disable the terminal Complete=True condition")
}

func TestJobRowAndFields(t *testing.T) {
	k := kindFor(t, "batch", "jobs")
	j := newJob(nil)
	create(k, j)
	start, end := metav1.NewTime(created.Add(time.Minute)), metav1.NewTime(created.Add(3*time.Minute+20*time.Second))
	cond := func(t batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: t, Status: corev1.ConditionTrue}}
	}
	for _, tc := range []struct {
		name   string
		modify func(*batchv1.Job)
		status string
		compl  string
		dur    interface{}
	}{
		{"pending", func(*batchv1.Job) {}, "Running", "0/1", ""},
		{"running", func(j *batchv1.Job) { j.Status.StartTime = &start }, "Running", "0/1", registry.Since(start.Time)},
		{"complete", func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &end, Succeeded: 1, Conditions: cond(batchv1.JobComplete)}
		}, "Complete", "1/1", "2m20s"},
		{"failed", func(j *batchv1.Job) { j.Status.Conditions = cond(batchv1.JobFailed) }, "Failed", "0/1", ""},
		{"suspended", func(j *batchv1.Job) { j.Status.Conditions = cond(batchv1.JobSuspended) }, "Suspended", "0/1", ""},
		{"terminating", func(j *batchv1.Job) { j.DeletionTimestamp = &end }, "Terminating", "0/1", ""},
		{"work queue", func(j *batchv1.Job) { j.Spec.Completions = nil; j.Spec.Parallelism = ptrTo[int32](3) }, "Running", "0/1 of 3", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := j.DeepCopy()
			tc.modify(c)
			got := k.Row(c)
			want := []interface{}{tc.status, tc.compl, tc.dur, registry.Since(created.Time),
				"web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36", "batch.kubernetes.io/controller-uid=uid-1"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("row = %#v\nwant %#v", got, want)
			}
		})
	}
	j.Status.Succeeded = 2
	if got := k.Fields(j); !reflect.DeepEqual(got, fields.Set{"status.successful": "2"}) {
		t.Errorf("fields = %v", got)
	}
}

func newCronJob() *batchv1.CronJob {
	return &batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{
		Schedule:    "*/5 * * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate(nil, corev1.RestartPolicyOnFailure)}},
	}}
}

func TestCronJob(t *testing.T) {
	k := kindFor(t, "batch", "cronjobs")
	c := newCronJob()
	if errs := create(k, c); len(errs) != 0 {
		t.Fatalf("valid cronjob rejected: %v", errs)
	}
	if c.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *c.Spec.Suspend || *c.Spec.SuccessfulJobsHistoryLimit != 3 || *c.Spec.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults wrong: %+v", c.Spec)
	}
	// the job template gets pod defaults but not the Job's own defaults
	if c.Spec.JobTemplate.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst || c.Spec.JobTemplate.Spec.BackoffLimit != nil {
		t.Errorf("job template defaults: %+v", c.Spec.JobTemplate.Spec)
	}

	for _, tc := range []struct {
		name   string
		modify func(*batchv1.CronJob)
		want   []string
	}{
		{"bad schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "*/5 * * *" },
			[]string{`spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4: [*/5 * * *]`}},
		{"out of range", func(c *batchv1.CronJob) { c.Spec.Schedule = "0 25 * * *" },
			[]string{`spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25`}},
		{"TZ in schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" },
			[]string{`spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"unknown time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptrTo("Mars/Olympus") },
			[]string{`spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`}},
		{"selector given", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []string{"spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"}},
		{"restart Always", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		},
			[]string{`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"long name", func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters`}},
		{"bad policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCronJob()
			tc.modify(c)
			wantErrs(t, create(k, c), tc.want...)
		})
	}

	last := metav1.NewTime(created.Add(time.Hour))
	c.Status.LastScheduleTime = &last
	c.Status.Active = []corev1.ObjectReference{{Name: "nightly-1"}}
	want := []interface{}{"*/5 * * * *", "<none>", "False", int64(1), registry.Since(last.Time), registry.Since(created.Time), "web,side", "bosun.local/hello:v1,bosun.local/busybox:1.36", "<none>"}
	if got := k.Row(c); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v\nwant %#v", got, want)
	}
	never := newCronJob()
	never.Spec.TimeZone = ptrTo("Europe/Paris")
	if got := k.Row(never); got[1] != "Europe/Paris" || got[2] != "<unset>" || got[4] != "<none>" {
		t.Errorf("row of an undefaulted, never run cronjob = %#v", got)
	}
}

func TestCronSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		spec, from, next string
	}{
		{"*/5 * * * *", "2026-03-01 10:02", "2026-03-01 10:05"},
		{"*/5 * * * *", "2026-03-01 10:05", "2026-03-01 10:10"},
		{"0 2 * * *", "2026-03-01 10:02", "2026-03-02 02:00"},
		{"30 9 * * mon-fri", "2026-03-06 10:00", "2026-03-09 09:30"}, // Friday → Monday
		{"0 0 1 jan *", "2026-03-01 00:00", "2027-01-01 00:00"},
		{"0 0 13 * 5", "2026-03-01 00:00", "2026-03-06 00:00"}, // day 13 OR a Friday
		{"@hourly", "2026-03-01 10:02", "2026-03-01 11:00"},
		{"@daily", "2026-03-01 10:02", "2026-03-02 00:00"},
		{"@weekly", "2026-03-03 10:02", "2026-03-08 00:00"}, // next Sunday
		{"@every 90m", "2026-03-01 10:00", "2026-03-01 11:30"},
	} {
		s, err := ParseCronSchedule(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if got := s.Next(at(tc.from)); !got.Equal(at(tc.next)) {
			t.Errorf("%q after %s = %s, want %s", tc.spec, tc.from, got.Format("2006-01-02 15:04"), tc.next)
		}
	}
	// a zone in the spec wins over the zone of the time given; the answer keeps the latter
	tokyo, err := ParseCronSchedule("CRON_TZ=Asia/Tokyo 0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got := tokyo.Next(at("2026-03-01 10:00")); !got.Equal(at("2026-03-02 00:00")) || got.Location() != time.UTC {
		t.Errorf("09:00 Tokyo after 10:00 UTC = %s", got)
	}
	// across a daylight saving change: 02:30 does not exist in Berlin on 2026-03-29
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	daily, _ := ParseCronSchedule("30 2 * * *")
	got := daily.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin))
	if got.Before(time.Date(2026, 3, 29, 0, 0, 0, 0, berlin)) || got.After(time.Date(2026, 3, 30, 2, 30, 0, 0, berlin)) {
		t.Errorf("02:30 daily across the spring change = %s", got)
	}
	if _, err := ParseCronSchedule("TZ=Nowhere/Land 0 * * * *"); err == nil || !strings.HasPrefix(err.Error(), "provided bad location Nowhere/Land: ") {
		t.Errorf("bad location: %v", err)
	}

	for spec, msg := range map[string]string{
		"":              "empty spec string",
		"* * * *":       "expected exactly 5 fields, found 4: [* * * *]",
		"x * * * *":     "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
		"5-1 * * * *":   "beginning of range (5) beyond end of range (1): 5-1",
		"*/0 * * * *":   "step of range should be a positive number: */0",
		"0 0 0 * *":     "beginning of range (0) below minimum (1): 0",
		"1-2-3 * * * *": "too many hyphens: 1-2-3",
		"@fortnightly":  "unrecognized descriptor: @fortnightly",
	} {
		if _, err := ParseCronSchedule(spec); err == nil || err.Error() != msg {
			t.Errorf("%q: error %v, want %q", spec, err, msg)
		}
	}
}
