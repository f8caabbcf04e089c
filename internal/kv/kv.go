// Package kv is the sorted key-value contract that Peer's storage layers
// (block store, MiMei databases, indexes) build on. It declares small role
// interfaces (Reader, Writer, Batch, Store, Snapshot, Iterator), the
// sentinel errors callers branch on, and the key and value rules every
// backend enforces.
//
// Backends live in subpackages: kv/pebblekv (on disk, Pebble) and kv/memkv
// (in memory, for tests and ephemeral data). Every backend passes the
// conformance suite in kv/kvtest.
//
// This is a leaf package (standard library only): any storage or domain
// package may import it. Packages should depend on the smallest interface
// they need (a Reader, a Writer) rather than on a backend.
//
// # Keys and values
//
// Keys are ordered bytewise (bytes.Compare). A key must be non-empty
// (ErrEmptyKey), at most MaxKeySize bytes (ErrKeyTooLarge), and must not
// begin with the byte 0x00 (ErrReservedKey): keys that start with 0x00 are
// reserved for the store's own metadata (such as its format marker) and are
// never visible through this API. Values may be empty and are at most
// MaxValueSize bytes (ErrValueTooLarge). A value stored as nil reads back as
// an empty, non-nil slice.
//
// Keys and values are copied on the way in and on the way out: a caller may
// reuse or modify a slice it passed in as soon as the call returns, and may
// modify a slice it got back without affecting the stored data.
//
// # Concurrency
//
// A Store and a Snapshot are safe for concurrent use by many goroutines. A
// Batch and an Iterator are not: each belongs to one goroutine at a time.
//
// # Closing
//
// After Store.Close every method of the store and of its outstanding
// snapshots reports ErrClosed; open iterators stop and report it from Err;
// batches fail to Commit with it. A committed or discarded batch likewise
// reports ErrClosed. Close methods are idempotent: calling one again returns
// nil (an iterator's Close returns its Err).
package kv

import (
	"bytes"
	"errors"
	"fmt"
)

// Size limits enforced by every backend.
const (
	// MaxKeySize is the largest key accepted, in bytes.
	MaxKeySize = 64 << 10 // 64 KiB
	// MaxValueSize is the largest value accepted, in bytes.
	MaxValueSize = 64 << 20 // 64 MiB
)

// ReservedPrefix is the first byte of the keys a store keeps for itself.
// User keys must not begin with it.
const ReservedPrefix byte = 0x00

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: the key is not in the store (or snapshot).
	ErrNotFound = errors.New("kv: key not found")
	// ErrClosed: the store, snapshot, batch or iterator was closed.
	ErrClosed = errors.New("kv: closed")
	// ErrEmptyKey: a key of length zero was given.
	ErrEmptyKey = errors.New("kv: empty key")
	// ErrKeyTooLarge: a key longer than MaxKeySize was given.
	ErrKeyTooLarge = errors.New("kv: key too large")
	// ErrValueTooLarge: a value longer than MaxValueSize was given.
	ErrValueTooLarge = errors.New("kv: value too large")
	// ErrReservedKey: a key beginning with ReservedPrefix was given.
	ErrReservedKey = errors.New("kv: key in reserved range (begins with 0x00)")
	// ErrUnsupportedFormat: the on-disk store has a format version this
	// build does not understand. The wrapping error names the version found.
	ErrUnsupportedFormat = errors.New("kv: unsupported store format")
)

// Reader reads keys.
type Reader interface {
	// Get returns a copy of the value stored under key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Has reports whether key is present.
	Has(key []byte) (bool, error)
	// Iter returns an iterator over the keys selected by opts, positioned
	// before the first of them. It never fails up front: problems (including
	// ErrClosed) are reported by the iterator's Err after Next returns false.
	// The caller must Close the iterator.
	Iter(opts IterOptions) Iterator
}

// IterOptions selects the keys an iterator visits.
//
// The selected keys are those that begin with Prefix AND lie in the
// half-open range [Start, End). Start and End are whole keys, not suffixes of
// Prefix; they only narrow the prefix range. A nil or empty Prefix, Start or
// End means "no constraint". If the range is empty (Start >= End, or the
// range lies outside the prefix) the iterator yields nothing. Reserved keys
// (those beginning with 0x00) are never visited.
//
// Keys are visited in ascending bytewise order, or descending when Reverse is
// set. To resume a forward scan after key k, use Start = append(k, 0); to
// resume a reverse scan before key k, use End = k.
type IterOptions struct {
	Prefix     []byte
	Start, End []byte
	Reverse    bool
}

// Bounds returns the effective half-open range [lower, upper) selected by o,
// combining Prefix, Start, End and the reserved range. A nil upper means
// unbounded. ok is false when the range is empty. Backends use it so that
// they all agree on the semantics.
func (o IterOptions) Bounds() (lower, upper []byte, ok bool) {
	lower = []byte{ReservedPrefix + 1} // smallest user key
	if len(o.Prefix) > 0 && bytes.Compare(o.Prefix, lower) > 0 {
		lower = o.Prefix
	}
	if len(o.Start) > 0 && bytes.Compare(o.Start, lower) > 0 {
		lower = o.Start
	}
	if len(o.Prefix) > 0 {
		upper = PrefixEnd(o.Prefix)
	}
	if len(o.End) > 0 && (upper == nil || bytes.Compare(o.End, upper) < 0) {
		upper = o.End
	}
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil, nil, false
	}
	return bytes.Clone(lower), bytes.Clone(upper), true
}

// PrefixEnd returns the smallest key greater than every key that begins with
// prefix, or nil if there is none (prefix is empty or all 0xff bytes).
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for len(end) > 0 {
		if end[len(end)-1] != 0xff {
			end[len(end)-1]++
			return end
		}
		end = end[:len(end)-1]
	}
	return nil
}

// Iterator walks keys in order. It reads a consistent, point-in-time view of
// the data taken when it was created: writes made afterwards are not seen.
//
//	it := r.Iter(kv.IterOptions{Prefix: p})
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator interface {
	// Next advances to the next key (the first on the first call) and
	// reports whether there is one.
	Next() bool
	// Key returns the current key. The slice is owned by the iterator and
	// valid only until the next call to Next or Close; copy it to keep it.
	// Modifying it does not affect the store.
	Key() []byte
	// Value returns the current value, under the same rules as Key.
	Value() []byte
	// Err returns the error that stopped iteration, or nil if it simply ran
	// out of keys.
	Err() error
	// Close releases the iterator and returns Err. It is idempotent.
	Close() error
}

// Writer changes keys.
type Writer interface {
	// Set stores value under key, replacing any previous value.
	Set(key, value []byte) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(key []byte) error
}

// Batch collects writes and applies them atomically. Set and Delete check
// their arguments immediately and return the same errors as the store's
// methods; nothing is visible until Commit.
type Batch interface {
	Writer
	// Len returns the number of Set and Delete operations recorded.
	Len() int
	// Commit applies every operation, in order, atomically: after a crash
	// or an error either all of them are in the store or none is. Commit
	// ends the batch; it is durable when it returns unless the backend was
	// configured otherwise (see its sync policy).
	Commit() error
	// Discard drops the batch without applying it. Calling Discard after
	// Commit is a no-op, so `defer b.Discard()` is safe.
	Discard()
}

// Store is a sorted key-value store.
type Store interface {
	Reader
	Writer
	// NewBatch starts an atomic batch of writes. Using the batch after
	// Commit or Discard returns ErrClosed.
	NewBatch() Batch
	// Snapshot returns a consistent read view of the store as of now.
	// The caller must Close it.
	Snapshot() (Snapshot, error)
	// Sync makes every write that has returned durable.
	Sync() error
	// Close makes pending writes durable and releases the store. It also closes any snapshots
	// and iterators still open. It is idempotent.
	Close() error
}

// Snapshot is a consistent, read-only view of a store at one moment: writes
// made after it was taken are invisible to it. Closing a snapshot also
// closes the iterators opened on it.
type Snapshot interface {
	Reader
	Close() error
}

// CheckKey validates a key against the rules in the package comment.
func CheckKey(key []byte) error {
	switch {
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: %d bytes (max %d)", ErrKeyTooLarge, len(key), MaxKeySize)
	case key[0] == ReservedPrefix:
		return ErrReservedKey
	}
	return nil
}

// CheckValue validates a value's size.
func CheckValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrValueTooLarge, len(value), MaxValueSize)
	}
	return nil
}
