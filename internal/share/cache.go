package share

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
)

// CacheEntry is a public MiMei kept only as a cache.
type CacheEntry struct {
	MiMei   mimei.ID
	Bytes   int64
	LastUse time.Time
}

func decodeCache(id mimei.ID, b []byte) (CacheEntry, error) {
	if len(b) != 16 {
		return CacheEntry{}, fmt.Errorf("share: corrupt cache entry of %s", id)
	}
	return CacheEntry{MiMei: id, Bytes: int64(binary.BigEndian.Uint64(b)), LastUse: time.UnixMilli(int64(binary.BigEndian.Uint64(b[8:]))).UTC()}, nil
}

func (s *Service) putCache(e CacheEntry) error {
	return s.kv.Set(cacheKey(e.MiMei), key(u64(uint64(e.Bytes)), u64(uint64(e.LastUse.UnixMilli()))))
}

// Cached lists the cache, least recently used first.
func (s *Service) Cached() ([]CacheEntry, error) {
	pre := []byte("sh/c/")
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []CacheEntry
	for it.Next() {
		var id mimei.ID
		copy(id[:], it.Key()[len(pre):])
		e, err := decodeCache(id, it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastUse.Before(out[j].LastUse) })
	return out, nil
}

// IsCached reports whether id is held only as a cache.
func (s *Service) IsCached(id mimei.ID) bool {
	ok, _ := s.kv.Has(cacheKey(id))
	return ok
}

// Touch marks a cached MiMei as used now (fetched or served).
func (s *Service) Touch(id mimei.ID) {
	b, err := s.kv.Get(cacheKey(id))
	if err != nil {
		return
	}
	if e, err := decodeCache(id, b); err == nil {
		e.LastUse = s.now()
		_ = s.putCache(e)
	}
}

// AddToCache records that a public MiMei we fetched without subscribing
// now holds n more bytes, then evicts least recently used cache entries
// until the cache fits its quota. It returns what was evicted.
func (s *Service) AddToCache(ctx context.Context, id mimei.ID, n int64) ([]mimei.ID, error) {
	e := CacheEntry{MiMei: id}
	if b, err := s.kv.Get(cacheKey(id)); err == nil {
		if e, err = decodeCache(id, b); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	e.Bytes += n
	e.LastUse = s.now()
	if err := s.putCache(e); err != nil {
		return nil, err
	}
	return s.EvictCache(ctx, id)
}

// EvictCache drops least recently used cache entries (never keep, if
// set) until the cache is within its quota, then collects the garbage.
func (s *Service) EvictCache(ctx context.Context, keep mimei.ID) ([]mimei.ID, error) {
	if s.cfg.CacheQuota <= 0 {
		return nil, nil
	}
	all, err := s.Cached()
	if err != nil {
		return nil, err
	}
	var total int64
	for _, e := range all {
		total += e.Bytes
	}
	var evicted []mimei.ID
	for _, e := range all {
		if total <= s.cfg.CacheQuota {
			break
		}
		if e.MiMei == keep {
			continue
		}
		if err := s.Forget(e.MiMei); err != nil {
			return evicted, err
		}
		total -= e.Bytes
		evicted = append(evicted, e.MiMei)
		s.event("share.evicted", map[string]any{"mimei": e.MiMei.String(), "bytes": e.Bytes})
	}
	if len(evicted) > 0 {
		if _, err := s.store.GC(ctx); err != nil {
			return evicted, fmt.Errorf("share: collect evicted cache: %w", err)
		}
	}
	return evicted, nil
}

// Forget deletes a replica and all sharing state about it (heads,
// membership, sealed index, cache entry, subscription); its blocks go at
// the next garbage collection.
func (s *Service) Forget(id mimei.ID) error {
	if err := s.store.Delete(id, true); err != nil && !errors.Is(err, mimei.ErrNotFound) {
		return err
	}
	heads, err := s.Heads(id)
	if err != nil {
		return err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	var errs []error
	for _, h := range heads {
		errs = append(errs, b.Delete(manifestRootKey(h.Manifest)))
	}
	for _, pre := range [][]byte{headPrefix(id), key([]byte("sh/m/"), id[:]), key([]byte("sh/p/"), id[:]), cacheKey(id), subKey(id),
		key([]byte("sh/k/"), id[:]), epochKey(id), accessPrefix(id), subscriberPrefix(id), offerKey(id)} {
		it := s.kv.Iter(kv.IterOptions{Prefix: pre})
		for it.Next() {
			errs = append(errs, b.Delete(bytes.Clone(it.Key())))
		}
		errs = append(errs, it.Close())
	}
	it := s.kv.Iter(kv.IterOptions{Prefix: []byte("sh/x/")})
	for it.Next() {
		if e, err := decodeSealedEntry(it.Value()); err == nil && e.id == id {
			errs = append(errs, b.Delete(bytes.Clone(it.Key())))
		}
	}
	errs = append(errs, it.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.Commit()
}

// MarkBlocks calls fn for the blocks the sharing state keeps in the block
// store besides versions: every manifest, every block held as-is, and the
// blocks of fetches under way (until their Receiver's Release). The node
// gives it to the MiMei store as MarkExtra, so GC keeps them.
func (s *Service) MarkBlocks(ctx context.Context, fn func(cid.CID) error) error {
	pre := []byte("sh/m/")
	var cs []cid.CID
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	for it.Next() {
		k := it.Key()[len(pre):]
		if len(k) <= mimei.IDLen {
			continue
		}
		c, err := cid.Cast(k[mimei.IDLen:])
		if err != nil {
			it.Close()
			return fmt.Errorf("share: corrupt membership entry: %w", err)
		}
		cs = append(cs, c)
	}
	if err := it.Close(); err != nil {
		return err
	}
	// Blocks of fetches under way: no version names them before Finish.
	s.mu.Lock()
	for r := range s.receivers {
		r.kept(func(c cid.CID) { cs = append(cs, c) })
	}
	s.mu.Unlock()
	for _, c := range cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
