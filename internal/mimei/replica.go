package mimei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/filetree"
	"github.com/peer-node/peer/internal/kv"
)

// ErrConflict: an imported version has the number of a version this store
// already holds, with other contents or another parent. Both are kept: the
// imported one as a branch (Branches).
var ErrConflict = errors.New("conflicting version")

// branchKey: a version record kept beside the main line because another
// version already had its number.
func branchKey(id ID, n uint64, c cid.CID) []byte { return subKey(id, "br/", u64(n), c.Bytes()) }

// VersionBlocks calls fn for every block version ref of id consists of:
// its record, every block of its directory tree and files, and its
// database export. A block shared by several files may be passed more
// than once.
func (s *Store) VersionBlocks(ctx context.Context, id ID, ref string, fn func(cid.CID) error) (*Version, cid.CID, error) {
	v, c, err := s.Version(ctx, id, ref)
	if err != nil {
		return nil, cid.Undef, err
	}
	return v, c, s.recordBlocks(ctx, v, c, fn)
}

func (s *Store) recordBlocks(ctx context.Context, v *Version, c cid.CID, fn func(cid.CID) error) error {
	if err := fn(c); err != nil {
		return err
	}
	if v.Files.Defined() {
		if err := dirtree.Blocks(ctx, s.blocks, v.Files, fn); err != nil {
			return fmt.Errorf("version %d files: %w", v.Number, err)
		}
	}
	if v.DB.Defined() {
		if err := filetree.Walk(ctx, s.blocks, v.DB, fn); err != nil {
			return fmt.Errorf("version %d database: %w", v.Number, err)
		}
	}
	return nil
}

// Import is a version made elsewhere, to be recorded by ImportVersion.
type Import struct {
	Spec   Spec   // the MiMei's ID inputs, as its owner sent them
	Rights Rights // its rights, as its owner sent them
	Record cid.CID
	// Last and Release are the owner's signed pointers (ParsePointer
	// form); nil leaves the stored pointer as it is.
	Last, Release []byte
	// TrustRights says Rights came from the owner: they replace the
	// rights held. Otherwise they are used only to register a MiMei this
	// store does not hold yet.
	TrustRights bool
}

// ImportVersion records a version of a MiMei made on another device: a
// replica of someone else's MiMei, or of our own persona's MiMei backed up
// on another of its devices. The record and every block it needs must
// already be in the block store. The record is verified (signature, device
// certificate, MiMei ID, signed by the owner or a writer) before anything
// is kept; the MiMei is registered from in.Spec if this store does not
// hold it yet, else its rights are updated when they came from the owner.
//
// A version whose number is already taken by another record, or whose
// parent is not the record this store holds for the number before it, is
// kept as a branch and reported with ErrConflict; nothing is lost.
// Importing a version already held is a no-op.
//
// A version that becomes the newest of a MiMei this node holds a working
// copy of (it can sign its versions: a device of the owner or of a writer)
// moves cur to it (VersionInfo.MovedCur) when cur has not changed since
// the version it is based on and the new version builds on that one, as
// a restore would; the next backup then follows it. Otherwise cur is kept
// as it is, the version stays on the line, the divergence is listed by
// Branches (BranchDiverged) and reported with ErrDiverged.
func (s *Store) ImportVersion(ctx context.Context, in Import) (VersionInfo, error) {
	if err := s.room(newDataBytes); err != nil {
		return VersionInfo{}, err
	}
	id, spec, err := NewID(in.Spec)
	if err != nil {
		return VersionInfo{}, err
	}
	rights := in.Rights
	if rights.Owner == "" {
		rights.Owner = spec.Author
	}
	if err := rights.Validate(); err != nil {
		return VersionInfo{}, err
	}
	data, err := s.blocks.Get(ctx, in.Record)
	if err != nil {
		return VersionInfo{}, fmt.Errorf("version record %s: %w", in.Record, err)
	}
	if err := cid.Verify(in.Record, data); err != nil {
		return VersionInfo{}, fmt.Errorf("%w: version record: %w", ErrMalformed, err)
	}
	v, err := ParseVersion(data)
	if err != nil {
		return VersionInfo{}, err
	}
	if err := v.Verify(id, s.now(), s.opts.Revoked); err != nil {
		return VersionInfo{}, err
	}
	if v.Author != rights.Owner && !slices.Contains(rights.Writers, v.Author) {
		return VersionInfo{}, fmt.Errorf("%w: version %d of %s is signed by %s, neither its owner nor a writer", ErrBadRights, v.Number, id, v.Author)
	}
	// Every block the version needs must be here before it is listed.
	err = s.recordBlocks(ctx, v, in.Record, func(c cid.CID) error {
		ok, err := s.blocks.Has(ctx, c)
		if err == nil && !ok {
			err = fmt.Errorf("block %s is missing", c)
		}
		return err
	})
	if err != nil {
		return VersionInfo{}, fmt.Errorf("import version %d of %s: %w", v.Number, id, err)
	}
	s.gc.RLock()
	defer s.gc.RUnlock()
	unlock := s.lock(id)
	defer unlock()
	if _, err := s.reg.Get(id); errors.Is(err, ErrNotFound) {
		if _, err := s.reg.create(spec, rights, nil); err != nil && !errors.Is(err, ErrExists) {
			return VersionInfo{}, err
		}
	} else if err != nil {
		return VersionInfo{}, err
	} else if in.TrustRights {
		if _, err := s.reg.SetRights(id, rights); err != nil {
			return VersionInfo{}, err
		}
	} else if m, err := s.reg.Get(id); err != nil {
		return VersionInfo{}, err
	} else if v.Author != m.Rights.Owner && !slices.Contains(m.Rights.Writers, v.Author) {
		return VersionInfo{}, fmt.Errorf("%w: version %d of %s is signed by %s, neither its owner nor a writer", ErrBadRights, v.Number, id, v.Author)
	}
	vi := VersionInfo{Version: v, CID: in.Record}
	// What cur is based on and the next number, before the version is
	// placed (placing a newer version moves the head).
	base, stored, err := s.baseOf(s.kv, id)
	if err != nil {
		return vi, err
	}
	next, _, err := getU64(s.kv, subKey(id, "n"))
	if err != nil {
		return vi, err
	}
	placed, conflict, err := s.placeVersion(id, v, in.Record)
	if err != nil {
		return vi, err
	}
	for _, p := range []struct {
		name string
		raw  []byte
	}{{PointerLast, in.Last}, {PointerRelease, in.Release}} {
		if p.raw == nil {
			continue
		}
		if err := s.importPointer(id, p.name, p.raw); err != nil {
			return vi, err
		}
	}
	// A new newest version of a MiMei we hold a working copy of: cur
	// follows it if nothing here would be lost, else both are kept.
	var diverged error
	if placed && v.Number >= next {
		m, err := s.reg.Get(id)
		if err != nil {
			return vi, err
		}
		if s.canSign(m) {
			if vi.MovedCur, diverged, err = s.followLocked(ctx, id, v, in.Record, base, stored); err != nil {
				return vi, err
			}
		}
	}
	if err := s.kv.Sync(); err != nil {
		return vi, err
	}
	if conflict != nil {
		return vi, conflict
	}
	if last, err := s.Pointer(id, PointerLast); err == nil && last != nil {
		vi.Last = last.Number == v.Number
	}
	return vi, diverged
}

// RegisterHeld registers a MiMei of which this node keeps versions it
// cannot read (sealed blocks held for others, without the content key):
// no version is imported, but the MiMei's ID inputs and its rights, as its
// owner sent them, let the sharing layer serve what is held to those the
// rights name. A MiMei already registered keeps its rights unless
// trustRights says these came from the owner.
func (s *Store) RegisterHeld(spec Spec, rights Rights, trustRights bool) (Meta, error) {
	id, spec, err := NewID(spec)
	if err != nil {
		return Meta{}, err
	}
	if rights.Owner == "" {
		rights.Owner = spec.Author
	}
	if err := rights.Validate(); err != nil {
		return Meta{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	m, err := s.reg.Get(id)
	switch {
	case errors.Is(err, ErrNotFound):
		m, err = s.reg.create(spec, rights, nil)
		if errors.Is(err, ErrExists) {
			return s.reg.Get(id)
		}
		return m, err
	case err != nil:
		return Meta{}, err
	case trustRights:
		return s.reg.SetRights(id, rights)
	}
	return m, nil
}

// placeVersion lists record c (version v) under its number (placed), or
// keeps it as a branch when that would break the line; the error returned
// first is the conflict to report. A version already listed is neither.
func (s *Store) placeVersion(id ID, v *Version, c cid.CID) (placed bool, conflict, err error) {
	held, err := s.kv.Get(versionKey(id, v.Number))
	switch {
	case err == nil && bytes.Equal(held, c.Bytes()):
		return false, nil, nil
	case err == nil:
		conflict, err = s.keepBranch(id, v, c, "this number is taken by another record here")
		return false, conflict, err
	case !errors.Is(err, kv.ErrNotFound):
		return false, nil, err
	}
	if v.Number > 0 {
		prev, err := s.kv.Get(versionKey(id, v.Number-1))
		if err == nil && (!v.Parent.Defined() || !bytes.Equal(prev, v.Parent.Bytes())) {
			conflict, err = s.keepBranch(id, v, c, fmt.Sprintf("it does not follow version %d held here", v.Number-1))
			return false, conflict, err
		} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return false, nil, err
		}
	}
	next, _, err := getU64(s.kv, subKey(id, "n"))
	if err != nil {
		return false, nil, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	errs := []error{b.Set(versionKey(id, v.Number), c.Bytes())}
	if v.Number+1 > next {
		errs = append(errs, b.Set(subKey(id, "n"), u64(v.Number+1)), b.Set(headKey(id), c.Bytes()))
	}
	if err := errors.Join(errs...); err != nil {
		return false, nil, err
	}
	return true, nil, b.Commit()
}

func (s *Store) keepBranch(id ID, v *Version, c cid.CID, why string) (error, error) {
	if err := s.kv.Set(branchKey(id, v.Number, c), c.Bytes()); err != nil {
		return nil, err
	}
	return fmt.Errorf("%w: version %d of %s by %s: %s; kept as branch %s", ErrConflict, v.Number, id, v.Author, why, c), nil
}

// importPointer keeps an owner's signed pointer if it verifies and is newer
// than the one held.
func (s *Store) importPointer(id ID, name string, raw []byte) error {
	p, err := ParsePointer(raw)
	if err != nil {
		return err
	}
	if p.Name != name {
		return fmt.Errorf("%w: pointer %q given as %q", ErrMalformed, p.Name, name)
	}
	if err := p.Verify(id, s.now(), s.opts.Revoked); err != nil {
		return err
	}
	seq, _, err := getU64(s.kv, pointerSeqKey(id, name))
	if err != nil {
		return err
	}
	if p.Seq <= seq {
		return nil
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if err := errors.Join(b.Set(pointerKey(id, name), raw), b.Set(pointerSeqKey(id, name), u64(p.Seq))); err != nil {
		return err
	}
	return b.Commit()
}

// BranchKind says why a version is listed by Branches.
type BranchKind string

// Branch kinds.
const (
	// BranchConflict: a version kept beside the main line because another
	// version here had its number or it did not follow the version before
	// it (ErrConflict).
	BranchConflict BranchKind = "conflict"
	// BranchDiverged: a version on the main line that cur did not take,
	// because cur had changes made here since its base or the version
	// does not build on that base (ErrDiverged). It is listed until the
	// next Restore or until cur moves to a version built on it.
	BranchDiverged BranchKind = "diverged"
)

// Branch is a version kept beside the main line after a conflict, or one
// on the line that cur diverged from.
type Branch struct {
	Kind   BranchKind
	Number uint64
	Record cid.CID
	Author string
	Memo   string
	// BaseRecord (diverged only) is the version cur was based on when the
	// version arrived (Undef: none); Base is its number if it is known.
	BaseRecord cid.CID
	Base       *uint64
}

// Branches lists the branches kept for id, conflicts first, each kind by
// number.
func (s *Store) Branches(ctx context.Context, id ID) ([]Branch, error) {
	out, err := s.conflicts(id)
	if err != nil {
		return nil, err
	}
	div, err := s.divergences(id)
	if err != nil {
		return nil, err
	}
	out = append(out, div...)
	for i := range out {
		if v, err := s.recordAt(ctx, out[i].Record); err == nil {
			out[i].Author, out[i].Memo = v.Author, v.Memo
		}
		if out[i].BaseRecord.Defined() {
			if v, err := s.recordAt(ctx, out[i].BaseRecord); err == nil {
				n := v.Number
				out[i].Base = &n
			}
		}
	}
	return out, nil
}

// conflicts lists the versions kept beside the main line of id.
func (s *Store) conflicts(id ID) ([]Branch, error) {
	pre := subKey(id, "br/")
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []Branch
	for it.Next() {
		c, err := cid.Cast(it.Value())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("%w: branch index: %w", ErrMalformed, err)
		}
		out = append(out, Branch{Kind: BranchConflict, Number: uint64FromBytes(it.Key()[len(pre):][:8]), Record: c})
	}
	return out, it.Close()
}
