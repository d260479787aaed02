package groups

import (
	"fmt"
	"strings"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/util/shufflesharding"

	"github.com/bosun-k8s/bosun/internal/registry"
)

// Defaults and limits of API priority and fairness objects, as upstream.
const (
	flowSchemaDefaultMatchingPrecedence = 1000
	plcDefaultNominalConcurrencyShares  = 30
	plcDefaultQueues                    = 64
	plcDefaultHandSize                  = 8
	plcDefaultQueueLengthLimit          = 50
	plcMaxQueues                        = 10 * 1000 * 1000
	nsErrIntro                          = "each member of this list must be '*' or a DNS-1123 label; "
)

var (
	flowcontrolVerbs        = []string{"create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"}
	flowcontrolSubjectKinds = []string{"Group", "ServiceAccount", "User"}
)

// flowcontrolKinds are the objects of API priority and fairness. bosun stores and validates
// them as upstream does; it does not (yet) apply them to requests, nor create upstream's
// mandatory and suggested objects at start.
func flowcontrolKinds() []*registry.Kind {
	return []*registry.Kind{flowSchemaKind(), priorityLevelKind()}
}

var flowcontrolGV = flowcontrolv1.SchemeGroupVersion

func flowSchemaKind() *registry.Kind {
	return &registry.Kind{
		GVK:        flowcontrolGV.WithKind("FlowSchema"),
		Resource:   "flowschemas",
		New:        func() runtime.Object { return &flowcontrolv1.FlowSchema{} },
		NewList:    func() runtime.Object { return &flowcontrolv1.FlowSchemaList{} },
		Status:     true,
		Generation: true,
		Default: func(obj runtime.Object) {
			if fs := obj.(*flowcontrolv1.FlowSchema); fs.Spec.MatchingPrecedence == 0 {
				fs.Spec.MatchingPrecedence = flowSchemaDefaultMatchingPrecedence
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			fs := obj.(*flowcontrolv1.FlowSchema)
			return validateFlowSchemaSpec(fs.Name, &fs.Spec, field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			var errs field.ErrorList
			p := field.NewPath("status", "conditions")
			seen := sets.New[string]()
			for i, c := range obj.(*flowcontrolv1.FlowSchema).Status.Conditions {
				errs = append(errs, conditionType(string(c.Type), seen, p.Index(i))...)
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("PriorityLevel", "string", flowcontrolv1.PriorityLevelConfigurationReference{}.SwaggerDoc()["name"]),
			col("MatchingPrecedence", "string", flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()["matchingPrecedence"]),
			col("DistinguisherMethod", "string", flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()["distinguisherMethod"]),
			registry.AgeColumn,
			col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
		},
		Row: func(obj runtime.Object) []interface{} {
			fs := obj.(*flowcontrolv1.FlowSchema)
			method := "<none>"
			if fs.Spec.DistinguisherMethod != nil {
				method = string(fs.Spec.DistinguisherMethod.Type)
			}
			missing := "?"
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
					missing = string(c.Status)
					break
				}
			}
			return []interface{}{fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), method, age(&fs.ObjectMeta), missing}
		},
	}
}

func conditionType(t string, seen sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if seen.Has(t) {
		errs = append(errs, field.Duplicate(p.Child("type"), t))
	}
	seen.Insert(t)
	if t == "" {
		errs = append(errs, field.Required(p.Child("type"), "must not be empty"))
	}
	return errs
}

func validateFlowSchemaSpec(name string, s *flowcontrolv1.FlowSchemaSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	mp := p.Child("matchingPrecedence")
	if s.MatchingPrecedence <= 0 {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "must be a positive value"))
	}
	if s.MatchingPrecedence > flowcontrolv1.FlowSchemaMaxMatchingPrecedence {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, fmt.Sprintf("must not be greater than %v", flowcontrolv1.FlowSchemaMaxMatchingPrecedence)))
	}
	if s.MatchingPrecedence == 1 && name != flowcontrolv1.FlowSchemaNameExempt {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "only the schema named 'exempt' may have matchingPrecedence 1"))
	}
	if dm := s.DistinguisherMethod; dm != nil && dm.Type != flowcontrolv1.FlowDistinguisherMethodByNamespaceType && dm.Type != flowcontrolv1.FlowDistinguisherMethodByUserType {
		errs = append(errs, field.NotSupported(p.Child("distinguisherMethod", "type"), dm, []string{"ByNamespace", "ByUser"}))
	}
	pp := p.Child("priorityLevelConfiguration", "name")
	if s.PriorityLevelConfiguration.Name == "" {
		errs = append(errs, field.Required(pp, "must reference a priority level"))
	} else {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(s.PriorityLevelConfiguration.Name, false) {
			errs = append(errs, field.Invalid(pp, s.PriorityLevelConfiguration.Name, msg))
		}
	}
	for i := range s.Rules {
		errs = append(errs, validateFlowSchemaRule(&s.Rules[i], p.Child("rules").Index(i))...)
	}
	return errs
}

func validateFlowSchemaRule(r *flowcontrolv1.PolicyRulesWithSubjects, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.Subjects) == 0 {
		errs = append(errs, field.Required(p.Child("subjects"), "subjects must contain at least one value"))
	}
	for i := range r.Subjects {
		errs = append(errs, validateFlowSchemaSubject(&r.Subjects[i], p.Child("subjects").Index(i))...)
	}
	if len(r.ResourceRules) == 0 && len(r.NonResourceRules) == 0 {
		errs = append(errs, field.Required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
	}
	for i, rr := range r.ResourceRules {
		rp := p.Child("resourceRules").Index(i)
		errs = append(errs, validateFlowVerbs(rr.Verbs, rp.Child("verbs"))...)
		errs = append(errs, wildcardList(rr.APIGroups, rp.Child("apiGroups"), "resource rules must supply at least one api group", "if '*' is present, must not specify other api groups")...)
		errs = append(errs, wildcardList(rr.Resources, rp.Child("resources"), "resource rules must supply at least one resource", "if '*' is present, must not specify other resources")...)
		np := rp.Child("namespaces")
		switch {
		case len(rr.Namespaces) == 0 && !rr.ClusterScope:
			errs = append(errs, field.Required(np, "resource rules that are not cluster scoped must supply at least one namespace"))
		case hasWildcard(rr.Namespaces):
			if len(rr.Namespaces) > 1 {
				errs = append(errs, field.Invalid(np, rr.Namespaces, "if '*' is present, must not specify other namespaces"))
			}
		default:
			for k, ns := range rr.Namespaces {
				for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
					errs = append(errs, field.Invalid(np.Index(k), ns, nsErrIntro+msg))
				}
			}
		}
	}
	for i, nr := range r.NonResourceRules {
		np := p.Child("nonResourceRules").Index(i)
		errs = append(errs, validateFlowVerbs(nr.Verbs, np.Child("verbs"))...)
		up := np.Child("nonResourceURLs")
		switch {
		case len(nr.NonResourceURLs) == 0:
			errs = append(errs, field.Required(up, "nonResourceURLs must contain at least one value"))
		case hasWildcard(nr.NonResourceURLs):
			if len(nr.NonResourceURLs) > 1 {
				errs = append(errs, field.Invalid(up, nr.NonResourceURLs, "if '*' is present, must not specify other non-resource URLs"))
			}
		default:
			for k, u := range nr.NonResourceURLs {
				if err := validateNonResourceURL(u, up.Index(k)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}

func validateFlowVerbs(verbs []string, p *field.Path) field.ErrorList {
	switch {
	case len(verbs) == 0:
		return field.ErrorList{field.Required(p, "verbs must contain at least one value")}
	case hasWildcard(verbs):
		if len(verbs) > 1 {
			return field.ErrorList{field.Invalid(p, verbs, "if '*' is present, must not specify other verbs")}
		}
	case !sets.New(flowcontrolVerbs...).HasAll(verbs...):
		return field.ErrorList{field.NotSupported(p, verbs, flowcontrolVerbs)}
	}
	return nil
}

func wildcardList(list []string, p *field.Path, required, mixed string) field.ErrorList {
	if len(list) == 0 {
		return field.ErrorList{field.Required(p, required)}
	}
	if len(list) > 1 && hasWildcard(list) {
		return field.ErrorList{field.Invalid(p, list, mixed)}
	}
	return nil
}

func hasWildcard(list []string) bool {
	for _, s := range list {
		if s == "*" {
			return true
		}
	}
	return false
}

// validateNonResourceURL: a leading slash, no white space or double slash, and a wildcard
// only as a "/*" suffix.
func validateNonResourceURL(u string, p *field.Path) *field.Error {
	switch {
	case u == "":
		return field.Invalid(p, u, "must not be empty")
	case u == "/":
		return nil
	case !strings.HasPrefix(u, "/"):
		return field.Invalid(p, u, "must start with slash")
	case strings.Contains(u, " "):
		return field.Invalid(p, u, "must not contain white-space")
	case strings.Contains(u, "//"):
		return field.Invalid(p, u, "must not contain double slash")
	}
	if n := strings.Count(u, "*"); n > 1 || n == 1 && !strings.HasSuffix(u, "/*") {
		return field.Invalid(p, u, "wildcard can only do suffix matching")
	}
	return nil
}

func validateFlowSchemaSubject(s *flowcontrolv1.Subject, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	forbid := func(set bool, name, kind string) {
		if set {
			errs = append(errs, field.Forbidden(p.Child(name), fmt.Sprintf("%s is forbidden when subject kind is not '%s'", name, kind)))
		}
	}
	switch s.Kind {
	case flowcontrolv1.SubjectKindServiceAccount:
		sp := p.Child("serviceAccount")
		if sa := s.ServiceAccount; sa == nil {
			errs = append(errs, field.Required(sp, "serviceAccount is required when subject kind is 'ServiceAccount'"))
		} else {
			if sa.Name == "" {
				errs = append(errs, field.Required(sp.Child("name"), ""))
			} else if sa.Name != flowcontrolv1.NameAll {
				for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(sa.Name, false) {
					errs = append(errs, field.Invalid(sp.Child("name"), sa.Name, msg))
				}
			}
			if sa.Namespace == "" {
				errs = append(errs, field.Required(sp.Child("namespace"), "must specify namespace for service account"))
			} else {
				for _, msg := range apimachineryvalidation.ValidateNamespaceName(sa.Namespace, false) {
					errs = append(errs, field.Invalid(sp.Child("namespace"), sa.Namespace, msg))
				}
			}
		}
		forbid(s.User != nil, "user", "User")
		forbid(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindUser:
		if s.User == nil {
			errs = append(errs, field.Required(p.Child("user"), "user is required when subject kind is 'User'"))
		} else if s.User.Name == "" {
			errs = append(errs, field.Required(p.Child("user", "name"), ""))
		}
		forbid(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbid(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindGroup:
		if s.Group == nil {
			errs = append(errs, field.Required(p.Child("group"), "group is required when subject kind is 'Group'"))
		} else if s.Group.Name == "" {
			errs = append(errs, field.Required(p.Child("group", "name"), ""))
		}
		forbid(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbid(s.User != nil, "user", "User")
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, flowcontrolSubjectKinds))
	}
	return errs
}

func priorityLevelKind() *registry.Kind {
	return &registry.Kind{
		GVK:        flowcontrolGV.WithKind("PriorityLevelConfiguration"),
		Resource:   "prioritylevelconfigurations",
		New:        func() runtime.Object { return &flowcontrolv1.PriorityLevelConfiguration{} },
		NewList:    func() runtime.Object { return &flowcontrolv1.PriorityLevelConfigurationList{} },
		Status:     true,
		Generation: true,
		Default:    func(obj runtime.Object) { defaultPriorityLevel(&obj.(*flowcontrolv1.PriorityLevelConfiguration).Spec) },
		Validate: func(obj runtime.Object) field.ErrorList {
			pl := obj.(*flowcontrolv1.PriorityLevelConfiguration)
			return validatePriorityLevelSpec(pl.Name, &pl.Spec, field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			var errs field.ErrorList
			p := field.NewPath("status", "conditions")
			seen := sets.New[string]()
			for i, c := range obj.(*flowcontrolv1.PriorityLevelConfiguration).Status.Conditions {
				errs = append(errs, conditionType(string(c.Type), seen, p.Index(i))...)
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Type", "string", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"]),
			col("NominalConcurrencyShares", "string", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"]),
			col("Queues", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["queues"]),
			col("HandSize", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["handSize"]),
			col("QueueLengthLimit", "string", flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()["queueLengthLimit"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			pl := obj.(*flowcontrolv1.PriorityLevelConfiguration)
			var ncs, queues, hand, limit interface{} = "<none>", "<none>", "<none>", "<none>"
			if l := pl.Spec.Limited; l != nil {
				ncs = int64(deref(l.NominalConcurrencyShares, 0))
				if q := l.LimitResponse.Queuing; q != nil {
					queues, hand, limit = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
				}
			}
			return []interface{}{string(pl.Spec.Type), ncs, queues, hand, limit, age(&pl.ObjectMeta)}
		},
	}
}

func defaultPriorityLevel(s *flowcontrolv1.PriorityLevelConfigurationSpec) {
	if e := s.Exempt; e != nil {
		if e.NominalConcurrencyShares == nil {
			e.NominalConcurrencyShares = ptrTo[int32](0)
		}
		if e.LendablePercent == nil {
			e.LendablePercent = ptrTo[int32](0)
		}
	}
	if l := s.Limited; l != nil {
		if l.NominalConcurrencyShares == nil {
			l.NominalConcurrencyShares = ptrTo[int32](plcDefaultNominalConcurrencyShares)
		}
		if l.LendablePercent == nil {
			l.LendablePercent = ptrTo[int32](0)
		}
		if q := l.LimitResponse.Queuing; q != nil {
			if q.HandSize == 0 {
				q.HandSize = plcDefaultHandSize
			}
			if q.Queues == 0 {
				q.Queues = plcDefaultQueues
			}
			if q.QueueLengthLimit == 0 {
				q.QueueLengthLimit = plcDefaultQueueLengthLimit
			}
		}
	}
}

func validatePriorityLevelSpec(name string, s *flowcontrolv1.PriorityLevelConfigurationSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if (name == flowcontrolv1.PriorityLevelConfigurationNameExempt) != (s.Type == flowcontrolv1.PriorityLevelEnablementExempt) {
		errs = append(errs, field.Invalid(p.Child("type"), s.Type, "type must be 'Exempt' if and only if name is 'exempt'"))
	}
	switch s.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if s.Limited != nil {
			errs = append(errs, field.Forbidden(p.Child("limited"), "must be nil if the type is not Limited"))
		}
		if e := s.Exempt; e != nil {
			ep := p.Child("exempt")
			if deref(e.NominalConcurrencyShares, 0) < 0 {
				errs = append(errs, field.Invalid(ep.Child("nominalConcurrencyShares"), *e.NominalConcurrencyShares, "must be a non-negative integer"))
			}
			if lp := e.LendablePercent; lp != nil && (*lp < 0 || *lp > 100) {
				errs = append(errs, field.Invalid(ep.Child("lendablePercent"), *lp, "must be between 0 and 100, inclusive"))
			}
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if s.Exempt != nil {
			errs = append(errs, field.Forbidden(p.Child("exempt"), "must be nil if the type is Limited"))
		}
		l := s.Limited
		if l == nil {
			errs = append(errs, field.Required(p.Child("limited"), "must not be empty when type is Limited"))
			break
		}
		lp := p.Child("limited")
		if deref(l.NominalConcurrencyShares, 0) < 0 {
			errs = append(errs, field.Invalid(lp.Child("nominalConcurrencyShares"), *l.NominalConcurrencyShares, "must be a non-negative integer"))
		}
		errs = append(errs, validateLimitResponse(&l.LimitResponse, lp.Child("limitResponse"))...)
		if v := l.LendablePercent; v != nil && (*v < 0 || *v > 100) {
			errs = append(errs, field.Invalid(lp.Child("lendablePercent"), *v, "must be between 0 and 100, inclusive"))
		}
		if v := l.BorrowingLimitPercent; v != nil && *v < 0 {
			errs = append(errs, field.Invalid(lp.Child("borrowingLimitPercent"), *v, "if specified, must be a non-negative integer"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{"Exempt", "Limited"}))
	}
	return errs
}

func validateLimitResponse(lr *flowcontrolv1.LimitResponse, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch lr.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if lr.Queuing != nil {
			errs = append(errs, field.Forbidden(p.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited"))
		}
	case flowcontrolv1.LimitResponseTypeQueue:
		q := lr.Queuing
		if q == nil {
			errs = append(errs, field.Required(p.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited"))
			break
		}
		qp := p.Child("queuing")
		if q.QueueLengthLimit <= 0 {
			errs = append(errs, field.Invalid(qp.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
		}
		if q.Queues <= 0 {
			errs = append(errs, field.Invalid(qp.Child("queues"), q.Queues, "must be positive"))
		} else if q.Queues > plcMaxQueues {
			errs = append(errs, field.Invalid(qp.Child("queues"), q.Queues, fmt.Sprintf("must not be greater than %d", plcMaxQueues)))
		}
		switch {
		case q.HandSize <= 0:
			errs = append(errs, field.Invalid(qp.Child("handSize"), q.HandSize, "must be positive"))
		case q.HandSize > q.Queues:
			errs = append(errs, field.Invalid(qp.Child("handSize"), q.HandSize, fmt.Sprintf("should not be greater than queues (%d)", q.Queues)))
		case shufflesharding.RequiredEntropyBits(int(q.Queues), int(q.HandSize)) > shufflesharding.MaxHashBits:
			errs = append(errs, field.Invalid(qp.Child("handSize"), q.HandSize,
				fmt.Sprintf("required entropy bits of deckSize %d and handSize %d should not be greater than %d", q.Queues, q.HandSize, shufflesharding.MaxHashBits)))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), lr.Type, []string{"Queue", "Reject"}))
	}
	return errs
}
