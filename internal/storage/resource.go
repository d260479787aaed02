package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// optimisticLockErrorMsg is upstream's wording for a lost optimistic-concurrency race.
const optimisticLockErrorMsg = "the object has been modified; please apply your changes to the latest version and try again"

// Resource is one resource's slice of the store: its etcd keys and its cache.
type Resource struct {
	s      *Store
	rc     ResourceConfig
	prefix string // full etcd key prefix with trailing slash

	mu     sync.Mutex
	tree   *btree.BTreeG[*Entry] // written by the ingest goroutine only, under mu
	snap   *snapshot             // clone of tree handed to readers; nil when tree changed since
	lastRV int64                 // revision of the last event applied to this resource

	// Event window: the most recent events, for watches resuming from an RV.
	events ring
	floor  int64 // a watch from RV N can be served iff N >= floor

	watchers map[*watcher]struct{}

	snapsMu sync.Mutex
	snaps   map[int64]*keptSnapshot // list snapshots kept for continue tokens
}

func newResource(s *Store, rc ResourceConfig, prefix string) *Resource {
	return &Resource{
		s:        s,
		rc:       rc,
		prefix:   prefix,
		tree:     btree.NewG(32, lessEntry),
		watchers: map[*watcher]struct{}{},
		snaps:    map[int64]*keptSnapshot{},
	}
}

// Config returns the resource's configuration.
func (r *Resource) Config() ResourceConfig { return r.rc }

// key returns the full etcd key of an object.
func (r *Resource) key(namespace, name string) (string, error) {
	if name == "" {
		return "", apierrors.NewBadRequest("name is required")
	}
	if r.rc.Namespaced {
		if namespace == "" {
			return "", apierrors.NewBadRequest("namespace is required for namespaced resource " + r.rc.GroupResource.String())
		}
		return r.prefix + namespace + "/" + name, nil
	}
	return r.prefix + name, nil
}

// storageError turns an etcd or context error into an API error.
func storageError(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return apierrors.NewTimeoutError(fmt.Sprintf("storage: %v", err), 1)
	}
	return apierrors.NewInternalError(fmt.Errorf("storage: %w", err))
}

func (r *Resource) getKV(ctx context.Context, key, name string) (*mvccpb.KeyValue, error) {
	resp, err := r.s.client.Get(ctx, key)
	if err != nil {
		return nil, storageError(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(r.rc.GroupResource, name)
	}
	return resp.Kvs[0], nil
}

// putOp is the write of data under key, with a lease when the resource has a TTL.
func (r *Resource) putOp(ctx context.Context, key string, data []byte, obj runtime.Object) (clientv3.Op, error) {
	if r.rc.TTL != nil {
		if ttl := r.rc.TTL(obj); ttl > 0 {
			id, err := r.s.lease(ctx, ttl)
			if err != nil {
				return clientv3.Op{}, storageError(err)
			}
			return clientv3.OpPut(key, string(data), clientv3.WithLease(id)), nil
		}
	}
	return clientv3.OpPut(key, string(data)), nil
}

// Get reads one object from etcd (linearizable). NotFound when absent.
func (r *Resource) Get(ctx context.Context, namespace, name string) (runtime.Object, error) {
	key, err := r.key(namespace, name)
	if err != nil {
		return nil, err
	}
	kv, err := r.getKV(ctx, key, name)
	if err != nil {
		return nil, err
	}
	obj, err := r.decode(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return obj, nil
}

// GetEntry returns an object's cached entry, ready to copy out (no decoding or encoding).
// resourceVersion: "" waits until the cache is consistent with etcd (one cheap etcd read, as
// a consistent List), "0" serves the cache as is, N waits until the cache reached N (504 "Too
// large resource version" after FreshTimeout). NotFound when absent.
func (r *Resource) GetEntry(ctx context.Context, namespace, name, resourceVersion string) (*Entry, error) {
	key, err := r.key(namespace, name)
	if err != nil {
		return nil, err
	}
	rv, err := parseRV(resourceVersion)
	if err != nil {
		return nil, err
	}
	if err := r.s.waitReady(ctx); err != nil {
		return nil, err
	}
	switch {
	case resourceVersion == "":
		_, ok, err := r.s.consistentRev(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			kv, err := r.getKV(ctx, key, name)
			if err != nil {
				return nil, err
			}
			e, err := r.build(key[len(r.prefix):], kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			return e, nil
		}
	case rv > 0:
		ok, err := r.s.waitFresh(ctx, rv, r.s.cfg.FreshTimeout)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, tooLargeRV(rv, r.s.rev.Load())
		}
	}
	r.mu.Lock()
	e, found := r.tree.Get(&Entry{Key: key[len(r.prefix):]})
	r.mu.Unlock()
	if !found {
		return nil, apierrors.NewNotFound(r.rc.GroupResource, name)
	}
	return e, nil
}

// Create stores obj if no object has its key (AlreadyExists otherwise) and returns it as
// stored, resourceVersion set. obj must not carry a resourceVersion.
func (r *Resource) Create(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if acc.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	name := acc.GetName()
	key, err := r.key(acc.GetNamespace(), name)
	if err != nil {
		return nil, err
	}
	data, err := r.encode(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	put, err := r.putOp(ctx, key, data, obj)
	if err != nil {
		return nil, err
	}
	resp, err := r.s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(put).
		Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		return nil, apierrors.NewAlreadyExists(r.rc.GroupResource, name)
	}
	out, err := r.decode(data, resp.Header.Revision)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return out, nil
}

// Update replaces an object with what tryUpdate makes of its current state (optimistic
// concurrency, as upstream's GuaranteedUpdate):
//   - tryUpdate gets a private copy of the current object (resourceVersion set) and returns the
//     new one or an error, which Update returns unchanged;
//   - a non-empty resourceVersion on the returned object that differs from the current one is
//     a 409 Conflict;
//   - if another writer wins the race, tryUpdate runs again on the newer state (so a caller
//     that pinned the resourceVersion gets its Conflict then);
//   - if the new encoding equals the stored one nothing is written and the current object
//     (same resourceVersion) is returned.
func (r *Resource) Update(ctx context.Context, namespace, name string, tryUpdate func(current runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	key, err := r.key(namespace, name)
	if err != nil {
		return nil, err
	}
	kv, err := r.getKV(ctx, key, name)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, storageError(err)
		}
		cur, err := r.decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		updated, err := tryUpdate(cur)
		if err != nil {
			return nil, err
		}
		acc, err := meta.Accessor(updated)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if rv := acc.GetResourceVersion(); rv != "" && rv != strconv.FormatInt(kv.ModRevision, 10) {
			return nil, apierrors.NewConflict(r.rc.GroupResource, name, errors.New(optimisticLockErrorMsg))
		}
		data, err := r.encode(updated)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if bytes.Equal(data, kv.Value) {
			out, err := r.decode(kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			return out, nil
		}
		put, err := r.putOp(ctx, key, data, updated)
		if err != nil {
			return nil, err
		}
		resp, err := r.s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
			Then(put).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, storageError(err)
		}
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				return nil, apierrors.NewNotFound(r.rc.GroupResource, name)
			}
			kv = kvs[0]
			continue
		}
		out, err := r.decode(data, resp.Header.Revision)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return out, nil
	}
}

// Delete removes an object if check (nil: no check) accepts its current state, retrying when
// another writer changes it in between. It returns the last state with resourceVersion set to
// the deletion's revision.
func (r *Resource) Delete(ctx context.Context, namespace, name string, check func(current runtime.Object) error) (runtime.Object, error) {
	key, err := r.key(namespace, name)
	if err != nil {
		return nil, err
	}
	kv, err := r.getKV(ctx, key, name)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, storageError(err)
		}
		if check != nil {
			cur, err := r.decode(kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if err := check(cur); err != nil {
				return nil, err
			}
		}
		resp, err := r.s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, storageError(err)
		}
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				return nil, apierrors.NewNotFound(r.rc.GroupResource, name)
			}
			kv = kvs[0]
			continue
		}
		out, err := r.decode(kv.Value, resp.Header.Revision)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return out, nil
	}
}
