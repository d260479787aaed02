package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's wording for lists that reach into compacted history.
const (
	listExpired     = "The resourceVersion for the provided list is too old."
	continueExpired = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter."
	inconsistentContinue = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided " +
		"token results in an inconsistent list - objects that were created, " +
		"modified, or deleted between the time the first chunk was returned " +
		"and now may show up in the list."
)

// continueToken is the continue parameter's content, encoded as upstream does (base64url of
// JSON), so clients see the same shape.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(startKey string, rv int64) string {
	out, _ := json.Marshal(&continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rv, StartKey: startKey})
	return base64.RawURLEncoding.EncodeToString(out)
}

// decodeContinue returns the start key (relative to the listed prefix) and revision.
func decodeContinue(s string) (string, int64, error) {
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	var c continueToken
	if err := json.Unmarshal(data, &c); err != nil {
		return "", 0, fmt.Errorf("continue key is not valid: %v", err)
	}
	if c.APIVersion != "meta.k8s.io/v1" {
		return "", 0, fmt.Errorf("continue key is not valid: server does not recognize this encoded version %v", c.APIVersion)
	}
	if c.ResourceVersion == 0 {
		return "", 0, errors.New("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if c.StartKey == "" {
		return "", 0, errors.New("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
	}
	key := c.StartKey
	if !strings.HasPrefix(key, "/") {
		key = "/" + key
	}
	if cleaned := path.Clean(key); cleaned != key {
		return "", 0, fmt.Errorf("continue key is not valid: %v", c.StartKey)
	}
	return key[1:], c.ResourceVersion, nil
}

// tooLargeRV is upstream's 504 for a resourceVersion the cache did not reach in time.
func tooLargeRV(want, have int64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, have), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	}}
	return err
}

func parseRV(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	rv, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rv < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", s))
	}
	return rv, nil
}

// listPrefix is the key range prefix (below r.prefix) a list covers.
func (r *Resource) listPrefix(namespace string) string {
	if r.rc.Namespaced && namespace != "" {
		return namespace + "/"
	}
	return ""
}

// List returns the objects matching opts, with upstream's resourceVersion semantics:
//   - "" (most recent): etcd's current revision, served from the cache once it caught up;
//   - "0": whatever the cache holds;
//   - N (NotOlderThan, or no match without limit): the cache once it reached N, 504 "Too large
//     resource version" after FreshTimeout;
//   - N with Exact (or with a limit and no match), and continue tokens: that revision, from a
//     kept snapshot or from etcd; 410 Gone if compacted.
func (r *Resource) List(ctx context.Context, opts ListOptions) (*ListResult, error) {
	if err := r.s.waitReady(ctx); err != nil {
		return nil, err
	}
	m := newMatcher(opts.Namespace, opts.Label, opts.Field)
	if !r.rc.Namespaced {
		m.namespace = ""
	}
	lp := r.listPrefix(opts.Namespace)

	if opts.Continue != "" {
		start, rv, err := decodeContinue(opts.Continue)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if rv > 0 {
			if snap := r.keptSnapshot(rv); snap != nil {
				return r.listSnapshot(snap, m, lp, lp+start, opts.Limit), nil
			}
		}
		return r.listEtcd(ctx, m, lp, start, rv, opts.Limit, true)
	}

	rv, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	exact := opts.ResourceVersionMatch == string(metav1.ResourceVersionMatchExact) ||
		(opts.ResourceVersionMatch == "" && rv > 0 && opts.Limit > 0)
	switch {
	case opts.ResourceVersionMatch != "" && opts.ResourceVersionMatch != string(metav1.ResourceVersionMatchExact) &&
		opts.ResourceVersionMatch != string(metav1.ResourceVersionMatchNotOlderThan):
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown resourceVersionMatch %q", opts.ResourceVersionMatch))
	case exact:
		if rv == 0 {
			return nil, apierrors.NewBadRequest("resourceVersionMatch \"Exact\" requires a non-zero resourceVersion")
		}
		if snap := r.snapshot(); snap.rev == rv {
			return r.listSnapshot(snap, m, lp, lp, opts.Limit), nil
		}
		return r.listEtcd(ctx, m, lp, "", rv, opts.Limit, false)
	case opts.ResourceVersion == "":
		cur, ok, err := r.s.consistentRev(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return r.listEtcd(ctx, m, lp, "", cur, opts.Limit, false)
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
	return r.listSnapshot(r.snapshot(), m, lp, lp, opts.Limit), nil
}

// listSnapshot serves a page from a cache snapshot, starting at the key from (below r.prefix).
func (r *Resource) listSnapshot(snap *snapshot, m matcher, lp, from string, limit int64) *ListResult {
	res := &ListResult{ResourceVersion: snap.rev}
	var capHint int
	if limit > 0 && limit < 1024 {
		capHint = int(limit)
	} else if m.everything() && lp == "" {
		capHint = snap.tree.Len()
	}
	res.Entries = make([]*Entry, 0, capHint)
	var last string
	more := false
	var remaining int64
	iter := func(e *Entry) bool {
		if lp != "" && !strings.HasPrefix(e.Key, lp) {
			return false
		}
		if limit > 0 && int64(len(res.Entries)) >= limit {
			if !more {
				more = m.matches(e)
				if !more {
					return true
				}
				if !m.everything() {
					return false
				}
			}
			remaining++
			return true
		}
		if m.matches(e) {
			res.Entries = append(res.Entries, e)
			last = e.Key
		}
		return true
	}
	if lp != "" {
		snap.tree.AscendRange(&Entry{Key: from}, &Entry{Key: lp[:len(lp)-1] + "0"}, iter)
	} else {
		snap.tree.AscendGreaterOrEqual(&Entry{Key: from}, iter)
	}
	if more {
		res.Continue = encodeContinue(strings.TrimPrefix(last, lp)+"\x00", snap.rev)
		if m.everything() {
			res.RemainingItemCount = &remaining
		}
		r.keepSnapshot(snap)
	}
	return res
}

// keepSnapshot remembers snap so the next pages of a paginated list come from memory.
func (r *Resource) keepSnapshot(snap *snapshot) {
	now := r.s.cfg.Now()
	r.snapsMu.Lock()
	defer r.snapsMu.Unlock()
	for rev, k := range r.snaps {
		if now.After(k.expires) {
			delete(r.snaps, rev)
		}
	}
	r.snaps[snap.rev] = &keptSnapshot{snap: snap, expires: now.Add(r.s.cfg.SnapshotTTL)}
}

func (r *Resource) keptSnapshot(rev int64) *snapshot {
	r.snapsMu.Lock()
	defer r.snapsMu.Unlock()
	k := r.snaps[rev]
	if k == nil || r.s.cfg.Now().After(k.expires) {
		return nil
	}
	return k.snap
}

// listEtcd serves a page from etcd at revision rev (0 or negative: the latest), starting at
// the key start below the list prefix lp.
func (r *Resource) listEtcd(ctx context.Context, m matcher, lp, start string, rev, limit int64, paging bool) (*ListResult, error) {
	prefix := r.prefix + lp
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix + start
	if rev < 0 {
		rev = 0
	}
	res := &ListResult{}
	pageSize := int64(1000)
	if limit > 0 && limit < pageSize && m.everything() {
		pageSize = limit + 1
	}
	var lastKey string
	more := false
	for {
		ops := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev > 0 {
			ops = append(ops, clientv3.WithRev(rev))
		}
		resp, err := r.s.client.Get(ctx, from, ops...)
		if err != nil {
			switch {
			case isCompacted(err) && paging:
				st := apierrors.NewResourceExpired(inconsistentContinue)
				st.ErrStatus.ListMeta.Continue = encodeContinue(start, -1)
				return nil, st
			case isCompacted(err):
				return nil, apierrors.NewResourceExpired(listExpired)
			case isFutureRev(err):
				return nil, tooLargeRV(rev, r.s.rev.Load())
			}
			return nil, storageError(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key[len(r.prefix):])
			if limit > 0 && int64(len(res.Entries)) >= limit {
				more = true
				break
			}
			p, err := r.begin(key, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if !m.matches(p.e) {
				continue
			}
			e, err := r.finish(p)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			res.Entries = append(res.Entries, e)
			lastKey = key
		}
		if more || !resp.More || len(resp.Kvs) == 0 {
			break
		}
		if limit > 0 && int64(len(res.Entries)) >= limit {
			// The page is full and etcd has more keys: there is more unless none match, which
			// only the next read can tell; upstream answers with a continue token then too.
			more = true
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	res.ResourceVersion = rev
	if more {
		res.Continue = encodeContinue(strings.TrimPrefix(lastKey, lp)+"\x00", rev)
		if m.everything() {
			cr, err := r.s.client.Get(ctx, r.prefix+lastKey+"\x00", clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithCountOnly())
			if err == nil {
				n := cr.Count
				res.RemainingItemCount = &n
			}
		}
	}
	return res, nil
}
