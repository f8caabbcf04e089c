package persona

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// MaxPending bounds the entries a state keeps while they wait for their
// author's device entry or for a gap in their author's sequence to fill.
const MaxPending = 4096

// Result says what Apply did with an entry.
type Result int

// Results of Apply.
const (
	Applied   Result = iota + 1 // verified, stored and folded
	Pending                     // kept until its author's device entry or earlier entries arrive
	Duplicate                   // already held
)

// state is the fold of one persona's entries of one epoch, in memory. It
// records which entries and slots each change touches (dirty), so the
// store can write exactly those in one batch.
type state struct {
	op  *identity.OpCert // the epoch's operational certificate (verified)
	now func() time.Time

	applied map[string]*Entry // by id
	pending map[string]*Entry // by id
	fold    map[string]*Entry // winner by slot
	heads   map[string]uint64 // author → highest contiguous sequence applied
	cutoffs map[string]uint64 // revoked device → cutoff
	clock   uint64            // highest clock seen

	dirtyE, dirtyP, dirtyV map[string]bool
}

func newState(op *identity.OpCert, now func() time.Time) *state {
	s := &state{op: op, now: now}
	s.reset()
	return s
}

func (s *state) reset() {
	s.applied = map[string]*Entry{}
	s.pending = map[string]*Entry{}
	s.fold = map[string]*Entry{}
	s.heads = map[string]uint64{}
	s.cutoffs = map[string]uint64{}
	s.clock = 0
	s.clean()
}

func (s *state) clean() {
	s.dirtyE, s.dirtyP, s.dirtyV = map[string]bool{}, map[string]bool{}, map[string]bool{}
}

// authorized reports whether author has a device entry in the fold.
func (s *state) authorized(author []byte) bool {
	_, ok := s.fold[string(append([]byte{byte(KindDevice)}, author...))]
	return ok
}

// add applies e (whose signature has been verified) and then every pending
// entry it unblocks.
func (s *state) add(e *Entry) (Result, error) {
	if e.Persona != s.op.Persona {
		return 0, fmt.Errorf("%w: entry of %s in the state of %s", ErrMalformed, e.Persona, s.op.Persona)
	}
	switch {
	case e.Epoch < s.op.Epoch:
		return 0, fmt.Errorf("%w: state entry of epoch %d, state of epoch %d", identity.ErrStaleEpoch, e.Epoch, s.op.Epoch)
	case e.Epoch > s.op.Epoch:
		return 0, fmt.Errorf("%w: entry of epoch %d, state of epoch %d", ErrNewerEpoch, e.Epoch, s.op.Epoch)
	}
	id := e.id()
	if c, ok := s.cutoffs[string(e.Author)]; ok && e.Seq > c {
		return 0, fmt.Errorf("%w: entry %d of device %x, revoked after entry %d", identity.ErrRevoked, e.Seq, e.Author[:8], c)
	}
	for _, held := range []*Entry{s.applied[id], s.pending[id]} {
		if held == nil {
			continue
		}
		if bytes.Equal(held.Sig, e.Sig) {
			return Duplicate, nil
		}
		return 0, fmt.Errorf("%w: device %x entry %d", ErrConflict, e.Author[:8], e.Seq)
	}
	r, err := s.try(e)
	if err != nil {
		return 0, err
	}
	if r == Applied {
		s.drain()
		return Applied, nil
	}
	if len(s.pending) >= MaxPending {
		return 0, fmt.Errorf("%w: %d entries already wait", ErrUnknownAuthor, len(s.pending))
	}
	s.pending[id] = e
	s.dirtyP[id] = true
	return Pending, nil
}

// try applies e if its author is known (or e is the author's own device
// entry) and it is the author's next entry; otherwise it reports Pending.
func (s *state) try(e *Entry) (Result, error) {
	self := e.Kind == KindDevice && bytes.Equal(e.Key, e.Author)
	if !self && !s.authorized(e.Author) {
		return Pending, nil
	}
	if e.Seq != s.heads[string(e.Author)]+1 {
		return Pending, nil
	}
	if e.Kind == KindDevice {
		if err := s.checkDevice(e); err != nil {
			return 0, err
		}
	}
	s.put(e)
	if e.Kind == KindRevoke {
		s.revoke(e)
	}
	return Applied, nil
}

// checkDevice verifies a device entry's certificate under the epoch's
// operational certificate.
func (s *state) checkDevice(e *Entry) error {
	var v DeviceValue
	if err := codec.Unmarshal(e.Value, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c, err := identity.ParseDeviceCert(v.Cert)
	if err != nil {
		return err
	}
	if err := c.Verify(s.op, s.now()); err != nil {
		return fmt.Errorf("persona: device entry of %x: %w", e.Key[:8], err)
	}
	return nil
}

// put stores an applied entry and folds it into its slot.
func (s *state) put(e *Entry) {
	id := e.id()
	s.applied[id] = e
	s.dirtyE[id] = true
	if s.pending[id] != nil {
		delete(s.pending, id)
		s.dirtyP[id] = true
	}
	s.heads[string(e.Author)] = e.Seq
	s.clock = max(s.clock, e.Clock)
	slot := e.slot()
	if cur := s.fold[slot]; cur == nil || e.wins(cur) {
		s.fold[slot] = e
		s.dirtyV[slot] = true
	}
}

// revoke records a revoke entry's cutoff. If it is lower than the one
// held and entries of the revoked device above it are held, the state is
// rebuilt without them, so the result does not depend on whether the
// revoke arrived before or after them.
func (s *state) revoke(e *Entry) {
	dev := string(e.Key)
	c := revokeCutoff(e)
	if old, ok := s.cutoffs[dev]; ok && old <= c {
		return
	}
	s.cutoffs[dev] = c
	if s.heads[dev] > c || s.hasPendingAbove(dev, c) {
		s.rebuild()
	}
}

func (s *state) hasPendingAbove(dev string, c uint64) bool {
	for _, p := range s.pending {
		if string(p.Author) == dev && p.Seq > c {
			return true
		}
	}
	return false
}

// rebuild folds every held entry again from nothing, with the cutoffs
// known, dropping the entries above them. Every entry and slot held before
// or after is marked dirty.
func (s *state) rebuild() {
	all := make([]*Entry, 0, len(s.applied)+len(s.pending))
	for id, e := range s.applied {
		all = append(all, e)
		s.dirtyE[id] = true
	}
	for id, e := range s.pending {
		all = append(all, e)
		s.dirtyP[id] = true
	}
	for slot := range s.fold {
		s.dirtyV[slot] = true
	}
	cutoffs := s.cutoffs
	dirtyE, dirtyP, dirtyV := s.dirtyE, s.dirtyP, s.dirtyV
	s.reset()
	s.cutoffs = cutoffs
	sort.Slice(all, func(i, j int) bool { return all[i].id() < all[j].id() })
	for _, e := range all {
		if c, ok := s.cutoffs[string(e.Author)]; ok && e.Seq > c {
			continue
		}
		if r, err := s.try(e); err == nil && r == Pending {
			s.pending[e.id()] = e
		}
	}
	s.drain()
	// The cutoffs are those of the revoke entries that stayed, as a store
	// read back from disk computes them (a revoke by a device cut off
	// below it no longer counts; its dropped entries come back by sync
	// if they are acceptable).
	s.cutoffs = cutoffsOf(s.applied)
	for id := range s.dirtyE {
		dirtyE[id] = true
	}
	for id := range s.dirtyP {
		dirtyP[id] = true
	}
	for slot := range s.dirtyV {
		dirtyV[slot] = true
	}
	s.dirtyE, s.dirtyP, s.dirtyV = dirtyE, dirtyP, dirtyV
}

// drain applies pending entries until none can be. A pending entry that
// fails to apply (a device entry whose certificate does not verify) is
// dropped.
func (s *state) drain() {
	for progress := true; progress; {
		progress = false
		ids := make([]string, 0, len(s.pending))
		for id := range s.pending {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			e := s.pending[id]
			if e == nil {
				continue // removed by a rebuild
			}
			if c, ok := s.cutoffs[string(e.Author)]; ok && e.Seq > c {
				delete(s.pending, id)
				s.dirtyP[id] = true
				continue
			}
			r, err := s.try(e)
			switch {
			case err != nil:
				delete(s.pending, id)
				s.dirtyP[id] = true
			case r == Applied:
				progress = true
			}
		}
	}
}

// device returns the device entry's value for key, and whether it is
// revoked.
func (s *state) device(key ed25519.PublicKey) (DeviceValue, bool, bool) {
	e := s.fold[string(append([]byte{byte(KindDevice)}, key...))]
	if e == nil {
		return DeviceValue{}, false, false
	}
	var v DeviceValue
	_ = codec.Unmarshal(e.Value, &v)
	_, revoked := s.cutoffs[string(key)]
	return v, revoked, true
}

// cutoffsOf returns the lowest cutoff of each device revoked by entries.
func cutoffsOf(entries map[string]*Entry) map[string]uint64 {
	out := map[string]uint64{}
	for _, e := range entries {
		if e.Kind != KindRevoke {
			continue
		}
		dev, c := string(e.Key), revokeCutoff(e)
		if old, ok := out[dev]; !ok || c < old {
			out[dev] = c
		}
	}
	return out
}

func (r Result) String() string {
	switch r {
	case Applied:
		return "applied"
	case Pending:
		return "pending"
	case Duplicate:
		return "duplicate"
	}
	return fmt.Sprintf("result(%d)", int(r))
}
