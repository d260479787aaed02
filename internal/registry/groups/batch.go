package groups

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// The labels the server puts on a job's pod template (and selects on) unless the job asks
// for a manual selector.
const (
	jobControllerUIDLabel       = "batch.kubernetes.io/controller-uid"
	jobLegacyControllerUIDLabel = "controller-uid"
	jobNameLabel                = "batch.kubernetes.io/job-name"
	jobLegacyNameLabel          = "job-name"
)

const (
	maxParallelismForIndexedJob   = 100000
	maxFailedIndexesForIndexedJob = 100_000
	completionsSoftLimit          = 100_000
	parallelismLimitHighCompl     = 10_000
	maxFailedIndexesHighCompl     = 10_000
	maxPodFailurePolicyRules      = 20
	maxManagedByLength            = 63
	maxSuccessPolicyRules         = 20
	maxOnExitCodesValues          = 255
	maxOnPodConditionsPatterns    = 20
	maxSucceededIndexesLength     = 64 * 1024
)

func batchKinds() []*registry.Kind { return []*registry.Kind{jobKind(), cronJobKind()} }

// --- jobs --------------------------------------------------------------------------------

func jobKind() *registry.Kind {
	return &registry.Kind{
		GVK:              batchv1.SchemeGroupVersion.WithKind("Job"),
		Resource:         "jobs",
		Categories:       []string{"all"},
		Namespaced:       true,
		New:              func() runtime.Object { return &batchv1.Job{} },
		NewList:          func() runtime.Object { return &batchv1.JobList{} },
		Status:           true,
		Generation:       true,
		PrepareForCreate: func(obj runtime.Object) { prepareJobForCreate(obj.(*batchv1.Job)) },
		Default:          func(obj runtime.Object) { defaultJob(obj.(*batchv1.Job)) },
		Validate:         func(obj runtime.Object) field.ErrorList { return validateJob(obj.(*batchv1.Job)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateJobStatusUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		Columns: []metav1.TableColumnDefinition{
			col("Status", "string", "Status of the job."),
			col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			col("Duration", "string", "Time required to complete the job."),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
			wideCol("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} { return jobRow(obj.(*batchv1.Job)) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
	}
}

// prepareJobForCreate generates the job's selector and pod labels unless the user asked for
// a manual selector.
//
// Upstream defaults a job (copying its template's labels to the job when the job has none,
// sharing the map) before generating, so the generated labels appear on the job as well as
// on its template; and a job whose template had no labels gets none. Here defaulting runs
// after this hook, so the copy is made here, and a job left without labels gets an empty
// (non-nil) map that keeps Default from copying the generated ones.
func prepareJobForCreate(j *batchv1.Job) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	if j.Spec.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = j.Spec.Template.Labels
	} else if len(j.Labels) == 0 {
		j.Labels = map[string]string{}
	}
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	tl := j.Spec.Template.Labels
	for _, k := range []string{jobLegacyNameLabel, jobNameLabel} {
		if _, ok := tl[k]; !ok {
			tl[k] = j.Name
		}
	}
	for _, k := range []string{jobLegacyControllerUIDLabel, jobControllerUIDLabel} {
		if _, ok := tl[k]; !ok {
			tl[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[jobControllerUIDLabel]; !ok {
		j.Spec.Selector.MatchLabels[jobControllerUIDLabel] = string(j.UID)
	}
}

func defaultJob(j *batchv1.Job) {
	defaultJobSpec(&j.Spec)
	if j.Spec.Template.Labels != nil && j.Labels == nil {
		j.Labels = j.Spec.Template.Labels
	}
	if j.Spec.ManualSelector == nil {
		j.Spec.ManualSelector = ptrTo(false)
	}
}

// defaultJobSpec fills the defaults of a Job's spec (a CronJob's job template gets only the
// pod defaults and the pod failure policy's, as upstream).
func defaultJobSpec(s *batchv1.JobSpec) {
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptrTo[int32](1)
		s.Parallelism = ptrTo[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptrTo[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptrTo[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptrTo[int32](6)
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptrTo(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptrTo(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptrTo(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptrTo(batchv1.TerminatingOrFailed)
		}
	}
	defaultJobTemplateParts(s)
}

func defaultJobTemplateParts(s *batchv1.JobSpec) {
	if s.PodFailurePolicy != nil {
		for i := range s.PodFailurePolicy.Rules {
			for k := range s.PodFailurePolicy.Rules[i].OnPodConditions {
				if c := &s.PodFailurePolicy.Rules[i].OnPodConditions[k]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	defaultPodTemplate(&s.Template)
}

func validateJob(j *batchv1.Job) field.ErrorList {
	errs := validateGeneratedSelector(j)
	errs = append(errs, validateJobSpec(&j.Spec, field.NewPath("spec"))...)
	if deref(j.Spec.CompletionMode, "") == batchv1.IndexedCompletion && deref(j.Spec.Completions, 0) > 0 {
		// indexed pods are named <job>-<index> and use it as hostname
		host := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return errs
}

// validateGeneratedSelector checks that a job with a generated selector carries the labels the
// server generated. The prefixed labels are checked when present: upstream requires them on
// create (where they are always generated) and on updates of jobs that had them.
func validateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	mp := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{jobLegacyControllerUIDLabel: string(j.UID), jobLegacyNameLabel: j.Name}
	errs = append(errs, hasLabel(j.Spec.Template.Labels, mp, jobLegacyControllerUIDLabel, string(j.UID))...)
	errs = append(errs, hasLabel(j.Spec.Template.Labels, mp, jobLegacyNameLabel, j.Name)...)
	_, hasUID := j.Spec.Template.Labels[jobControllerUIDLabel]
	_, hasName := j.Spec.Template.Labels[jobNameLabel]
	if hasUID || hasName {
		errs = append(errs, hasLabel(j.Spec.Template.Labels, mp, jobControllerUIDLabel, string(j.UID))...)
		errs = append(errs, hasLabel(j.Spec.Template.Labels, mp, jobNameLabel, j.Name)...)
		expected[jobControllerUIDLabel] = string(j.UID)
		expected[jobNameLabel] = j.Name
	}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// hasLabel is upstream's ValidateHasLabel: the metadata must carry key=value.
func hasLabel(l map[string]string, p *field.Path, key, value string) field.ErrorList {
	actual, ok := l[key]
	if !ok {
		return field.ErrorList{field.Required(p.Child("labels").Key(key), "must be '"+value+"'")}
	}
	if actual != value {
		return field.ErrorList{field.Invalid(p.Child("labels").Key(key), l, "must be '"+value+"'")}
	}
	return nil
}

func validateJobSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	errs := validateJobSpecCommon(s, p)
	if s.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobSpecCommon holds the checks a Job's spec and a CronJob's job template share.
func validateJobSpecCommon(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegative32(s.Parallelism, p.Child("parallelism"))...)
	errs = append(errs, nonNegative32(s.Completions, p.Child("completions"))...)
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	errs = append(errs, nonNegative32(s.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, nonNegative32(s.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, nonNegative32(s.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	if s.MaxFailedIndexes != nil {
		errs = append(errs, nonNegative32(s.MaxFailedIndexes, p.Child("maxFailedIndexes"))...)
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if s.ManagedBy != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(p.Child("managedBy"), *s.ManagedBy)...)
		if len(*s.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(p.Child("managedBy"), *s.ManagedBy, maxManagedByLength))
		}
	}
	indexed := deref(s.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if s.CompletionMode != nil {
		if m := *s.CompletionMode; m != batchv1.NonIndexedCompletion && m != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(p.Child("completionMode"), m, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
	}
	if indexed {
		if s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		}
		if s.Parallelism != nil && *s.Parallelism > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxParallelismForIndexedJob)))
		}
		if s.Completions != nil && s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
		if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
		}
		if s.Completions != nil && *s.Completions > completionsSoftLimit && s.BackoffLimitPerIndex != nil {
			if s.MaxFailedIndexes == nil {
				errs = append(errs, field.Required(p.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
			}
			if s.Parallelism != nil && *s.Parallelism > parallelismLimitHighCompl {
				errs = append(errs, field.Invalid(p.Child("parallelism"), *s.Parallelism, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitHighCompl, completionsSoftLimit)))
			}
			if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > maxFailedIndexesHighCompl {
				errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesHighCompl, completionsSoftLimit)))
			}
		}
	} else {
		if s.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if s.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if s.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(s, p.Child("podFailurePolicy"))...)
	}
	if s.SuccessPolicy != nil {
		if !indexed {
			errs = append(errs, field.Invalid(p.Child("successPolicy"), *s.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = append(errs, validateSuccessPolicy(s, p.Child("successPolicy"))...)
		}
	}
	if rp := s.PodReplacementPolicy; rp != nil {
		pp := p.Child("podReplacementPolicy")
		if s.PodFailurePolicy != nil {
			if *rp != batchv1.Failed {
				errs = append(errs, field.NotSupported(pp, *rp, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else if *rp != batchv1.Failed && *rp != batchv1.TerminatingOrFailed {
			errs = append(errs, field.NotSupported(pp, *rp, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
		}
	}
	errs = append(errs, validatePodTemplate(&s.Template, p.Child("template"))...)
	rpp := p.Child("template", "spec", "restartPolicy")
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		errs = append(errs, field.Required(rpp, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rpp, rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case s.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rpp, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validateSuccessPolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rp := p.Child("rules")
	rules := s.SuccessPolicy.Rules
	if len(rules) == 0 {
		errs = append(errs, field.Required(rp, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rp, len(rules), maxSuccessPolicyRules))
	}
	completions := deref(s.Completions, 0)
	for i, r := range rules {
		ip := rp.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(ip, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if r.SucceededIndexes != nil {
			sp := ip.Child("succeededIndexes")
			if len(*r.SucceededIndexes) > maxSucceededIndexesLength {
				errs = append(errs, field.TooLong(sp, *r.SucceededIndexes, maxSucceededIndexesLength))
			}
			var err error
			if total, err = parseIndexes(*r.SucceededIndexes, completions); err != nil {
				errs = append(errs, field.Invalid(sp, *r.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err)))
			}
		}
		if r.SucceededCount != nil {
			cp := ip.Child("succeededCount")
			errs = append(errs, nonNegative32(r.SucceededCount, cp)...)
			if *r.SucceededCount > completions {
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if r.SucceededIndexes != nil && *r.SucceededCount > total {
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return errs
}

// parseIndexes checks a list of indexes such as "1,3-5,7": increasing, below completions. It
// returns how many indexes the list holds.
func parseIndexes(list string, completions int32) (int32, error) {
	if list == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for _, interval := range strings.Split(list, ",") {
		limits := strings.Split(interval, "-")
		if len(limits) > 2 {
			return 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", interval)
		}
		bounds := make([]int32, 0, 2)
		for _, l := range limits {
			x, err := strconv.Atoi(l)
			if err != nil {
				return 0, fmt.Errorf("cannot convert string to integer for index: %q", l)
			}
			if x >= int(completions) {
				return 0, fmt.Errorf("too large index: %q", l)
			}
			if last >= int32(x) {
				return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, x)
			}
			last = int32(x)
			bounds = append(bounds, int32(x))
		}
		total++
		if len(bounds) == 2 {
			total += bounds[1] - bounds[0]
		}
	}
	return total, nil
}

func validatePodFailurePolicy(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := p.Child("rules")
	if len(s.PodFailurePolicy.Rules) > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(s.PodFailurePolicy.Rules), maxPodFailurePolicyRules))
	}
	actions := []string{"Count", "FailIndex", "FailJob", "Ignore"}
	containers := sets.New[string]()
	for _, c := range s.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for i, r := range s.PodFailurePolicy.Rules {
		rp := rulesPath.Index(i)
		ap := rp.Child("action")
		switch r.Action {
		case "":
			errs = append(errs, field.Required(ap, fmt.Sprintf("valid values: %q", actions)))
		case batchv1.PodFailurePolicyActionFailIndex:
			if s.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(ap, r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore:
		default:
			errs = append(errs, field.NotSupported(ap, r.Action, actions))
		}
		if oe := r.OnExitCodes; oe != nil {
			op := rp.Child("onExitCodes")
			switch oe.Operator {
			case "":
				errs = append(errs, field.Required(op.Child("operator"), fmt.Sprintf("valid values: %q", []string{"In", "NotIn"})))
			case batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn:
			default:
				errs = append(errs, field.NotSupported(op.Child("operator"), oe.Operator, []string{"In", "NotIn"}))
			}
			if oe.ContainerName != nil && !containers.Has(*oe.ContainerName) {
				errs = append(errs, field.Invalid(op.Child("containerName"), *oe.ContainerName, "must be one of the container or initContainer names in the pod template"))
			}
			vp := op.Child("values")
			if len(oe.Values) == 0 {
				errs = append(errs, field.Invalid(vp, oe.Values, "at least one value is required"))
			} else if len(oe.Values) > maxOnExitCodesValues {
				errs = append(errs, field.TooMany(vp, len(oe.Values), maxOnExitCodesValues))
			}
			seen, ordered := sets.New[int32](), true
			for k, v := range oe.Values {
				if oe.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
					errs = append(errs, field.Invalid(vp.Index(k), v, "must not be 0 for the In operator"))
				}
				if seen.Has(v) {
					errs = append(errs, field.Duplicate(vp.Index(k), v))
				}
				seen.Insert(v)
				if k > 0 && oe.Values[k-1] > v {
					ordered = false
				}
			}
			if !ordered {
				errs = append(errs, field.Invalid(vp, oe.Values, "must be ordered"))
			}
		}
		pcp := rp.Child("onPodConditions")
		if len(r.OnPodConditions) > maxOnPodConditionsPatterns {
			errs = append(errs, field.TooMany(pcp, len(r.OnPodConditions), maxOnPodConditionsPatterns))
		}
		for k, c := range r.OnPodConditions {
			cp := pcp.Index(k)
			for _, msg := range validation.IsQualifiedName(string(c.Type)) {
				errs = append(errs, field.Invalid(cp.Child("type"), c.Type, msg))
			}
			switch c.Status {
			case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
			case "":
				errs = append(errs, field.Required(cp.Child("status"), fmt.Sprintf("valid values: %q", []string{"False", "True", "Unknown"})))
			default:
				errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{"False", "True", "Unknown"}))
			}
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	s, o := &j.Spec, &old.Spec
	var errs field.ErrorList
	// Completions may change only for indexed jobs, in tandem with parallelism (elastic
	// indexed jobs).
	if deref(s.CompletionMode, "") == batchv1.IndexedCompletion {
		if !apiequality.Semantic.DeepEqual(s.Completions, o.Completions) && s.Completions != nil && *s.Completions != deref(s.Parallelism, 0) {
			errs = append(errs, field.Invalid(p.Child("completions"), s.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	} else {
		errs = append(errs, immutable(s.Completions, o.Completions, p.Child("completions"))...)
	}
	errs = append(errs, immutable(s.Selector, o.Selector, p.Child("selector"))...)
	// A suspended job that never started may change its scheduling directives.
	oldTemplate := &o.Template
	if deref(o.Suspend, false) && old.Status.StartTime == nil {
		t := o.Template.DeepCopy()
		if s.Template.Spec.Affinity == nil && t.Spec.Affinity != nil {
			t.Spec.Affinity.NodeAffinity = nil
			if *t.Spec.Affinity == (corev1.Affinity{}) {
				t.Spec.Affinity = nil
			}
		} else if s.Template.Spec.Affinity != nil {
			if t.Spec.Affinity == nil {
				t.Spec.Affinity = &corev1.Affinity{}
			}
			t.Spec.Affinity.NodeAffinity = s.Template.Spec.Affinity.NodeAffinity
		}
		t.Spec.NodeSelector = s.Template.Spec.NodeSelector
		t.Spec.Tolerations = s.Template.Spec.Tolerations
		t.Annotations = s.Template.Annotations
		t.Labels = s.Template.Labels
		t.Spec.SchedulingGates = s.Template.Spec.SchedulingGates
		oldTemplate = t
	}
	errs = append(errs, immutable(&s.Template, oldTemplate, p.Child("template"))...)
	errs = append(errs, immutable(s.CompletionMode, o.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, immutable(s.PodFailurePolicy, o.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(s.BackoffLimitPerIndex, o.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(s.ManagedBy, o.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, immutable(s.SuccessPolicy, o.SuccessPolicy, p.Child("successPolicy"))...)
	return errs
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func jobFinished(j *batchv1.Job) bool {
	return jobCondition(j, batchv1.JobComplete) || jobCondition(j, batchv1.JobFailed)
}

// validateJobStatusUpdate holds the status rules upstream 1.33 applies (JobManagedBy is on by
// default), each checked only when the fields it concerns changed, as upstream does, so a
// controller may keep updating an object an older rule let through.
func validateJobStatusUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("status")
	s := &j.Status
	errs := nonNegative(int64(s.Active), p.Child("active"))
	errs = append(errs, nonNegative(int64(s.Succeeded), p.Child("succeeded"))...)
	errs = append(errs, nonNegative(int64(s.Failed), p.Child("failed"))...)
	errs = append(errs, nonNegative32(s.Ready, p.Child("ready"))...)
	errs = append(errs, nonNegative32(s.Terminating, p.Child("terminating"))...)
	if u := s.UncountedTerminatedPods; u != nil {
		up := p.Child("uncountedTerminatedPods")
		seen := sets.New[types.UID]()
		for _, l := range []struct {
			name string
			uids []types.UID
		}{{"succeeded", u.Succeeded}, {"failed", u.Failed}} {
			for i, k := range l.uids {
				ip := up.Child(l.name).Index(i)
				switch {
				case k == "":
					errs = append(errs, field.Invalid(ip, k, "must not be empty"))
				case seen.Has(k):
					errs = append(errs, field.Duplicate(ip, k))
				default:
					seen.Insert(k)
				}
			}
		}
	}
	if s.CompletedIndexes != old.Status.CompletedIndexes {
		if deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion) != batchv1.IndexedCompletion {
			if s.CompletedIndexes != "" {
				errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
			}
		} else if j.Spec.Completions != nil {
			if _, err := parseIndexes(s.CompletedIndexes, *j.Spec.Completions); err != nil {
				errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, fmt.Sprintf("error parsing completedIndexes: %s", err)))
			}
		}
	}
	complete, failed := jobCondition(j, batchv1.JobComplete), jobCondition(j, batchv1.JobFailed)
	finishedChanged := jobFinished(old) != jobFinished(j)
	completeChanged := jobCondition(old, batchv1.JobComplete) != complete
	failedChanged := jobCondition(old, batchv1.JobFailed) != failed
	if (completeChanged || failedChanged) && complete && failed {
		errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, "cannot set Complete=True and Failed=true conditions"))
	}
	completionTimeChanged := !apiequality.Semantic.DeepEqual(s.CompletionTime, old.Status.CompletionTime)
	if (completeChanged || completionTimeChanged) && s.CompletionTime != nil && !complete {
		errs = append(errs, field.Invalid(p.Child("completionTime"), s.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if (completeChanged || completionTimeChanged) && s.CompletionTime == nil && complete {
		errs = append(errs, field.Required(p.Child("completionTime"), "completionTime is required for Complete jobs"))
	}
	if (finishedChanged || s.Active != old.Status.Active) && s.Active > 0 && jobFinished(j) {
		errs = append(errs, field.Invalid(p.Child("active"), s.Active, "active>0 is invalid for finished job"))
	}
	startChanged := !apiequality.Semantic.DeepEqual(s.StartTime, old.Status.StartTime)
	if (finishedChanged || startChanged) && s.StartTime == nil && jobFinished(j) {
		errs = append(errs, field.Required(p.Child("startTime"), "startTime is required for finished job"))
	}
	if s.Ready != nil && *s.Ready > s.Active && (deref(s.Ready, 0) != deref(old.Status.Ready, 0) || s.Active != old.Status.Active) {
		errs = append(errs, field.Invalid(p.Child("ready"), *s.Ready, "cannot set more ready pods than active"))
	}
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if jobCondition(old, t) && !jobCondition(j, t) {
			errs = append(errs, field.Invalid(p.Child("conditions"), field.OmitValueType{}, fmt.Sprintf("cannot disable the terminal %s=True condition", t)))
		}
	}
	if s.Failed < old.Status.Failed {
		errs = append(errs, field.Invalid(p.Child("failed"), s.Failed, "cannot decrease the failed counter"))
	}
	if s.CompletionTime != nil && old.Status.CompletionTime != nil && !s.CompletionTime.Equal(old.Status.CompletionTime) {
		errs = append(errs, field.Invalid(p.Child("completionTime"), s.CompletionTime, "completionTime cannot be mutated"))
	}
	return errs
}

func jobRow(j *batchv1.Job) []interface{} {
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case deref(j.Spec.Parallelism, 0) > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var dur interface{} = ""
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		dur = registry.Since(j.Status.StartTime.Time)
	default:
		dur = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	var status string
	switch {
	case jobCondition(j, batchv1.JobComplete):
		status = "Complete"
	case jobCondition(j, batchv1.JobFailed):
		status = "Failed"
	case j.DeletionTimestamp != nil:
		status = "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		status = "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		status = "FailureTarget"
	default:
		status = "Running"
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []interface{}{status, completions, dur, age(&j.ObjectMeta), names, images, metav1.FormatLabelSelector(j.Spec.Selector)}
}

// --- cronjobs ----------------------------------------------------------------------------

func cronJobKind() *registry.Kind {
	return &registry.Kind{
		GVK:        batchv1.SchemeGroupVersion.WithKind("CronJob"),
		Resource:   "cronjobs",
		ShortNames: []string{"cj"},
		Categories: []string{"all"},
		Namespaced: true,
		New:        func() runtime.Object { return &batchv1.CronJob{} },
		NewList:    func() runtime.Object { return &batchv1.CronJobList{} },
		Status:     true,
		Generation: true,
		Default:    func(obj runtime.Object) { defaultCronJob(obj.(*batchv1.CronJob)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			c := obj.(*batchv1.CronJob)
			errs := validateCronJobSpec(&c.Spec, field.NewPath("spec"))
			// the controller appends an 11-character suffix ("-<minutes>") to name its jobs
			if len(c.Name) > validation.DNS1035LabelMaxLength-11 {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, "must be no more than 52 characters"))
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Schedule", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]),
			col("Timezone", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
			col("Suspend", "boolean", batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]),
			col("Active", "integer", batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]),
			col("Last Schedule", "string", batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
			registry.AgeColumn,
			wideCol("Containers", "string", descContainers),
			wideCol("Images", "string", descImages),
			wideCol("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			c := obj.(*batchv1.CronJob)
			var last interface{} = "<none>"
			if c.Status.LastScheduleTime != nil {
				last = registry.Since(c.Status.LastScheduleTime.Time)
			}
			tz := "<none>"
			if c.Spec.TimeZone != nil {
				tz = *c.Spec.TimeZone
			}
			suspend := "<unset>"
			if c.Spec.Suspend != nil {
				suspend = "False"
				if *c.Spec.Suspend {
					suspend = "True"
				}
			}
			names, images := containerCells(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
			return []interface{}{c.Spec.Schedule, tz, suspend, int64(len(c.Status.Active)), last, age(&c.ObjectMeta),
				names, images, metav1.FormatLabelSelector(c.Spec.JobTemplate.Spec.Selector)}
		},
	}
}

func defaultCronJob(c *batchv1.CronJob) {
	if c.Spec.ConcurrencyPolicy == "" {
		c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if c.Spec.Suspend == nil {
		c.Spec.Suspend = ptrTo(false)
	}
	if c.Spec.SuccessfulJobsHistoryLimit == nil {
		c.Spec.SuccessfulJobsHistoryLimit = ptrTo[int32](3)
	}
	if c.Spec.FailedJobsHistoryLimit == nil {
		c.Spec.FailedJobsHistoryLimit = ptrTo[int32](1)
	}
	defaultJobTemplateParts(&c.Spec.JobTemplate.Spec)
}

// validateCronJobSpec checks a cron job's spec. Upstream allows a TZ= prefix in the schedule
// on updates of objects that already had one; bosun never accepted one, so it is refused
// always.
func validateCronJobSpec(s *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	sp := p.Child("schedule")
	if s.Schedule == "" {
		errs = append(errs, field.Required(sp, ""))
	} else {
		if _, err := ParseCronSchedule(s.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, s.Schedule, err.Error()))
		}
		if strings.Contains(s.Schedule, "TZ") {
			errs = append(errs, field.Invalid(sp, s.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, validateTimeZone(s.TimeZone, p.Child("timeZone"))...)
	cp := p.Child("concurrencyPolicy")
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(cp, ""))
	default:
		errs = append(errs, field.NotSupported(cp, s.ConcurrencyPolicy, []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	jp := p.Child("jobTemplate")
	errs = append(errs, validateJobSpecCommon(&s.JobTemplate.Spec, jp.Child("spec"))...)
	if s.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("spec", "selector"), s.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ms := s.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jp.Child("spec", "manualSelector"), ms, []string{"nil", "false"}))
	}
	errs = append(errs, nonNegative32(s.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegative32(s.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	return errs
}

var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}
