package controllerutil

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/davecgh/go-spew/spew"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// DefaultDeploymentUniqueLabelKey is the label a Deployment adds to each of its
// ReplicaSets and their pods, holding the pod-template hash.
const DefaultDeploymentUniqueLabelKey = "pod-template-hash"

// deepHash writes a stable rendering of obj into h: every field, map keys
// sorted, pointers followed, String methods ignored.
func deepHash(h hash.Hash, obj any) {
	h.Reset()
	printer := spew.ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true}
	printer.Fprintf(h, "%#v", obj)
}

// ComputeHash returns the pod-template hash of template: fnv32a over the
// template's rendering, followed by collisionCount when set, rendered as a
// short string of DNS-safe characters. It is the hash Kubernetes computes, so
// a template keeps the same ReplicaSet name as upstream gives it.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	deepHash(h, *template)
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
