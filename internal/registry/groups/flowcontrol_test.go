package groups

import (
	"reflect"
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func TestFlowSchema(t *testing.T) {
	k := kindFor(t, "flowcontrol.apiserver.k8s.io", "flowschemas")
	fs := &flowcontrolv1.FlowSchema{ObjectMeta: meta("e2e"), Spec: flowcontrolv1.FlowSchemaSpec{
		PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "e2e"},
		DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
		Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
			Subjects:      []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "alice"}}},
			ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}, Namespaces: []string{"*"}}},
		}},
	}}
	if errs := create(k, fs); len(errs) != 0 {
		t.Fatalf("valid flow schema rejected: %v", errs)
	}
	if fs.Spec.MatchingPrecedence != 1000 {
		t.Errorf("matchingPrecedence default = %d", fs.Spec.MatchingPrecedence)
	}
	want := []interface{}{"e2e", int64(1000), "ByUser", registry.Since(created.Time), "?"}
	if got := k.Row(fs); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	bad := &flowcontrolv1.FlowSchema{ObjectMeta: meta("x"), Spec: flowcontrolv1.FlowSchemaSpec{MatchingPrecedence: 1,
		Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
			Subjects:         []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindServiceAccount}},
			NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: []string{"get", "fly"}, NonResourceURLs: []string{"/a/*/b"}}},
		}},
	}}
	wantErrs(t, create(k, bad),
		"spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
		"spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
		"spec.rules[0].subjects[0].serviceAccount: Required value: serviceAccount is required when subject kind is 'ServiceAccount'",
		`spec.rules[0].nonResourceRules[0].verbs: Unsupported value: []string{"get", "fly"}: supported values: "create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"`,
		`spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: "/a/*/b": wildcard can only do suffix matching`)
}

func TestPriorityLevelConfiguration(t *testing.T) {
	k := kindFor(t, "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations")
	pl := &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: meta("e2e"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
		Type: flowcontrolv1.PriorityLevelEnablementLimited,
		Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{LimitResponse: flowcontrolv1.LimitResponse{
			Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}},
	}}
	if errs := create(k, pl); len(errs) != 0 {
		t.Fatalf("valid priority level rejected: %v", errs)
	}
	want := []interface{}{"Limited", int64(30), int64(64), int64(8), int64(50), registry.Since(created.Time)}
	if got := k.Row(pl); !reflect.DeepEqual(got, want) {
		t.Errorf("row = %#v", got)
	}
	bad := pl.DeepCopy()
	bad.Spec.Limited.LimitResponse.Queuing.HandSize = 100
	bad.Spec.Limited.LendablePercent = ptrTo[int32](101)
	wantErrs(t, create(k, bad),
		"spec.limited.limitResponse.queuing.handSize: Invalid value: 100: should not be greater than queues (64)",
		"spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive")
	wantErrs(t, create(k, &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: meta("exempt"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: "Limited"}}),
		`spec.type: Invalid value: "Limited": type must be 'Exempt' if and only if name is 'exempt'`,
		"spec.limited: Required value: must not be empty when type is Limited")
	if got := k.Row(&flowcontrolv1.PriorityLevelConfiguration{Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: "Exempt"}}); got[1] != "<none>" {
		t.Errorf("exempt row = %#v", got)
	}
}
