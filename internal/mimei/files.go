package mimei

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/kv"
)

// File-space errors.
var (
	ErrBadPath  = errors.New("bad path")
	ErrNoFile   = errors.New("no such file or directory")
	ErrNotDir   = errors.New("not a directory")
	ErrIsDir    = errors.New("is a directory")
	ErrExistsAt = errors.New("already exists")
	ErrNotEmpty = errors.New("directory not empty")
)

// Path bounds.
const (
	MaxPathLen  = 4096
	MaxDepth    = 255
	EntryFormat = 1
)

// Entry is a file or directory of a file space.
type Entry struct {
	Path    string // slash-separated, no leading slash; "" is the root
	Dir     bool
	Root    cid.CID // file content (filetree root); directories: the dirtree node in frozen versions
	Size    int64
	MIME    string
	ModTime time.Time
	Created time.Time // when the path was first written (cur only)
}

// Name is the last segment of the path.
func (e Entry) Name() string { _, n := splitPath(e.Path); return n }

type entryWire struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	Dir     bool
	Root    []byte
	Size    uint64
	MIME    string
	ModTime int64
	Created int64
}

func encodeEntry(e Entry) ([]byte, error) {
	return codec.Marshal(entryWire{Format: EntryFormat, Dir: e.Dir, Root: cidBytes(e.Root), Size: uint64(e.Size),
		MIME: e.MIME, ModTime: e.ModTime.UnixMilli(), Created: e.Created.UnixMilli()})
}

func decodeEntry(p string, b []byte) (Entry, error) {
	if f, err := codec.RecordVersion(b); err != nil {
		return Entry{}, fmt.Errorf("%w: file entry %q: %w", ErrMalformed, p, err)
	} else if f != EntryFormat {
		return Entry{}, fmt.Errorf("%w: file entry format %d, want %d", ErrUnsupportedVersion, f, EntryFormat)
	}
	var w entryWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return Entry{}, fmt.Errorf("%w: file entry %q: %w", ErrMalformed, p, err)
	}
	root, err := bytesCID(w.Root, "file entry root")
	if err != nil {
		return Entry{}, err
	}
	if !w.Dir && !root.Defined() {
		return Entry{}, fmt.Errorf("%w: file entry %q without content root", ErrMalformed, p)
	}
	return Entry{Path: p, Dir: w.Dir, Root: root, Size: int64(w.Size), MIME: w.MIME,
		ModTime: time.UnixMilli(w.ModTime).UTC(), Created: time.UnixMilli(w.Created).UTC()}, nil
}

// CleanPath checks a user path and returns it without leading or trailing
// slashes. Segments must be valid names (dirtree.ValidName): no empty,
// "." or ".." segments, no NUL. This is the rule for naming what may
// already exist (reading, moving from, removing); a name about to be made
// is held to CheckName as well.
func CleanPath(p string) (string, error) {
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("%w: %d bytes (max %d)", ErrBadPath, len(p), MaxPathLen)
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	segs := strings.Split(p, "/")
	if len(segs) > MaxDepth {
		return "", fmt.Errorf("%w: deeper than %d levels", ErrBadPath, MaxDepth)
	}
	for _, s := range segs {
		if !dirtree.ValidName(s) {
			// CheckName is stricter than ValidName, so it says what is wrong.
			err := CheckName(s)
			if err == nil {
				err = fmt.Errorf("%w: segment %q", ErrBadPath, s)
			}
			return "", fmt.Errorf("path %q: %w", p, err)
		}
	}
	return p, nil
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// fileKey is /f/ DIR 0x00 NAME: a directory's children share one prefix.
func fileKey(id ID, p string) []byte {
	dir, name := splitPath(p)
	k := subKey(id, "f/", []byte(dir))
	k = append(k, 0)
	return append(k, name...)
}

func childrenPrefix(id ID, dir string) []byte {
	return append(subKey(id, "f/", []byte(dir)), 0)
}

// descendantsPrefixes are the key prefixes of everything below dir.
func descendantsPrefixes(id ID, dir string) [][]byte {
	if dir == "" {
		return [][]byte{subKey(id, "f/")}
	}
	return [][]byte{childrenPrefix(id, dir), subKey(id, "f/", []byte(dir+"/"))}
}

func (s *Store) entry(r kv.Reader, id ID, p string) (Entry, error) {
	if p == "" {
		return Entry{Dir: true}, nil
	}
	v, err := r.Get(fileKey(id, p))
	if errors.Is(err, kv.ErrNotFound) {
		return Entry{}, fmt.Errorf("%w: %s", ErrNoFile, p)
	}
	if err != nil {
		return Entry{}, err
	}
	return decodeEntry(p, v)
}

// errNoEntry is entryFast's cheap "not there" for hot loops.
var errNoEntry = errors.New("no entry")

// entryFast is entry without building an error message for a missing path.
func (s *Store) entryFast(id ID, p string) (Entry, error) {
	v, err := s.kv.Get(fileKey(id, p))
	if errors.Is(err, kv.ErrNotFound) {
		return Entry{}, errNoEntry
	}
	if err != nil {
		return Entry{}, err
	}
	return decodeEntry(p, v)
}

func (s *Store) listCur(r kv.Reader, id ID, dir string) ([]Entry, error) {
	pre := childrenPrefix(id, dir)
	it := r.Iter(kv.IterOptions{Prefix: pre})
	var out []Entry
	for it.Next() {
		e, err := decodeEntry(joinPath(dir, string(it.Key()[len(pre):])), it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, it.Close()
}

// guessMIME keeps a specific type, else guesses from the name's extension.
func guessMIME(name, given string) string {
	if given != "" && given != "application/octet-stream" {
		return given
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// PutOptions describe a file being written.
type PutOptions struct {
	MIME     string    // empty or application/octet-stream = guess from the name
	ModTime  time.Time // zero = now
	Parents  bool      // create missing parent directories
	Progress func(n int64)
}

// parentsLocked checks that dir exists as a directory, creating it and its
// missing ancestors in b when parents is set.
func (s *Store) parentsLocked(b kv.Writer, id ID, dir string, parents bool, now time.Time) error {
	if dir == "" {
		return nil
	}
	e, err := s.entry(s.kv, id, dir)
	switch {
	case err == nil && e.Dir:
		return nil
	case err == nil:
		return fmt.Errorf("%w: %s", ErrNotDir, dir)
	case !errors.Is(err, ErrNoFile):
		return err
	case !parents:
		return fmt.Errorf("%w: parent directory %s", ErrNoFile, dir)
	}
	if err := checkNewName(dir); err != nil {
		return err
	}
	up, _ := splitPath(dir)
	if err := s.parentsLocked(b, id, up, true, now); err != nil {
		return err
	}
	enc, err := encodeEntry(Entry{Dir: true, ModTime: now, Created: now})
	if err != nil {
		return err
	}
	return b.Set(fileKey(id, dir), enc)
}

// Put stores the bytes of r as the file at p in the file space of id,
// replacing a file there. The content is durable before the path points
// at it: a crash leaves the old file or the new one.
func (s *Store) Put(ctx context.Context, id ID, p string, r io.Reader, opts PutOptions) (Entry, error) {
	if err := s.room(newDataBytes); err != nil {
		return Entry{}, err
	}
	p, err := CleanPath(p)
	if err != nil {
		return Entry{}, err
	}
	if p == "" {
		return Entry{}, fmt.Errorf("%w: the root is a directory", ErrIsDir)
	}
	if _, err := s.reg.Get(id); err != nil {
		return Entry{}, err
	}
	// A bad new name is refused before the content is stored; replacing
	// a file already there under such a name is allowed (setFileLocked
	// checks again under the lock).
	if err := checkNewName(p); err != nil {
		if _, serr := s.entry(s.kv, id, p); serr != nil {
			return Entry{}, err
		}
	}
	s.gc.RLock()
	defer s.gc.RUnlock()
	root, size, err := filetree.Write(ctx, r, s.blocks, s.opts.Chunker, opts.Progress)
	if err != nil {
		return Entry{}, err
	}
	if err := s.blocks.Flush(ctx); err != nil {
		return Entry{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	return s.setFileLocked(id, p, root, size, opts)
}

func (s *Store) setFileLocked(id ID, p string, root cid.CID, size int64, opts PutOptions) (Entry, error) {
	now := s.now()
	b := s.kv.NewBatch()
	defer b.Discard()
	dir, name := splitPath(p)
	if err := s.parentsLocked(b, id, dir, opts.Parents, now); err != nil {
		return Entry{}, err
	}
	e := Entry{Path: p, Root: root, Size: size, MIME: guessMIME(name, opts.MIME), ModTime: opts.ModTime, Created: now}
	if e.ModTime.IsZero() {
		e.ModTime = now
	}
	e.ModTime = e.ModTime.UTC().Truncate(time.Millisecond)
	old, err := s.entry(s.kv, id, p)
	switch {
	case err == nil && old.Dir:
		return Entry{}, fmt.Errorf("%w: %s", ErrIsDir, p)
	case err == nil:
		e.Created = old.Created
	case !errors.Is(err, ErrNoFile):
		return Entry{}, err
	default:
		if err := CheckName(name); err != nil {
			return Entry{}, err
		}
	}
	enc, err := encodeEntry(e)
	if err != nil {
		return Entry{}, err
	}
	if err := b.Set(fileKey(id, p), enc); err != nil {
		return Entry{}, err
	}
	return e, b.Commit()
}

// Mkdir creates directory p. With parents, missing ancestors are created
// and an existing directory is no error.
func (s *Store) Mkdir(id ID, p string, parents bool) (Entry, error) {
	if err := s.room(newDataBytes); err != nil {
		return Entry{}, err
	}
	p, err := CleanPath(p)
	if err != nil {
		return Entry{}, err
	}
	if _, err := s.reg.Get(id); err != nil {
		return Entry{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	if e, err := s.entry(s.kv, id, p); err == nil {
		if e.Dir && parents {
			return e, nil
		}
		return Entry{}, fmt.Errorf("%w: %s", ErrExistsAt, p)
	} else if !errors.Is(err, ErrNoFile) {
		return Entry{}, err
	}
	if err := checkNewName(p); err != nil {
		return Entry{}, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	now := s.now()
	up, _ := splitPath(p)
	if err := s.parentsLocked(b, id, up, parents, now); err != nil {
		return Entry{}, err
	}
	enc, err := encodeEntry(Entry{Dir: true, ModTime: now, Created: now})
	if err != nil {
		return Entry{}, err
	}
	if err := b.Set(fileKey(id, p), enc); err != nil {
		return Entry{}, err
	}
	if err := b.Commit(); err != nil {
		return Entry{}, err
	}
	return Entry{Path: p, Dir: true, ModTime: now, Created: now}, nil
}

// Move renames from to to (a file or a whole directory). The target must
// not exist; its parent must.
func (s *Store) Move(id ID, from, to string) (Entry, error) {
	from, err := CleanPath(from)
	if err != nil {
		return Entry{}, err
	}
	to, err = CleanPath(to)
	if err != nil {
		return Entry{}, err
	}
	if from == "" || to == "" {
		return Entry{}, fmt.Errorf("%w: cannot move the root", ErrBadPath)
	}
	if to == from || strings.HasPrefix(to, from+"/") {
		return Entry{}, fmt.Errorf("%w: cannot move %s into itself", ErrBadPath, from)
	}
	if err := checkNewName(to); err != nil {
		return Entry{}, err
	}
	if _, err := s.reg.Get(id); err != nil {
		return Entry{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	e, err := s.entry(s.kv, id, from)
	if err != nil {
		return Entry{}, err
	}
	if _, err := s.entry(s.kv, id, to); err == nil {
		return Entry{}, fmt.Errorf("%w: %s", ErrExistsAt, to)
	} else if !errors.Is(err, ErrNoFile) {
		return Entry{}, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	up, _ := splitPath(to)
	if err := s.parentsLocked(b, id, up, false, s.now()); err != nil {
		return Entry{}, err
	}
	var errs []error
	move := func(oldPath string, val []byte) {
		newPath := to + strings.TrimPrefix(oldPath, from)
		errs = append(errs, b.Delete(fileKey(id, oldPath)), b.Set(fileKey(id, newPath), val))
	}
	enc, err := s.kv.Get(fileKey(id, from))
	if err != nil {
		return Entry{}, err
	}
	move(from, enc)
	if e.Dir {
		for _, pre := range descendantsPrefixes(id, from) {
			it := s.kv.Iter(kv.IterOptions{Prefix: pre})
			base := subKey(id, "f/")
			for it.Next() {
				d, n, _ := bytes.Cut(it.Key()[len(base):], []byte{0})
				move(joinPath(string(d), string(n)), bytes.Clone(it.Value()))
			}
			errs = append(errs, it.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Entry{}, err
	}
	e.Path = to
	return e, b.Commit()
}

// Remove deletes the file or directory p; a non-empty directory only when
// recursive. The root cannot be removed, but recursive clears it.
func (s *Store) Remove(id ID, p string, recursive bool) error {
	p, err := CleanPath(p)
	if err != nil {
		return err
	}
	if _, err := s.reg.Get(id); err != nil {
		return err
	}
	unlock := s.lock(id)
	defer unlock()
	e, err := s.entry(s.kv, id, p)
	if err != nil {
		return err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if p != "" {
		if err := b.Delete(fileKey(id, p)); err != nil {
			return err
		}
	}
	if e.Dir {
		n := 0
		for _, pre := range descendantsPrefixes(id, p) {
			it := s.kv.Iter(kv.IterOptions{Prefix: pre})
			for it.Next() {
				if !recursive {
					it.Close()
					return fmt.Errorf("%w: %s", ErrNotEmpty, p)
				}
				n++
				if err := b.Delete(bytes.Clone(it.Key())); err != nil {
					it.Close()
					return err
				}
			}
			if err := it.Close(); err != nil {
				return err
			}
		}
		if p == "" && n == 0 {
			return nil
		}
	}
	return b.Commit()
}

// Stat describes p in the version named by ref ("cur", "last", "release"
// or a number).
func (s *Store) Stat(ctx context.Context, id ID, ref, p string) (Entry, error) {
	p, err := CleanPath(p)
	if err != nil {
		return Entry{}, err
	}
	if _, err := s.reg.Get(id); err != nil {
		return Entry{}, err
	}
	if isCur(ref) {
		return s.entry(s.kv, id, p)
	}
	v, _, err := s.Version(ctx, id, ref)
	if err != nil {
		return Entry{}, err
	}
	if !v.Files.Defined() {
		if p == "" {
			return Entry{Dir: true, Path: ""}, nil
		}
		return Entry{}, fmt.Errorf("%w: %s", ErrNoFile, p)
	}
	de, err := dirtree.Lookup(ctx, s.blocks, v.Files, p)
	if err != nil {
		return Entry{}, treeErr(err, p)
	}
	return fromTree(p, de), nil
}

func fromTree(p string, e dirtree.Entry) Entry {
	return Entry{Path: p, Dir: e.Kind == dirtree.KindDir, Root: e.Root, Size: int64(e.Size), MIME: e.MIME, ModTime: e.ModTime}
}

func treeErr(err error, p string) error {
	switch {
	case errors.Is(err, dirtree.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNoFile, p)
	case errors.Is(err, dirtree.ErrNotDir):
		return fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	return err
}

// List returns the entries of directory p in version ref, sorted by name.
func (s *Store) List(ctx context.Context, id ID, ref, p string) ([]Entry, error) {
	e, err := s.Stat(ctx, id, ref, p)
	if err != nil {
		return nil, err
	}
	if !e.Dir {
		return nil, fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	p = e.Path
	if isCur(ref) {
		return s.listCur(s.kv, id, p)
	}
	v, _, err := s.Version(ctx, id, ref)
	if err != nil {
		return nil, err
	}
	if !v.Files.Defined() {
		return nil, nil
	}
	des, err := dirtree.List(ctx, s.blocks, v.Files, p)
	if err != nil {
		return nil, treeErr(err, p)
	}
	out := make([]Entry, len(des))
	for i, de := range des {
		out[i] = fromTree(joinPath(p, de.Name), de)
	}
	return out, nil
}

// ListPage returns at most limit entries of directory p in version ref
// whose names sort after after (bytewise; "" starts at the first), in name
// order, and whether more follow: a caller lists a directory of any size
// page by page, passing the last name it got as the next after. A page
// costs memory for limit entries (plus, in a frozen version, one directory
// node of the format's paging, see dirtree.ListPage), not for the whole
// directory. limit must be positive.
func (s *Store) ListPage(ctx context.Context, id ID, ref, p, after string, limit int) ([]Entry, bool, error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("mimei: list limit %d, want 1 or more", limit)
	}
	e, err := s.Stat(ctx, id, ref, p)
	if err != nil {
		return nil, false, err
	}
	if !e.Dir {
		return nil, false, fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	p = e.Path
	if isCur(ref) {
		return s.listCurPage(s.kv, id, p, after, limit)
	}
	v, _, err := s.Version(ctx, id, ref)
	if err != nil {
		return nil, false, err
	}
	if !v.Files.Defined() {
		return nil, false, nil
	}
	des, more, err := dirtree.ListPage(ctx, s.blocks, v.Files, p, after, limit)
	if err != nil {
		return nil, false, treeErr(err, p)
	}
	out := make([]Entry, len(des))
	for i, de := range des {
		out[i] = fromTree(joinPath(p, de.Name), de)
	}
	return out, more, nil
}

// listCurPage is listCur from the first name after after, at most limit
// entries, and whether more follow.
func (s *Store) listCurPage(r kv.Reader, id ID, dir, after string, limit int) ([]Entry, bool, error) {
	pre := childrenPrefix(id, dir)
	var start []byte
	if after != "" {
		start = append(append(bytes.Clone(pre), after...), 0) // the first key after pre+after
	}
	it := r.Iter(kv.IterOptions{Prefix: pre, Start: start})
	var out []Entry
	for it.Next() {
		if len(out) == limit {
			return out, true, it.Close()
		}
		e, err := decodeEntry(joinPath(dir, string(it.Key()[len(pre):])), it.Value())
		if err != nil {
			it.Close()
			return nil, false, err
		}
		out = append(out, e)
	}
	return out, false, it.Close()
}

// Open returns a reader of the file at p in version ref. Reads verify
// every block's hash.
func (s *Store) Open(ctx context.Context, id ID, ref, p string) (Entry, *filetree.Reader, error) {
	e, err := s.Stat(ctx, id, ref, p)
	if err != nil {
		return Entry{}, nil, err
	}
	if e.Dir {
		return Entry{}, nil, fmt.Errorf("%w: %s", ErrIsDir, e.Path)
	}
	r, err := filetree.Open(ctx, s.blocks, e.Root)
	if err != nil {
		return Entry{}, nil, err
	}
	return e, r, nil
}

// ImportResult counts what an import stored.
type ImportResult struct {
	Files, Dirs int
	Bytes       int64
}

// Import commits its path entries (after flushing their blocks) when one
// of these is reached: each commit costs a few fsyncs, so committing every
// few files would make importing many small files crawl, while these
// bounds keep what a crash can lose to seconds of work. Commits run on
// their own goroutine while the archive is read on, one batch at a time.
const (
	importBatch      = 2048
	importBatchBytes = 32 << 20
	importBatchAge   = 2 * time.Second
)

// Import unpacks a tar stream under directory dir (created if missing):
// directories and regular files; anything else (links, devices), or an
// entry whose name breaks CheckName, stops the import with an error
// (ErrBadPath, ErrBadName). Entries are committed in batches after their blocks are
// flushed, so a crash keeps a prefix of the archive. progress, if set, is
// called with the file bytes stored so far.
func (s *Store) Import(ctx context.Context, id ID, dir string, r io.Reader, progress func(n int64)) (ImportResult, error) {
	if err := s.room(newDataBytes); err != nil {
		return ImportResult{}, err
	}
	dir, err := CleanPath(dir)
	if err != nil {
		return ImportResult{}, err
	}
	if _, err := s.reg.Get(id); err != nil {
		return ImportResult{}, err
	}
	s.gc.RLock()
	defer s.gc.RUnlock()
	var res ImportResult
	// Small files (one chunk) are hashed and stored by workers while the
	// archive is parsed; their entries wait for them at commit.
	type small struct {
		buf  []byte
		root cid.CID
		err  error
		done chan struct{}
	}
	type pending struct {
		p string
		e Entry
		s *small
	}
	const inFlight = 64
	bufs := make(chan []byte, inFlight)
	for range inFlight {
		bufs <- make([]byte, 0, s.opts.Chunker.Min)
	}
	work := make(chan *small, inFlight)
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(max(runtime.GOMAXPROCS(0), 1), 4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				j.root = cid.Sum(cid.Raw, j.buf)
				j.err = s.blocks.Put(ictx, j.root, j.buf)
				bufs <- j.buf
				close(j.done)
			}
		}()
	}
	stopWorker := sync.OnceFunc(func() { close(work); wg.Wait() })
	defer stopWorker()

	var batch []pending
	var batchBytes int64
	batchStart := time.Now()
	// fresh holds the directories this import created: nothing else can be
	// in them, so their files need no lookup of an existing entry.
	fresh := map[string]bool{}
	commit := func(batch []pending) error {
		for _, pe := range batch {
			if pe.s != nil {
				<-pe.s.done
				if pe.s.err != nil {
					return fmt.Errorf("import: %s: %w", pe.p, pe.s.err)
				}
			}
		}
		if err := s.blocks.Flush(ctx); err != nil {
			return err
		}
		unlock := s.lock(id)
		defer unlock()
		b := s.kv.NewBatch()
		defer b.Discard()
		now := s.now()
		made := map[string]bool{}
		for _, pe := range batch {
			if pe.s != nil {
				pe.e.Root = pe.s.root
			}
			up, _ := splitPath(pe.p)
			if !made[up] && !fresh[up] {
				if err := s.parentsLocked(b, id, up, true, now); err != nil {
					return err
				}
				made[up] = true
			}
			if !fresh[up] {
				old, err := s.entryFast(id, pe.p)
				switch {
				case err == nil && old.Dir != pe.e.Dir:
					return fmt.Errorf("%w: %s: a %s exists there", ErrExistsAt, pe.p, map[bool]string{true: "directory", false: "file"}[old.Dir])
				case err == nil:
					pe.e.Created = old.Created
					if pe.e.Dir {
						continue
					}
				case err != errNoEntry:
					return err
				case pe.e.Dir:
					fresh[pe.p] = true
				}
			} else if pe.e.Dir {
				fresh[pe.p] = true
			}
			if pe.e.Dir {
				made[pe.p] = true
			}
			enc, err := encodeEntry(pe.e)
			if err != nil {
				return err
			}
			if err := b.Set(fileKey(id, pe.p), enc); err != nil {
				return err
			}
		}
		return b.Commit()
	}
	// The committer takes full batches while the archive is read on.
	batches := make(chan []pending, 1)
	committed := make(chan struct{})
	var commitErr error // set by the committer before it closes committed
	go func() {
		defer close(committed)
		for b := range batches {
			if commitErr != nil {
				continue
			}
			if err := commit(b); err != nil {
				commitErr = err
				cancel()
			}
		}
	}()
	stopCommitter := sync.OnceFunc(func() { close(batches); <-committed })
	defer stopCommitter()
	// send hands the current batch to the committer.
	send := func() {
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-committed:
			}
		}
		batch, batchBytes, batchStart = nil, 0, time.Now()
	}
	// fail returns the committer's error in preference to the cancellation
	// it caused.
	fail := func(err error) (ImportResult, error) {
		stopCommitter()
		if commitErr != nil {
			return res, commitErr
		}
		return res, err
	}
	tr := tar.NewReader(r)
	for {
		if err := ictx.Err(); err != nil {
			return fail(err)
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("import: read archive: %w", err))
		}
		name := strings.TrimPrefix(strings.Trim(h.Name, "/"), "./")
		if name == "." {
			name = ""
		}
		p, err := CleanPath(joinPath(dir, name))
		if err != nil {
			return fail(fmt.Errorf("import: archive entry %q: %w", h.Name, err))
		}
		if p == dir {
			continue
		}
		if err := checkNewPath(strings.Trim(name, "/")); err != nil {
			return fail(fmt.Errorf("import: archive entry %+q: %w", h.Name, err))
		}
		now := s.now()
		mt := h.ModTime.UTC().Truncate(time.Millisecond)
		if mt.IsZero() || mt.Unix() <= 0 {
			mt = now
		}
		switch h.Typeflag {
		case tar.TypeDir:
			batch = append(batch, pending{p: p, e: Entry{Path: p, Dir: true, ModTime: mt, Created: now}})
			res.Dirs++
		case tar.TypeReg:
			_, nm := splitPath(p)
			e := Entry{Path: p, Size: h.Size, MIME: guessMIME(nm, ""), ModTime: mt, Created: now}
			var sm *small
			if h.Size <= int64(s.opts.Chunker.Min) {
				// One chunk at most: the file's root is its raw block,
				// as filetree.Write would make it, without its pipeline.
				buf := (<-bufs)[:h.Size]
				if _, err := io.ReadFull(tr, buf); err != nil {
					return fail(fmt.Errorf("import: %s: %w", h.Name, err))
				}
				sm = &small{buf: buf, done: make(chan struct{})}
				work <- sm
			} else {
				base := res.Bytes
				var prog func(int64)
				if progress != nil {
					prog = func(n int64) { progress(base + n) }
				}
				if e.Root, e.Size, err = filetree.Write(ictx, tr, s.blocks, s.opts.Chunker, prog); err != nil {
					return fail(fmt.Errorf("import: %s: %w", h.Name, err))
				}
			}
			batch = append(batch, pending{p: p, e: e, s: sm})
			res.Files++
			res.Bytes += e.Size
			batchBytes += e.Size
			if progress != nil {
				progress(res.Bytes)
			}
		default:
			return fail(fmt.Errorf("%w: archive entry %q is not a regular file or directory (type %q)", ErrBadPath, h.Name, h.Typeflag))
		}
		if len(batch) >= importBatch || batchBytes >= importBatchBytes || time.Since(batchStart) >= importBatchAge {
			send()
		}
	}
	send()
	stopCommitter()
	if commitErr != nil {
		return res, commitErr
	}
	if dir != "" {
		if _, err := s.Mkdir(id, dir, true); err != nil {
			return res, err
		}
	}
	return res, nil
}

// curStats counts the files and bytes of the file space.
func (s *Store) curStats(id ID) (files, size int64, modified time.Time, err error) {
	it := s.kv.Iter(kv.IterOptions{Prefix: subKey(id, "f/")})
	for it.Next() {
		e, err := decodeEntry("", it.Value())
		if err != nil {
			it.Close()
			return 0, 0, time.Time{}, err
		}
		if !e.Dir {
			files++
			size += e.Size
		}
		if e.ModTime.After(modified) {
			modified = e.ModTime
		}
	}
	return files, size, modified, it.Close()
}
