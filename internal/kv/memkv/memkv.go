// Package memkv is an in-memory kv.Store: a sorted slice searched by binary
// search, with copy-on-write sharing for snapshots and iterators.
//
// It is meant for tests, fakes and small ephemeral data: writes cost O(n)
// (an insertion into a slice) and the first write after a snapshot or
// iterator is taken copies the index (O(n) again). Nothing is persisted.
//
// Any package may import it; production code normally gets a kv.Store from
// the composition root instead.
package memkv

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/peer-node/peer/internal/kv"
)

type entry struct {
	key, value []byte // owned by the store; never modified once stored
}

// Store is an in-memory kv.Store. The zero value is not usable; call New.
type Store struct {
	closed atomic.Bool

	mu      sync.RWMutex
	entries []entry // sorted by key
	// shared is set when a snapshot or iterator holds entries; the next
	// write then copies the slice instead of modifying it in place.
	shared bool
}

var _ kv.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{} }

// search returns the index of the first entry with key >= k and whether it
// is an exact match.
func search(entries []entry, k []byte) (int, bool) {
	return slices.BinarySearchFunc(entries, k, func(e entry, k []byte) int {
		return bytes.Compare(e.key, k)
	})
}

func get(entries []entry, key []byte) ([]byte, error) {
	if err := kv.CheckKey(key); err != nil {
		return nil, err
	}
	i, ok := search(entries, key)
	if !ok {
		return nil, kv.ErrNotFound
	}
	return append([]byte{}, entries[i].value...), nil
}

func has(entries []entry, key []byte) (bool, error) {
	if err := kv.CheckKey(key); err != nil {
		return false, err
	}
	_, ok := search(entries, key)
	return ok, nil
}

// Get implements kv.Reader.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, kv.ErrClosed
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return get(s.entries, key)
}

// Has implements kv.Reader.
func (s *Store) Has(key []byte) (bool, error) {
	if s.closed.Load() {
		return false, kv.ErrClosed
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return has(s.entries, key)
}

// view returns the current entries and marks them shared, so that later
// writes leave them untouched.
func (s *Store) view() []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = true
	return s.entries
}

// Iter implements kv.Reader.
func (s *Store) Iter(opts kv.IterOptions) kv.Iterator {
	if s.closed.Load() {
		return &iterator{err: kv.ErrClosed, done: true}
	}
	return newIterator(s.view(), opts, s.closed.Load)
}

// Set implements kv.Writer.
func (s *Store) Set(key, value []byte) error {
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	if err := kv.CheckValue(value); err != nil {
		return err
	}
	return s.apply([]op{{key: bytes.Clone(key), value: append([]byte{}, value...)}})
}

// Delete implements kv.Writer.
func (s *Store) Delete(key []byte) error {
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	return s.apply([]op{{key: bytes.Clone(key), del: true}})
}

type op struct {
	key, value []byte // already copied
	del        bool
}

// apply performs ops, in order, under one lock hold, so readers see all of
// them or none.
func (s *Store) apply(ops []op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return kv.ErrClosed
	}
	if s.shared {
		s.entries = slices.Clip(slices.Clone(s.entries))
		s.shared = false
	}
	for _, o := range ops {
		i, found := search(s.entries, o.key)
		switch {
		case o.del && found:
			s.entries = slices.Delete(s.entries, i, i+1)
		case o.del:
		case found:
			s.entries[i].value = o.value
		default:
			s.entries = slices.Insert(s.entries, i, entry{key: o.key, value: o.value})
		}
	}
	return nil
}

// NewBatch implements kv.Store.
func (s *Store) NewBatch() kv.Batch { return &batch{s: s} }

// Snapshot implements kv.Store.
func (s *Store) Snapshot() (kv.Snapshot, error) {
	if s.closed.Load() {
		return nil, kv.ErrClosed
	}
	return &snapshot{s: s, entries: s.view()}, nil
}

// Sync implements kv.Store. Nothing is persisted, so it only checks that
// the store is open.
func (s *Store) Sync() error {
	if s.closed.Load() {
		return kv.ErrClosed
	}
	return nil
}

// Close implements kv.Store: it drops the data.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed.Store(true)
	s.entries = nil
	return nil
}

type batch struct {
	s    *Store
	ops  []op
	done bool
}

func (b *batch) Set(key, value []byte) error {
	if b.done {
		return kv.ErrClosed
	}
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	if err := kv.CheckValue(value); err != nil {
		return err
	}
	b.ops = append(b.ops, op{key: bytes.Clone(key), value: append([]byte{}, value...)})
	return nil
}

func (b *batch) Delete(key []byte) error {
	if b.done {
		return kv.ErrClosed
	}
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	b.ops = append(b.ops, op{key: bytes.Clone(key), del: true})
	return nil
}

func (b *batch) Len() int { return len(b.ops) }

func (b *batch) Commit() error {
	if b.done {
		return kv.ErrClosed
	}
	b.done = true
	ops := b.ops
	b.ops = nil
	return b.s.apply(ops)
}

func (b *batch) Discard() {
	b.done = true
	b.ops = nil
}

type snapshot struct {
	s       *Store
	entries []entry // immutable view
	closed  atomic.Bool
}

func (sn *snapshot) isClosed() bool { return sn.closed.Load() || sn.s.closed.Load() }

func (sn *snapshot) Get(key []byte) ([]byte, error) {
	if sn.isClosed() {
		return nil, kv.ErrClosed
	}
	return get(sn.entries, key)
}

func (sn *snapshot) Has(key []byte) (bool, error) {
	if sn.isClosed() {
		return false, kv.ErrClosed
	}
	return has(sn.entries, key)
}

func (sn *snapshot) Iter(opts kv.IterOptions) kv.Iterator {
	if sn.isClosed() {
		return &iterator{err: kv.ErrClosed, done: true}
	}
	return newIterator(sn.entries, opts, sn.isClosed)
}

func (sn *snapshot) Close() error {
	sn.closed.Store(true)
	return nil
}

// iterator walks entries[lo:hi] of an immutable view.
type iterator struct {
	entries  []entry
	lo, hi   int
	reverse  bool
	pos      int // index of the current entry; meaningful once started
	started  bool
	done     bool
	err      error
	closed   func() bool // reports whether the owner was closed
	key, val []byte      // caller-visible copies of the current entry
	valOK    bool        // val holds the current value
}

func newIterator(entries []entry, opts kv.IterOptions, closed func() bool) *iterator {
	it := &iterator{entries: entries, reverse: opts.Reverse, closed: closed}
	lower, upper, ok := opts.Bounds()
	if !ok {
		it.done = true
		return it
	}
	it.lo, _ = search(entries, lower)
	it.hi = len(entries)
	if upper != nil {
		it.hi, _ = search(entries, upper)
	}
	return it
}

func (it *iterator) Next() bool {
	if it.done {
		return false
	}
	if it.closed() {
		it.stop(kv.ErrClosed)
		return false
	}
	switch {
	case !it.started && it.reverse:
		it.pos = it.hi - 1
	case !it.started:
		it.pos = it.lo
	case it.reverse:
		it.pos--
	default:
		it.pos++
	}
	it.started = true
	if it.pos < it.lo || it.pos >= it.hi {
		it.stop(nil)
		return false
	}
	it.key = append(it.key[:0], it.entries[it.pos].key...)
	it.valOK = false
	return true
}

func (it *iterator) stop(err error) {
	it.done = true
	it.err = err
	it.key, it.val, it.entries = nil, nil, nil
}

func (it *iterator) Key() []byte {
	if it.done || !it.started {
		return nil
	}
	return it.key
}

func (it *iterator) Value() []byte {
	if it.done || !it.started {
		return nil
	}
	if !it.valOK {
		v := it.entries[it.pos].value
		if it.val == nil {
			it.val = make([]byte, 0, len(v))
		}
		it.val = append(it.val[:0], v...)
		it.valOK = true
	}
	return it.val
}

func (it *iterator) Err() error { return it.err }

func (it *iterator) Close() error {
	if !it.done {
		var err error
		if it.closed() {
			err = kv.ErrClosed
		}
		it.stop(err)
	}
	return it.err
}
