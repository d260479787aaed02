package storage

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"
)

// snapshot is an immutable view of a resource's cache at one revision.
type snapshot struct {
	tree *btree.BTreeG[*Entry]
	rev  int64
}

type keptSnapshot struct {
	snap    *snapshot
	expires time.Time
}

// event is one change in a resource's event window.
type event struct {
	typ  watch.EventType
	cur  *Entry // for Deleted: the last state with RV = the deletion revision
	prev *Entry // the version before (nil for Added)
	rv   int64
	at   time.Time // when ingest recorded it

	once     sync.Once
	prevAtRV *Entry // prev with RV = rv, for watchers the object stops matching
}

func lessEntry(a, b *Entry) bool { return a.Key < b.Key }

// Count returns how many objects the cache holds.
func (r *Resource) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tree.Len()
}

// currentRevLocked is the revision the cache reflects. r.mu must be held.
func (r *Resource) currentRevLocked() int64 {
	rev := r.s.rev.Load()
	if r.lastRV > rev {
		rev = r.lastRV
	}
	return rev
}

// snapshotLocked returns an immutable view of the cache. r.mu must be held.
func (r *Resource) snapshotLocked() *snapshot {
	rev := r.currentRevLocked()
	if r.snap == nil {
		r.snap = &snapshot{tree: r.tree.Clone(), rev: rev}
	} else if r.snap.rev != rev {
		r.snap = &snapshot{tree: r.snap.tree, rev: rev}
	}
	return r.snap
}

func (r *Resource) snapshot() *snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

// reset replaces the cache with entries loaded at rev and ends every watch.
func (r *Resource) reset(entries []*Entry, rev int64) {
	t := btree.NewG(32, lessEntry)
	for _, e := range entries {
		t.ReplaceOrInsert(e)
	}
	r.mu.Lock()
	r.tree = t
	r.snap = nil
	r.lastRV = 0
	r.events = ring{}
	r.floor = rev
	ws := r.watchers
	r.watchers = map[*watcher]struct{}{}
	r.mu.Unlock()
	for w := range ws {
		w.terminate()
	}
	r.snapsMu.Lock()
	clear(r.snaps)
	r.snapsMu.Unlock()
}

func (r *Resource) closeWatchers() {
	r.mu.Lock()
	ws := r.watchers
	r.watchers = map[*watcher]struct{}{}
	r.mu.Unlock()
	for w := range ws {
		w.terminate()
	}
}

// put applies a created or modified object.
func (r *Resource) put(e *Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, existed := r.tree.ReplaceOrInsert(e)
	r.snap = nil
	ev := &event{typ: watch.Added, cur: e, rv: e.RV}
	if existed {
		ev.typ = watch.Modified
		ev.prev = prev
	}
	r.record(ev)
}

// del applies a deletion. last is the object's last state with RV = rv (nil if unknown).
func (r *Resource) del(key string, last *Entry, rv int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, existed := r.tree.Delete(&Entry{Key: key})
	r.snap = nil
	if !existed {
		r.lastRV = rv
		return
	}
	if last == nil {
		var err error
		if last, err = r.rebuildAt(prev, rv); err != nil {
			r.s.log.Error("storage: deleted object", "resource", r.rc.GroupResource, "key", key, "err", err)
			last = prev
		}
	}
	r.record(&event{typ: watch.Deleted, cur: last, prev: prev, rv: rv})
}

// record appends ev to the window and hands it to the watchers. r.mu must be held.
func (r *Resource) record(ev *event) {
	r.lastRV = ev.rv
	ev.at = r.s.cfg.Now()
	if old := r.events.push(ev, r.s.cfg.EventWindow); old != nil {
		r.floor = old.rv
	}
	r.trimLocked(ev.at)
	for w := range r.watchers {
		if out, ok := w.convert(r, ev); ok {
			if !w.enqueue(out) {
				delete(r.watchers, w)
			}
		}
	}
}

// eventsAfterLocked returns the window's events with rv > after, oldest first.
func (r *Resource) eventsAfterLocked(after int64) []*event { return r.events.after(after) }

// trimLocked drops events older than EventMaxAge, so a burst of changes does not keep old
// versions of objects in memory once it is over. r.mu must be held.
func (r *Resource) trimLocked(now time.Time) {
	cutoff := now.Add(-r.s.cfg.EventMaxAge)
	for r.events.len() > 0 && r.events.at(0).at.Before(cutoff) {
		r.floor = r.events.popFront().rv
	}
}

// trim drops old events (called periodically for resources without new events).
func (r *Resource) trim() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trimLocked(r.s.cfg.Now())
}

// prevAt returns the previous state of ev's object with RV = ev.rv.
func (r *Resource) prevAt(ev *event) *Entry {
	ev.once.Do(func() {
		e, err := r.rebuildAt(ev.prev, ev.rv)
		if err != nil {
			r.s.log.Error("storage: rebuild object", "resource", r.rc.GroupResource, "key", ev.prev.Key, "err", err)
			e = ev.prev
		}
		ev.prevAtRV = e
	})
	return ev.prevAtRV
}

func (r *Resource) bookmark() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.watchers) == 0 {
		return
	}
	bm := Event{Type: watch.Bookmark, Entry: &Entry{RV: r.currentRevLocked()}}
	for w := range r.watchers {
		if w.bookmarks && bm.Entry.RV >= w.startRV {
			if !w.enqueue(bm) {
				delete(r.watchers, w)
			}
		}
	}
}

// loadAll reads every object of the resource at rev and builds the entries on every core.
func (r *Resource) loadAll(ctx context.Context, rev int64) ([]*Entry, error) {
	var kvs []*mvccpb.KeyValue
	start, end := r.prefix, clientv3.GetPrefixRangeEnd(r.prefix)
	for {
		resp, err := r.s.client.Get(ctx, start, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(1000))
		if err != nil {
			return nil, fmt.Errorf("storage: load %s: %w", r.rc.GroupResource, err)
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	entries := make([]*Entry, len(kvs))
	workers := goruntime.GOMAXPROCS(0)
	if len(kvs) < 256 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(kvs); i += workers {
				kv := kvs[i]
				key := string(kv.Key[len(r.prefix):])
				e, err := r.build(key, kv.Value, kv.ModRevision)
				if err != nil {
					r.s.log.Error("storage: cannot cache object", "resource", r.rc.GroupResource, "key", key, "err", err)
					continue
				}
				entries[i] = e
			}
		}(w)
	}
	wg.Wait()
	out := entries[:0]
	for _, e := range entries {
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}
