package core

import (
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/randfill"
)

// TestKindsSurviveRandomObjects fills objects with random content (fixed seeds) and runs
// every hook on them: validation may refuse them, but nothing may panic.
func TestKindsSurviveRandomObjects(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Resource, func(t *testing.T) {
			f := randfill.NewWithSeed(int64(len(k.Resource))).NilChance(0.4).NumElements(0, 2).MaxDepth(12)
			rng := rand.New(rand.NewSource(1))
			for i := 0; i < 150; i++ {
				obj, old := k.New(), k.New()
				f.Fill(obj)
				if rng.Intn(2) == 0 {
					f.Fill(old)
				}
				run := func(name string, fn func()) {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s panicked on object %d: %v", name, i, r)
						}
					}()
					fn()
				}
				cp := func(o runtime.Object) runtime.Object { return o.DeepCopyObject() }
				if k.PrepareForCreate != nil {
					run("PrepareForCreate", func() { k.PrepareForCreate(cp(obj)) })
				}
				if k.Default != nil {
					run("Default", func() { k.Default(cp(obj)) })
				}
				if k.Validate != nil {
					run("Validate", func() { _ = k.Validate(cp(obj)) })
				}
				if k.PrepareForUpdate != nil {
					run("PrepareForUpdate", func() { k.PrepareForUpdate(cp(obj), cp(old)) })
				}
				if k.ValidateUpdate != nil {
					run("ValidateUpdate", func() { _ = k.ValidateUpdate(cp(obj), cp(old)) })
				}
				if k.ValidateStatusUpdate != nil {
					run("ValidateStatusUpdate", func() { _ = k.ValidateStatusUpdate(cp(obj), cp(old)) })
				}
				if k.GracefulDelete != nil {
					run("GracefulDelete", func() { _, _ = k.GracefulDelete(cp(obj), nil) })
				}
				if k.Row != nil {
					run("Row", func() {
						for _, c := range k.Row(cp(obj)) {
							_ = cellText(t, c)
						}
					})
				}
				if k.Fields != nil {
					run("Fields", func() { _ = k.Fields(cp(obj)) })
				}
				if k.Scale != nil {
					run("Scale", func() { _, _, _ = k.Scale.Get(cp(obj)) })
				}
			}
		})
	}
}
