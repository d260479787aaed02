package storage

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
)

// watcher is one Watch call. The ingest goroutine queues its events (already filtered) without
// ever blocking; the watcher's own goroutine delivers them to the caller's channel.
type watcher struct {
	m         matcher
	bookmarks bool
	startRV   int64 // only events with a higher revision are delivered
	limit     int

	mu      sync.Mutex
	pending []Event
	done    bool // terminated: deliver nothing more
	notify  chan struct{}
}

// convert maps a resource event to what this watcher sees, following upstream's cacher: an
// object that starts matching is ADDED, one that stops matching is DELETED (its previous state
// at the event's revision).
func (w *watcher) convert(r *Resource, ev *event) (Event, bool) {
	if ev.rv <= w.startRV {
		return Event{}, false
	}
	switch ev.typ {
	case watch.Added:
		if w.m.matches(ev.cur) {
			return Event{Type: watch.Added, Entry: ev.cur}, true
		}
	case watch.Deleted:
		if w.m.matches(ev.prev) {
			return Event{Type: watch.Deleted, Entry: ev.cur}, true
		}
	case watch.Modified:
		cur, prev := w.m.matches(ev.cur), w.m.matches(ev.prev)
		switch {
		case cur && prev:
			return Event{Type: watch.Modified, Entry: ev.cur}, true
		case cur:
			return Event{Type: watch.Added, Entry: ev.cur}, true
		case prev:
			return Event{Type: watch.Deleted, Entry: r.prevAt(ev)}, true
		}
	}
	return Event{}, false
}

// enqueue queues ev; false when the watcher is over its limit (it is then terminated) or gone.
func (w *watcher) enqueue(ev Event) bool {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return false
	}
	if len(w.pending) >= w.limit {
		w.done = true
		w.pending = nil
		w.mu.Unlock()
		w.wake()
		return false
	}
	w.pending = append(w.pending, ev)
	w.mu.Unlock()
	w.wake()
	return true
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) terminate() {
	w.mu.Lock()
	w.done = true
	w.pending = nil
	w.mu.Unlock()
	w.wake()
}

// Watch streams changes matching opts, with upstream's resourceVersion semantics:
//   - "" or "0": ADDED events for the current state ("" waits for the cache to be consistent
//     with etcd first), then changes; with SendInitialEvents=false no state; with
//     SendInitialEvents=true the state ends with a Bookmark marked InitialEventsEnd;
//   - N: changes after N from the event window, or a single ERROR event (410 Gone, "too old
//     resource version: N (M)") when N is older than the window.
//
// The channel closes when ctx ends, when the store stops, or when the consumer falls
// WatcherQueue events behind (the client re-watches from its last resourceVersion).
func (r *Resource) Watch(ctx context.Context, opts WatchOptions) (<-chan Event, error) {
	rv, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	m := newMatcher(opts.Namespace, opts.Label, opts.Field)
	if !r.rc.Namespaced {
		m.namespace = ""
	}
	sendState := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if opts.SendInitialEvents != nil {
		sendState = *opts.SendInitialEvents
	}
	endMarker := opts.SendInitialEvents != nil && *opts.SendInitialEvents

	if err := r.s.waitReady(ctx); err != nil {
		return nil, err
	}
	switch {
	case opts.ResourceVersion == "":
		if _, _, err := r.s.consistentRev(ctx); err != nil {
			return nil, err
		}
	case rv > 0:
		// As upstream's cacher: wait (briefly) for the cache to reach N, else the watch ends
		// with a "Too large resource version" error event.
		ok, err := r.s.waitFresh(ctx, rv, r.s.cfg.FreshTimeout)
		if err != nil {
			return nil, err
		}
		if !ok {
			return errorWatch(tooLargeRV(rv, r.s.rev.Load())), nil
		}
	}

	w := &watcher{
		m:         m,
		bookmarks: opts.AllowBookmarks,
		limit:     r.s.cfg.WatcherQueue,
		notify:    make(chan struct{}, 1),
	}
	// A small buffer lets the consumer see that more events are ready (len(ch) > 0) and
	// batch its writes and flushes.
	out := make(chan Event, 64)

	r.mu.Lock()
	var (
		state  *snapshot
		replay []*event
	)
	if sendState || opts.ResourceVersion == "" || rv == 0 {
		state = r.snapshotLocked()
		w.startRV = state.rev
		if !sendState {
			state = nil
		}
	} else {
		if rv < r.floor {
			floor := r.floor
			r.mu.Unlock()
			return errorWatch(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, floor))), nil
		}
		w.startRV = rv
		replay = r.eventsAfterLocked(rv)
	}
	r.watchers[w] = struct{}{}
	r.mu.Unlock()

	go r.serveWatch(ctx, w, out, state, endMarker, replay)
	return out, nil
}

// errorWatch is a watch that delivers one ERROR event and closes.
func errorWatch(err error) <-chan Event {
	out := make(chan Event, 1)
	out <- Event{Type: watch.Error, Status: err}
	close(out)
	return out
}

func (r *Resource) removeWatcher(w *watcher) {
	r.mu.Lock()
	delete(r.watchers, w)
	r.mu.Unlock()
}

func (r *Resource) serveWatch(ctx context.Context, w *watcher, out chan<- Event, state *snapshot, endMarker bool, replay []*event) {
	defer close(out)
	defer r.removeWatcher(w)
	send := func(ev Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if state != nil {
		ok := true
		iter := func(e *Entry) bool {
			if w.m.matches(e) {
				ok = send(Event{Type: watch.Added, Entry: e})
			}
			return ok
		}
		if lp := r.listPrefix(w.m.namespace); lp != "" {
			state.tree.AscendRange(&Entry{Key: lp}, &Entry{Key: lp[:len(lp)-1] + "0"}, iter)
		} else {
			state.tree.Ascend(iter)
		}
		if !ok {
			return
		}
		if endMarker && !send(Event{Type: watch.Bookmark, Entry: &Entry{RV: state.rev}, InitialEventsEnd: true}) {
			return
		}
	}
	for _, ev := range replay {
		if e, ok := w.convert(r, ev); ok && !send(e) {
			return
		}
	}
	var batch []Event
	for {
		w.mu.Lock()
		batch, w.pending = w.pending, batch[:0]
		done := w.done
		w.mu.Unlock()
		if done {
			return
		}
		for i, ev := range batch {
			if !send(ev) {
				return
			}
			batch[i] = Event{}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		}
	}
}
