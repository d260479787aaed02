package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// Config configures New.
type Config struct {
	// Client talks to etcd (embedded or external). Required.
	Client *clientv3.Client
	// Prefix under which all objects live. Default "/registry".
	Prefix string
	// Scheme knows every registered type (protobuf decoding). Required.
	Scheme *runtime.Scheme
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// EventWindow is how many events each resource keeps for watches resuming from a
	// resourceVersion. Default 10000.
	EventWindow int
	// EventMaxAge bounds how long an event stays in the window (a watch resuming from an
	// older RV gets 410 and re-lists). Default 10 min.
	EventMaxAge time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// BookmarkInterval is how often watchers that allow bookmarks get one. Default 1 min.
	BookmarkInterval time.Duration
	// WatcherQueue is how many undelivered events a watcher may have queued before it is
	// closed as too slow (the client then re-watches from its last resourceVersion).
	// Default 10000.
	WatcherQueue int
	// FreshTimeout bounds waiting for the cache to reach a requested resourceVersion
	// (upstream: 3 s, then "Too large resource version"). Default 3 s.
	FreshTimeout time.Duration
	// SnapshotTTL is how long a list snapshot handed out with a continue token is kept to
	// serve the next pages from memory. Default 30 s.
	SnapshotTTL time.Duration
}

// Store is the etcd-backed object store with its watch cache.
type Store struct {
	cfg    Config
	log    *slog.Logger
	client *clientv3.Client
	prefix string // without trailing slash
	codec  codec

	mu        sync.Mutex
	started   bool
	resources map[string]*Resource // "group/resource" ("core" for the legacy group)
	all       []*Resource

	ready chan struct{}

	// rev is the etcd revision the caches have caught up with: every event at or below it has
	// been applied. It only grows while Run runs.
	rev   atomic.Int64
	revMu sync.Mutex
	revCh chan struct{} // closed and replaced whenever rev grows

	watchMu       sync.Mutex
	watcher       clientv3.Watcher
	watchCtx      context.Context
	lastProgress  atomic.Int64 // unix nanos of the last RequestProgress
	progressAsked atomic.Bool  // a RequestProgress is unanswered

	leases leases
}

// New validates cfg and fills defaults. It starts nothing.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("storage: Client is required")
	}
	if cfg.Scheme == nil {
		return nil, errors.New("storage: Scheme is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/registry"
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if !strings.HasPrefix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("storage: Prefix %q must start with /", cfg.Prefix)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.EventWindow <= 0 {
		cfg.EventWindow = 10000
	}
	if cfg.EventMaxAge <= 0 {
		cfg.EventMaxAge = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = time.Minute
	}
	if cfg.WatcherQueue <= 0 {
		cfg.WatcherQueue = 10000
	}
	if cfg.FreshTimeout <= 0 {
		cfg.FreshTimeout = 3 * time.Second
	}
	if cfg.SnapshotTTL <= 0 {
		cfg.SnapshotTTL = 30 * time.Second
	}
	return &Store{
		cfg:       cfg,
		log:       cfg.Logger,
		client:    cfg.Client,
		prefix:    cfg.Prefix,
		codec:     newCodec(cfg.Scheme),
		resources: map[string]*Resource{},
		ready:     make(chan struct{}),
		revCh:     make(chan struct{}),
	}, nil
}

// Register adds a resource. It must be called before Run.
func (s *Store) Register(rc ResourceConfig) (*Resource, error) {
	if rc.GroupResource.Resource == "" {
		return nil, errors.New("storage: GroupResource.Resource is required")
	}
	if rc.New == nil {
		return nil, fmt.Errorf("storage: %s: New is required", rc.GroupResource)
	}
	if rc.GVK.Kind == "" || rc.GVK.Version == "" {
		return nil, fmt.Errorf("storage: %s: GVK is required", rc.GroupResource)
	}
	group := rc.GroupResource.Group
	if group == "" {
		group = "core"
	}
	id := group + "/" + rc.GroupResource.Resource
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil, fmt.Errorf("storage: %s: Register after Run", rc.GroupResource)
	}
	if _, dup := s.resources[id]; dup {
		return nil, fmt.Errorf("storage: %s registered twice", rc.GroupResource)
	}
	r := newResource(s, rc, s.prefix+"/"+id+"/")
	s.resources[id] = r
	s.all = append(s.all, r)
	return r, nil
}

// Ready is closed once every registered resource's cache holds the state of etcd.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Revision returns etcd's current revision (a linearizable read).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, storageError(fmt.Errorf("current revision: %w", err))
	}
	return resp.Header.Revision, nil
}

// Compact compacts etcd's history up to rev (for tests of 410 Gone).
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if _, err := s.client.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return fmt.Errorf("storage: compact %d: %w", rev, err)
	}
	return nil
}

// waitReady waits until the caches are primed.
func (s *Store) waitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	default:
	}
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return storageError(ctx.Err())
	}
}

// setRev records that every event up to rev has been applied and wakes waiters.
func (s *Store) setRev(rev int64) {
	if rev <= s.rev.Load() {
		return
	}
	s.revMu.Lock()
	s.rev.Store(rev)
	close(s.revCh)
	s.revCh = make(chan struct{})
	s.revMu.Unlock()
}

// waitFresh waits until the caches have applied every event up to rev. It returns false when
// timeout passes first.
func (s *Store) waitFresh(ctx context.Context, rev int64, timeout time.Duration) (bool, error) {
	if s.rev.Load() >= rev {
		return true, nil
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		s.revMu.Lock()
		ch := s.revCh
		s.revMu.Unlock()
		if s.rev.Load() >= rev {
			return true, nil
		}
		s.requestProgress()
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			return s.rev.Load() >= rev, nil
		case <-ctx.Done():
			return false, storageError(ctx.Err())
		}
	}
}

// requestProgress asks etcd to tell the watch its current revision, so an idle cache can prove
// it is fresh. While a request is unanswered, another goes out only after 20 ms.
func (s *Store) requestProgress() {
	now := time.Now().UnixNano()
	last := s.lastProgress.Load()
	if s.progressAsked.Load() && now-last < int64(20*time.Millisecond) {
		return
	}
	if !s.lastProgress.CompareAndSwap(last, now) {
		return
	}
	s.progressAsked.Store(true)
	s.watchMu.Lock()
	w, ctx := s.watcher, s.watchCtx
	s.watchMu.Unlock()
	if w != nil {
		if err := w.RequestProgress(ctx); err != nil {
			s.log.Debug("storage: request progress", "err", err)
		}
	}
}

// consistentRev returns etcd's current revision and waits for the caches to reach it. ok is
// false when they did not within FreshTimeout (the caller then reads etcd).
func (s *Store) consistentRev(ctx context.Context) (rev int64, ok bool, err error) {
	rev, err = s.Revision(ctx)
	if err != nil {
		return 0, false, err
	}
	ok, err = s.waitFresh(ctx, rev, s.cfg.FreshTimeout)
	return rev, ok, err
}

// Run primes every resource's cache from etcd, then follows one watch over the whole prefix
// until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("storage: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	rev, err := s.primeRetrying(ctx)
	if err != nil {
		return nil // ctx ended
	}
	close(s.ready)

	go s.bookmarkLoop(ctx)
	defer s.closeAllWatchers()

	// The client's own Watcher: an in-process client (embedded etcd) has no connection to
	// build another one on.
	w := s.client.Watcher
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	s.watchMu.Lock()
	s.watcher, s.watchCtx = w, wctx
	s.watchMu.Unlock()

	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		wch := w.Watch(wctx, s.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1),
			clientv3.WithPrevKV(), clientv3.WithProgressNotify())
		compacted := false
		for resp := range wch {
			if resp.CompactRevision != 0 {
				compacted = true
				break
			}
			if err := resp.Err(); err != nil {
				s.log.Warn("storage: etcd watch", "err", err)
				break
			}
			backoff = 100 * time.Millisecond
			if resp.IsProgressNotify() {
				s.progressAsked.Store(false)
				s.setRev(resp.Header.Revision)
				continue
			}
			for _, ev := range resp.Events {
				s.apply(ev)
				rev = ev.Kv.ModRevision
			}
			s.setRev(rev)
		}
		if ctx.Err() != nil {
			break
		}
		if compacted {
			// The watch fell behind compaction: the caches can no longer be brought forward
			// event by event. Reload them and end every watch (clients re-list, as upstream).
			s.log.Warn("storage: watch compacted, reloading caches", "rev", rev)
			if rev, err = s.primeRetrying(ctx); err != nil {
				break // ctx ended
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
	return nil
}

// primeRetrying primes the caches, retrying with backoff while etcd is unavailable. It only
// fails when ctx ends.
func (s *Store) primeRetrying(ctx context.Context) (int64, error) {
	backoff := 100 * time.Millisecond
	for {
		rev, err := s.prime(ctx)
		if err == nil {
			return rev, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		s.log.Warn("storage: loading caches from etcd failed, retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// prime loads every resource from etcd at one revision and replaces the caches.
func (s *Store) prime(ctx context.Context) (int64, error) {
	rev, err := s.Revision(ctx)
	if err != nil {
		return 0, err
	}
	for _, r := range s.all {
		entries, err := r.loadAll(ctx, rev)
		if err != nil {
			return 0, err
		}
		r.reset(entries, rev)
	}
	s.setRev(rev)
	return rev, nil
}

// route finds the resource of an etcd key and the key below the resource's prefix.
func (s *Store) route(key string) (*Resource, string) {
	rest, ok := strings.CutPrefix(key, s.prefix+"/")
	if !ok {
		return nil, ""
	}
	group, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, ""
	}
	res, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, ""
	}
	r := s.resources[group+"/"+res]
	return r, rest
}

// apply feeds one etcd event into its resource's cache.
func (s *Store) apply(ev *clientv3.Event) {
	r, key := s.route(string(ev.Kv.Key))
	if r == nil {
		return
	}
	rv := ev.Kv.ModRevision
	switch ev.Type {
	case mvccpb.PUT:
		e, err := r.build(key, ev.Kv.Value, rv)
		if err != nil {
			s.log.Error("storage: cannot cache object", "resource", r.rc.GroupResource, "key", key, "err", err)
			return
		}
		r.put(e)
	case mvccpb.DELETE:
		var last *Entry
		if ev.PrevKv != nil {
			var err error
			if last, err = r.build(key, ev.PrevKv.Value, rv); err != nil {
				s.log.Error("storage: cannot decode deleted object", "resource", r.rc.GroupResource, "key", key, "err", err)
			}
		}
		r.del(key, last, rv)
	}
}

func (s *Store) bookmarkLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.BookmarkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, r := range s.all {
				r.trim()
				r.bookmark()
			}
		}
	}
}

func (s *Store) closeAllWatchers() {
	for _, r := range s.all {
		r.closeWatchers()
	}
}

// isCompacted reports whether err says the requested revision was compacted away.
func isCompacted(err error) bool {
	return errors.Is(err, rpctypes.ErrCompacted) || (err != nil && strings.Contains(err.Error(), rpctypes.ErrCompacted.Error()))
}

// isFutureRev reports whether err says the requested revision is in the future.
func isFutureRev(err error) bool {
	return errors.Is(err, rpctypes.ErrFutureRev) || (err != nil && strings.Contains(err.Error(), rpctypes.ErrFutureRev.Error()))
}
