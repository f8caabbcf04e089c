package mimei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/peer-node/peer/internal/kv"
)

// wholeMiMei stands for "no particular version" in reference keys.
const wholeMiMei = math.MaxUint64

// RefCount is a counted reference from one MiMei to another, or to one of
// its versions (Version nil = the MiMei as a whole).
type RefCount struct {
	From, To ID
	Version  *uint64
	Count    int64
}

func (r RefCount) version() uint64 {
	if r.Version == nil {
		return wholeMiMei
	}
	return *r.Version
}

func refOutKey(from, to ID, v uint64) []byte { return subKey(from, "r/", to[:], u64(v)) }

func refInPrefix(to ID) []byte { return append([]byte("ri/"), to[:]...) }

func refInKey(to, from ID, v uint64) []byte {
	return append(append(refInPrefix(to), from[:]...), u64(v)...)
}

func (s *Store) scanRefs(prefix []byte, in bool, self ID) ([]RefCount, error) {
	it := s.kv.Iter(kv.IterOptions{Prefix: prefix})
	var out []RefCount
	for it.Next() {
		k := it.Key()[len(prefix):]
		if len(k) != IDLen+8 || len(it.Value()) != 8 {
			it.Close()
			return nil, fmt.Errorf("%w: reference entry", ErrMalformed)
		}
		var other ID
		copy(other[:], k)
		r := RefCount{Count: int64(uint64FromBytes(it.Value()))}
		if v := uint64FromBytes(k[IDLen:]); v != wholeMiMei {
			r.Version = &v
		}
		if in {
			r.From, r.To = other, self
		} else {
			r.From, r.To = self, other
		}
		out = append(out, r)
	}
	return out, it.Close()
}

func (s *Store) refsIn(id ID) ([]RefCount, error) { return s.scanRefs(refInPrefix(id), true, id) }

func (s *Store) refsOut(id ID) ([]RefCount, error) { return s.scanRefs(subKey(id, "r/"), false, id) }

// Refs returns the references from id to others and from others to id.
func (s *Store) Refs(id ID) (out, in []RefCount, err error) {
	if _, err := s.reg.Get(id); err != nil {
		return nil, nil, err
	}
	if out, err = s.refsOut(id); err != nil {
		return nil, nil, err
	}
	in, err = s.refsIn(id)
	return out, in, err
}

// AddRef counts one more reference from from to to (version nil = the
// MiMei as a whole). A referenced MiMei cannot be deleted, nor a
// referenced version pruned, without force.
func (s *Store) AddRef(ctx context.Context, from, to ID, version *uint64) (RefCount, error) {
	return s.changeRef(ctx, from, to, version, 1)
}

// DropRef counts one reference less; ErrNoRef if there is none.
func (s *Store) DropRef(ctx context.Context, from, to ID, version *uint64) (RefCount, error) {
	return s.changeRef(ctx, from, to, version, -1)
}

func (s *Store) changeRef(ctx context.Context, from, to ID, version *uint64, delta int64) (RefCount, error) {
	if _, err := s.reg.Get(from); err != nil {
		return RefCount{}, err
	}
	if _, err := s.reg.Get(to); err != nil {
		return RefCount{}, err
	}
	if from == to {
		return RefCount{}, fmt.Errorf("%w: a MiMei cannot reference itself", ErrBadRef)
	}
	r := RefCount{From: from, To: to, Version: version}
	// Lock in ID order: a reference touches both MiMei.
	a, b := from, to
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	ua := s.lock(a)
	defer ua()
	ub := s.lock(b)
	defer ub()
	if version != nil && delta > 0 {
		if _, _, err := s.record(ctx, to, *version); err != nil {
			return RefCount{}, err
		}
	}
	n, ok, err := getU64(s.kv, refOutKey(from, to, r.version()))
	if err != nil {
		return RefCount{}, err
	}
	if delta < 0 && !ok {
		return RefCount{}, fmt.Errorf("%w: from %s to %s", ErrNoRef, from, to)
	}
	r.Count = int64(n) + delta
	batch := s.kv.NewBatch()
	defer batch.Discard()
	if r.Count == 0 {
		err = errors.Join(batch.Delete(refOutKey(from, to, r.version())), batch.Delete(refInKey(to, from, r.version())))
	} else {
		err = errors.Join(batch.Set(refOutKey(from, to, r.version()), u64(uint64(r.Count))),
			batch.Set(refInKey(to, from, r.version()), u64(uint64(r.Count))))
	}
	if err != nil {
		return RefCount{}, err
	}
	return r, batch.Commit()
}

// Pin keeps version ref of id whatever the retention policy; a pinned
// version is deleted only with force.
func (s *Store) Pin(ctx context.Context, id ID, ref string) (VersionInfo, error) {
	return s.setPin(ctx, id, ref, true)
}

// Unpin removes a pin.
func (s *Store) Unpin(ctx context.Context, id ID, ref string) (VersionInfo, error) {
	return s.setPin(ctx, id, ref, false)
}

func (s *Store) setPin(ctx context.Context, id ID, ref string, on bool) (VersionInfo, error) {
	if _, err := s.reg.Get(id); err != nil {
		return VersionInfo{}, err
	}
	unlock := s.lock(id)
	defer unlock()
	v, c, err := s.Version(ctx, id, ref)
	if err != nil {
		return VersionInfo{}, err
	}
	if on {
		err = s.kv.Set(pinKey(id, v.Number), []byte{1})
	} else {
		err = s.kv.Delete(pinKey(id, v.Number))
	}
	if err != nil {
		return VersionInfo{}, err
	}
	if !on {
		if err := s.pruneLocked(ctx, id); err != nil {
			return VersionInfo{}, err
		}
	}
	return VersionInfo{Version: v, CID: c, Pinned: on}, nil
}

// Pins counts the pinned versions of id.
func (s *Store) Pins(id ID) (int, error) {
	it := s.kv.Iter(kv.IterOptions{Prefix: subKey(id, "pin/")})
	n := 0
	for it.Next() {
		n++
	}
	return n, it.Close()
}
