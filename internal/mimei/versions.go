package mimei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// Version references.
const (
	RefCur     = "cur"
	RefLast    = PointerLast
	RefRelease = PointerRelease
)

func isCur(ref string) bool { return ref == "" || ref == RefCur }

func versionKey(id ID, n uint64) []byte { return subKey(id, "v/", u64(n)) }
func pointerKey(id ID, name string) []byte {
	return subKey(id, "p/", []byte(name))
}
func pointerSeqKey(id ID, name string) []byte { return subKey(id, "ps/", []byte(name)) }
func pinKey(id ID, n uint64) []byte           { return subKey(id, "pin/", u64(n)) }

// Pointer returns the verified pointer name of id, or nil if it is not set.
func (s *Store) Pointer(id ID, name string) (*Pointer, error) {
	b, err := s.kv.Get(pointerKey(id, name))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := ParsePointer(b)
	if err != nil {
		return nil, err
	}
	if p.Name != name {
		return nil, fmt.Errorf("%w: pointer %q stored as %q", ErrMalformed, p.Name, name)
	}
	if err := p.Verify(id, s.now(), s.opts.Revoked); err != nil {
		return nil, err
	}
	return p, nil
}

// resolve turns a version reference other than cur into a number.
func (s *Store) resolve(id ID, ref string) (uint64, error) {
	switch ref {
	case RefLast, RefRelease:
		p, err := s.Pointer(id, ref)
		if err != nil {
			return 0, err
		}
		if p == nil {
			return 0, fmt.Errorf("%w: %s has no %s version", ErrNoVersion, id, ref)
		}
		return p.Number, nil
	}
	n, err := strconv.ParseUint(ref, 10, 64)
	if err != nil || n == math.MaxUint64 {
		return 0, fmt.Errorf("%w: %q (use cur, last, release or a version number)", ErrBadRef, ref)
	}
	return n, nil
}

// record loads and verifies version n of id.
func (s *Store) record(ctx context.Context, id ID, n uint64) (*Version, cid.CID, error) {
	b, err := s.kv.Get(versionKey(id, n))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, cid.Undef, fmt.Errorf("%w: %s version %d", ErrNoVersion, id, n)
	}
	if err != nil {
		return nil, cid.Undef, err
	}
	c, err := cid.Cast(b)
	if err != nil {
		return nil, cid.Undef, fmt.Errorf("%w: version index: %w", ErrMalformed, err)
	}
	data, err := s.blocks.Get(ctx, c)
	if err != nil {
		return nil, cid.Undef, fmt.Errorf("version %d record %s: %w", n, c, err)
	}
	v, err := ParseVersion(data)
	if err != nil {
		return nil, cid.Undef, err
	}
	if err := v.Verify(id, s.now(), s.opts.Revoked); err != nil {
		return nil, cid.Undef, err
	}
	if v.Number != n {
		return nil, cid.Undef, fmt.Errorf("%w: index says version %d, record says %d", ErrMalformed, n, v.Number)
	}
	return v, c, nil
}

// Version returns the verified record of version ref (not cur) and its CID.
func (s *Store) Version(ctx context.Context, id ID, ref string) (*Version, cid.CID, error) {
	if isCur(ref) {
		return nil, cid.Undef, fmt.Errorf("%w: cur is not a frozen version", ErrBadRef)
	}
	n, err := s.resolve(id, ref)
	if err != nil {
		return nil, cid.Undef, err
	}
	return s.record(ctx, id, n)
}

// VersionInfo is a version record with what the store knows about it.
type VersionInfo struct {
	*Version
	CID     cid.CID
	Last    bool
	Release bool
	Pinned  bool
	RefsIn  int64
	// MovedCur: ImportVersion moved cur to this version.
	MovedCur bool
}

func (s *Store) numbers(r kv.Reader, id ID) ([]uint64, error) {
	pre := subKey(id, "v/")
	it := r.Iter(kv.IterOptions{Prefix: pre})
	var out []uint64
	for it.Next() {
		k := it.Key()[len(pre):]
		if len(k) != 8 {
			it.Close()
			return nil, fmt.Errorf("%w: version index key", ErrMalformed)
		}
		out = append(out, uint64FromBytes(k))
	}
	return out, it.Close()
}

func uint64FromBytes(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// Versions lists the versions of id, oldest first, each verified.
func (s *Store) Versions(ctx context.Context, id ID) ([]VersionInfo, error) {
	if _, err := s.reg.Get(id); err != nil {
		return nil, err
	}
	ns, err := s.numbers(s.kv, id)
	if err != nil {
		return nil, err
	}
	last, err := s.Pointer(id, PointerLast)
	if err != nil {
		return nil, err
	}
	rel, err := s.Pointer(id, PointerRelease)
	if err != nil {
		return nil, err
	}
	refs, err := s.refsIn(id)
	if err != nil {
		return nil, err
	}
	out := make([]VersionInfo, 0, len(ns))
	for _, n := range ns {
		v, c, err := s.record(ctx, id, n)
		if err != nil {
			return nil, err
		}
		vi := VersionInfo{Version: v, CID: c}
		vi.Last = last != nil && last.Number == n
		vi.Release = rel != nil && rel.Number == n
		vi.Pinned, err = s.kv.Has(pinKey(id, n))
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.Version != nil && *r.Version == n {
				vi.RefsIn += r.Count
			}
		}
		out = append(out, vi)
	}
	return out, nil
}

func (s *Store) signer(id ID) (Meta, Signer, error) {
	m, err := s.reg.Get(id)
	if err != nil {
		return Meta{}, Signer{}, err
	}
	sg, err := s.opts.Signer(m.Rights.Owner)
	if err == nil {
		return m, sg, nil
	}
	// Not ours: a replica we may write to signs as the writer we hold.
	for _, w := range m.Rights.Writers {
		if wsg, werr := s.opts.Signer(w); werr == nil {
			return m, wsg, nil
		}
	}
	return Meta{}, Signer{}, fmt.Errorf("sign for %s: %w", m.Rights.Owner, err)
}

// setPointer signs pointer name → version n (record c) into b.
func (s *Store) setPointer(b kv.Writer, id ID, sg Signer, name string, n uint64, c cid.CID) error {
	seq, _, err := getU64(s.kv, pointerSeqKey(id, name))
	if err != nil {
		return err
	}
	p := &Pointer{MiMei: id, Name: name, Number: n, Target: c, Seq: seq + 1, Time: s.now()}
	if err := p.Sign(sg); err != nil {
		return err
	}
	enc, err := p.Marshal()
	if err != nil {
		return err
	}
	if err := b.Set(pointerKey(id, name), enc); err != nil {
		return err
	}
	return b.Set(pointerSeqKey(id, name), u64(seq+1))
}

// treeList lists a directory of the file space seen by r, for dirtree.Build.
func (s *Store) treeList(r kv.Reader, id ID) func(dir string) ([]dirtree.Entry, error) {
	return func(dir string) ([]dirtree.Entry, error) {
		es, err := s.listCur(r, id, dir)
		if err != nil {
			return nil, err
		}
		out := make([]dirtree.Entry, len(es))
		for i, e := range es {
			out[i] = dirtree.Entry{Name: e.Name(), Kind: dirtree.KindFile, Root: e.Root, Size: uint64(e.Size), MIME: e.MIME, ModTime: e.ModTime}
			if e.Dir {
				out[i].Kind, out[i].Root, out[i].MIME = dirtree.KindDir, cid.Undef, ""
			}
		}
		return out, nil
	}
}

// freezeFiles writes the file space seen by r as a directory tree into put
// and returns its root (Undef when the space is empty).
func (s *Store) freezeFiles(ctx context.Context, r kv.Reader, id ID, put filetree.Putter) (cid.CID, error) {
	it := r.Iter(kv.IterOptions{Prefix: subKey(id, "f/")})
	empty := !it.Next()
	if err := it.Close(); err != nil {
		return cid.Undef, err
	}
	if empty {
		return cid.Undef, nil
	}
	root, _, err := dirtree.Build(ctx, put, s.treeList(r, id))
	return root, err
}

// exportDB streams the database seen by r to w; keys is the count.
func exportDB(r kv.Reader, id ID, w io.Writer) (int, error) {
	v, err := mimeidb.OpenReadOnly(r, dbPrefix(id))
	if err != nil {
		return 0, err
	}
	return v.Export(w)
}

// freezeDB writes the database seen by r as a file and returns its root
// (Undef when the database is empty).
func (s *Store) freezeDB(ctx context.Context, r kv.Reader, id ID) (cid.CID, error) {
	return s.freezeDBTo(ctx, r, id, s.blocks)
}

// freezeDBTo is freezeDB writing the blocks into put.
func (s *Store) freezeDBTo(ctx context.Context, r kv.Reader, id ID, put filetree.Putter) (cid.CID, error) {
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		n, err := exportDB(r, id, pw)
		pw.CloseWithError(err)
		done <- n
	}()
	root, _, err := filetree.Write(ctx, pr, put, s.opts.Chunker, nil)
	pr.CloseWithError(errors.New("export reader closed"))
	keys := <-done
	if err != nil {
		return cid.Undef, fmt.Errorf("freeze database: %w", err)
	}
	if keys == 0 {
		return cid.Undef, nil
	}
	return root, nil
}

// freeze writes cur as seen by snap into the block store: the file space
// as a directory tree, the database as an export file.
func (s *Store) freeze(ctx context.Context, snap kv.Reader, id ID) (files, db cid.CID, err error) {
	if files, err = s.freezeFiles(ctx, snap, id, s.blocks); err != nil {
		return cid.Undef, cid.Undef, fmt.Errorf("freeze files: %w", err)
	}
	if db, err = s.freezeDB(ctx, snap, id); err != nil {
		return cid.Undef, cid.Undef, err
	}
	return files, db, nil
}

// Backup freezes cur (files and database) into the next version of id,
// signed for the owner through this device's certificate, and moves
// "last" to it. Its parent is the version cur was based on (see
// ErrDiverged); it becomes cur's base. Blocks are durable before the
// version is listed, so a crash leaves the version whole or absent. Then
// the retention policy prunes old versions.
func (s *Store) Backup(ctx context.Context, id ID, memo string) (VersionInfo, error) {
	if err := s.room(newDataBytes); err != nil {
		return VersionInfo{}, err
	}
	if len(memo) > MaxMemoLen {
		return VersionInfo{}, fmt.Errorf("%w: memo of %d bytes (max %d)", ErrMalformed, len(memo), MaxMemoLen)
	}
	_, sg, err := s.signer(id)
	if err != nil {
		return VersionInfo{}, err
	}
	s.gc.RLock()
	defer s.gc.RUnlock()
	unlock := s.lock(id)
	defer unlock()
	snap, err := s.kv.Snapshot()
	if err != nil {
		return VersionInfo{}, err
	}
	defer snap.Close()
	files, dbRoot, err := s.freeze(ctx, snap, id)
	if err != nil {
		return VersionInfo{}, err
	}
	n, _, err := getU64(s.kv, subKey(id, "n"))
	if err != nil {
		return VersionInfo{}, err
	}
	// The new version follows the one cur is based on: the newest here,
	// unless versions arrived that cur did not take (ErrDiverged), of
	// which it is then a sibling, so that no device takes it for their
	// successor.
	parent, _, err := s.baseOf(s.kv, id)
	if err != nil {
		return VersionInfo{}, err
	}
	v := &Version{MiMei: id, Number: n, Parent: parent, Time: s.now(), Memo: memo, Files: files, DB: dbRoot}
	if err := v.Sign(sg); err != nil {
		return VersionInfo{}, err
	}
	enc, err := v.Marshal()
	if err != nil {
		return VersionInfo{}, err
	}
	c := cid.Sum(cid.DagCBOR, enc)
	if err := s.blocks.Put(ctx, c, enc); err != nil {
		return VersionInfo{}, err
	}
	if err := s.blocks.Flush(ctx); err != nil {
		return VersionInfo{}, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	err = errors.Join(b.Set(versionKey(id, n), c.Bytes()), b.Set(subKey(id, "n"), u64(n+1)), b.Set(headKey(id), c.Bytes()),
		b.Set(baseKey(id), c.Bytes()), s.setPointer(b, id, sg, PointerLast, n, c))
	if err != nil {
		return VersionInfo{}, err
	}
	if err := b.Commit(); err != nil {
		return VersionInfo{}, err
	}
	if err := s.kv.Sync(); err != nil {
		return VersionInfo{}, err
	}
	if err := s.pruneLocked(ctx, id); err != nil {
		return VersionInfo{}, fmt.Errorf("version %d made; pruning old versions: %w", n, err)
	}
	return VersionInfo{Version: v, CID: c, Last: true}, nil
}

// Release points "release" at version ref.
func (s *Store) Release(ctx context.Context, id ID, ref string) (VersionInfo, error) {
	_, sg, err := s.signer(id)
	if err != nil {
		return VersionInfo{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	v, c, err := s.Version(ctx, id, ref)
	if err != nil {
		return VersionInfo{}, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if err := s.setPointer(b, id, sg, PointerRelease, v.Number, c); err != nil {
		return VersionInfo{}, err
	}
	if err := b.Commit(); err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{Version: v, CID: c, Release: true}, nil
}

// protection says why version n may not be deleted without force ("" if
// nothing protects it).
func (s *Store) protection(id ID, n uint64) (error, error) {
	if rel, err := s.Pointer(id, PointerRelease); err != nil {
		return nil, err
	} else if rel != nil && rel.Number == n {
		return fmt.Errorf("%w: %s version %d; delete with force", ErrProtected, id, n), nil
	}
	if ok, err := s.kv.Has(pinKey(id, n)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: %s version %d is pinned; unpin it or delete with force", ErrReferenced, id, n), nil
	}
	refs, err := s.refsIn(id)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if r.Version != nil && *r.Version == n {
			return fmt.Errorf("%w: %s version %d is referenced by %s; delete with force", ErrReferenced, id, n, r.From), nil
		}
	}
	return nil, nil
}

// DeleteVersion removes version ref of id. The release, a pinned or a
// referenced version goes only with force. "last" moves to the newest
// remaining version. The blocks go at the next GC.
func (s *Store) DeleteVersion(ctx context.Context, id ID, ref string, force bool) error {
	_, sg, err := s.signer(id)
	if err != nil {
		return err
	}
	unlock := s.lock(id)
	defer unlock()
	n, err := s.resolve(id, ref)
	if err != nil {
		return err
	}
	if ok, err := s.kv.Has(versionKey(id, n)); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %s version %d", ErrNoVersion, id, n)
	}
	if why, err := s.protection(id, n); err != nil {
		return err
	} else if why != nil && !force {
		return why
	}
	return s.deleteLocked(ctx, id, sg, []uint64{n})
}

func (s *Store) deleteLocked(ctx context.Context, id ID, sg Signer, ns []uint64) error {
	b := s.kv.NewBatch()
	defer b.Discard()
	gone := map[uint64]bool{}
	for _, n := range ns {
		gone[n] = true
		if err := errors.Join(b.Delete(versionKey(id, n)), b.Delete(pinKey(id, n))); err != nil {
			return err
		}
	}
	if err := s.clearDiverged(b, id, gone); err != nil {
		return err
	}
	if rel, err := s.Pointer(id, PointerRelease); err != nil {
		return err
	} else if rel != nil && gone[rel.Number] {
		if err := b.Delete(pointerKey(id, PointerRelease)); err != nil {
			return err
		}
	}
	if last, err := s.Pointer(id, PointerLast); err != nil {
		return err
	} else if last != nil && gone[last.Number] {
		all, err := s.numbers(s.kv, id)
		if err != nil {
			return err
		}
		all = slices.DeleteFunc(all, func(n uint64) bool { return gone[n] })
		if len(all) == 0 {
			err = b.Delete(pointerKey(id, PointerLast))
		} else {
			var c cid.CID
			if _, c, err = s.record(ctx, id, all[len(all)-1]); err == nil {
				err = s.setPointer(b, id, sg, PointerLast, all[len(all)-1], c)
			}
		}
		if err != nil {
			return err
		}
	}
	return b.Commit()
}

// pruneLocked applies the retention policy: beyond the newest K versions,
// every version that is not the release, pinned or referenced is deleted.
func (s *Store) pruneLocked(ctx context.Context, id ID) error {
	keep, err := s.Keep(id)
	if err != nil || keep == 0 {
		return err
	}
	ns, err := s.numbers(s.kv, id)
	if err != nil || len(ns) <= keep {
		return err
	}
	var drop []uint64
	for _, n := range ns[:len(ns)-keep] {
		why, err := s.protection(id, n)
		if err != nil {
			return err
		}
		if why == nil {
			drop = append(drop, n)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	_, sg, err := s.signer(id)
	if err != nil {
		return err
	}
	return s.deleteLocked(ctx, id, sg, drop)
}

// loadFilesLocked replaces the file space of id with the tree at root
// (Undef = empty) in one batch.
func (s *Store) loadFilesLocked(ctx context.Context, id ID, root cid.CID) error {
	return s.loadFilesBatch(ctx, id, root, nil)
}

// loadFilesBatch is loadFilesLocked adding extra's writes (if set) to the
// batch.
func (s *Store) loadFilesBatch(ctx context.Context, id ID, root cid.CID, extra func(kv.Writer) error) error {
	b := s.kv.NewBatch()
	defer b.Discard()
	it := s.kv.Iter(kv.IterOptions{Prefix: subKey(id, "f/")})
	for it.Next() {
		if err := b.Delete(bytes.Clone(it.Key())); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	now := s.now()
	if root.Defined() {
		err := dirtree.Walk(ctx, s.blocks, root, func(p string, de dirtree.Entry) error {
			e := fromTree(p, de)
			e.Created = now
			if e.Dir {
				e.Root, e.Size = cid.Undef, 0
			}
			enc, err := encodeEntry(e)
			if err != nil {
				return err
			}
			return b.Set(fileKey(id, p), enc)
		})
		if err != nil {
			return err
		}
	}
	if extra != nil {
		if err := extra(b); err != nil {
			return err
		}
	}
	return b.Commit()
}

// openExport returns the export stream of a frozen database (Undef = empty).
func (s *Store) openExport(ctx context.Context, root cid.CID) (io.Reader, error) {
	if !root.Defined() {
		var buf bytes.Buffer
		db, err := mimeidb.Open(memkv.New(), []byte("e"))
		if err != nil {
			return nil, err
		}
		if _, err := db.Export(&buf); err != nil {
			return nil, err
		}
		return &buf, nil
	}
	return filetree.Open(ctx, s.blocks, root)
}

// Restore makes cur of id equal to version ref: files first, then the
// database, each replaced atomically. A crash between the two leaves the
// files restored and the old database; restoring again completes it.
// Then cur is based on the head, the newest version made or imported here
// (a backup continues the line after it, even when an older version was
// restored), and the
// divergences recorded (ErrDiverged) are settled: the person chose what
// cur holds.
func (s *Store) Restore(ctx context.Context, id ID, ref string) (VersionInfo, error) {
	if _, err := s.reg.Get(id); err != nil {
		return VersionInfo{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	v, c, err := s.Version(ctx, id, ref)
	if err != nil {
		return VersionInfo{}, err
	}
	if err := s.restoreLocked(ctx, id, v); err != nil {
		return VersionInfo{}, err
	}
	head, ok, err := getCID(s.kv, headKey(id))
	if err != nil {
		return VersionInfo{}, err
	}
	if !ok {
		head = c
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if err := errors.Join(b.Set(baseKey(id), head.Bytes()), s.clearDiverged(b, id, nil)); err != nil {
		return VersionInfo{}, err
	}
	if err := b.Commit(); err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{Version: v, CID: c}, nil
}

func (s *Store) restoreLocked(ctx context.Context, id ID, v *Version) error {
	if err := s.loadFilesLocked(ctx, id, v.Files); err != nil {
		return fmt.Errorf("restore files: %w", err)
	}
	db, err := s.DB(id)
	if err != nil {
		return err
	}
	r, err := s.openExport(ctx, v.DB)
	if err != nil {
		return err
	}
	if _, err := db.Replace(ctx, r); err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	return nil
}

// VersionDB returns a read-only database of version ref of id (cur gives
// a snapshot-free view of the live database: use DB for writes). A frozen
// database is materialised once into the store's kv, streamed from its
// export in bounded memory (vdb.go), and read from there; ctx bounds the
// wait for that load.
func (s *Store) VersionDB(ctx context.Context, id ID, ref string) (*mimeidb.View, error) {
	if isCur(ref) {
		if _, err := s.DB(id); err != nil {
			return nil, err
		}
		return mimeidb.OpenReadOnly(s.kv, dbPrefix(id))
	}
	v, c, err := s.Version(ctx, id, ref)
	if err != nil {
		return nil, err
	}
	if err := s.materialise(ctx, v, c); err != nil {
		return nil, err
	}
	return mimeidb.OpenReadOnly(s.kv, vdbPrefix(c))
}

// Fork makes a new MiMei from spec whose cur is version ref of id ("" =
// last, or cur when id has no version), records where it came from, and
// backs it up as its version 0.
func (s *Store) Fork(ctx context.Context, id ID, ref string, spec Spec, rights Rights, keep int) (Meta, error) {
	if _, err := s.reg.Get(id); err != nil {
		return Meta{}, err
	}
	if ref == "" {
		if p, err := s.Pointer(id, PointerLast); err != nil {
			return Meta{}, err
		} else if p != nil {
			ref = RefLast
		} else {
			ref = RefCur
		}
	}
	origin := &Origin{MiMei: id}
	var src *Version
	if isCur(ref) {
		s.gc.RLock()
		unlock := s.lock(id)
		snap, err := s.kv.Snapshot()
		if err != nil {
			unlock()
			s.gc.RUnlock()
			return Meta{}, err
		}
		files, dbRoot, err := s.freeze(ctx, snap, id)
		if err == nil {
			err = s.blocks.Flush(ctx)
		}
		snap.Close()
		unlock()
		s.gc.RUnlock()
		if err != nil {
			return Meta{}, err
		}
		src = &Version{Files: files, DB: dbRoot}
	} else {
		v, c, err := s.Version(ctx, id, ref)
		if err != nil {
			return Meta{}, err
		}
		src, origin.Version, origin.Record = v, v.Number, c
	}
	m, err := s.create(spec, rights, origin, keep)
	if err != nil {
		return Meta{}, err
	}
	unlock := s.lock(m.ID)
	err = s.restoreLocked(ctx, m.ID, src)
	unlock()
	if err != nil {
		return Meta{}, err
	}
	memo := fmt.Sprintf("fork of %s", id)
	if origin.Record.Defined() {
		memo += fmt.Sprintf(" version %d", origin.Version)
	}
	if _, err := s.Backup(ctx, m.ID, memo); err != nil {
		return Meta{}, err
	}
	return m, nil
}
