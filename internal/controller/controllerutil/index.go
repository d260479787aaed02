package controllerutil

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// ControllerUIDIndex indexes objects by the UID of their controller owner.
const ControllerUIDIndex = "controllerUID"

// OrphanIndexValue is the ControllerUIDIndex value of objects without a
// controller.
const OrphanIndexValue = ""

// AddControllerUIDIndex adds ControllerUIDIndex to informer unless it is
// already there (several controllers share one informer).
func AddControllerUIDIndex(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[ControllerUIDIndex]; ok {
		return nil
	}
	return informer.AddIndexers(cache.Indexers{ControllerUIDIndex: func(obj any) ([]string, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
			return []string{string(ref.UID)}, nil
		}
		return []string{OrphanIndexValue}, nil
	}})
}
