package share

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/bufpool"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// Authorize decides whether the persona behind a remote peer (empty for a
// stranger) may fetch block c as part of MiMei mid: the MiMei's rights
// must name the persona (or the MiMei be public) and c must be one of the
// blocks published for that MiMei, so a reader of one MiMei cannot fetch
// another's blocks by CID. A request for a version's manifest root is
// written to the access log.
func (s *Service) Authorize(persona, peerID, mid string, c cid.CID) error {
	id, err := mimei.ParseID(mid)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotShared, err)
	}
	m, err := s.store.Registry().Get(id)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotShared, mid)
	}
	if RoleOf(m.Rights, persona) == RoleNone {
		return fmt.Errorf("%w: %s", ErrNotShared, mid)
	}
	member, err := s.kv.Has(memberKey(id, c))
	if err != nil {
		return err
	}
	if !member {
		b, err := s.kv.Get(sealedKey(c))
		if errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("%w: block %s is not part of %s", ErrNotShared, c, mid)
		} else if err != nil {
			return err
		}
		e, err := decodeSealedEntry(b)
		if err != nil {
			return err
		}
		if e.id != id {
			return fmt.Errorf("%w: block %s is not part of %s", ErrNotShared, c, mid)
		}
		return nil
	}
	if v, err := s.kv.Get(manifestRootKey(c)); err == nil && len(v) == mimei.IDLen+8 && [mimei.IDLen]byte(v) == id {
		s.logAccess(id, binary.BigEndian.Uint64(v[mimei.IDLen:]), persona, peerID)
	}
	return nil
}

// Get returns block c for the block exchange server: sealed blocks are
// sealed on the fly from the plaintext and the epoch's key; everything
// else is read from the block store. Blocks are read without re-hashing:
// the client verifies every block it receives (a plaintext block against
// its CID; a sealed one against its CID and, once opened, the SIV check
// against the plaintext digest the CID names), so corruption at rest is
// caught there. Call it only after Authorize.
//
// When the block store can read into a given buffer, the block is read
// into a pooled buffer (a sealed block in place: read after room for the
// format byte and nonce, sealed over itself), which the exchange server
// gives back through Release once it has sent it.
func (s *Service) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	b, err := s.kv.Get(sealedKey(c))
	if errors.Is(err, kv.ErrNotFound) {
		return s.readPooled(ctx, c, 0)
	} else if err != nil {
		return nil, err
	}
	e, err := decodeSealedEntry(b)
	if err != nil {
		return nil, err
	}
	k := s.cachedKey(e.id, e.epoch) // most blocks: no registry read
	if k == nil {
		m, err := s.store.Registry().Get(e.id)
		if err != nil {
			return nil, err
		}
		if k, err = s.contentKey(e.id, e.epoch, m.Rights.Owner); err != nil {
			return nil, err
		}
	}
	digest, err := cid.Digest(e.plain)
	if err != nil {
		return nil, err
	}
	const head = 1 + sealing.NonceSize
	buf, err := s.readPooled(ctx, e.plain, head)
	if err != nil {
		return nil, err
	}
	if len(buf)-head > sealing.MaxBlockSize {
		return nil, fmt.Errorf("share: block %s of %d bytes, limit %d", e.plain, len(buf)-head, sealing.MaxBlockSize)
	}
	return k.SealDigestAppend(buf[:0], buf[head:], digest), nil
}

// readPooled reads block c unverified after head spare bytes, into a
// pooled buffer with room for the sealing overhead when the block store
// allows it (see Release); otherwise into a fresh one.
func (s *Service) readPooled(ctx context.Context, c cid.CID, head int) ([]byte, error) {
	ag, ok := s.blocks.(blockstore.AppendGetter)
	if !ok {
		plain, err := blockstore.GetFast(ctx, s.blocks, c)
		if err != nil || head == 0 {
			return plain, err
		}
		out := make([]byte, head, head+len(plain)+sealing.TagSize)
		return append(out, plain...), nil
	}
	n, err := s.blocks.Size(ctx, c)
	if err != nil {
		return nil, err
	}
	bp := bufpool.Get(head + n + sealing.TagSize)
	data, err := ag.AppendUnverified(ctx, c, (*bp)[:head])
	if err != nil {
		bufpool.Put(bp)
		return nil, err
	}
	if &data[:1][0] != &(*bp)[:1][0] { // grown (the block changed size): not ours to pool
		bufpool.Put(bp)
		return data, nil
	}
	served.add(data)
	return data, nil
}

// served remembers the pooled buffers Get handed out, so that Release
// recycles only those (never a slice the block store still owns).
var served = pooled{m: map[*byte]struct{}{}}

type pooled struct {
	mu sync.Mutex
	m  map[*byte]struct{}
}

// maxPooled bounds what served remembers: a caller of Get that never
// calls Release (a test, say) must not make it grow. Forgetting is always
// safe: a forgotten buffer is left to the collector.
const maxPooled = 4096

func (p *pooled) add(b []byte) {
	p.mu.Lock()
	if len(p.m) >= maxPooled {
		clear(p.m)
	}
	p.m[&b[:1][0]] = struct{}{}
	p.mu.Unlock()
}

// take says whether b was handed out by Get and forgets it.
func (p *pooled) take(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	k := &b[:1][0]
	p.mu.Lock()
	_, ok := p.m[k]
	delete(p.m, k)
	p.mu.Unlock()
	return ok
}

// Release gives back a block Get returned, once the exchange server has
// sent it and keeps no reference to it. Anything else is ignored.
func (s *Service) Release(data []byte) {
	if served.take(data) {
		b := data[:0]
		bufpool.Put(&b)
	}
}

// Access is one entry of the access log: a persona's device fetched a
// version of one of our MiMei.
type Access struct {
	Time    time.Time
	MiMei   mimei.ID
	Version uint64
	Persona string // "" for a stranger (public MiMei)
	Peer    string
}

type accessWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint64
	Persona string
	Peer    string
}

func accessPrefix(id mimei.ID) []byte { return key([]byte("sh/al/"), id[:]) }

// Access-log budgets: what a reader, or a stranger fetching a public
// MiMei, can make us write.
const (
	// AccessWindow: one (MiMei, version, reader) is written to the access
	// log, and announced as a share.access event, at most once per window;
	// repeats within it are only counted in memory.
	AccessWindow = 10 * time.Minute
	// MaxAccessEntries bounds the access log of one MiMei: writing an
	// entry beyond it removes the oldest.
	MaxAccessEntries = 1000
	// maxAccessSeen bounds the readers remembered for AccessWindow; when
	// it is full the entries older than the window go, and if none is,
	// all of them (a flood of throwaway peer IDs then costs log entries,
	// which MaxAccessEntries bounds, rather than memory).
	maxAccessSeen = 4096
)

// accessReader is who fetched a version, for the once-per-window rule: the
// persona when known (all its devices are one reader), else the peer.
type accessReader struct {
	id      mimei.ID
	version uint64
	who     string
}

// accessSeen is when an accessReader was last written and how many
// repeats were not.
type accessSeen struct {
	at      time.Time
	repeats uint64
}

// logAccess records that persona (or, for a stranger, peerID) fetched
// version n of id: at most once per AccessWindow, keeping at most
// MaxAccessEntries entries for id.
func (s *Service) logAccess(id mimei.ID, n uint64, persona, peerID string) {
	now := s.now()
	r := accessReader{id: id, version: n, who: persona}
	if persona == "" {
		r.who = "peer:" + peerID
	}
	s.alMu.Lock()
	defer s.alMu.Unlock()
	if e, ok := s.alSeen[r]; ok {
		if now.Sub(e.at) < AccessWindow && !now.Before(e.at) {
			e.repeats++
			return
		}
		if e.repeats > 0 {
			s.log.Debug("access log: repeats not written", "mimei", id.String(), "version", n, "reader", r.who, "repeats", e.repeats)
		}
	}
	if len(s.alSeen) >= maxAccessSeen {
		for k, e := range s.alSeen {
			if now.Sub(e.at) >= AccessWindow {
				delete(s.alSeen, k)
			}
		}
		if len(s.alSeen) >= maxAccessSeen {
			clear(s.alSeen)
		}
	}
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	enc, err := codec.Marshal(accessWire{Version: n, Persona: persona, Peer: peerID})
	if err == nil {
		err = s.kv.Set(key(accessPrefix(id), u64(uint64(now.UnixMilli())), u64(seq)), enc)
	}
	if err == nil {
		err = s.trimAccess(id)
	}
	if err != nil {
		s.log.Warn("access log", "mimei", id.String(), "err", err)
		return
	}
	s.alSeen[r] = &accessSeen{at: now}
	s.event("share.access", map[string]any{"mimei": id.String(), "version": n, "persona": persona, "peer": peerID})
}

// trimAccess removes the oldest entries of id's access log beyond
// MaxAccessEntries. Called with alMu held, after each write, so there is
// at most one to remove unless MaxAccessEntries was lowered.
func (s *Service) trimAccess(id mimei.ID) error {
	pre := accessPrefix(id)
	it := s.kv.Iter(kv.IterOptions{Prefix: pre, Reverse: true})
	var old [][]byte
	n := 0
	for it.Next() {
		if n++; n > MaxAccessEntries {
			old = append(old, bytes.Clone(it.Key()))
		}
	}
	if err := it.Close(); err != nil || len(old) == 0 {
		return err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Commit()
}

// AccessLog lists who fetched which version of id, oldest first, at most
// limit entries (the newest); limit ≤ 0 means all. The log keeps one entry
// per version and reader per AccessWindow and at most MaxAccessEntries.
func (s *Service) AccessLog(id mimei.ID, limit int) ([]Access, error) {
	pre := accessPrefix(id)
	it := s.kv.Iter(kv.IterOptions{Prefix: pre})
	var out []Access
	for it.Next() {
		k := it.Key()[len(pre):]
		var w accessWire
		if len(k) != 16 || codec.Unmarshal(it.Value(), &w) != nil {
			it.Close()
			return nil, fmt.Errorf("share: corrupt access log entry of %s", id)
		}
		out = append(out, Access{
			Time: time.UnixMilli(int64(binary.BigEndian.Uint64(k))).UTC(), MiMei: id,
			Version: w.Version, Persona: w.Persona, Peer: w.Peer,
		})
		if limit > 0 && len(out) > limit {
			out = out[1:]
		}
	}
	return out, it.Close()
}
