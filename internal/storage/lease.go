package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leases hands out etcd leases for objects with a TTL. Objects written within a short window
// share one lease (granted a little longer than asked), so a burst of Events costs one lease
// rather than one per Event, as upstream's lease manager does.
type leases struct {
	mu   sync.Mutex
	byTT map[int64]*leaseGrant // by requested TTL in seconds
}

type leaseGrant struct {
	id      clientv3.LeaseID
	granted time.Time
	reuse   time.Duration
}

func (s *Store) lease(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	secs := int64((ttl + time.Second - 1) / time.Second)
	now := s.cfg.Now()
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if g := s.leases.byTT[secs]; g != nil && now.Sub(g.granted) < g.reuse {
		return g.id, nil
	}
	reuse := time.Duration(secs) * time.Second / 20 // 5 %
	if reuse > time.Minute {
		reuse = time.Minute
	}
	resp, err := s.client.Grant(ctx, secs+int64(reuse/time.Second))
	if err != nil {
		return 0, fmt.Errorf("storage: grant lease: %w", err)
	}
	if s.leases.byTT == nil {
		s.leases.byTT = map[int64]*leaseGrant{}
	}
	s.leases.byTT[secs] = &leaseGrant{id: resp.ID, granted: now, reuse: reuse}
	return resp.ID, nil
}
