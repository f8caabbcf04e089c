package mimei

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// How much of a diff is listed (docs/api.md; the memory it costs is in
// docs/benchmarks.md). A diff always walks both sides to the end and counts
// every change; it lists only the first ones of each kind.
const (
	// DefaultDiffLimit is how many file changes and how many key changes
	// a diff lists when DiffOptions.Limit is 0.
	DefaultDiffLimit = 10_000
	// MaxDiffLimit is the most DiffOptions.Limit may ask for.
	MaxDiffLimit = 100_000
	// DiffMaxBytes bounds the key bytes listed, and separately the path
	// bytes (with a fixed allowance per change for the rest), so that a
	// limit of keys of up to 64 KiB each still makes a small answer.
	DiffMaxBytes = 16 << 20
)

// Rough sizes of what a listed change holds besides its key or path.
const (
	keyChangeOverhead  = 48
	fileChangeOverhead = 256
)

// DiffOptions tune DiffWith; the zero value lists up to DefaultDiffLimit
// changes of each kind.
type DiffOptions struct {
	// Limit is the most file changes and the most key changes listed (each
	// side its own): 0 means DefaultDiffLimit, more than MaxDiffLimit means
	// MaxDiffLimit.
	Limit int
}

func (o DiffOptions) limit() int {
	switch {
	case o.Limit <= 0:
		return DefaultDiffLimit
	case o.Limit > MaxDiffLimit:
		return MaxDiffLimit
	}
	return o.Limit
}

// KeyChange is one database key that differs between two versions.
type KeyChange struct {
	Key []byte
	Op  dirtree.Op
}

// Diff is what changed from one version to another: the first file changes
// in walk order and the first key changes in bytewise key order, and how
// many there are in all.
type Diff struct {
	Files []dirtree.Change
	Keys  []KeyChange
	// FileCount and KeyCount count every change, listed or not.
	FileCount, KeyCount int
	// FilesTruncated and KeysTruncated say that Files or Keys stop short
	// (at the limit or DiffMaxBytes): they hold the first changes only.
	FilesTruncated, KeysTruncated bool
}

// listBudget is what a diff may still list of one kind of change. Once a
// change does not fit, nothing more is listed, so what is listed is always
// the first changes.
type listBudget struct {
	n, bytes int
	full     bool
}

func (b *listBudget) take(size int) bool {
	if b.full || b.n == 0 || size > b.bytes {
		b.full = true
		return false
	}
	b.n--
	b.bytes -= size
	return true
}

// overlay reads from a scratch store first, then the real one: a diff
// against cur freezes cur's tree into scratch without touching the store.
type overlay struct {
	scratch *memstore.Store
	base    filetree.Getter
}

func (o overlay) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	if b, err := o.scratch.Get(ctx, c); err == nil {
		return b, nil
	}
	return o.base.Get(ctx, c)
}

// diffSide is one side of a diff: cur as seen by a snapshot, or a frozen
// version.
type diffSide struct {
	files cid.CID // root of the file tree (Undef: empty)
	db    cid.CID // a frozen version's database export (Undef: empty)
	cur   bool
}

func (s *Store) sideOf(ctx context.Context, snap kv.Reader, id ID, ref string, scratch *memstore.Store) (diffSide, error) {
	if isCur(ref) {
		files, err := s.freezeFiles(ctx, snap, id, scratch)
		return diffSide{files: files, cur: true}, err
	}
	v, _, err := s.Version(ctx, id, ref)
	if err != nil {
		return diffSide{}, err
	}
	return diffSide{files: v.Files, db: v.DB}, nil
}

// sameDB says whether two sides hold the same database without reading
// either: both cur (one snapshot), or the same frozen export.
func (a diffSide) sameDB(b diffSide) bool {
	return a.cur == b.cur && (a.cur || a.db == b.db)
}

// export returns a function writing side's database export to w.
func (s *Store) export(snap kv.Reader, id ID, side diffSide) func(context.Context, io.Writer) error {
	if side.cur {
		return func(ctx context.Context, w io.Writer) error {
			_, err := exportDB(snap, id, ctxWriter{ctx, w})
			return err
		}
	}
	return func(ctx context.Context, w io.Writer) error {
		r, err := s.openExport(ctx, side.db)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		return err
	}
}

// ctxWriter fails its writes once ctx is done, so that an export that
// does not look at a context (a cur database's) stops with its request.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Diff is DiffWith with the default options.
func (s *Store) Diff(ctx context.Context, id ID, from, to string) (Diff, error) {
	return s.DiffWith(ctx, id, from, to, DiffOptions{})
}

// DiffWith compares version from with version to (either may be cur):
// files added, removed and changed, and database keys added, removed or
// changed. It lists the first opt.Limit changes of each kind (and at most
// DiffMaxBytes of keys, and of paths) and counts all of them. Memory is
// that answer and a constant besides, whatever the size of either side:
// the two databases' exports are streamed side by side, each key reduced
// to its value digest, and merged in key order. Work stops when ctx is
// done.
func (s *Store) DiffWith(ctx context.Context, id ID, from, to string, opt DiffOptions) (Diff, error) {
	if _, err := s.reg.Get(id); err != nil {
		return Diff{}, err
	}
	snap, err := s.kv.Snapshot()
	if err != nil {
		return Diff{}, err
	}
	defer snap.Close()
	scratch := memstore.New()
	defer scratch.Close()
	a, err := s.sideOf(ctx, snap, id, from, scratch)
	if err != nil {
		return Diff{}, err
	}
	b, err := s.sideOf(ctx, snap, id, to, scratch)
	if err != nil {
		return Diff{}, err
	}
	var d Diff
	files := listBudget{n: opt.limit(), bytes: DiffMaxBytes}
	err = dirtree.Diff(ctx, overlay{scratch, s.blocks}, a.files, b.files, func(c dirtree.Change) error {
		if d.FileCount++; d.FileCount%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if files.take(len(c.Path) + fileChangeOverhead) {
			d.Files = append(d.Files, c)
		} else {
			d.FilesTruncated = true
		}
		return nil
	})
	if err != nil {
		return Diff{}, err
	}
	if a.sameDB(b) {
		return d, nil
	}
	// Both streams stop, and their goroutines are gone, before DiffWith
	// returns (and before the snapshot the cur side reads is closed).
	dctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	da := startDigests(dctx, &wg, s.export(snap, id, a))
	db := startDigests(dctx, &wg, s.export(snap, id, b))
	keys := listBudget{n: opt.limit(), bytes: DiffMaxBytes}
	err = mergeKeys(dctx, da, db, func(key []byte, op dirtree.Op) error {
		d.KeyCount++
		if keys.take(len(key) + keyChangeOverhead) {
			d.Keys = append(d.Keys, KeyChange{Key: key, Op: op})
		} else {
			d.KeysTruncated = true
		}
		return nil
	})
	if err != nil {
		return Diff{}, err
	}
	return d, nil
}

// keyDigest is one key of an export and its mimeidb.ValueDigest.
type keyDigest struct {
	key    []byte
	digest [32]byte
}

// digestBatch is how many keys a digestStream hands over at once.
const digestBatch = 256

// errDiffDone closes a digest stream's pipe once its reader has stopped,
// which stops the writer if it is still writing.
var errDiffDone = errors.New("mimei: diff: export no longer read")

// digestStream is one side of a key diff: one goroutine writes the side's
// export into a pipe, another decodes it with mimeidb.ReadExportDigests
// (which checks that keys strictly increase) and hands its keys over in
// order, in batches.
type digestStream struct {
	c     chan []keyDigest
	batch []keyDigest
	err   error // why c was closed (nil at the end of a good stream); set before it is
}

// startDigests starts a digest stream of export's output; both its
// goroutines end once the stream is read to its end or ctx is done, and
// wg counts them.
func startDigests(ctx context.Context, wg *sync.WaitGroup, export func(context.Context, io.Writer) error) *digestStream {
	pr, pw := io.Pipe()
	d := &digestStream{c: make(chan []keyDigest, 1)}
	wg.Add(2)
	go func() {
		defer wg.Done()
		pw.CloseWithError(export(ctx, pw))
	}()
	go func() {
		defer wg.Done()
		defer close(d.c)
		batch := make([]keyDigest, 0, digestBatch)
		send := func() error {
			select {
			case d.c <- batch:
				batch = make([]keyDigest, 0, digestBatch)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := mimeidb.ReadExportDigests(pr, func(key []byte, digest [32]byte) error {
			if batch = append(batch, keyDigest{key, digest}); len(batch) < digestBatch {
				return nil
			}
			return send()
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		pr.CloseWithError(errDiffDone)
		d.err = err
	}()
	return d
}

// next returns the stream's next key; false at the end of the stream, or
// with the error that ended it.
func (d *digestStream) next(ctx context.Context) (keyDigest, bool, error) {
	if len(d.batch) == 0 {
		select {
		case b, ok := <-d.c:
			if !ok {
				return keyDigest{}, false, d.err
			}
			d.batch = b
		case <-ctx.Done():
			return keyDigest{}, false, ctx.Err()
		}
	}
	kd := d.batch[0]
	d.batch = d.batch[1:]
	return kd, true, nil
}

// testHookMergeKeys, if set (by tests), is called by mergeKeys every
// mergeCheckEvery keys, where it checks ctx.
var testHookMergeKeys func()

// mergeCheckEvery is how many keys mergeKeys merges between looks at ctx.
const mergeCheckEvery = 1024

// mergeKeys merges two digest streams in key order and calls fn with every
// key only in a (Removed), only in b (Added), or in both with different
// values (Changed), in bytewise key order.
func mergeKeys(ctx context.Context, a, b *digestStream, fn func(key []byte, op dirtree.Op) error) error {
	ka, okA, err := a.next(ctx)
	if err != nil {
		return err
	}
	kb, okB, err := b.next(ctx)
	if err != nil {
		return err
	}
	for n := 0; okA || okB; n++ {
		if n%mergeCheckEvery == 0 {
			if testHookMergeKeys != nil {
				testHookMergeKeys()
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var c int
		switch {
		case !okB:
			c = -1
		case !okA:
			c = 1
		default:
			c = bytes.Compare(ka.key, kb.key)
		}
		switch {
		case c < 0:
			if err = fn(ka.key, dirtree.Removed); err == nil {
				ka, okA, err = a.next(ctx)
			}
		case c > 0:
			if err = fn(kb.key, dirtree.Added); err == nil {
				kb, okB, err = b.next(ctx)
			}
		default:
			if ka.digest != kb.digest {
				err = fn(ka.key, dirtree.Changed)
			}
			if err == nil {
				ka, okA, err = a.next(ctx)
			}
			if err == nil {
				kb, okB, err = b.next(ctx)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
