package share

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
)

// Key layout of the sharing state (all under "sh/"; see docs/sharing.md):
//
//	sh/k/ ID epoch        signed key record of that epoch (sealing.KeyRecord)
//	sh/ke/ ID             current epoch (u32)
//	sh/h/ ID u64          published head of version n (EncodeHead)
//	sh/hm/ CID            manifest root → ID + u64 version (for the access log)
//	sh/m/ ID CID          block stored as-is that belongs to ID (manifests, public blocks, sealed blocks held without a key; a holder does not serve them on yet)
//	sh/x/ CID             sealed block → ID + epoch + plaintext CID (sealed on the fly)
//	sh/p/ ID epoch CID    plaintext block → its sealed CID + u32 size (so republishing does not reseal)
//	sh/sub/ ID peer       a subscriber's device → its persona NUL u64 ms (last subscribed; owner side)
//	sh/in/ ID             an offer received ("shared with me")
//	sh/s/ ID              our subscription to ID
//	sh/c/ ID              a cached public MiMei: size and last use
//	sh/al/ ID ms seq      access log entry
func key(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func keyRecordKey(id mimei.ID, epoch uint32) []byte { return key([]byte("sh/k/"), id[:], u32(epoch)) }
func epochKey(id mimei.ID) []byte                   { return key([]byte("sh/ke/"), id[:]) }

// Epoch returns the current key epoch of id (0: no key yet).
func (s *Service) Epoch(id mimei.ID) (uint32, error) {
	b, err := s.kv.Get(epochKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("share: corrupt epoch of %s", id)
	}
	return binary.BigEndian.Uint32(b), nil
}

// KeyRecord returns the stored key record of id at epoch, encoded.
func (s *Service) KeyRecord(id mimei.ID, epoch uint32) ([]byte, error) {
	b, err := s.kv.Get(keyRecordKey(id, epoch))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s epoch %d", ErrNoKey, id, epoch)
	}
	return b, err
}

// readerKeys are the personas a key record wraps the key for: the owner
// (so every device of the owner persona can open it), the writers and the
// readers, each with its encryption key.
func (s *Service) readerKeys(ctx context.Context, r mimei.Rights, encKey EncKeyFunc) (map[string]hpke.PublicKey, error) {
	out := map[string]hpke.PublicKey{}
	for _, p := range slices.Concat([]string{r.Owner}, r.Writers, r.Readers) {
		if _, ok := out[p]; ok {
			continue
		}
		if p == s.cfg.Persona {
			out[p] = s.enc.PublicKey()
			continue
		}
		if encKey == nil {
			return nil, fmt.Errorf("share: no way to learn the encryption key of %s", p)
		}
		k, err := encKey(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("share: encryption key of %s: %w", p, err)
		}
		out[p] = k
	}
	if len(out) > sealing.MaxReaders {
		return nil, fmt.Errorf("share: %d readers; a key record holds at most %d (use a group)", len(out), sealing.MaxReaders)
	}
	return out, nil
}

// EncKeyFunc returns a persona's encryption public key (from its signed
// identity record).
type EncKeyFunc func(ctx context.Context, persona string) (hpke.PublicKey, error)

// rekey writes key records for id so that exactly the personas its rights
// name can open them. rotate makes a new key and epoch (after a reader was
// removed); otherwise every existing epoch is rewrapped for the current
// readers with its old key (after a reader was added, so they can read the
// versions made before), or epoch 1 is made if there is none.
func (s *Service) rekey(ctx context.Context, m mimei.Meta, rotate bool, encKey EncKeyFunc) (uint32, error) {
	if m.Rights.Owner != s.cfg.Persona {
		return 0, fmt.Errorf("%w: %s", ErrNotOwner, m.ID)
	}
	readers, err := s.readerKeys(ctx, m.Rights, encKey)
	if err != nil {
		return 0, err
	}
	signer, err := s.cfg.PersonaKey(s.cfg.Persona)
	if err != nil {
		return 0, err
	}
	cur, err := s.Epoch(m.ID)
	if err != nil {
		return 0, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if cur == 0 || rotate {
		k, rec, err := sealing.Rotate(readers, m.ID.String(), cur, s.cfg.Suite)
		if err != nil {
			return 0, err
		}
		if err := s.putRecord(b, m.ID, rec, signer); err != nil {
			return 0, err
		}
		cur = rec.Epoch
		if err := b.Set(epochKey(m.ID), u32(cur)); err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.keys[keyID{m.ID, cur}] = k
		s.mu.Unlock()
	} else {
		for e := uint32(1); e <= cur; e++ {
			k, err := s.contentKey(m.ID, e, m.Rights.Owner)
			if err != nil {
				return 0, err
			}
			rec, err := wrapAll(k, readers, m.ID, e)
			if err != nil {
				return 0, err
			}
			if err := s.putRecord(b, m.ID, rec, signer); err != nil {
				return 0, err
			}
		}
	}
	if err := b.Commit(); err != nil {
		return 0, err
	}
	return cur, s.kv.Sync()
}

// wrapAll makes the key record of epoch wrapping k for readers, naming
// the suite the epoch seals with.
func wrapAll(k *sealing.BlockKey, readers map[string]hpke.PublicKey, id mimei.ID, epoch uint32) (*sealing.KeyRecord, error) {
	rec := &sealing.KeyRecord{Version: sealing.RecordVersion, MiMei: id.String(), Epoch: epoch, Suite: k.Suite()}
	names := make([]string, 0, len(readers))
	for p := range readers {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		w, err := sealing.Wrap(k.Key(), readers[p], id.String(), epoch)
		if err != nil {
			return nil, err
		}
		rec.Readers = append(rec.Readers, sealing.ReaderKey{Persona: p, Wrapped: w})
	}
	return rec, nil
}

func (s *Service) putRecord(b kv.Writer, id mimei.ID, rec *sealing.KeyRecord, signer ed25519.PrivateKey) error {
	rec.Issued = s.now()
	if err := rec.Sign(signer); err != nil {
		return err
	}
	enc, err := rec.Marshal()
	if err != nil {
		return err
	}
	return b.Set(keyRecordKey(id, rec.Epoch), enc)
}

// contentKey returns the content key of id at epoch, unwrapping it from the
// stored key record (signed by owner) the first time.
func (s *Service) contentKey(id mimei.ID, epoch uint32, owner string) (*sealing.BlockKey, error) {
	k := s.cachedKey(id, epoch)
	if k != nil {
		return k, nil
	}
	raw, err := s.KeyRecord(id, epoch)
	if err != nil {
		return nil, err
	}
	if k, err = s.openRecord(raw, id, epoch, owner); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.keys[keyID{id, epoch}] = k
	s.mu.Unlock()
	return k, nil
}

// cachedKey is the content key of id at epoch if it was unwrapped before,
// else nil.
func (s *Service) cachedKey(id mimei.ID, epoch uint32) *sealing.BlockKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[keyID{id, epoch}]
}

// openRecord verifies a key record (signed by owner, for id at epoch) and
// unwraps our key from it, with the suite it names.
func (s *Service) openRecord(raw []byte, id mimei.ID, epoch uint32, owner string) (*sealing.BlockKey, error) {
	rec, err := sealing.ParseKeyRecord(raw)
	if err != nil {
		return nil, err
	}
	ownerKey, err := identity.ParseDID(owner)
	if err != nil {
		return nil, err
	}
	if err := rec.Verify(func(signer ed25519.PublicKey) bool { return signer.Equal(ownerKey) }); err != nil {
		return nil, err
	}
	if rec.MiMei != id.String() || rec.Epoch != epoch {
		return nil, fmt.Errorf("%w: key record is for %s epoch %d, want %s epoch %d", sealing.ErrMalformed, rec.MiMei, rec.Epoch, id, epoch)
	}
	if _, ok := rec.For(s.cfg.Persona); !ok {
		return nil, fmt.Errorf("%w: %s epoch %d", ErrNoKey, id, epoch)
	}
	return rec.OpenKey(s.cfg.Persona, s.enc)
}

// StoreKeyRecord verifies a key record received from the owner of id and
// keeps it, returning the content key it gives us.
func (s *Service) StoreKeyRecord(id mimei.ID, epoch uint32, owner string, raw []byte) (*sealing.BlockKey, error) {
	k, err := s.openRecord(raw, id, epoch, owner)
	if err != nil {
		return nil, err
	}
	b := s.kv.NewBatch()
	defer b.Discard()
	if err := b.Set(keyRecordKey(id, epoch), raw); err != nil {
		return k, err
	}
	{
		// Remember the newest epoch we hold a key for. For our own
		// persona's MiMei (a record signed on another of our devices)
		// publishing here then reuses that key instead of making a rival
		// epoch with the same number; a writer publishes with it.
		cur, err := s.Epoch(id)
		if err != nil {
			return k, err
		}
		if epoch > cur {
			if err := b.Set(epochKey(id), u32(epoch)); err != nil {
				return k, err
			}
		}
	}
	if err := b.Commit(); err != nil {
		return k, err
	}
	s.mu.Lock()
	s.keys[keyID{id, epoch}] = k
	s.mu.Unlock()
	return k, nil
}
