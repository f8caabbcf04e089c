package share

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

func headKey(id mimei.ID, n uint64) []byte    { return key([]byte("sh/h/"), id[:], u64(n)) }
func headPrefix(id mimei.ID) []byte           { return key([]byte("sh/h/"), id[:]) }
func manifestRootKey(c cid.CID) []byte        { return key([]byte("sh/hm/"), c.Bytes()) }
func memberKey(id mimei.ID, c cid.CID) []byte { return key([]byte("sh/m/"), id[:], c.Bytes()) }
func sealedKey(c cid.CID) []byte              { return key([]byte("sh/x/"), c.Bytes()) }
func plainKey(id mimei.ID, epoch uint32, c cid.CID) []byte {
	return key([]byte("sh/p/"), id[:], u32(epoch), c.Bytes())
}

// codecByte is the manifest's note of a plaintext block's codec.
func codecByte(c cid.CID) byte {
	if c.Type() == cid.DagCBOR {
		return 'c'
	}
	return 'r'
}

func byteCodec(b byte) uint64 {
	if b == 'c' {
		return cid.DagCBOR
	}
	return cid.Raw
}

// sealedEntry is what sh/x/ says about a sealed block.
type sealedEntry struct {
	id    mimei.ID
	epoch uint32
	plain cid.CID
}

func encodeSealedEntry(e sealedEntry) []byte {
	return key(e.id[:], u32(e.epoch), e.plain.Bytes())
}

func decodeSealedEntry(b []byte) (sealedEntry, error) {
	var e sealedEntry
	if len(b) < mimei.IDLen+4+1 {
		return e, fmt.Errorf("share: corrupt sealed index entry")
	}
	copy(e.id[:], b)
	e.epoch = binary.BigEndian.Uint32(b[mimei.IDLen:])
	c, err := cid.Cast(b[mimei.IDLen+4:])
	if err != nil {
		return e, fmt.Errorf("share: corrupt sealed index entry: %w", err)
	}
	e.plain = c
	return e, nil
}

// Publish makes version ref of id fetchable by those its rights name: for
// a public MiMei its blocks are listed as they are; otherwise each block is
// sealed with the content key of the current epoch (made, with its key
// record, if there is none yet) and the sealed block's CID is indexed, so
// the block is sealed again on the fly when served. Either way a manifest
// (a chain of blocks listing every block of the version) is stored and a
// head is recorded. Publishing a version again is cheap: blocks already
// sealed for the epoch are not read again. Only the owner publishes.
func (s *Service) Publish(ctx context.Context, id mimei.ID, ref string, encKey EncKeyFunc) (Head, error) {
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return Head{}, err
	}
	writer := RoleOf(m.Rights, s.cfg.Persona) == RoleWriter
	if m.Rights.Owner != s.cfg.Persona && !writer {
		return Head{}, fmt.Errorf("%w: %s", ErrNotOwner, id)
	}
	unlock := s.pubLock(id)
	defer unlock()
	v, rc, err := s.store.Version(ctx, id, ref)
	if err != nil {
		return Head{}, err
	}
	var plains []cid.CID
	seen := map[cid.CID]bool{}
	if _, _, err := s.store.VersionBlocks(ctx, id, fmt.Sprint(v.Number), func(c cid.CID) error {
		if !seen[c] {
			seen[c] = true
			plains = append(plains, c)
		}
		return nil
	}); err != nil {
		return Head{}, err
	}
	if len(plains) == 0 || plains[0] != rc {
		return Head{}, fmt.Errorf("share: version %d of %s: record not first in its block list", v.Number, id)
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	h := Head{MiMei: id, Number: v.Number, Time: v.Time}
	var listed []cid.CID
	var checks []byte // sealed: one check per block (see Manifest.Checks)
	codecs := make([]byte, 0, len(plains))
	if m.Rights.Public {
		for _, c := range plains {
			size, err := s.blocks.Size(ctx, c)
			if err != nil {
				return Head{}, fmt.Errorf("share: block %s of version %d: %w", c, v.Number, err)
			}
			h.Bytes += uint64(size)
			codecs = append(codecs, codecByte(c))
			if err := b.Set(memberKey(id, c), nil); err != nil {
				return Head{}, err
			}
		}
		listed = plains
	} else {
		epoch, err := s.Epoch(id)
		if err == nil && epoch == 0 && writer {
			err = fmt.Errorf("%w: no key of %s received from its owner yet", ErrNoKey, id)
		} else if err == nil && epoch == 0 {
			epoch, err = s.rekey(ctx, m, false, encKey)
		}
		if err != nil {
			return Head{}, err
		}
		k, err := s.contentKey(id, epoch, m.Rights.Owner)
		if err != nil {
			return Head{}, err
		}
		h.Epoch = epoch
		listed = make([]cid.CID, 0, len(plains))
		checks = make([]byte, 0, len(plains)*sealing.CheckSize)
		for _, c := range plains {
			sc, size, err := s.sealOne(ctx, b, id, epoch, k, c)
			if err != nil {
				return Head{}, err
			}
			digest, err := cid.Digest(c)
			if err != nil {
				return Head{}, err
			}
			check := k.Check([sealing.DigestSize]byte(digest))
			checks = append(checks, check[:]...)
			listed = append(listed, sc)
			codecs = append(codecs, codecByte(c))
			h.Bytes += uint64(size)
		}
	}
	h.Record = listed[0]
	h.Blocks = uint64(len(listed))
	if h.Manifest, err = s.putManifest(ctx, b, id, listed, codecs, checks); err != nil {
		return Head{}, err
	}
	enc, err := EncodeHead(&h)
	if err != nil {
		return Head{}, err
	}
	err = errors.Join(b.Set(headKey(id, v.Number), enc), b.Set(manifestRootKey(h.Manifest), key(id[:], u64(v.Number))))
	if err != nil {
		return Head{}, err
	}
	if err := s.blocks.Flush(ctx); err != nil {
		return Head{}, err
	}
	if err := b.Commit(); err != nil {
		return Head{}, err
	}
	if err := s.kv.Sync(); err != nil {
		return Head{}, err
	}
	s.event("share.published", map[string]any{"mimei": id.String(), "version": v.Number, "blocks": h.Blocks, "bytes": h.Bytes, "sealed": h.Epoch > 0})
	return h, nil
}

// sealOne indexes the sealed form of plaintext block c under the epoch's
// key, sealing it unless that was done before.
func (s *Service) sealOne(ctx context.Context, b kv.Writer, id mimei.ID, epoch uint32, k *sealing.BlockKey, c cid.CID) (cid.CID, int, error) {
	pk := plainKey(id, epoch, c)
	if v, err := s.kv.Get(pk); err == nil && len(v) > 4 {
		if sc, err := cid.Cast(v[4:]); err == nil {
			return sc, int(binary.BigEndian.Uint32(v)), nil
		}
	} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return cid.Undef, 0, err
	}
	data, err := s.blocks.Get(ctx, c)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("share: block %s: %w", c, err)
	}
	digest, err := cid.Digest(c)
	if err != nil {
		return cid.Undef, 0, err
	}
	sealed := k.SealDigest(data, digest)
	sc := cid.Sum(cid.Raw, sealed)
	err = errors.Join(
		b.Set(sealedKey(sc), encodeSealedEntry(sealedEntry{id: id, epoch: epoch, plain: c})),
		b.Set(pk, key(u32(uint32(len(sealed))), sc.Bytes())))
	return sc, len(sealed), err
}

// putManifest stores the chain of manifest blocks listing cs (last block
// first, so each can name the next) and returns the first one's CID.
func (s *Service) putManifest(ctx context.Context, b kv.Writer, id mimei.ID, cs []cid.CID, codecs, checks []byte) (cid.CID, error) {
	next := cid.Undef
	for start := (len(cs) - 1) / MaxManifestEntries * MaxManifestEntries; start >= 0; start -= MaxManifestEntries {
		end := min(start+MaxManifestEntries, len(cs))
		m := &Manifest{Next: next, Blocks: cs[start:end], Codecs: codecs[start:end]}
		if len(checks) > 0 {
			m.Checks = checks[start*sealing.CheckSize : end*sealing.CheckSize]
		}
		enc, err := EncodeManifest(m)
		if err != nil {
			return cid.Undef, err
		}
		c := cid.Sum(cid.DagCBOR, enc)
		if err := s.blocks.Put(ctx, c, enc); err != nil {
			return cid.Undef, err
		}
		if err := b.Set(memberKey(id, c), nil); err != nil {
			return cid.Undef, err
		}
		next = c
	}
	return next, nil
}

// Heads returns the published heads of id, oldest first.
func (s *Service) Heads(id mimei.ID) ([]Head, error) {
	it := s.kv.Iter(kv.IterOptions{Prefix: headPrefix(id)})
	var out []Head
	for it.Next() {
		h, err := ParseHead(it.Value())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("share: stored head: %w", err)
		}
		out = append(out, *h)
	}
	return out, it.Close()
}

// Known reports whether a version with this manifest was published or
// received here before (on our line or as a branch).
func (s *Service) Known(manifest cid.CID) (bool, error) {
	_, err := s.kv.Get(manifestRootKey(manifest))
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// OwnList returns one page of the MiMei our persona owns, from index
// start on, for another device of our persona.
func (s *Service) OwnList(ctx context.Context, start uint32, persona string) (*OwnList, error) {
	if persona != s.cfg.Persona {
		return nil, fmt.Errorf("%w: only the persona's own devices may list its MiMei", ErrNotShared)
	}
	all, err := s.store.Registry().List()
	if err != nil {
		return nil, err
	}
	var own []mimei.Meta
	for _, m := range all {
		if m.Rights.Owner == persona {
			own = append(own, m)
		}
	}
	slices.SortFunc(own, func(a, b mimei.Meta) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	l := &OwnList{}
	for i := int(start); i < len(own); i++ {
		if len(l.Entries) == MaxListEntries {
			l.More = true
			break
		}
		vs, err := s.store.Versions(ctx, own[i].ID)
		if err != nil {
			return nil, err
		}
		l.Entries = append(l.Entries, OwnEntry{MiMei: own[i].ID, Versions: uint64(len(vs))})
	}
	return l, nil
}

// Head returns the published head of version n of id.
func (s *Service) Head(id mimei.ID, n uint64) (Head, error) {
	b, err := s.kv.Get(headKey(id, n))
	if errors.Is(err, kv.ErrNotFound) {
		return Head{}, fmt.Errorf("%w: %s version %d", ErrNotPublished, id, n)
	}
	if err != nil {
		return Head{}, err
	}
	h, err := ParseHead(b)
	if err != nil {
		return Head{}, err
	}
	return *h, nil
}

// PublishAll publishes every version of id not yet published with the
// current epoch (or at all, for a public MiMei) and returns the heads.
func (s *Service) PublishAll(ctx context.Context, id mimei.ID, encKey EncKeyFunc) ([]Head, error) {
	vs, err := s.store.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Head
	for _, v := range vs {
		h, err := s.Publish(ctx, id, fmt.Sprint(v.Number), encKey)
		if err != nil {
			return out, err
		}
		out = append(out, h)
	}
	return out, nil
}

// Catalog is what the owner tells a persona that may fetch id: its spec,
// rights, newest heads (at most MaxHeads), signed pointers and current key
// epoch.
func (s *Service) Catalog(ctx context.Context, id mimei.ID, persona string) (*Catalog, error) {
	m, _, err := s.access(id, persona)
	if err != nil {
		return nil, err
	}
	heads, err := s.Heads(id)
	if err != nil {
		return nil, err
	}
	if len(heads) > MaxHeads {
		heads = heads[len(heads)-MaxHeads:]
	}
	c := &Catalog{
		MiMei: id, Author: m.Spec.Author, AppType: m.Spec.AppType, Ext: m.Spec.Ext, Mark: m.Spec.Mark,
		Rights: WireRights{Owner: m.Rights.Owner, Writers: slices.Clone(m.Rights.Writers), Readers: slices.Clone(m.Rights.Readers), Public: m.Rights.Public},
		Heads:  heads,
	}
	if !m.Rights.Public {
		if c.Epoch, err = s.Epoch(id); err != nil {
			return nil, err
		}
	}
	for _, p := range []struct {
		name string
		dst  *[]byte
	}{{mimei.PointerLast, &c.Last}, {mimei.PointerRelease, &c.Release}} {
		ptr, err := s.store.Pointer(id, p.name)
		if err != nil {
			return nil, err
		}
		if ptr != nil {
			if *p.dst, err = ptr.Marshal(); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// KeyRecordFor returns the key record of id at epoch if persona may read
// id and the record wraps the key for them.
func (s *Service) KeyRecordFor(id mimei.ID, epoch uint32, persona string) ([]byte, error) {
	m, role, err := s.access(id, persona)
	if err != nil {
		return nil, err
	}
	if m.Rights.Public || role < RoleReader {
		return nil, fmt.Errorf("%w: %s", ErrNoKey, id)
	}
	raw, err := s.KeyRecord(id, epoch)
	if err != nil {
		return nil, err
	}
	rec, err := sealing.ParseKeyRecord(raw)
	if err != nil {
		return nil, err
	}
	if _, ok := rec.For(persona); !ok {
		return nil, fmt.Errorf("%w: %s epoch %d", ErrNoKey, id, epoch)
	}
	return raw, nil
}
