package packstore

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/peer-node/peer/internal/cid"
)

// The presence filter: a Bloom filter over every CID in the index, so that
// Put and Has learn that a new block is absent without an index lookup.
// Storing many small files is otherwise dominated by one Pebble Get per
// block, nearly all of them for blocks that are not there.
//
// A CID is added before its entry is staged, so every block in the store
// (staged or indexed) is in the filter: "not in the filter" is certain,
// "in the filter" is checked in the index. Deleted blocks leave their bits
// set, which only costs lookups; when the filter has taken more adds than it
// was sized for it is rebuilt from the index at double the size.
//
// Building walks the block index, in the background after Open. Until a
// filter is complete Has asks the index as before.

// filterBitsPerEntry sizes the filter: with 4 probes, 16 bits per entry
// gives about 0.2% false positives at capacity.
const (
	filterBitsPerEntry = 16
	filterProbes       = 4
)

// filterMinEntries is the smallest capacity (128 KiB of bits); tests lower
// it to force rebuilds.
var filterMinEntries int64 = 1 << 16

type bloom struct {
	words []atomic.Uint64
	mask  uint64 // bits-1; the bit count is a power of two
	cap   int64  // entries it was sized for
	adds  atomic.Int64
	ready atomic.Bool // every indexed CID has been added
}

var filterSeed = maphash.MakeSeed()

func newBloom(entries int64) *bloom {
	entries = max(entries, filterMinEntries)
	bits := uint64(64)
	for bits < uint64(entries)*filterBitsPerEntry {
		bits <<= 1
	}
	return &bloom{words: make([]atomic.Uint64, bits/64), mask: bits - 1, cap: entries}
}

func filterHash(c cid.CID) (h1, h2 uint64) {
	h := maphash.Bytes(filterSeed, c.Bytes())
	return h, h>>29 | 1
}

func (b *bloom) add(c cid.CID) {
	h1, h2 := filterHash(c)
	for i := range uint64(filterProbes) {
		bit := (h1 + i*h2) & b.mask
		w := &b.words[bit/64]
		m := uint64(1) << (bit % 64)
		if w.Load()&m == 0 {
			w.Or(m)
		}
	}
	b.adds.Add(1)
}

func (b *bloom) mayHave(c cid.CID) bool {
	h1, h2 := filterHash(c)
	for i := range uint64(filterProbes) {
		bit := (h1 + i*h2) & b.mask
		if b.words[bit/64].Load()&(uint64(1)<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// full reports whether the filter has taken more adds than it was sized for.
func (b *bloom) full() bool { return b.adds.Load() > b.cap }

// filterAbsent reports whether c is certainly not stored. Called by Has.
func (s *Store) filterAbsent(c cid.CID) bool {
	f := s.filter.Load()
	return f != nil && f.ready.Load() && !f.mayHave(c)
}

// filterAddLocked records c in the current filter (and in the one being
// built, if any) before c is staged. Called with wmu held.
func (s *Store) filterAddLocked(c cid.CID) {
	// Start a rebuild first, so that c (not yet staged) is added to the new
	// filter below rather than missed by it.
	f := s.filter.Load()
	if f != nil && f.ready.Load() && f.full() && s.building == nil && !s.closed.Load() {
		s.startFilterBuildLocked(2 * f.cap)
	}
	if f != nil {
		f.add(c)
	}
	if s.building != nil && s.building != f {
		s.building.add(c)
	}
}

// startFilterBuildLocked starts building a filter for entries CIDs in the
// background. Called with wmu held: every CID staged from now on is added
// by filterAddLocked, every CID staged before is added here, and every CID
// committed before the walk begins is found by the walk, so the new filter
// misses nothing.
func (s *Store) startFilterBuildLocked(entries int64) {
	b := newBloom(entries)
	s.smu.RLock()
	for c := range s.staged {
		b.add(c)
	}
	s.smu.RUnlock()
	s.building = b
	if s.filter.Load() == nil {
		s.filter.Store(b) // not ready: Has ignores it until the walk ends
	}
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		err := s.walkIndex(s.bgCtx, func(c cid.CID, _ location) error {
			b.add(c)
			return nil
		})
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.building == b {
			s.building = nil
		}
		if err != nil {
			if s.bgCtx.Err() == nil {
				s.log.Warn("block presence filter not built; lookups go to the index", "err", err)
			}
			return
		}
		b.ready.Store(true)
		s.filter.Store(b)
	}()
}

// stopBackground cancels a filter build and waits for it.
func (s *Store) stopBackground() {
	s.bgCancel()
	s.bgWG.Wait()
}
