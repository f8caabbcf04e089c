package contacts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/kv"
)

// InviteIDLen is the length of a PendingInvite's ID: hex of the first 8
// bytes of the secret's hash.
const InviteIDLen = 16

// InviteGrace is how long PruneInvites keeps an invite after it expired or
// was used, so that a late attempt is told "expired" or "used" rather than
// "unknown".
const InviteGrace = 24 * time.Hour

// PendingInvite is an issued invite that is neither used nor expired.
type PendingInvite struct {
	ID      string // InviteIDLen hex digits; names the invite for RevokeInvite
	Expires time.Time
	Name    string // the name hint the invite carried (what the inviter suggests being called)
	// ContactName is the pet name the inviter chose for whoever accepts
	// ("" = a default picked on accept). It stays on this node.
	ContactName string
}

// inviteFormat is the version of the issued-invite record: 2 added
// ContactName. Version 1 records (no ContactName) are still read.
const inviteFormat = 2

// inviteRec is the stored bookkeeping of one issued invite. Only a hash of
// the secret is kept, so the store cannot leak a usable invite.
type inviteRec struct {
	_           struct{} `cbor:",toarray"`
	Format      uint16
	Expires     int64 // Unix seconds
	Name        string
	Used        bool
	UsedAt      int64 // Unix ms; 0 unless Used
	ContactName string
}

// inviteRecV1 is the record of format 1, before ContactName.
type inviteRecV1 struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	Expires int64
	Name    string
	Used    bool
	UsedAt  int64
}

// inviteHash is the domain-separated SHA-256 of an invite secret.
func inviteHash(secret [16]byte) [32]byte {
	return sha256.Sum256(append([]byte("peer/invite-secret\x00"), secret[:]...))
}

func inviteKey(secret [16]byte) []byte {
	h := inviteHash(secret)
	return []byte(prefixInvite + hex.EncodeToString(h[:]))
}

func decodeInviteRec(b []byte) (inviteRec, error) {
	v, err := codec.RecordVersion(b)
	if err != nil {
		return inviteRec{}, fmt.Errorf("%w: invite: %w", ErrMalformed, err)
	}
	switch v {
	case 1:
		var o inviteRecV1
		if err := codec.Unmarshal(b, &o); err != nil {
			return inviteRec{}, fmt.Errorf("%w: invite: %w", ErrMalformed, err)
		}
		return inviteRec{Format: inviteFormat, Expires: o.Expires, Name: o.Name, Used: o.Used, UsedAt: o.UsedAt}, nil
	case inviteFormat:
		var r inviteRec
		if err := codec.Unmarshal(b, &r); err != nil {
			return inviteRec{}, fmt.Errorf("%w: invite: %w", ErrMalformed, err)
		}
		return r, nil
	}
	return inviteRec{}, fmt.Errorf("%w: %w: invite record format %d", ErrMalformed, ErrUnsupportedVersion, v)
}

// SaveInvite records an invite this node issued, so that UseInvite can
// accept it once. Only a hash of its secret is stored, with its expiry and
// name hint. ErrExists if it was saved before. It is SaveInviteNamed with
// no contact name.
func (s *Store) SaveInvite(inv *Invite) error { return s.SaveInviteNamed(inv, "") }

// SaveInviteNamed is SaveInvite that also keeps contactName, the pet name
// the person who accepts will get here ("" = none chosen; else it must pass
// CheckName). It does not check that the name is free: the name is only
// taken when the invite is accepted (see Service.CreateInvite).
func (s *Store) SaveInviteNamed(inv *Invite, contactName string) error {
	if inv == nil || inv.Expires.IsZero() {
		return errors.New("contacts: SaveInvite needs an invite with an expiry")
	}
	if contactName != "" {
		if err := CheckName(contactName); err != nil {
			return err
		}
	}
	enc, err := codec.Marshal(inviteRec{Format: inviteFormat, Expires: inv.Expires.Unix(), Name: inv.Name, ContactName: contactName})
	if err != nil {
		return err
	}
	key := inviteKey(inv.Secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, err := s.has(key); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: invite already saved", ErrExists)
	}
	return s.apply(func(b kv.Batch) error { return b.Set(key, enc) })
}

func (s *Store) loadInvite(secret [16]byte) (inviteRec, error) {
	b, err := s.db.Get(inviteKey(secret))
	if errors.Is(err, kv.ErrNotFound) {
		return inviteRec{}, ErrInviteUnknown
	} else if err != nil {
		return inviteRec{}, err
	}
	return decodeInviteRec(b)
}

// usable reports why an invite cannot be used at now, or nil.
func (r inviteRec) usable(now time.Time) error {
	switch {
	case r.Used:
		return fmt.Errorf("%w: at %s", ErrInviteUsed, fromMilli(r.UsedAt).Format(time.RFC3339))
	case now.Unix() >= r.Expires:
		return fmt.Errorf("%w: at %s", ErrInviteExpired, time.Unix(r.Expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckInvite reports whether the invite with this secret could be used now
// (nil), without consuming it: ErrInviteUnknown, ErrInviteUsed or
// ErrInviteExpired otherwise. The handshake calls it on Hello and consumes
// the invite with UseInvite only on Confirm.
func (s *Store) CheckInvite(secret [16]byte) (PendingInvite, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.loadInvite(secret)
	if err != nil {
		return PendingInvite{}, err
	}
	if err := r.usable(s.now()); err != nil {
		return PendingInvite{}, err
	}
	h := inviteHash(secret)
	return PendingInvite{ID: hex.EncodeToString(h[:InviteIDLen/2]), Expires: time.Unix(r.Expires, 0).UTC(), Name: r.Name,
		ContactName: r.ContactName}, nil
}

// UseInvite atomically marks the invite with this secret used: it succeeds
// once. ErrInviteUnknown if this node did not issue it (or it was revoked or
// pruned), ErrInviteUsed on a second use, ErrInviteExpired once its expiry
// has passed.
func (s *Store) UseInvite(secret [16]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.loadInvite(secret)
	if err != nil {
		return err
	}
	now := s.now()
	if err := r.usable(now); err != nil {
		return err
	}
	r.Used, r.UsedAt = true, now.UnixMilli()
	enc, err := codec.Marshal(r)
	if err != nil {
		return err
	}
	return s.apply(func(b kv.Batch) error { return b.Set(inviteKey(secret), enc) })
}

// eachInvite calls fn with the hex hash and record of every stored invite.
func (s *Store) eachInvite(fn func(hash string, r inviteRec) error) error {
	it := s.db.Iter(kv.IterOptions{Prefix: []byte(prefixInvite)})
	for it.Next() {
		r, err := decodeInviteRec(it.Value())
		if err == nil {
			err = fn(string(it.Key()[len(prefixInvite):]), r)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// PendingInvites lists the issued invites that are neither used nor
// expired, soonest expiry first.
func (s *Store) PendingInvites() ([]PendingInvite, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	out := []PendingInvite{}
	err := s.eachInvite(func(hash string, r inviteRec) error {
		if r.usable(now) == nil {
			out = append(out, PendingInvite{ID: hash[:InviteIDLen], Expires: time.Unix(r.Expires, 0).UTC(), Name: r.Name,
				ContactName: r.ContactName})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b PendingInvite) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeInvite forgets the invite with this ID (a PendingInvite's ID, or
// any unambiguous prefix of at least 8 hex digits), so it can no longer be
// used. ErrInviteUnknown if no invite matches.
func (s *Store) RevokeInvite(id string) error {
	id = strings.ToLower(id)
	if len(id) < 8 || len(id) > 2*sha256.Size {
		return fmt.Errorf("%w: invite ID %q: want 8..%d hex digits", ErrInviteUnknown, id, 2*sha256.Size)
	}
	if strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: invite ID %q is not hex", ErrInviteUnknown, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys [][]byte
	it := s.db.Iter(kv.IterOptions{Prefix: []byte(prefixInvite + id)})
	for it.Next() {
		keys = append(keys, slices.Clone(it.Key()))
	}
	if err := it.Close(); err != nil {
		return err
	}
	switch len(keys) {
	case 0:
		return fmt.Errorf("%w: %s", ErrInviteUnknown, id)
	case 1:
		return s.apply(func(b kv.Batch) error { return b.Delete(keys[0]) })
	default:
		return fmt.Errorf("%w: invite ID %q is ambiguous", ErrInviteUnknown, id)
	}
}

// PruneInvites deletes the invites that expired, or were used, more than
// InviteGrace ago, and returns how many it deleted.
func (s *Store) PruneInvites() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.now().Add(-InviteGrace)
	var keys [][]byte
	err := s.eachInvite(func(hash string, r inviteRec) error {
		expiredLongAgo := cutoff.Unix() >= r.Expires
		usedLongAgo := r.Used && !fromMilli(r.UsedAt).After(cutoff)
		if expiredLongAgo || usedLongAgo {
			keys = append(keys, []byte(prefixInvite+hash))
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	err = s.apply(func(b kv.Batch) error {
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(keys), nil
}
