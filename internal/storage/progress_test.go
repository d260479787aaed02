package storage

import (
	"context"
	"testing"
	"time"
)

// TestConsistentListAfterForeignWrite: a write outside the prefix moves etcd's revision
// without an event for the cache; a consistent list must still reflect that revision (the
// store asks etcd for a progress notification rather than waiting for the next write).
func TestConsistentListAfterForeignWrite(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, func(c *Config) { c.FreshTimeout = 60 * time.Second })
	for i := 0; i < 5; i++ {
		resp, err := s.client.Put(ctx, "/other/key", "v")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.pods.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.ResourceVersion < resp.Header.Revision || s.rev.Load() < resp.Header.Revision {
			t.Fatalf("list at %d, cache at %d, after a write at %d", res.ResourceVersion, s.rev.Load(), resp.Header.Revision)
		}
	}
}
