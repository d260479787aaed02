package controllerutil

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// NewControllerRef returns a controller ownerReference to owner of kind gvk,
// with blockOwnerDeletion set so foreground deletion waits for the object.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	t := true
	return &metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// RefManager adopts orphans that match a controller's selector and releases
// the objects it controls that no longer match, as upstream's
// ControllerRefManager does. Patch applies a strategic merge patch to the
// named object of the managed kind; CanAdopt is called at most once per
// RefManager, before the first adoption, and should re-read the controller
// from the API to make sure it is not being deleted.
type RefManager struct {
	Controller    metav1.Object
	ControllerGVK schema.GroupVersionKind
	Selector      labels.Selector
	Patch         func(namespace, name string, data []byte) error
	CanAdopt      func() error

	once     sync.Once
	adoptErr error
}

// Claim decides whether obj belongs to the controller, adopting or
// releasing it as needed. It returns true when the controller owns obj
// after the call.
func (m *RefManager) Claim(obj metav1.Object) (bool, error) {
	match := m.Selector.Matches(labels.Set(obj.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != m.Controller.GetUID() {
			return false, nil
		}
		if match {
			return true, nil
		}
		if m.Controller.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := m.release(obj); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
				return false, nil
			}
			return false, err
		}
		return false, nil
	}
	if m.Controller.GetDeletionTimestamp() != nil || !match || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if m.Controller.GetNamespace() != "" && m.Controller.GetNamespace() != obj.GetNamespace() {
		return false, nil
	}
	if err := m.adopt(obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (m *RefManager) adopt(obj metav1.Object) error {
	if m.CanAdopt != nil {
		m.once.Do(func() { m.adoptErr = m.CanAdopt() })
		if m.adoptErr != nil {
			return fmt.Errorf("can't adopt %s/%s: %w", obj.GetNamespace(), obj.GetName(), m.adoptErr)
		}
	}
	ref := NewControllerRef(m.Controller, m.ControllerGVK)
	patch := map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{*ref},
		"uid":             obj.GetUID(),
	}}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return m.Patch(obj.GetNamespace(), obj.GetName(), data)
}

func (m *RefManager) release(obj metav1.Object) error {
	data, err := ReleasePatch(m.Controller.GetUID(), obj.GetUID())
	if err != nil {
		return err
	}
	return m.Patch(obj.GetNamespace(), obj.GetName(), data)
}

// ReleasePatch is a strategic merge patch that removes the ownerReference
// to ownerUID from the object whose UID is objUID.
func ReleasePatch(ownerUID, objUID types.UID) ([]byte, error) {
	patch := map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": ownerUID}},
		"uid":             objUID,
	}}
	return json.Marshal(patch)
}

// RecheckDeletion returns a CanAdopt function that fetches the controller
// with get and refuses adoption when it has been replaced (different UID)
// or is being deleted.
func RecheckDeletion(uid types.UID, get func() (metav1.Object, error)) func() error {
	return func() error {
		fresh, err := get()
		if err != nil {
			return err
		}
		if fresh.GetUID() != uid {
			return fmt.Errorf("original object was deleted, a new one with UID %s exists", fresh.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", fresh.GetNamespace(), fresh.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}

// NewPodRefManager returns a RefManager claiming pods for owner: adoption and release patch
// the pod through client, and adoption first re-reads owner with getLive to make sure it is
// not being deleted.
func NewPodRefManager(ctx context.Context, client kubernetes.Interface, owner metav1.Object, gvk schema.GroupVersionKind,
	sel labels.Selector, getLive func(ctx context.Context) (metav1.Object, error)) *RefManager {
	return &RefManager{
		Controller: owner, ControllerGVK: gvk, Selector: sel,
		Patch: func(ns, name string, data []byte) error {
			_, err := client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
			return err
		},
		CanAdopt: RecheckDeletion(owner.GetUID(), func() (metav1.Object, error) { return getLive(ctx) }),
	}
}
