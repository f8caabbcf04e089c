package mimei

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// Store errors callers branch on (besides the registry's and the records').
var (
	ErrNoVersion  = errors.New("no such version")
	ErrProtected  = errors.New("version is the release")
	ErrReferenced = errors.New("referenced or pinned")
	ErrBadRef     = errors.New("bad version reference")
	ErrNoRef      = errors.New("no such reference")
)

// Options configure a Store. KV, Blocks and Signer are required.
type Options struct {
	KV     kv.Store         // metadata, path indexes, databases, version lists
	Blocks blockstore.Store // file contents, directory trees, database exports, version records
	// Signer returns what signs records for persona (a did:key): the
	// device key and the persona's certificate for it.
	Signer func(persona string) (Signer, error)
	// Revoked reports revoked device certificates; nil = none known.
	Revoked func(persona string, serial uint64) bool
	Chunker chunker.Params   // zero = chunker.DefaultParams()
	Now     func() time.Time // nil = time.Now
	Logger  *slog.Logger     // nil = slog.Default()
	// MarkExtra, if set, calls fn for blocks that other services keep in
	// the block store (sharing manifests): GC keeps them, Verify checks
	// them.
	MarkExtra func(ctx context.Context, fn func(cid.CID) error) error
	// Space, if set, is asked before new data is written (space.go): a
	// refusal (diskspace.ErrDiskFull) is returned as it is. Deleting, GC
	// and verification never ask it.
	Space Space
}

// Store holds a node's MiMei: for each one a file space and a database
// space (together "cur", the live state), a list of signed versions frozen
// from cur, pointers to the last and the released version, references
// between MiMei and pins. It is safe for concurrent use.
//
// Key layout in KV, all under "mm/" + 20-byte ID (see docs/formats.md):
//
//	/meta              registry record
//	/f/ DIR 0x00 NAME  file-space entry (DIR is the parent path, "" for the root)
//	/d/...             the database (package mimeidb)
//	/v/ u64            version number → CID of its record
//	/p/ NAME           signed pointer ("last", "release")
//	/n                 next version number (u64)
//	/keep              retention: keep the last K versions (u64; absent = all)
//	/r/ ID u64         outgoing reference count to (MiMei, version or MaxUint64)
//	/pin/ u64          pinned version
//	/br/ u64 CID       a version kept as a branch after a conflict (ImportVersion)
//	/h                 head: the record of the newest version held
//	/base              the record cur is based on (the next backup's parent; cur.go)
//	/dv/ u64 CID       a version on the line that cur did not take (ErrDiverged) → base then
//
// and "ri/" + to-ID + from-ID + u64 mirrors each reference for the target.
type Store struct {
	opts   Options
	kv     kv.Store
	blocks blockstore.Store
	reg    *Registry

	// gc is held shared by everything that writes blocks another record
	// will refer to (puts, imports, backups), exclusively by GC, so the
	// sweep never removes blocks whose reference is still being written.
	gc sync.RWMutex

	mu    sync.Mutex
	locks map[ID]*sync.Mutex  // per-MiMei lock for changes to cur, versions and refs
	dbs   map[ID]*mimeidb.DB  // open databases (one per prefix per process)
	vdbs  map[string]*vdbLoad // version databases being materialised or swept, by record CID (vdb.go)
	vsem  chan struct{}       // limits the loads running at once
}

// NewStore checks opts and returns a Store.
func NewStore(opts Options) (*Store, error) {
	if opts.KV == nil || opts.Blocks == nil || opts.Signer == nil {
		return nil, errors.New("mimei: store needs KV, Blocks and Signer")
	}
	if opts.Chunker.Avg == 0 {
		opts.Chunker = chunker.DefaultParams()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := NewRegistry(opts.KV)
	reg.now = opts.Now
	return &Store{
		opts: opts, kv: opts.KV, blocks: opts.Blocks, reg: reg,
		locks: map[ID]*sync.Mutex{}, dbs: map[ID]*mimeidb.DB{}, vdbs: map[string]*vdbLoad{}, vsem: make(chan struct{}, maxVDBLoads),
	}, nil
}

// Registry gives access to the MiMei metadata.
func (s *Store) Registry() *Registry { return s.reg }

// Blocks is the block store underneath.
func (s *Store) Blocks() blockstore.Store { return s.blocks }

func (s *Store) lock(id ID) func() {
	s.mu.Lock()
	l, ok := s.locks[id]
	if !ok {
		l = new(sync.Mutex)
		s.locks[id] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// keys

func subKey(id ID, part string, rest ...[]byte) []byte {
	k := append(mmPrefix(id), '/')
	k = append(k, part...)
	for _, r := range rest {
		k = append(k, r...)
	}
	return k
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(r kv.Reader, key []byte) (uint64, bool, error) {
	v, err := r.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: counter %q of %d bytes", ErrMalformed, key, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func dbPrefix(id ID) []byte { return subKey(id, "d/") }

// Create registers a new MiMei (see Registry.Create) with a retention of
// keep versions (0 = all).
func (s *Store) Create(spec Spec, rights Rights, keep int) (Meta, error) {
	return s.create(spec, rights, nil, keep)
}

// create registers a MiMei (origin set for forks) with its retention.
func (s *Store) create(spec Spec, rights Rights, origin *Origin, keep int) (Meta, error) {
	if err := s.room(newDataBytes); err != nil {
		return Meta{}, err
	}
	if keep < 0 {
		return Meta{}, fmt.Errorf("%w: keep must be 0 (all) or positive, not %d", ErrBadSpec, keep)
	}
	m, err := s.reg.create(spec, rights, origin)
	if err != nil {
		return Meta{}, err
	}
	if keep > 0 {
		if err := s.kv.Set(subKey(m.ID, "keep"), u64(uint64(keep))); err != nil {
			return Meta{}, err
		}
	}
	return m, nil
}

// Keep returns the retention of id: keep the last K versions, 0 = all.
func (s *Store) Keep(id ID) (int, error) {
	k, _, err := getU64(s.kv, subKey(id, "keep"))
	return int(k), err
}

// SetKeep changes the retention of id and prunes what it no longer keeps.
func (s *Store) SetKeep(ctx context.Context, id ID, keep int) error {
	if keep < 0 {
		return fmt.Errorf("%w: keep must be 0 (all) or positive, not %d", ErrBadSpec, keep)
	}
	if _, err := s.reg.Get(id); err != nil {
		return err
	}
	unlock := s.lock(id)
	defer unlock()
	var err error
	if keep == 0 {
		err = s.kv.Delete(subKey(id, "keep"))
	} else {
		err = s.kv.Set(subKey(id, "keep"), u64(uint64(keep)))
	}
	if err != nil {
		return err
	}
	return s.pruneLocked(ctx, id)
}

// DB returns the live database of id.
func (s *Store) DB(id ID) (*mimeidb.DB, error) {
	if _, err := s.reg.Get(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if db, ok := s.dbs[id]; ok {
		return db, nil
	}
	db, err := mimeidb.Open(growing(s.kv, s.opts.Space), dbPrefix(id))
	if err != nil {
		return nil, err
	}
	s.dbs[id] = db
	return db, nil
}

// Delete removes MiMei id with its file space, database, versions,
// outgoing references and pins. A MiMei that others reference is kept
// (ErrReferenced) unless force. Its blocks go at the next GC.
func (s *Store) Delete(id ID, force bool) error {
	if _, err := s.reg.Get(id); err != nil {
		return err
	}
	unlock := s.lock(id)
	defer unlock()
	in, err := s.refsIn(id)
	if err != nil {
		return err
	}
	if len(in) > 0 && !force {
		return fmt.Errorf("%w: %s is referenced by %d MiMei; delete with force to drop the references", ErrReferenced, id, len(in))
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	var errs []error
	del := func(prefix []byte) {
		it := s.kv.Iter(kv.IterOptions{Prefix: prefix})
		for it.Next() {
			errs = append(errs, b.Delete(bytes.Clone(it.Key())))
		}
		errs = append(errs, it.Close())
	}
	out, err := s.refsOut(id)
	if err != nil {
		return err
	}
	for _, r := range out {
		errs = append(errs, b.Delete(refInKey(r.To, id, r.version())))
	}
	for _, r := range in {
		errs = append(errs, b.Delete(refOutKey(r.From, id, r.version())))
	}
	del(refInPrefix(id))
	del(append(mmPrefix(id), '/'))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.dbs, id)
	s.mu.Unlock()
	return b.Commit()
}

// Info is what the node tells about one MiMei.
type Info struct {
	Meta
	Keep          int
	Versions      int
	Last, Release *uint64
	Files, Bytes  int64 // files in cur and their bytes
	Keys          int64 // database keys in cur
	RefsIn        int64
	Pins          int
	Modified      time.Time // newest modification time in the file space
	// Shows is set when id has no working copy here (see ReadRef): reads
	// of cur show this version, and Files, Bytes, Keys and Modified are
	// its figures.
	Shows *uint64
	// Base is the version cur is based on, if it is held; Diverged counts
	// the versions that arrived and cur did not take (Branches).
	Base     *uint64
	Diverged int
}

// Info gathers the figures of id. It walks the file-space index and the
// database's key list (of the version shown, for a MiMei with no working
// copy here), so it costs time in proportion to their size.
func (s *Store) Info(id ID) (Info, error) {
	m, err := s.reg.Get(id)
	if err != nil {
		return Info{}, err
	}
	in := Info{Meta: m}
	if in.Keep, err = s.Keep(id); err != nil {
		return in, err
	}
	ns, err := s.numbers(s.kv, id)
	if err != nil {
		return in, err
	}
	in.Versions = len(ns)
	for _, name := range []string{PointerLast, PointerRelease} {
		p, err := s.Pointer(id, name)
		if err != nil {
			return in, err
		}
		if p != nil {
			n := p.Number
			if name == PointerLast {
				in.Last = &n
			} else {
				in.Release = &n
			}
		}
	}
	if base, _, err := s.baseOf(s.kv, id); err != nil {
		return in, err
	} else if base.Defined() {
		if v, err := s.recordAt(context.Background(), base); err == nil {
			n := v.Number
			in.Base = &n
		}
	}
	div, err := s.divergences(id)
	if err != nil {
		return in, err
	}
	in.Diverged = len(div)
	shown, received, err := s.ReadRef(id, RefCur)
	if err != nil {
		return in, err
	}
	if received {
		v, _, err := s.Version(context.Background(), id, shown)
		if err != nil {
			return in, err
		}
		n := v.Number
		in.Shows = &n
		in.Files, in.Bytes, in.Keys, in.Modified, err = s.versionStats(context.Background(), v)
	} else {
		in.Files, in.Bytes, in.Modified, err = s.curStats(id)
	}
	if err != nil {
		return in, err
	}
	refs, err := s.refsIn(id)
	if err != nil {
		return in, err
	}
	for _, r := range refs {
		in.RefsIn += r.Count
	}
	if in.Pins, err = s.Pins(id); err != nil {
		return in, err
	}
	if received {
		return in, nil
	}
	view, err := s.VersionDB(context.Background(), id, RefCur)
	if err != nil {
		return in, err
	}
	cursor := "0"
	for {
		next, keys, err := view.Scan(cursor, mimeidb.ScanOptions{Count: 1000})
		if err != nil {
			return in, err
		}
		in.Keys += int64(len(keys))
		if next == "0" {
			break
		}
		cursor = next
	}
	return in, nil
}
