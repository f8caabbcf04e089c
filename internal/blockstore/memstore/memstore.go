// Package memstore is an in-memory blockstore.Store, for tests and ephemeral
// data. It copies blocks in and out and, like every backend, verifies each
// block against its CID on Get, so tests can corrupt a block and observe the
// integrity error. Nothing survives Close; Flush is a no-op.
//
// Any package may import it (it depends only on blockstore and cid); the
// node uses it only where data need not persist.
package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
)

// Store is a map-based block store, safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	blocks map[cid.CID][]byte
	bytes  int64
	closed bool
}

var (
	_ blockstore.Store    = (*Store)(nil)
	_ blockstore.Verifier = (*Store)(nil)
)

// New returns an empty store.
func New() *Store { return &Store{blocks: make(map[cid.CID][]byte)} }

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return blockstore.ErrClosed
	}
	return nil
}

// Get returns a copy of the block, verified against c.
func (s *Store) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	s.mu.RLock()
	if err := s.check(ctx); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	b, ok := s.blocks[c]
	var out []byte
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, blockstore.NotFound(c)
	}
	if err := cid.Verify(c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Put stores a copy of data under c unless c is already present.
func (s *Store) Put(ctx context.Context, c cid.CID, data []byte) error {
	if err := blockstore.CheckPut(c, data); err != nil {
		return err
	}
	s.mu.RLock()
	_, have := s.blocks[c]
	err := s.check(ctx)
	s.mu.RUnlock()
	if err != nil || have {
		return err
	}
	b := make([]byte, len(data))
	copy(b, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, have := s.blocks[c]; !have {
		s.blocks[c] = b
		s.bytes += int64(len(b))
	}
	return nil
}

// Has reports whether c is stored.
func (s *Store) Has(ctx context.Context, c cid.CID) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return false, err
	}
	_, ok := s.blocks[c]
	return ok, nil
}

// Size returns the length of block c.
func (s *Store) Size(ctx context.Context, c cid.CID) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	b, ok := s.blocks[c]
	if !ok {
		return 0, blockstore.NotFound(c)
	}
	return len(b), nil
}

// Delete removes blocks; missing ones are ignored.
func (s *Store) Delete(ctx context.Context, cs ...cid.CID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	for _, c := range cs {
		if b, ok := s.blocks[c]; ok {
			s.bytes -= int64(len(b))
			delete(s.blocks, c)
		}
	}
	return nil
}

// Enumerate calls fn for every block, over a snapshot of the key set taken
// at the start.
func (s *Store) Enumerate(ctx context.Context, fn func(c cid.CID, size int) error) error {
	type item struct {
		c cid.CID
		n int
	}
	s.mu.RLock()
	if err := s.check(ctx); err != nil {
		s.mu.RUnlock()
		return err
	}
	items := make([]item, 0, len(s.blocks))
	for c, b := range s.blocks {
		items = append(items, item{c, len(b)})
	}
	s.mu.RUnlock()
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(it.c, it.n); err != nil {
			return err
		}
	}
	return nil
}

// Flush does nothing: a memory store has nothing to make durable.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.check(ctx)
}

// Stats reports the number of blocks and their bytes.
func (s *Store) Stats(ctx context.Context) (blockstore.Stats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return blockstore.Stats{}, err
	}
	return blockstore.Stats{Blocks: int64(len(s.blocks)), LiveBytes: s.bytes}, nil
}

// Verify re-hashes every block.
func (s *Store) Verify(ctx context.Context, progress func(done, total int)) (blockstore.VerifyReport, error) {
	var rep blockstore.VerifyReport
	s.mu.RLock()
	if err := s.check(ctx); err != nil {
		s.mu.RUnlock()
		return rep, err
	}
	cs := make([]cid.CID, 0, len(s.blocks))
	for c := range s.blocks {
		cs = append(cs, c)
	}
	s.mu.RUnlock()
	for i, c := range cs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		data, err := s.Get(ctx, c)
		switch {
		case err == nil:
			rep.Checked++
			rep.Bytes += int64(len(data))
		case blockstore.IsIntegrity(err):
			rep.Checked++
			rep.Problems = append(rep.Problems, blockstore.Problem{CID: c, Kind: blockstore.Corrupt, Err: err.Error()})
		case blockstore.IsNotFound(err):
			// Deleted while we walked: not a problem.
		default:
			return rep, fmt.Errorf("verify %s: %w", c, err)
		}
		if progress != nil {
			progress(i+1, len(cs))
		}
	}
	return rep, nil
}

// Close drops every block. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.blocks = nil
	s.bytes = 0
	return nil
}
