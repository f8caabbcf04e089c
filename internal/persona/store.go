package persona

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
)

// Store is the persistent state of one persona on one device, over a kv
// store:
//
//	ps/<index>/m                  the epoch of the state (uint32, big-endian)
//	ps/<index>/e/<author><seq>    applied entries (seq: 8 bytes big-endian)
//	ps/<index>/p/<author><seq>    entries waiting for their author or a gap
//	ps/<index>/v/<kind><key>      the folded value of each slot (its winning entry)
//
// Each Apply or Write commits its entry, its effect on the fold and the
// pending entries it unblocked in one batch, so a crash leaves either all
// of them or none. A Store is safe for concurrent use.
type Store struct {
	db     kv.Store
	prefix []byte

	mu  sync.Mutex
	st  *state
	err error // set when the state could not be read back after a failed write
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Now is the clock device certificates are checked against
	// (time.Now if nil).
	Now func() time.Time
}

// Open opens (or starts) the state of persona index in db, for the epoch
// of op, which must verify. A state held for a higher epoch is
// identity.ErrStaleEpoch; one held for a lower epoch is ErrNewerEpoch
// until adopting an epoch is written (section 14.5).
func Open(db kv.Store, index uint32, op *identity.OpCert, opts Options) (*Store, error) {
	if op == nil {
		return nil, fmt.Errorf("%w: no operational certificate", ErrMalformed)
	}
	if err := op.Verify(); err != nil {
		return nil, fmt.Errorf("persona: operational certificate: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, prefix: []byte("ps/" + strconv.FormatUint(uint64(index), 10) + "/")}
	meta, err := db.Get(s.key('m'))
	switch {
	case errors.Is(err, kv.ErrNotFound):
		if err := db.Set(s.key('m'), binary.BigEndian.AppendUint32(nil, op.Epoch)); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case len(meta) != 4:
		return nil, fmt.Errorf("%w: state meta of %d bytes", ErrMalformed, len(meta))
	default:
		held := binary.BigEndian.Uint32(meta)
		if held > op.Epoch {
			return nil, fmt.Errorf("%w: state of epoch %d held, asked for %d", identity.ErrStaleEpoch, held, op.Epoch)
		}
		if held < op.Epoch {
			return nil, fmt.Errorf("%w: state of epoch %d held, asked for %d", ErrNewerEpoch, held, op.Epoch)
		}
	}
	s.st = newState(op.Clone(), now)
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) key(sub byte, rest ...[]byte) []byte {
	k := append(bytes.Clone(s.prefix), sub)
	if sub != 'm' {
		k = append(k, '/')
	}
	for _, r := range rest {
		k = append(k, r...)
	}
	return k
}

// load reads the applied and pending entries and folds them again (the
// v/ values are written for readers, the fold is recomputed).
func (s *Store) load() error {
	for _, sub := range []byte{'e', 'p'} {
		it := s.db.Iter(kv.IterOptions{Prefix: s.key(sub)})
		for it.Next() {
			e, err := ParseEntry(it.Value())
			if err != nil {
				it.Close()
				return fmt.Errorf("persona: stored entry %x: %w", it.Key(), err)
			}
			if sub == 'e' {
				s.st.applied[e.id()] = e
			} else {
				s.st.pending[e.id()] = e
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	for _, e := range s.st.applied {
		s.st.heads[string(e.Author)] = max(s.st.heads[string(e.Author)], e.Seq)
		s.st.clock = max(s.st.clock, e.Clock)
		slot := e.slot()
		if cur := s.st.fold[slot]; cur == nil || e.wins(cur) {
			s.st.fold[slot] = e
		}
	}
	s.st.cutoffs = cutoffsOf(s.st.applied)
	s.st.clean()
	return nil
}

// Apply verifies an entry received from another device and applies it:
// ErrBadSignature, ErrMalformed, identity.ErrStaleEpoch (an older epoch),
// ErrNewerEpoch, identity.ErrRevoked (an author revoked before this
// sequence), ErrConflict, or the identity error of a device entry whose
// certificate does not verify. An entry whose author is not yet known, or
// that follows a gap in its author's sequence, is kept and applied when
// they arrive (Pending); ErrUnknownAuthor when too many wait.
func (s *Store) Apply(e *Entry) (Result, error) {
	if err := e.VerifySignature(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	r, err := s.st.add(e.Clone())
	if err != nil {
		return 0, err
	}
	return r, s.commit()
}

// ApplyBytes parses and applies an encoded entry.
func (s *Store) ApplyBytes(b []byte) (Result, error) {
	e, err := ParseEntry(b)
	if err != nil {
		return 0, err
	}
	return s.Apply(e)
}

// Write has this device (device, whose device entry must be in the state,
// or which is writing its own device entry) sign and apply an entry
// setting kind and key to value, with its next sequence and the clock one
// above every clock seen. It returns the entry.
func (s *Store) Write(device ed25519.PrivateKey, kind Kind, key, value []byte) (*Entry, error) {
	if len(device) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: device key of %d bytes", ErrMalformed, len(device))
	}
	pub := device.Public().(ed25519.PublicKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The next sequence and clock count this device's own entries that
	// wait (its authority was taken away with a revoked device's entry)
	// and every clock seen, so no two entries of the device share a
	// sequence and its later entries carry later clocks.
	seq, clock := s.st.heads[string(pub)], s.st.clock
	for _, p := range s.st.pending {
		clock = max(clock, p.Clock)
		if bytes.Equal(p.Author, pub) {
			seq = max(seq, p.Seq)
		}
	}
	e := &Entry{
		Persona: s.st.op.Persona, Epoch: s.st.op.Epoch,
		Seq: seq + 1, Clock: clock + 1,
		Kind: kind, Key: bytes.Clone(key), Value: bytes.Clone(value),
	}
	if err := e.Sign(device); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	r, err := s.st.add(e)
	if err != nil {
		return nil, err // add changes nothing when it refuses
	}
	if r != Applied {
		delete(s.st.pending, e.id())
		s.st.clean()
		return nil, fmt.Errorf("%w: device %x has no device entry in the state", ErrUnknownAuthor, pub[:8])
	}
	return e.Clone(), s.commit()
}

// commit writes what the last change touched in one batch. If the batch
// fails, the in-memory state is read back from the store, so it never runs
// ahead of what is stored.
func (s *Store) commit() error {
	st := s.st
	b := s.db.NewBatch()
	defer b.Discard()
	err := func() error {
		for _, part := range []struct {
			sub   byte
			dirty map[string]bool
			held  map[string]*Entry
		}{{'e', st.dirtyE, st.applied}, {'p', st.dirtyP, st.pending}, {'v', st.dirtyV, st.fold}} {
			for id := range part.dirty {
				k := s.key(part.sub, []byte(id))
				e := part.held[id]
				if e == nil {
					if err := b.Delete(k); err != nil {
						return err
					}
					continue
				}
				enc, err := e.Marshal()
				if err != nil {
					return err
				}
				if err := b.Set(k, enc); err != nil {
					return err
				}
			}
		}
		return b.Commit()
	}()
	st.clean()
	if err != nil {
		s.reload()
		return fmt.Errorf("persona: store the state: %w", err)
	}
	return nil
}

// reload replaces the in-memory state by what is stored. If that fails
// too, the Store refuses every later change with the error.
func (s *Store) reload() {
	s.st = newState(s.st.op, s.st.now)
	if err := s.load(); err != nil {
		s.err = fmt.Errorf("persona: state unreadable after a failed write: %w", err)
	}
}

// Epoch returns the state's epoch.
func (s *Store) Epoch() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.op.Epoch
}

// Version is what a device holds of a persona's state: its epoch and, per
// author, the highest sequence applied (without gaps).
type Version struct {
	Epoch uint32
	Heads map[string]uint64 // author device key (as a string of its bytes) → sequence
}

// Version returns the state's version.
func (s *Store) Version() Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := Version{Epoch: s.st.op.Epoch, Heads: make(map[string]uint64, len(s.st.heads))}
	for a, h := range s.st.heads {
		if h > 0 {
			v.Heads[a] = h
		}
	}
	return v
}

// Missing returns copies of the applied entries another device lacks, given its
// version, ordered by author and sequence, at most limit of them (all if
// limit <= 0).
func (s *Store) Missing(have Version, limit int) []*Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Entry
	for _, e := range s.st.applied {
		if e.Seq > have.Heads[string(e.Author)] {
			out = append(out, e.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Get returns a copy of the winning entry of a slot, if any. For contacts, blocks
// and rights an empty value means the slot was cleared.
func (s *Store) Get(kind Kind, key []byte) (*Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.fold[string(append([]byte{byte(kind)}, key...))]
	if e == nil {
		return nil, false
	}
	return e.Clone(), true
}

// Device returns a device's entry value, whether the device is revoked in
// the epoch, and whether the state knows it.
func (s *Store) Device(key ed25519.PublicKey) (v DeviceValue, revoked, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.device(key)
}

// Cutoff returns the cutoff of a revoked device.
func (s *Store) Cutoff(key ed25519.PublicKey) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.cutoffs[string(key)]
	return c, ok
}

// Devices returns the keys of the devices with a device entry that are
// not revoked, sorted.
func (s *Store) Devices() []ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ed25519.PublicKey
	for slot, e := range s.st.fold {
		if e.Kind != KindDevice {
			continue
		}
		if _, revoked := s.st.cutoffs[slot[1:]]; !revoked {
			out = append(out, ed25519.PublicKey(bytes.Clone(e.Key)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

// Fold returns the encoding of every slot's winning entry, by slot: what
// two devices holding the same entries agree on.
func (s *Store) Fold() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.st.fold))
	for slot, e := range s.st.fold {
		enc, _ := e.Marshal()
		out[slot] = enc
	}
	return out
}

// PendingLen returns the number of entries waiting.
func (s *Store) PendingLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.pending)
}

// EncodeValue encodes a kind's value struct (DeviceValue, RevokeValue, …)
// deterministically.
func EncodeValue(v any) ([]byte, error) { return codec.Marshal(v) }
