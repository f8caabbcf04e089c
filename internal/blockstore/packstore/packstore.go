// Package packstore is Peer's local block store: blocks are appended to
// pack files under <dir>/packs/ and located through an index kept in a
// kv.Store (normally the node's Pebble store). docs/formats-blocks.md
// specifies the pack and index formats.
//
// Only the composition root (node), maintenance commands and tests should
// import it; everything else takes a blockstore.Getter, Putter or Store.
//
// # Sync policy
//
// Put appends the record to the active pack (small blocks through an
// in-memory buffer, large ones straight to the file) and stages its index
// entry in memory; no fsync and no index write happen per Put. A staged
// block is readable at once. Flush writes the buffer, fsyncs the pack
// file, then commits every staged index entry (and the per-pack counters)
// in one kv batch and syncs the index. A block is durable once a Flush that
// started after its Put returns. The store also flushes by itself when
// Options.AutoFlushBytes (default 64 MiB) are staged, before rolling over to
// a new pack, before Delete, and on Close. A crash loses at most the blocks
// put since the last flush; it never leaves an index entry pointing at
// unsynced bytes, because index entries are committed only after the pack
// bytes they name are fsynced.
//
// # Crash recovery
//
// Each pack's committed length ("end") is kept in the index with its
// counters. On Open, bytes of a pack past its committed end (records
// appended but never indexed) are truncated away, and a pack file with no
// counters in the index (created, or copied into, but never committed) is
// removed. The highest intact pack becomes the active pack again.
//
// # Deletion and compaction
//
// Delete removes index entries and moves their record bytes to the pack's
// dead counter. Compact rewrites every pack whose dead bytes exceed
// Options.CompactThreshold (default 30%) of its records, or that holds no
// live block: it copies the live records into the active pack, flushes
// (fsync, then the index switches to the new locations in one batch),
// deletes the old pack's counters from the index, and only then removes the
// old file. A crash at any step loses no live block: before the index
// commit the old locations are still authoritative and the copies are an
// uncommitted tail; after it the old pack is merely dead space that the
// next Compact (or Open, once its counters are gone) removes.
//
// # Concurrency
//
// A Store is safe for concurrent use. Reads use ReadAt on shared file
// handles and never wait for fsyncs unless they read a block still in the
// write buffer. Writers (Put, Flush, Delete, compaction's copies) are
// serialised.
package packstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/fsutil"
	"github.com/peer-node/peer/internal/kv"
)

// Options configures a Store. The zero value is a sensible default.
type Options struct {
	// MaxPackSize is the size at which the active pack is closed and a new
	// one started; 0 means 256 MiB.
	MaxPackSize int64
	// AutoFlushBytes bounds the bytes put but not yet flushed; reaching it
	// triggers a Flush. 0 means 64 MiB.
	AutoFlushBytes int64
	// CompactThreshold is the fraction of dead bytes at which Compact
	// always rewrites a pack; 0 means 0.3.
	CompactThreshold float64
	// MaxDeadFraction is the share of disk use that dead bytes may keep
	// after Compact: if packs below CompactThreshold together hold more,
	// Compact rewrites the deadest of them too. 0 means 0.05, so that
	// deleting data and compacting returns disk use to within a few percent
	// of what live data needs.
	MaxDeadFraction float64
	// Space, when set, is asked before every Put for the room its record
	// takes (a diskspace.Guard): a refusal is returned as it is and nothing
	// is written. Compaction asks it how much is free before rewriting a
	// pack, but may use the reserve.
	Space Space
	// Logger receives notes about recovery and compaction; nil discards them.
	Logger *slog.Logger
}

// Space is the disk-space budget a Store keeps to (diskspace.Guard).
type Space interface {
	// Check asks for n bytes of new data: nil, or an error wrapping
	// diskspace.ErrDiskFull.
	Check(n int64) error
	// Free is the space free now, reserve included.
	Free() int64
}

const (
	defaultMaxPackSize  = 256 << 20
	defaultAutoFlush    = 64 << 20
	defaultThreshold    = 0.3
	defaultDeadFraction = 0.05

	writeBufSize  = 1 << 20   // buffer for small records
	directWriteAt = 128 << 10 // blocks at least this large bypass the buffer
)

// Store is the pack-file block store. Create it with Open.
type Store struct {
	dir   string // <dir>/packs
	index kv.Store
	opts  Options
	log   *slog.Logger

	// wmu serialises writers. The fields below it are guarded by it.
	wmu          sync.Mutex
	activeID     uint32
	activeF      *os.File
	activeEnd    int64 // logical end of the active pack, buffered bytes included
	buf          []byte
	nextID       uint32
	pendingBytes int64
	broken       error // a failed fsync leaves the active pack unusable until reopened

	// written is how much of the active pack has been handed to the OS.
	written atomic.Int64
	// kicked is how much of the active pack has been handed to the disk
	// for early write-back (see startWriteback); guarded by wmu.
	kicked int64
	// flushGen counts index commits by flushes.
	flushGen atomic.Uint64

	// smu guards staged and stats (written under wmu as well).
	smu    sync.RWMutex
	staged map[cid.CID]stagedEntry
	stats  map[uint32]packStats

	// fmu guards files; readers hold it shared across ReadAt.
	fmu   sync.RWMutex
	files map[uint32]*os.File

	cmu    sync.Mutex // one Compact or Verify at a time
	closed atomic.Bool

	// filter is the presence filter (filter.go); building, guarded by wmu,
	// is the one being built, which Puts also add to.
	filter   atomic.Pointer[bloom]
	building *bloom
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup

	hook func(step string) error // tests: called between compaction steps
}

type stagedEntry struct {
	loc  location
	from *location // set when compaction moves a block: its old place
}

var (
	_ blockstore.Store     = (*Store)(nil)
	_ blockstore.Verifier  = (*Store)(nil)
	_ blockstore.Compacter = (*Store)(nil)
)

// errPackGone: a pack vanished between locating a block and reading it
// (compaction removed it); the caller looks the block up again.
var errPackGone = errors.New("pack removed")

func recordLen(c cid.CID, dataLen int) int64 {
	return int64(recordFixedSize + c.ByteLen() + dataLen)
}

// Open opens (creating if needed) the block store in dir, with its index in
// index. The index is not closed by Store.Close; the caller owns it. The
// index may be a kv.Store shared with other users, provided nothing else
// (and no other packstore.Store) writes keys beginning with "blk".
//
// Open recovers from a crash as the package comment describes. It fails with
// an error wrapping blockstore.ErrUnsupportedFormat if a pack file or the
// index carries a format version this build does not read.
func Open(dir string, index kv.Store, opts Options) (*Store, error) {
	if opts.MaxPackSize <= 0 {
		opts.MaxPackSize = defaultMaxPackSize
	}
	if opts.AutoFlushBytes <= 0 {
		opts.AutoFlushBytes = defaultAutoFlush
	}
	if opts.CompactThreshold <= 0 || opts.CompactThreshold > 1 {
		opts.CompactThreshold = defaultThreshold
	}
	if opts.MaxDeadFraction <= 0 || opts.MaxDeadFraction > 1 {
		opts.MaxDeadFraction = defaultDeadFraction
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		dir:    filepath.Join(dir, "packs"),
		index:  index,
		opts:   opts,
		log:    log,
		buf:    make([]byte, 0, writeBufSize),
		staged: make(map[cid.CID]stagedEntry),
		stats:  make(map[uint32]packStats),
		files:  make(map[uint32]*os.File),
	}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	var blocks int64
	for _, st := range s.stats {
		blocks += int64(st.count)
	}
	s.wmu.Lock()
	s.startFilterBuildLocked(2 * blocks)
	s.wmu.Unlock()
	return s, nil
}

func (s *Store) open() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	switch v, err := s.index.Get(formatKey); {
	case errors.Is(err, kv.ErrNotFound):
		if err := s.index.Set(formatKey, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("packstore: read index format: %w", err)
	case string(v) != strconv.Itoa(FormatVersion):
		return fmt.Errorf("%w: block index format %q (this build reads %d)", blockstore.ErrUnsupportedFormat, v, FormatVersion)
	}

	it := s.index.Iter(kv.IterOptions{Prefix: packPrefix})
	for it.Next() {
		k := it.Key()
		if len(k) != len(packPrefix)+4 {
			it.Close()
			return fmt.Errorf("%w: bad pack key %x", blockstore.ErrUnsupportedFormat, k)
		}
		st, err := decodePackStats(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		id := uint32(k[len(packPrefix)])<<24 | uint32(k[len(packPrefix)+1])<<16 | uint32(k[len(packPrefix)+2])<<8 | uint32(k[len(packPrefix)+3])
		s.stats[id] = st
		s.nextID = max(s.nextID, id+1)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("packstore: read pack counters: %w", err)
	}

	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var ids []uint32
	for _, e := range ents {
		name := e.Name()
		num, ok := strings.CutSuffix(name, ".pack")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			continue
		}
		id := uint32(n)
		s.nextID = max(s.nextID, id+1)
		path := filepath.Join(s.dir, name)
		st, ok := s.stats[id]
		if !ok {
			// Created (or copied into) but never committed: nothing
			// indexed points into it.
			s.log.Info("packstore: removing uncommitted pack", "pack", name)
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		s.files[id] = f
		hdr := make([]byte, packHeaderSize)
		if _, err := f.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("packstore: read %s: %w", path, err)
		} else if err == nil {
			if err := checkPackHeader(hdr, path); err != nil {
				return err
			}
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() > st.end {
			s.log.Info("packstore: truncating unindexed tail", "pack", name, "from", fi.Size(), "to", st.end)
			if err := f.Truncate(st.end); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
		}
		if fi.Size() >= st.end && st.end >= packHeaderSize {
			ids = append(ids, id)
		} else {
			s.log.Warn("packstore: pack shorter than its committed length; its blocks will fail verification", "pack", name, "size", fi.Size(), "committed", st.end)
		}
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return err
	}
	slices.Sort(ids)
	if n := len(ids); n > 0 && ids[n-1] == s.nextID-1 && s.stats[ids[n-1]].end < s.opts.MaxPackSize {
		id := ids[n-1]
		s.activeID, s.activeF, s.activeEnd = id, s.files[id], s.stats[id].end
		s.written.Store(s.activeEnd)
		return nil
	}
	if err := s.rollLocked(); err != nil {
		if !errors.Is(err, diskspace.ErrDiskFull) {
			return err
		}
		// No room (or a read-only index) for a new pack: serve reads;
		// every write gets this error until the store is reopened.
		s.log.Warn("packstore: no room for a new pack; blocks can be read, not written", "err", err)
		s.broken = err
	}
	return nil
}

// rollLocked starts a new, empty active pack. Anything staged must have
// been flushed. Called with wmu held (or during Open).
func (s *Store) rollLocked() error {
	id := s.nextID
	path := filepath.Join(s.dir, packName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("packstore: create pack: %w", err)
	}
	if _, err := f.Write(encodePackHeader()); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fsutil.SyncDir(s.dir)
	}
	st := packStats{end: packHeaderSize}
	if err == nil {
		err = s.index.Set(packKey(id), st.encode())
	}
	if err == nil {
		err = s.index.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("packstore: create pack %s: %w", path, err)
	}
	s.nextID = id + 1
	s.fmu.Lock()
	s.files[id] = f
	s.fmu.Unlock()
	s.smu.Lock()
	s.stats[id] = st
	s.smu.Unlock()
	s.activeID, s.activeF, s.activeEnd = id, f, packHeaderSize
	s.written.Store(packHeaderSize)
	return nil
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return blockstore.ErrClosed
	}
	return nil
}

// locate finds where c is: staged entries first, then the index.
func (s *Store) locate(c cid.CID) (loc location, staged bool, err error) {
	s.smu.RLock()
	e, ok := s.staged[c]
	s.smu.RUnlock()
	if ok {
		return e.loc, true, nil
	}
	v, err := s.index.Get(blockKey(c))
	if errors.Is(err, kv.ErrNotFound) {
		return loc, false, blockstore.NotFound(c)
	}
	if err != nil {
		if errors.Is(err, kv.ErrClosed) {
			return loc, false, blockstore.ErrClosed
		}
		return loc, false, fmt.Errorf("packstore: index lookup %s: %w", c, err)
	}
	loc, err = decodeLocation(v)
	return loc, false, err
}

// Get returns the block c, verified against its hash.
func (s *Store) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	return s.get(ctx, c, true)
}

// GetUnverified is Get without re-hashing the block (its record header is
// still checked): for readers that verify what they receive anyway, such
// as the block exchange, whose client checks every block.
func (s *Store) GetUnverified(ctx context.Context, c cid.CID) ([]byte, error) {
	return s.get(ctx, c, false)
}

// AppendUnverified is GetUnverified appending the block to dst (growing
// it if needed) instead of allocating, for readers that reuse buffers
// (the block exchange server through the sharing engine).
func (s *Store) AppendUnverified(ctx context.Context, c cid.CID, dst []byte) ([]byte, error) {
	if dst == nil {
		dst = []byte{}
	}
	return s.get(ctx, c, false, dst)
}

func (s *Store) get(ctx context.Context, c cid.CID, verify bool, dst ...[]byte) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		loc, staged, err := s.locate(c)
		if err != nil {
			return nil, err
		}
		var data []byte
		if len(dst) > 0 {
			data, err = s.readAppend(c, loc, staged, dst[0])
		} else {
			data, _, err = s.readKind(c, loc, staged, verify)
		}
		if errors.Is(err, errPackGone) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return data, nil
	}
}

// read reads and checks the record of c at loc.
func (s *Store) read(c cid.CID, loc location, staged bool) ([]byte, error) {
	data, _, err := s.readKind(c, loc, staged, true)
	return data, err
}

// readKind is read that also classifies a failure for Verify (the kind is
// meaningful only when err wraps cid.ErrIntegrity).
func (s *Store) readKind(c cid.CID, loc location, staged, verify bool) ([]byte, blockstore.ProblemKind, error) {
	rl := recordLen(c, loc.dataLen)
	if staged && loc.off+rl > s.written.Load() {
		s.wmu.Lock()
		err := s.writeBufLocked()
		s.wmu.Unlock()
		if err != nil {
			return nil, "", err
		}
	}
	buf := make([]byte, rl)
	s.fmu.RLock()
	f := s.files[loc.pack]
	var n int
	var err error
	if f != nil {
		n, err = f.ReadAt(buf, loc.off)
	}
	s.fmu.RUnlock()
	switch {
	case f == nil:
		if s.closed.Load() {
			return nil, "", blockstore.ErrClosed
		}
		return nil, blockstore.Missing, fmt.Errorf("%w: block %s: pack %s is missing (%w)", cid.ErrIntegrity, c, packName(loc.pack), errPackGone)
	case errors.Is(err, io.EOF) || (err == nil && n < len(buf)):
		return nil, blockstore.Missing, fmt.Errorf("%w: block %s: data missing: pack %s ends before offset %d", cid.ErrIntegrity, c, packName(loc.pack), loc.off+rl)
	case err != nil:
		if s.closed.Load() {
			return nil, "", blockstore.ErrClosed
		}
		return nil, blockstore.Unreadable, fmt.Errorf("packstore: read block %s: %w", c, err)
	}
	h, err := DecodeRecordHeader(buf)
	if err != nil || h.CID != c || h.DataLen != loc.dataLen {
		return nil, blockstore.Unreadable, fmt.Errorf("%w: block %s: no matching record at %s offset %d (%v)", cid.ErrIntegrity, c, packName(loc.pack), loc.off, err)
	}
	data := buf[h.Len:]
	if !verify {
		return data, "", nil
	}
	if err := cid.Verify(c, data); err != nil {
		return nil, blockstore.Corrupt, err
	}
	return data, "", nil
}

// readAppend reads the record of c at loc like readKind without
// verifying, appending the block to dst: the record header is read on its
// own, the data straight into dst.
func (s *Store) readAppend(c cid.CID, loc location, staged bool, dst []byte) ([]byte, error) {
	rl := recordLen(c, loc.dataLen)
	hl := rl - int64(loc.dataLen)
	if staged && loc.off+rl > s.written.Load() {
		s.wmu.Lock()
		err := s.writeBufLocked()
		s.wmu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	var hbuf [128]byte
	if hl > int64(len(hbuf)) {
		return nil, fmt.Errorf("%w: block %s: record header of %d bytes", cid.ErrIntegrity, c, hl)
	}
	start := len(dst)
	dst = slices.Grow(dst, loc.dataLen)[:start+loc.dataLen]
	s.fmu.RLock()
	f := s.files[loc.pack]
	var n, m int
	var err error
	if f != nil {
		n, err = f.ReadAt(hbuf[:hl], loc.off)
		if err == nil {
			m, err = f.ReadAt(dst[start:], loc.off+hl)
		}
	}
	s.fmu.RUnlock()
	switch {
	case f == nil:
		if s.closed.Load() {
			return nil, blockstore.ErrClosed
		}
		return nil, fmt.Errorf("%w: block %s: pack %s is missing (%w)", cid.ErrIntegrity, c, packName(loc.pack), errPackGone)
	case errors.Is(err, io.EOF) || (err == nil && (int64(n) < hl || m < loc.dataLen)):
		return nil, fmt.Errorf("%w: block %s: data missing: pack %s ends before offset %d", cid.ErrIntegrity, c, packName(loc.pack), loc.off+rl)
	case err != nil:
		if s.closed.Load() {
			return nil, blockstore.ErrClosed
		}
		return nil, fmt.Errorf("packstore: read block %s: %w", c, err)
	}
	h, err := DecodeRecordHeader(hbuf[:hl])
	if err != nil || h.CID != c || h.DataLen != loc.dataLen || int64(h.Len) != hl {
		return nil, fmt.Errorf("%w: block %s: no matching record at %s offset %d (%v)", cid.ErrIntegrity, c, packName(loc.pack), loc.off, err)
	}
	return dst, nil
}

// Has reports whether c is stored (staged or indexed).
func (s *Store) Has(ctx context.Context, c cid.CID) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if s.filterAbsent(c) {
		s.smu.RLock()
		_, staged := s.staged[c]
		s.smu.RUnlock()
		if !staged {
			return false, nil
		}
	}
	_, _, err := s.locate(c)
	if blockstore.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Size returns the length of block c.
func (s *Store) Size(ctx context.Context, c cid.CID) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	loc, _, err := s.locate(c)
	if err != nil {
		return 0, err
	}
	return loc.dataLen, nil
}

// Put appends the block to the active pack and stages its index entry; see
// the package comment for when it becomes durable.
func (s *Store) Put(ctx context.Context, c cid.CID, data []byte) error {
	if err := blockstore.CheckPut(c, data); err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	gen := s.flushGen.Load()
	if ok, err := s.Has(ctx, c); err != nil || ok {
		return err
	}
	if s.opts.Space != nil {
		if err := s.opts.Space.Check(recordLen(c, len(data))); err != nil {
			return err
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	// Re-check under the writer lock: another Put may have staged c since,
	// or staged and committed it (only a flush adds index entries, so the
	// index needs a second look only if one happened).
	s.smu.RLock()
	_, staged := s.staged[c]
	s.smu.RUnlock()
	if staged {
		return nil
	}
	if s.flushGen.Load() != gen {
		if _, _, err := s.locate(c); !blockstore.IsNotFound(err) {
			return err
		}
	}
	return s.appendLocked(c, data, nil)
}

func (s *Store) writable() error {
	if s.closed.Load() {
		return blockstore.ErrClosed
	}
	return s.broken
}

// appendLocked writes the record of (c, data) at the end of the active pack
// and stages its index entry. from is the old location when compaction
// moves a block. data is not retained.
func (s *Store) appendLocked(c cid.CID, data []byte, from *location) error {
	rl := recordLen(c, len(data))
	if s.activeEnd+rl > s.opts.MaxPackSize && s.activeEnd > packHeaderSize {
		if err := s.flushLocked(); err != nil {
			return err
		}
		if err := s.rollLocked(); err != nil {
			return err
		}
	}
	loc := location{pack: s.activeID, off: s.activeEnd, dataLen: len(data)}
	if from == nil {
		s.filterAddLocked(c)
	}
	s.buf = appendRecordHeader(s.buf, c.Bytes(), len(data))
	var err error
	if len(data) < directWriteAt && len(s.buf)+len(data) <= cap(s.buf) {
		s.buf = append(s.buf, data...)
	} else if err = s.writeBufLocked(); err == nil {
		err = s.writeLocked(data)
	}
	if err == nil && len(s.buf) >= writeBufSize/2 {
		err = s.writeBufLocked()
	}
	if err != nil {
		s.unappendLocked(loc.off)
		return err
	}
	s.activeEnd += rl
	s.pendingBytes += rl
	s.smu.Lock()
	s.staged[c] = stagedEntry{loc: loc, from: from}
	s.smu.Unlock()
	if s.pendingBytes >= s.opts.AutoFlushBytes {
		return s.flushLocked()
	}
	return nil
}

// unappendLocked takes back a record whose write failed: the pack and
// the buffer end at off again (the record's start), as if it had never
// been appended. Records before off are untouched: those written stay,
// those still buffered stay buffered.
func (s *Store) unappendLocked(off int64) {
	if w := s.written.Load(); w > off {
		s.buf = s.buf[:0]
		s.written.Store(off)
	} else {
		s.buf = s.buf[:off-w]
	}
	// A partial write may have grown the file past what is accounted;
	// the next write overwrites it, and Open truncates any such tail.
	_ = s.activeF.Truncate(s.written.Load())
}

// writeLocked writes p at the end of what the active pack holds. A failure
// leaves the accounting as it was (the caller takes back what it had
// buffered); no space left on the device is reported as diskspace's
// ErrDiskFull and the store stays usable.
func (s *Store) writeLocked(p []byte) error {
	off := s.written.Load()
	if _, err := s.activeF.WriteAt(p, off); err != nil {
		_ = s.activeF.Truncate(off)
		return diskspace.NoSpace(fmt.Errorf("packstore: write %s: %w", packName(s.activeID), err))
	}
	end := off + int64(len(p))
	s.written.Store(end)
	if end < s.kicked {
		s.kicked = 0 // a new pack
	}
	if end-s.kicked >= writebackChunk {
		// Start writing what has accumulated now, so the fsync at the next
		// Flush finds little left to do and puts do not stall behind it.
		startWriteback(s.activeF, s.kicked, end-s.kicked)
		s.kicked = end
	}
	return nil
}

// writebackChunk is how much unsynced pack data starts an early write-back.
const writebackChunk = 8 << 20

func (s *Store) writeBufLocked() error {
	if len(s.buf) == 0 || s.activeF == nil {
		return nil
	}
	if err := s.writeLocked(s.buf); err != nil {
		return err
	}
	s.buf = s.buf[:0]
	return nil
}

// Flush makes every block put so far durable.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	return s.flushLocked()
}

// flushLocked: write the buffer, fsync the active pack, then commit the
// staged entries and the counters in one batch and sync the index.
func (s *Store) flushLocked() error {
	if len(s.staged) == 0 && len(s.buf) == 0 {
		return nil
	}
	if err := s.writeBufLocked(); err != nil {
		return err
	}
	if err := s.activeF.Sync(); err != nil {
		s.broken = fmt.Errorf("packstore: sync %s: %w (reopen the store to recover)", packName(s.activeID), err)
		return s.broken
	}
	s.smu.RLock()
	newStats := map[uint32]packStats{s.activeID: s.stats[s.activeID]}
	b := s.index.NewBatch()
	defer b.Discard()
	var err error
	for c, e := range s.staged {
		rl := recordLen(c, e.loc.dataLen)
		if err = b.Set(blockKey(c), e.loc.encode()); err != nil {
			break
		}
		st := newStats[e.loc.pack]
		st.count++
		st.liveRec += rl
		st.liveData += int64(e.loc.dataLen)
		newStats[e.loc.pack] = st
		if e.from != nil {
			src, ok := newStats[e.from.pack]
			if !ok {
				src = s.stats[e.from.pack]
			}
			src.count--
			src.liveRec -= rl
			src.liveData -= int64(e.loc.dataLen)
			src.deadBytes += rl
			newStats[e.from.pack] = src
		}
	}
	s.smu.RUnlock()
	act := newStats[s.activeID]
	act.end = s.activeEnd
	newStats[s.activeID] = act
	for id, st := range newStats {
		if err == nil {
			err = b.Set(packKey(id), st.encode())
		}
	}
	if err == nil {
		err = b.Commit()
	}
	if err == nil {
		err = s.index.Sync()
	}
	if err != nil {
		// The pack bytes are synced but unindexed. Keep the staged entries
		// readable and try the commit again at the next flush (if the
		// process ends first, they are a dead tail, truncated on the next
		// Open).
		return diskspace.NoSpace(fmt.Errorf("packstore: commit index: %w", err))
	}
	s.smu.Lock()
	for id, st := range newStats {
		s.stats[id] = st
	}
	clear(s.staged)
	s.smu.Unlock()
	s.flushGen.Add(1)
	s.pendingBytes = 0
	return nil
}

// Delete removes blocks from the index and counts their records as dead.
// It flushes staged blocks first.
func (s *Store) Delete(ctx context.Context, cs ...cid.CID) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := s.flushLocked(); err != nil {
		return err
	}
	newStats := make(map[uint32]packStats)
	b := s.index.NewBatch()
	defer b.Discard()
	seen := make(map[cid.CID]bool, len(cs))
	for _, c := range cs {
		if seen[c] || !c.Defined() {
			continue
		}
		seen[c] = true
		loc, _, err := s.locate(c)
		if blockstore.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := b.Delete(blockKey(c)); err != nil {
			return err
		}
		st, ok := newStats[loc.pack]
		if !ok {
			s.smu.RLock()
			st = s.stats[loc.pack]
			s.smu.RUnlock()
		}
		rl := recordLen(c, loc.dataLen)
		st.count--
		st.liveRec -= rl
		st.liveData -= int64(loc.dataLen)
		st.deadBytes += rl
		newStats[loc.pack] = st
	}
	if b.Len() == 0 {
		return nil
	}
	for id, st := range newStats {
		if err := b.Set(packKey(id), st.encode()); err != nil {
			return err
		}
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("packstore: delete: %w", err)
	}
	if err := s.index.Sync(); err != nil {
		return fmt.Errorf("packstore: delete: %w", err)
	}
	s.smu.Lock()
	for id, st := range newStats {
		s.stats[id] = st
	}
	s.smu.Unlock()
	return nil
}

// Enumerate calls fn for every block: staged ones, then those in a
// point-in-time view of the index.
func (s *Store) Enumerate(ctx context.Context, fn func(c cid.CID, size int) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.smu.RLock()
	staged := make(map[cid.CID]int, len(s.staged))
	for c, e := range s.staged {
		staged[c] = e.loc.dataLen
	}
	s.smu.RUnlock()
	for c, n := range staged {
		if err := fn(c, n); err != nil {
			return err
		}
	}
	return s.walkIndex(ctx, func(c cid.CID, loc location) error {
		if _, ok := staged[c]; ok {
			return nil
		}
		return fn(c, loc.dataLen)
	})
}

// walkIndex calls fn for every indexed block.
func (s *Store) walkIndex(ctx context.Context, fn func(c cid.CID, loc location) error) error {
	it := s.index.Iter(kv.IterOptions{Prefix: blockPrefix})
	defer it.Close()
	for it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := cid.Cast(it.Key()[len(blockPrefix):])
		if err != nil {
			return fmt.Errorf("packstore: index key %x: %w", it.Key(), err)
		}
		loc, err := decodeLocation(it.Value())
		if err != nil {
			return err
		}
		if err := fn(c, loc); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		if errors.Is(err, kv.ErrClosed) {
			return blockstore.ErrClosed
		}
		return fmt.Errorf("packstore: walk index: %w", err)
	}
	return nil
}

// Stats reports committed counters, pending writes and real file sizes.
func (s *Store) Stats(ctx context.Context) (blockstore.Stats, error) {
	var st blockstore.Stats
	if err := s.check(ctx); err != nil {
		return st, err
	}
	s.smu.RLock()
	for _, p := range s.stats {
		st.Blocks += p.count
		st.LiveBytes += p.liveData
		st.OverheadBytes += p.liveRec - p.liveData + packHeaderSize
		st.DeadBytes += p.deadBytes - p.punched
	}
	st.PendingBlocks = len(s.staged)
	for c, e := range s.staged {
		st.PendingBytes += recordLen(c, e.loc.dataLen)
		if e.from == nil {
			st.Blocks++
			st.LiveBytes += int64(e.loc.dataLen)
		}
	}
	s.smu.RUnlock()
	var err error
	st.DiskBytes, st.Packs, err = s.diskUsage()
	return st, err
}

// diskUsage sums the sizes of the pack files, less the holes punched in them.
func (s *Store) diskUsage() (int64, int, error) {
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	var n int64
	for _, f := range s.files {
		fi, err := f.Stat()
		if err != nil {
			return 0, 0, err
		}
		n += fi.Size()
	}
	s.smu.RLock()
	for _, st := range s.stats {
		n -= st.punched
	}
	s.smu.RUnlock()
	return n, len(s.files), nil
}

// Close flushes, then closes the pack files. It does not close the index.
func (s *Store) Close() error {
	s.stopBackground()
	s.cmu.Lock() // let a running Compact or Verify stop first
	defer s.cmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil
	}
	var err error
	if s.broken != nil && (len(s.staged) > 0 || len(s.buf) > 0) {
		err = s.broken // blocks put since the last flush are lost; say so
	} else if s.broken == nil {
		err = s.flushLocked()
	}
	s.closed.Store(true)
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) closeFiles() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var err error
	for id, f := range s.files {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		delete(s.files, id)
	}
	return err
}
