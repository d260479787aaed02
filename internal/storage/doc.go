/*
How the store works.

Writes go straight to etcd. Create is a transaction that puts the key only if its create
revision is 0; Update (upstream's GuaranteedUpdate) and Delete read the current value, then
write with a compare on its mod revision, and on a lost race take the newer value from the
transaction's else branch and try again. Values are protobuf without resourceVersion; the mod
revision becomes the resourceVersion on every read. Resources with a TTL (Events) get an etcd
lease, shared by the objects written within a short window.

Reads come from memory. Store.Run loads every registered resource at one etcd revision
(building entries on every core), then follows ONE etcd watch over the whole prefix, with
previous values and progress notifications. The ingest goroutine turns each event into an
Entry exactly once — decode, set the resourceVersion, encode JSON, PartialObjectMetadata JSON,
labels, fields, table cells (about 13 µs for a 2 KB pod) — and applies it to the resource's
cache:

  - a B-tree of entries ordered by key (copy-on-write: a reader takes an O(1) clone, so a LIST
    walks a consistent snapshot while ingest goes on; no decoded objects are kept);
  - a ring of the last EventWindow events, from which a watch resumes at a resourceVersion
    (older than the ring: ERROR 410 "too old resource version: N (M)");
  - the set of watchers. Ingest filters each event per watcher (namespace, labels, fields;
    ADDED when an object starts matching, DELETED with its last state when it stops) and
    appends it to the watcher's queue without blocking; the watcher's goroutine delivers it.
    A watcher that falls WatcherQueue events behind is closed, as upstream closes slow
    watchers, and its client re-watches.

The store's revision (every event up to it applied) advances with events and progress
notifications. A consistent read ("" resourceVersion) asks etcd for its current revision (a
cheap linearizable read of one key), requests a progress notification if the cache is behind,
and serves from the cache once it caught up (falling back to etcd after FreshTimeout). A first
page cut by a limit keeps its snapshot for SnapshotTTL so the next pages come from memory at
the same revision; otherwise continue tokens and Exact reads go to etcd at that revision,
building entries the same way. Compacted revisions give 410 Gone with upstream's wording and,
for continue tokens, upstream's inconsistent-continue token.

Lists are sorted by Entry.Key ("namespace/name"), which is etcd's key order, as upstream's.
*/

package storage
