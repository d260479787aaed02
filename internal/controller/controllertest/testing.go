// Package controllertest has helpers for controller unit tests against the
// fake clientset.
package controllertest

import (
	"fmt"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
)

// GenerateNameReactor makes a fake clientset honour metadata.generateName on
// create (the fake object tracker does not), numbering names from 0, and
// gives every created object a UID as a real API server does.
func GenerateNameReactor() clienttesting.ReactionFunc {
	var n, uids atomic.Int64
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		create, ok := action.(clienttesting.CreateAction)
		if !ok {
			return false, nil, nil
		}
		obj, err := meta.Accessor(create.GetObject())
		if err != nil {
			return false, nil, nil
		}
		if obj.GetName() == "" && obj.GetGenerateName() != "" {
			obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), n.Add(1)-1))
		}
		if obj.GetUID() == "" {
			obj.SetUID(types.UID(fmt.Sprintf("uid-%s-%s-%d", obj.GetNamespace(), obj.GetName(), uids.Add(1))))
		}
		return false, nil, nil
	}
}

// ActionString renders an action as "verb resource[/subresource] ns/name" for
// test assertions.
func ActionString(a clienttesting.Action) string {
	res := a.GetResource().Resource
	if a.GetSubresource() != "" {
		res += "/" + a.GetSubresource()
	}
	name := ""
	switch x := a.(type) {
	case clienttesting.CreateAction:
		if m, err := meta.Accessor(x.GetObject()); err == nil {
			name = m.GetName()
			if name == "" {
				name = m.GetGenerateName() + "*"
			}
		}
	case clienttesting.UpdateAction:
		if m, err := meta.Accessor(x.GetObject()); err == nil {
			name = m.GetName()
		}
	case clienttesting.DeleteAction:
		name = x.GetName()
	case clienttesting.PatchAction:
		name = x.GetName()
	case clienttesting.GetAction:
		name = x.GetName()
	}
	ns := a.GetNamespace()
	if ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s %s", a.GetVerb(), res, name)
}

// FilterActions drops list and watch actions (the informers' own).
func FilterActions(actions []clienttesting.Action) []string {
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		out = append(out, ActionString(a))
	}
	return out
}
