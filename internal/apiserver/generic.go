package apiserver

import (
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// The helpers below apply the rules every kind shares to its Spec and Status fields, found by
// name as every Kubernetes type names them.

func structField(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.FieldByName(name)
	return f, f.IsValid() && f.CanSet()
}

// resetStatus sets obj's Status to its zero value.
func resetStatus(obj runtime.Object) {
	if f, ok := structField(obj, "Status"); ok {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyStatus sets dst's Status to src's.
func copyStatus(dst, src runtime.Object) {
	d, ok1 := structField(dst, "Status")
	s, ok2 := structField(src, "Status")
	if ok1 && ok2 && d.Type() == s.Type() {
		d.Set(s)
	}
}

// copySpec sets dst's Spec to src's.
func copySpec(dst, src runtime.Object) {
	d, ok1 := structField(dst, "Spec")
	s, ok2 := structField(src, "Spec")
	if ok1 && ok2 && d.Type() == s.Type() {
		d.Set(s)
	}
}

// specChanged reports whether Spec differs semantically between two objects.
func specChanged(a, b runtime.Object) bool {
	x, ok1 := structField(a, "Spec")
	y, ok2 := structField(b, "Spec")
	if !ok1 || !ok2 {
		return false
	}
	return !apiequality.Semantic.DeepEqual(x.Interface(), y.Interface())
}

func typesUID(s string) types.UID { return types.UID(s) }
