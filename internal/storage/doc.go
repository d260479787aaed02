/*
How the store works.

Writes go straight to etcd: Create is a transaction that puts the key only if its create
revision is 0; Update and Delete read the current value, then write with a compare on its mod
revision, and on a lost race take the newer value from the transaction's else branch and try
again. Values are protobuf without resourceVersion; the mod revision becomes the
resourceVersion on every read.

Reads come from memory. Store.Run loads every registered resource at one etcd revision, then
follows ONE etcd watch over the whole prefix (with previous values and progress notifications).
The ingest goroutine turns each event into an Entry exactly once — decode, set the
resourceVersion, encode JSON, PartialObjectMetadata JSON, labels, fields, table cells — and
applies it to the resource's cache:

  - a B-tree of entries ordered by key (copy-on-write: a reader takes an O(1) clone, so a LIST
    walks a consistent snapshot while ingest goes on);
  - a ring of the last EventWindow events, from which a watch resumes at a resourceVersion;
  - the set of watchers, each with an unbounded-but-capped queue: ingest filters an event per
    watcher (namespace, labels, fields, with ADDED/DELETED when an object starts or stops
    matching) and appends it without blocking; the watcher's goroutine delivers it. A watcher
    that falls WatcherQueue events behind is closed, as upstream closes slow watchers.

The store's revision (every event up to it applied) advances with events and with progress
notifications. A consistent read asks etcd for its current revision (a cheap linearizable
read), requests a progress notification, and waits until the cache reaches it. Reads at an
exact older revision and continue tokens are served from a kept snapshot when the first page
came from the cache, otherwise from etcd at that revision, building entries the same way.
Compacted revisions give 410 Gone with upstream's wording.
*/

package storage
