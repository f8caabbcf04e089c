package mimei

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// The working copy. A MiMei whose versions this node can sign (a device
// of its owner, or of a writer) has a working copy: cur, and the version
// cur is based on (its base: the parent of the next backup). Backup makes
// the new version the base; Restore makes the newest version held the base
// (so a restore of an old version followed by a backup continues the line);
// ImportVersion moves cur to a version that arrived from elsewhere when
// that is safe, and otherwise keeps cur and records a divergence.
//
// A MiMei this node cannot sign (received from someone else) has no
// working copy: cur stays empty and reads of cur show its newest version
// (ReadRef, Info).

// ErrDiverged: a version arrived (from another device of the persona, or
// from a writer) while cur held changes made here since its base, or it
// does not build on that base. The version is kept on the line; cur is
// kept as it is; Branches lists the divergence (BranchDiverged) until the
// next Restore, or until cur moves to a version that builds on it.
var ErrDiverged = errors.New("diverged")

func baseKey(id ID) []byte { return subKey(id, "base") }
func headKey(id ID) []byte { return subKey(id, "h") }

// divergedKey: version n (record c) arrived and cur did not move to it.
// The value is the record cur was based on then (empty: none).
func divergedKey(id ID, n uint64, c cid.CID) []byte { return subKey(id, "dv/", u64(n), c.Bytes()) }

func getCID(r kv.Reader, key []byte) (cid.CID, bool, error) {
	b, err := r.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return cid.Undef, false, nil
	}
	if err != nil {
		return cid.Undef, false, err
	}
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, false, fmt.Errorf("%w: %q: %w", ErrMalformed, key, err)
	}
	return c, true, nil
}

// baseOf returns the record cur of id is based on and whether it was
// stored as such. A MiMei from before bases were kept has none stored:
// its head (the newest version held) stands in, as it did for backups.
func (s *Store) baseOf(r kv.Reader, id ID) (cid.CID, bool, error) {
	c, ok, err := getCID(r, baseKey(id))
	if err != nil || ok {
		return c, ok, err
	}
	c, _, err = getCID(r, headKey(id))
	return c, false, err
}

// canSign reports whether this node can sign versions of m: it holds a
// working copy of it.
func (s *Store) canSign(m Meta) bool {
	if _, err := s.opts.Signer(m.Rights.Owner); err == nil {
		return true
	}
	for _, w := range m.Rights.Writers {
		if _, err := s.opts.Signer(w); err == nil {
			return true
		}
	}
	return false
}

// recordAt loads the version record c (not verified: it was when it was
// kept here).
func (s *Store) recordAt(ctx context.Context, c cid.CID) (*Version, error) {
	data, err := s.blocks.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := cid.Verify(c, data); err != nil {
		return nil, err
	}
	return ParseVersion(data)
}

// discard takes blocks and keeps none: freezing into it computes roots.
type discard struct{}

func (discard) Put(context.Context, cid.CID, []byte) error { return nil }

// curRoots returns what a backup of cur, as snap sees it, would record,
// without writing a block.
func (s *Store) curRoots(ctx context.Context, snap kv.Reader, id ID) (files, db cid.CID, err error) {
	if files, err = s.freezeFiles(ctx, snap, id, discard{}); err != nil {
		return cid.Undef, cid.Undef, err
	}
	if db, err = s.freezeDBTo(ctx, snap, id, discard{}); err != nil {
		return cid.Undef, cid.Undef, err
	}
	return files, db, nil
}

// descends reports whether version v has the record base among its
// ancestors (an undefined base: any). An ancestor that cannot be read (a
// pruned version) ends the walk: not provably descending.
func (s *Store) descends(ctx context.Context, v *Version, base cid.CID, baseNumber uint64) bool {
	if !base.Defined() {
		return true
	}
	p := v.Parent
	for p.Defined() {
		if p == base {
			return true
		}
		pv, err := s.recordAt(ctx, p)
		if err != nil || pv.MiMei != v.MiMei || pv.Number <= baseNumber {
			return false
		}
		p = pv.Parent
	}
	return false
}

// followLocked decides, after version v (record c) was placed as the
// newest of id, whether cur moves to it: when cur has not changed since
// its base (base, stored says it was kept as such) and v builds on that
// base, cur becomes v, as a restore would (database first, in one commit
// that fails if the database changed since it was checked; then the file
// space with the new base in one batch). Otherwise cur is kept, the
// divergence is recorded and returned (wrapping ErrDiverged).
func (s *Store) followLocked(ctx context.Context, id ID, v *Version, c, base cid.CID, stored bool) (moved bool, diverged, err error) {
	db, err := s.DB(id)
	if err != nil {
		return false, nil, err
	}
	seq := db.Seq() // before the snapshot: a commit after it fails ReplaceIf
	snap, err := s.kv.Snapshot()
	if err != nil {
		return false, nil, err
	}
	files, dbRoot, err := s.curRoots(ctx, snap, id)
	snap.Close()
	if err != nil {
		return false, nil, err
	}
	var bv *Version
	if base.Defined() {
		if bv, err = s.recordAt(ctx, base); err != nil {
			bv = nil // pruned and collected: cur cannot be shown unchanged
		}
	}
	var why string
	switch {
	case !stored && !files.Defined() && !dbRoot.Defined():
		// Nothing was ever based here (a MiMei that arrived here, or one
		// from before bases were kept that was never restored).
	case base.Defined() && bv == nil:
		why = "the version cur was based on is no longer here, so cur cannot be shown unchanged"
	case bv == nil && (files.Defined() || dbRoot.Defined()):
		why = "cur holds changes made here that no version has"
	case bv != nil && (files != bv.Files || dbRoot != bv.DB):
		why = fmt.Sprintf("cur has changes made here since version %d", bv.Number)
	case bv != nil && !s.descends(ctx, v, base, bv.Number):
		why = fmt.Sprintf("it does not build on version %d, which cur holds", bv.Number)
	}
	if why == "" {
		if v.DB != dbRoot {
			r, err := s.openExport(ctx, v.DB)
			if err != nil {
				return false, nil, err
			}
			if _, err := db.ReplaceIf(ctx, r, seq); errors.Is(err, mimeidb.ErrConflict) {
				why = "the database of cur changed while the version was being applied"
			} else if err != nil {
				return false, nil, fmt.Errorf("move cur to version %d: database: %w", v.Number, err)
			}
		}
	}
	if why != "" {
		if err := s.kv.Set(divergedKey(id, v.Number, c), cidBytes(base)); err != nil {
			return false, nil, err
		}
		return false, fmt.Errorf("%w: version %d of %s by %s arrived, but %s; cur was kept, and so is the version (see the branches)",
			ErrDiverged, v.Number, id, v.Author, why), nil
	}
	err = s.loadFilesWith(ctx, id, v.Files, v.Files == files, func(b kv.Writer) error {
		if err := b.Set(baseKey(id), c.Bytes()); err != nil {
			return err
		}
		return s.settleDiverged(ctx, b, id, v, c)
	})
	if err != nil {
		return false, nil, fmt.Errorf("move cur to version %d: files: %w", v.Number, err)
	}
	return true, nil, nil
}

// settleDiverged deletes into b the divergences that cur, now version v
// (record c), has taken: v itself and the versions it builds on.
func (s *Store) settleDiverged(ctx context.Context, b kv.Writer, id ID, v *Version, c cid.CID) error {
	notes, err := s.divergences(id)
	if err != nil {
		return err
	}
	for _, d := range notes {
		if d.Record == c || (d.Number < v.Number && s.descends(ctx, v, d.Record, d.Number)) {
			if err := b.Delete(divergedKey(id, d.Number, d.Record)); err != nil {
				return err
			}
		}
	}
	return nil
}

// divergences lists the divergences recorded for id (Record and Number
// of the version that arrived, BaseRecord of cur then).
func (s *Store) divergences(id ID) ([]Branch, error) {
	pre := subKey(id, "dv/")
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []Branch
	for it.Next() {
		k := it.Key()[len(pre):]
		if len(k) <= 8 {
			it.Close()
			return nil, fmt.Errorf("%w: divergence key", ErrMalformed)
		}
		c, err := cid.Cast(k[8:])
		var base cid.CID
		if err == nil && len(it.Value()) > 0 {
			base, err = cid.Cast(it.Value())
		}
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("%w: divergence entry: %w", ErrMalformed, err)
		}
		out = append(out, Branch{Kind: BranchDiverged, Number: uint64FromBytes(k[:8]), Record: c, BaseRecord: base})
	}
	return out, it.Close()
}

// clearDiverged deletes into b every divergence of id (numbers nil) or
// those of the given version numbers.
func (s *Store) clearDiverged(b kv.Writer, id ID, numbers map[uint64]bool) error {
	notes, err := s.divergences(id)
	if err != nil {
		return err
	}
	for _, d := range notes {
		if numbers == nil || numbers[d.Number] {
			if err := b.Delete(divergedKey(id, d.Number, d.Record)); err != nil {
				return err
			}
		}
	}
	return nil
}

// newest returns the highest version number of id held, if any.
func (s *Store) newest(r kv.Reader, id ID) (uint64, bool, error) {
	pre := subKey(id, "v/")
	it := r.Iter(kv.IterOptions{Prefix: pre, Reverse: true})
	defer it.Close()
	if !it.Next() {
		return 0, false, it.Close()
	}
	k := it.Key()[len(pre):]
	if len(k) != 8 {
		return 0, false, fmt.Errorf("%w: version index key", ErrMalformed)
	}
	return uint64FromBytes(k), true, nil
}

// curEmpty reports whether cur of id holds no file and no database key.
func (s *Store) curEmpty(r kv.Reader, id ID) (bool, error) {
	it := r.Iter(kv.IterOptions{Prefix: subKey(id, "f/")})
	files := it.Next()
	if err := it.Close(); err != nil || files {
		return false, err
	}
	view, err := mimeidb.OpenReadOnly(r, dbPrefix(id))
	if err != nil {
		return false, err
	}
	cursor := "0"
	for {
		next, keys, err := view.Scan(cursor, mimeidb.ScanOptions{Count: 100})
		if err != nil || len(keys) > 0 {
			return false, err
		}
		if next == "0" {
			return true, nil
		}
		cursor = next
	}
}

// ReadRef says what a read of version ref of id shows. Reading cur ("" or
// "cur") of a MiMei with no working copy here — one received from someone
// else, whose versions this node cannot sign, with nothing in cur — shows
// its newest version instead: ReadRef returns that version's number and
// true. Anything else is returned as it is, with false.
func (s *Store) ReadRef(id ID, ref string) (string, bool, error) {
	if !isCur(ref) {
		return ref, false, nil
	}
	m, err := s.reg.Get(id)
	if err != nil {
		return ref, false, err
	}
	if s.canSign(m) {
		return ref, false, nil
	}
	n, ok, err := s.newest(s.kv, id)
	if err != nil || !ok {
		return ref, false, err
	}
	if empty, err := s.curEmpty(s.kv, id); err != nil || !empty {
		return ref, false, err
	}
	return strconv.FormatUint(n, 10), true, nil
}

// versionStats counts the files, bytes and database keys of version v and
// its newest modification time, streaming (nothing is loaded whole).
func (s *Store) versionStats(ctx context.Context, v *Version) (files, size, keys int64, modified time.Time, err error) {
	if v.Files.Defined() {
		err = dirtree.Walk(ctx, s.blocks, v.Files, func(_ string, e dirtree.Entry) error {
			if e.Kind != dirtree.KindDir {
				files++
				size += int64(e.Size)
			}
			if e.ModTime.After(modified) {
				modified = e.ModTime
			}
			return nil
		})
		if err != nil {
			return 0, 0, 0, time.Time{}, err
		}
	}
	if v.DB.Defined() {
		r, err := s.openExport(ctx, v.DB)
		if err != nil {
			return 0, 0, 0, time.Time{}, err
		}
		err = mimeidb.ReadExport(r, func([]byte, mimeidb.Type, any) error { keys++; return nil })
		if err != nil {
			return 0, 0, 0, time.Time{}, err
		}
	}
	return files, size, keys, modified, nil
}

// loadFilesWith replaces the file space of id with the tree at root, as
// loadFilesLocked, and adds extra's writes to the same batch. same says
// the file space already is that tree: only extra is written.
func (s *Store) loadFilesWith(ctx context.Context, id ID, root cid.CID, same bool, extra func(kv.Writer) error) error {
	if same {
		b := s.kv.NewBatch()
		defer b.Discard()
		if err := extra(b); err != nil {
			return err
		}
		return b.Commit()
	}
	return s.loadFilesBatch(ctx, id, root, extra)
}
