// Package pebblekv is the on-disk kv.Store, built on the Pebble LSM engine
// (github.com/cockroachdb/pebble/v2). It is the store Peer's node uses for
// indexes and databases.
//
// Only the composition root (and tests and tools) should import it; other
// packages take a kv.Store, kv.Reader or kv.Writer.
//
// # Sync policy
//
// By default every write is durable when it returns: Set, Delete and
// Batch.Commit wait for the write-ahead log to be fsynced (pebble.Sync), so a
// power cut never loses an acknowledged write. With Options.NoSync set they
// return once the write is in the log buffer; a crash can then lose the most
// recent writes (never corrupt older ones, and never split a batch) until
// Store.Sync or Store.Close makes them durable. Batches amortise the fsync:
// prefer one batch of many writes to many single writes.
//
// # On-disk format
//
// The store keeps its own metadata under keys beginning with 0x00, which the
// kv contract reserves. At creation it writes the format marker
// "\x00meta/format" holding FormatVersion in decimal; Open refuses a store
// whose marker holds another version, or a non-empty Pebble database without
// a marker, with kv.ErrUnsupportedFormat.
//
// # Resources
//
// The defaults suit a small device such as a Raspberry Pi: a 32 MiB block
// cache, 4 MiB memtables (at most two queued), one compaction at a time and
// at most 256 open table files. Pebble's own log messages go to
// Options.Logger (nil: discarded); nothing is printed to stdout or stderr.
package pebblekv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/peer-node/peer/internal/kv"
)

// FormatVersion is the store format this build writes and reads.
const FormatVersion = 1

// formatKey holds the store format version, in decimal.
var formatKey = []byte("\x00meta/format")

// ErrLocked is returned (wrapped) by Open when the directory is already open
// in another Store instance, in this process or another one.
var ErrLocked = errors.New("pebblekv: store directory is in use")

// Options configures a Store. The zero value is a sensible default.
type Options struct {
	// CacheSize is the block cache size in bytes; 0 means 32 MiB.
	CacheSize int64
	// NoSync makes writes return before they are fsynced; see the package
	// comment for what that risks.
	NoSync bool
	// Logger receives Pebble's log messages (informational ones at Debug
	// level). Nil discards them.
	Logger *slog.Logger
	// ReadOnly, when set, opens the store without writing anything (no
	// flush, no new files: what a full disk allows); every write returns
	// this error. A new store cannot be opened read-only.
	ReadOnly error
}

const (
	defaultCacheSize = 32 << 20
	memTableSize     = 4 << 20
	maxOpenFiles     = 256
)

// Store is a kv.Store backed by a Pebble database in one directory.
type Store struct {
	dir   string
	db    *pebble.DB
	lock  *pebble.Lock
	wopts *pebble.WriteOptions
	roErr error // opened read-only: what writes return

	// mu guards closed and the use of db: every operation that touches db
	// holds it for reading; Close holds it for writing, so it never closes
	// db under a running operation.
	mu     sync.RWMutex
	closed bool

	// trackMu guards the sets of open iterators and snapshots, which Close
	// (and Snapshot.Close) must close before the database goes away.
	trackMu sync.Mutex
	iters   map[*iterator]struct{}
	snaps   map[*snapshot]struct{}
}

var _ kv.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory (mode 0700) and an
// empty store if needed. Only one Store may have a directory open at a
// time; a second Open fails with an error wrapping ErrLocked.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("pebblekv: empty directory name")
	}
	// Pebble's in-process lock table is keyed by path name, so give it one
	// canonical name per directory.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pebblekv: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("pebblekv: create store directory: %w", err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("pebblekv: %w", err)
	}
	lock, err := pebble.LockDirectory(abs, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is already open (by this or another process): %v", ErrLocked, abs, err)
	}

	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = defaultCacheSize
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference

	po := &pebble.Options{
		Cache:                       cache,
		Lock:                        lock,
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: 2,
		MaxOpenFiles:                maxOpenFiles,
		// Pin the engine format so that a library upgrade never silently
		// ratchets the on-disk format; raise it deliberately.
		FormatMajorVersion: pebble.FormatValueSeparation,
		Logger:             logger{opts.Logger},
		ReadOnly:           opts.ReadOnly != nil,
	}
	db, err := pebble.Open(abs, po)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("pebblekv: open %s: %w", abs, err)
	}
	s := &Store{
		dir:   abs,
		db:    db,
		lock:  lock,
		wopts: pebble.Sync,
		iters: map[*iterator]struct{}{},
		snaps: map[*snapshot]struct{}{},
		roErr: opts.ReadOnly,
	}
	if opts.NoSync {
		s.wopts = pebble.NoSync
	}
	if err := s.checkFormat(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkFormat verifies the format marker, writing it into a new store.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(formatKey)
	switch {
	case err == nil:
		found := string(v)
		closer.Close()
		if found != strconv.Itoa(FormatVersion) {
			return fmt.Errorf("pebblekv: %s: %w: version %q (this build reads version %d)",
				s.dir, kv.ErrUnsupportedFormat, found, FormatVersion)
		}
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("pebblekv: %s: read format marker: %w", s.dir, err)
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("pebblekv: %s: %w", s.dir, err)
	}
	empty := !it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("pebblekv: %s: %w", s.dir, err)
	}
	if !empty {
		return fmt.Errorf("pebblekv: %s: %w: no format marker in a non-empty database",
			s.dir, kv.ErrUnsupportedFormat)
	}
	if s.roErr != nil {
		return fmt.Errorf("pebblekv: %s: a new store cannot be opened read-only: %w", s.dir, s.roErr)
	}
	if err := s.db.Set(formatKey, []byte(strconv.Itoa(FormatVersion)), pebble.Sync); err != nil {
		return fmt.Errorf("pebblekv: %s: write format marker: %w", s.dir, err)
	}
	return nil
}

// Dir returns the store's directory (absolute, symlinks resolved).
func (s *Store) Dir() string { return s.dir }

// getter is what Store and snapshot reads share.
type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func get(g getter, key []byte) ([]byte, error) {
	if err := kv.CheckKey(key); err != nil {
		return nil, err
	}
	v, closer, err := g.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append(make([]byte, 0, len(v)), v...)
	return out, closer.Close()
}

func has(g getter, key []byte) (bool, error) {
	if err := kv.CheckKey(key); err != nil {
		return false, err
	}
	_, closer, err := g.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// Get implements kv.Reader.
func (s *Store) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, kv.ErrClosed
	}
	return get(s.db, key)
}

// Has implements kv.Reader.
func (s *Store) Has(key []byte) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, kv.ErrClosed
	}
	return has(s.db, key)
}

// Iter implements kv.Reader.
func (s *Store) Iter(opts kv.IterOptions) kv.Iterator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return &iterator{err: kv.ErrClosed, done: true}
	}
	return s.newIterator(nil, opts)
}

// newIterator opens an iterator on the database or on snap. The caller holds
// s.mu for reading (and snap.mu, if snap is not nil).
func (s *Store) newIterator(snap *snapshot, opts kv.IterOptions) kv.Iterator {
	lower, upper, ok := opts.Bounds()
	if !ok {
		return &iterator{done: true}
	}
	po := &pebble.IterOptions{LowerBound: lower, UpperBound: upper}
	var (
		pit *pebble.Iterator
		err error
	)
	if snap != nil {
		pit, err = snap.ps.NewIter(po)
	} else {
		pit, err = s.db.NewIter(po)
	}
	if err != nil {
		return &iterator{err: err, done: true}
	}
	it := &iterator{s: s, snap: snap, pit: pit, reverse: opts.Reverse}
	s.trackMu.Lock()
	s.iters[it] = struct{}{}
	s.trackMu.Unlock()
	return it
}

// Set implements kv.Writer.
func (s *Store) Set(key, value []byte) error {
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	if err := kv.CheckValue(value); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return kv.ErrClosed
	}
	if s.roErr != nil {
		return s.roErr
	}
	return s.db.Set(key, value, s.wopts)
}

// Delete implements kv.Writer.
func (s *Store) Delete(key []byte) error {
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return kv.ErrClosed
	}
	if s.roErr != nil {
		return s.roErr
	}
	return s.db.Delete(key, s.wopts)
}

// NewBatch implements kv.Store.
func (s *Store) NewBatch() kv.Batch {
	return &batch{s: s, pb: s.db.NewBatch()}
}

// Snapshot implements kv.Store.
func (s *Store) Snapshot() (kv.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, kv.ErrClosed
	}
	sn := &snapshot{s: s, ps: s.db.NewSnapshot()}
	s.trackMu.Lock()
	s.snaps[sn] = struct{}{}
	s.trackMu.Unlock()
	return sn, nil
}

// Sync implements kv.Store: it fsyncs the write-ahead log, making every
// write that has returned durable (only needed with Options.NoSync).
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return kv.ErrClosed
	}
	if s.roErr != nil {
		return nil // nothing was written
	}
	// An empty log record written with Sync forces an fsync of the log up to
	// and including every earlier write.
	return s.db.LogData(nil, pebble.Sync)
}

// Close implements kv.Store. It closes outstanding snapshots and iterators
// (they then report kv.ErrClosed), syncs the write-ahead log and releases the
// directory lock.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.trackMu.Lock()
	iters, snaps := s.iters, s.snaps
	s.iters, s.snaps = nil, nil
	s.trackMu.Unlock()
	for it := range iters {
		it.forceClose()
	}
	for sn := range snaps {
		sn.forceClose()
	}
	// Closing the log writer fsyncs it, so NoSync writes become durable too.
	err := s.db.Close()
	return errors.Join(err, s.lock.Close())
}

func (s *Store) untrackIter(it *iterator) {
	s.trackMu.Lock()
	delete(s.iters, it)
	s.trackMu.Unlock()
}

type batch struct {
	s    *Store
	pb   *pebble.Batch
	n    int
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
	b.n++
	return b.pb.Set(key, value, nil)
}

func (b *batch) Delete(key []byte) error {
	if b.done {
		return kv.ErrClosed
	}
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	b.n++
	return b.pb.Delete(key, nil)
}

func (b *batch) Len() int { return b.n }

func (b *batch) Commit() error {
	if b.done {
		return kv.ErrClosed
	}
	defer b.Discard()
	s := b.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return kv.ErrClosed
	}
	if b.n == 0 {
		return nil
	}
	if s.roErr != nil {
		return s.roErr
	}
	return s.db.Apply(b.pb, s.wopts)
}

func (b *batch) Discard() {
	if b.done {
		return
	}
	b.done = true
	b.pb.Close()
	b.pb = nil
}

type snapshot struct {
	s *Store
	// mu guards ps against Close while a read is using it: reads hold it
	// for reading, Close for writing. Lock order: Store.mu, snapshot.mu,
	// iterator.mu, Store.trackMu.
	mu     sync.RWMutex
	ps     *pebble.Snapshot
	closed bool
}

// begin locks the store and the snapshot for a read; it returns false (with
// nothing locked) if either is closed.
func (sn *snapshot) begin() bool {
	sn.s.mu.RLock()
	sn.mu.RLock()
	if sn.s.closed || sn.closed {
		sn.end()
		return false
	}
	return true
}

func (sn *snapshot) end() {
	sn.mu.RUnlock()
	sn.s.mu.RUnlock()
}

func (sn *snapshot) Get(key []byte) ([]byte, error) {
	if !sn.begin() {
		return nil, kv.ErrClosed
	}
	defer sn.end()
	return get(sn.ps, key)
}

func (sn *snapshot) Has(key []byte) (bool, error) {
	if !sn.begin() {
		return false, kv.ErrClosed
	}
	defer sn.end()
	return has(sn.ps, key)
}

func (sn *snapshot) Iter(opts kv.IterOptions) kv.Iterator {
	if !sn.begin() {
		return &iterator{err: kv.ErrClosed, done: true}
	}
	defer sn.end()
	return sn.s.newIterator(sn, opts)
}

func (sn *snapshot) Close() error {
	sn.s.mu.RLock()
	defer sn.s.mu.RUnlock()
	if sn.s.closed {
		return nil // Store.Close released it
	}
	sn.s.trackMu.Lock()
	delete(sn.s.snaps, sn)
	sn.s.trackMu.Unlock()
	return sn.forceClose()
}

// forceClose closes the snapshot's iterators and releases it. The caller
// holds Store.mu (for reading or writing).
func (sn *snapshot) forceClose() error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.closed {
		return nil
	}
	sn.closed = true
	var mine []*iterator
	sn.s.trackMu.Lock()
	for it := range sn.s.iters {
		if it.snap == sn {
			mine = append(mine, it)
			delete(sn.s.iters, it)
		}
	}
	sn.s.trackMu.Unlock()
	for _, it := range mine {
		it.forceClose()
	}
	return sn.ps.Close()
}

type iterator struct {
	s    *Store
	snap *snapshot

	// mu lets Store.Close and Snapshot.Close close the iterator while its
	// owner goroutine may be calling Next.
	mu       sync.Mutex
	pit      *pebble.Iterator
	reverse  bool
	started  bool
	done     bool
	err      error
	key, val []byte // caller-visible copies of the current entry
	valOK    bool
}

func (it *iterator) Next() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done {
		return false
	}
	var ok bool
	switch {
	case !it.started && it.reverse:
		ok = it.pit.Last()
	case !it.started:
		ok = it.pit.First()
	case it.reverse:
		ok = it.pit.Prev()
	default:
		ok = it.pit.Next()
	}
	it.started = true
	if !ok {
		it.release(it.pit.Error())
		return false
	}
	it.key = append(it.key[:0], it.pit.Key()...)
	it.valOK = false
	return true
}

func (it *iterator) Key() []byte {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done || !it.started {
		return nil
	}
	return it.key
}

func (it *iterator) Value() []byte {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done || !it.started {
		return nil
	}
	if !it.valOK {
		v, err := it.pit.ValueAndErr()
		if err != nil {
			it.release(err)
			return nil
		}
		if it.val == nil {
			it.val = make([]byte, 0, len(v))
		}
		it.val = append(it.val[:0], v...)
		it.valOK = true
	}
	return it.val
}

func (it *iterator) Err() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.err
}

func (it *iterator) Close() error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.done {
		it.release(nil)
		if it.s != nil {
			it.s.untrackIter(it)
		}
	}
	return it.err
}

// forceClose stops the iterator because its store or snapshot is closing.
// The caller has already removed it from the tracking set.
func (it *iterator) forceClose() {
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.done {
		it.release(kv.ErrClosed)
	}
}

// release closes the Pebble iterator and records err (keeping an earlier
// one). The caller holds it.mu.
func (it *iterator) release(err error) {
	it.done = true
	if it.pit != nil {
		err = errors.Join(err, it.pit.Close())
		it.pit = nil
	}
	if it.err == nil {
		it.err = err
	}
	it.key, it.val = nil, nil
}

// logger routes Pebble's log messages to slog (or nowhere).
type logger struct{ l *slog.Logger }

func (l logger) Infof(format string, args ...any) {
	if l.l != nil {
		l.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (l logger) Errorf(format string, args ...any) {
	if l.l != nil {
		l.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf is called by Pebble when it cannot continue (for example, a failed
// write-ahead log write). Pebble expects it not to return; panicking (rather
// than Pebble's default os.Exit) keeps the stack trace.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.l != nil {
		l.l.Log(context.Background(), slog.LevelError, msg, "component", "pebble", "fatal", true)
	}
	panic("pebble: " + msg)
}
