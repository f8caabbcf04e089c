package mimeidb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/peer-node/peer/internal/kv"
)

// DB is a writable database living under a key prefix of a kv.Store. It is
// safe for concurrent use. Open a given prefix through one DB only: the
// transaction bookkeeping lives in memory.
//
// Single commands hold an exclusive commit lock while they run (reads take
// a shared one), so each applies atomically, in one kv batch. Update runs
// optimistic transactions: see its comment.
type DB struct {
	store  kv.Store
	prefix []byte

	mu      sync.RWMutex
	seq     uint64            // commits so far (guarded by mu)
	lastMod map[string]uint64 // user key -> seq of its last commit, kept while other transactions run (mu)
	starts  map[uint64]int    // start seq of each Update transaction in flight -> how many (mu)
	active  int               // Update transactions in flight (mu)
	pruneAt int               // size of lastMod at which ending transactions prune it (mu)
	nextID  atomic.Uint64
}

// View is a read-only database over any kv.Reader, typically a snapshot of
// a frozen version. All read commands work on it; writes fail with
// ErrReadOnly. Its typed methods are those of the embedded Tx. Unlike a
// Tx, a View is safe for concurrent use if its reader is.
type View struct {
	*Tx
}

func checkPrefix(prefix []byte) error {
	if len(prefix) > MaxPrefixLen {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrBadPrefix, len(prefix), MaxPrefixLen)
	}
	if len(prefix) > 0 && prefix[0] == kv.ReservedPrefix {
		return fmt.Errorf("%w: begins with the reserved byte 0x00", ErrBadPrefix)
	}
	return nil
}

// readVersion returns the format version stored under prefix, or 0 if none.
func readVersion(r kv.Reader, prefix []byte) (int, error) {
	v, err := r.Get(append(bytes.Clone(prefix), tagVersion))
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n != FormatVersion {
		return 0, fmt.Errorf("%w: %q (this build reads %d)", ErrUnsupportedVersion, v, FormatVersion)
	}
	return n, nil
}

// Open opens (creating if needed) the database under prefix in store. The
// prefix must not begin with 0x00 and should not be a prefix of another
// database's prefix (use fixed-length or terminated prefixes).
func Open(store kv.Store, prefix []byte) (*DB, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	prefix = bytes.Clone(prefix)
	v, err := readVersion(store, prefix)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		if err := store.Set(append(bytes.Clone(prefix), tagVersion), []byte(strconv.Itoa(FormatVersion))); err != nil {
			return nil, err
		}
	}
	db := &DB{store: store, prefix: prefix, lastMod: map[string]uint64{}, starts: map[uint64]int{}, pruneAt: minPrune}
	c, err := store.Get(append(bytes.Clone(prefix), tagCounter))
	switch {
	case errors.Is(err, kv.ErrNotFound):
		db.nextID.Store(1)
	case err != nil:
		return nil, err
	case len(c) != 8:
		return nil, corrupt("bad id counter")
	default:
		db.nextID.Store(binary.BigEndian.Uint64(c))
	}
	return db, nil
}

// OpenReadOnly returns a read-only view of the database under prefix in r
// (a store or a snapshot of one). A prefix holding no database reads as an
// empty one.
func OpenReadOnly(r kv.Reader, prefix []byte) (*View, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if _, err := readVersion(r, prefix); err != nil {
		return nil, err
	}
	return &View{newTx(nil, bytes.Clone(prefix), r, true)}, nil
}

// Prefix returns the key prefix the database lives under.
func (db *DB) Prefix() []byte { return bytes.Clone(db.prefix) }

func (db *DB) allocID() uint64 { return db.nextID.Add(1) - 1 }

// read runs fn on a read-only Tx over the live store.
func (db *DB) read(fn func(t *Tx) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	t := newTx(db, db.prefix, db.store, true)
	defer func() { t.done = true }()
	return fn(t)
}

// write runs fn under the commit lock and commits its writes atomically,
// or none of them if fn fails.
func (db *DB) write(fn func(t *Tx) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	t := newTx(db, db.prefix, db.store, false)
	defer func() { t.done = true }()
	if err := fn(t); err != nil {
		return err
	}
	return db.commitLocked(t)
}

func (db *DB) commitLocked(t *Tx) error {
	if len(t.w) == 0 {
		return nil
	}
	b := db.store.NewBatch()
	defer b.Discard()
	for k, op := range t.w {
		var err error
		if op.del {
			err = b.Delete([]byte(k))
		} else {
			err = b.Set([]byte(k), op.val)
		}
		if err != nil {
			return err
		}
	}
	if t.newIDs {
		if err := b.Set(t.sub(tagCounter), u64(db.nextID.Load())); err != nil {
			return err
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	db.seq++
	others := db.active
	if t.tracking {
		others-- // the committing transaction checks nothing after this
	}
	if others > 0 {
		for k := range t.written {
			db.lastMod[k] = db.seq
		}
	} else {
		db.resetLastModLocked()
	}
	return nil
}

// minPrune is the size of lastMod below which ending transactions do not
// prune it.
const minPrune = 4096

// resetLastModLocked forgets every key's last commit (no transaction is
// left to check them), giving a large map's memory back.
func (db *DB) resetLastModLocked() {
	if len(db.lastMod) > minPrune {
		db.lastMod = map[string]uint64{}
	} else {
		clear(db.lastMod)
	}
	db.pruneAt = minPrune
}

// endTxLocked: the Update transaction that started at start has ended.
// Commits older than every transaction still running can conflict with
// none of them: once lastMod has grown past pruneAt, they are dropped.
func (db *DB) endTxLocked(start uint64) {
	if db.starts[start]--; db.starts[start] <= 0 {
		delete(db.starts, start)
	}
	db.active--
	if db.active == 0 {
		db.resetLastModLocked()
		return
	}
	if len(db.lastMod) < db.pruneAt {
		return
	}
	oldest := uint64(math.MaxUint64)
	for s := range db.starts {
		oldest = min(oldest, s)
	}
	for k, seq := range db.lastMod {
		if seq <= oldest {
			delete(db.lastMod, k)
		}
	}
	db.pruneAt = max(minPrune, 2*len(db.lastMod))
}

// Update runs fn as an optimistic transaction. fn sees a consistent
// snapshot of the database as of the start plus its own writes; nothing is
// visible to others until fn returns nil and the commit succeeds. The
// commit fails with ErrConflict, applying nothing, if another commit changed
// any key fn read (SCAN inside a transaction counts as reading every key).
// If fn returns an error nothing is applied and Update returns it.
//
// fn may be run on a snapshot that is already stale, so it must not have
// side effects other than through tx; retry with UpdateRetry.
func (db *DB) Update(fn func(tx *Tx) error) error {
	db.mu.Lock()
	snap, err := db.store.Snapshot()
	start := db.seq
	db.starts[start]++
	db.active++
	db.mu.Unlock()
	defer func() {
		db.mu.Lock()
		db.endTxLocked(start)
		db.mu.Unlock()
	}()
	if err != nil {
		return err
	}
	defer snap.Close()
	t := newTx(db, db.prefix, snap, false)
	t.tracking = true
	err = fn(t)
	t.done = true
	if err != nil {
		return err
	}
	if len(t.w) == 0 {
		return nil // read-only transaction: its reads were one snapshot
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if t.scanned && db.seq != start {
		return fmt.Errorf("%w: keyspace scanned and changed", ErrConflict)
	}
	for k := range t.reads {
		if db.lastMod[k] > start {
			return fmt.Errorf("%w: key %q changed", ErrConflict, k)
		}
	}
	return db.commitLocked(t)
}

// UpdateRetry runs Update up to attempts times while it fails with
// ErrConflict.
func (db *DB) UpdateRetry(attempts int, fn func(tx *Tx) error) error {
	var err error
	for i := 0; i < max(attempts, 1); i++ {
		if err = db.Update(fn); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// View runs fn on a read-only Tx over a consistent snapshot.
func (db *DB) View(fn func(tx *Tx) error) error {
	snap, err := db.store.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	t := newTx(db, db.prefix, snap, true)
	defer func() { t.done = true }()
	return fn(t)
}
