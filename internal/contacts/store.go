package contacts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
)

// StoreFormat is the version of the records the Store keeps in kv.
const StoreFormat = 1

// Contact is a persona the user added, under a local pet name.
type Contact struct {
	Persona  string    // did:key
	Name     string    // pet name; unique among contacts, case-insensitively (see CheckName)
	Added    time.Time // kept to the millisecond
	Blocked  bool      // the persona is on the block list
	Devices  []string  // libp2p peer IDs (text) last known for the persona; at most MaxDevices
	LastSeen time.Time // zero = never; kept to the millisecond
}

// Key layout (all under "ct/"; see docs/contacts.md):
//
//	ct/c/<did>          contact record (contactWire)
//	ct/n/<folded name>  the did of the contact with that name (name index)
//	ct/b/d/<did>        persona on the block list (empty value)
//	ct/b/p/<peer ID>    peer ID on the block list (empty value)
//	ct/i/<hex hash>     issued invite (inviteWireRec), hash = inviteHash(secret)
const (
	prefixContact     = "ct/c/"
	prefixName        = "ct/n/"
	prefixBlockedDID  = "ct/b/d/"
	prefixBlockedPeer = "ct/b/p/"
	prefixInvite      = "ct/i/"
)

func contactKey(did string) []byte    { return []byte(prefixContact + did) }
func nameKey(name string) []byte      { return []byte(prefixName + foldName(name)) }
func blockedDIDKey(did string) []byte { return []byte(prefixBlockedDID + did) }
func blockedPeerKey(id string) []byte { return []byte(prefixBlockedPeer + id) }

// contactWire is the stored form of a Contact. Blocked is not stored here:
// the block list (ct/b/d/) is the one source of truth for it.
type contactWire struct {
	_        struct{} `cbor:",toarray"`
	Format   uint16
	Persona  string
	Name     string
	Added    int64 // Unix ms
	Devices  []string
	LastSeen int64 // Unix ms; 0 = never
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func (c Contact) wire() contactWire {
	return contactWire{Format: StoreFormat, Persona: c.Persona, Name: c.Name, Added: unixMilli(c.Added),
		Devices: c.Devices, LastSeen: unixMilli(c.LastSeen)}
}

func decodeContact(b []byte) (Contact, error) {
	var w contactWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return Contact{}, fmt.Errorf("%w: contact: %w", ErrMalformed, err)
	}
	if w.Format != StoreFormat {
		return Contact{}, fmt.Errorf("%w: %w: contact record format %d, want %d", ErrMalformed, ErrUnsupportedVersion, w.Format, StoreFormat)
	}
	return Contact{Persona: w.Persona, Name: w.Name, Added: fromMilli(w.Added), Devices: w.Devices, LastSeen: fromMilli(w.LastSeen)}, nil
}

// Store keeps contacts, the block list and issued invites in a kv.Store. It
// is safe for concurrent use; every change is one atomic kv batch.
type Store struct {
	db  kv.Store
	now func() time.Time

	mu sync.RWMutex // serialises writes (read-check-write) and orders reads after them

	cbMu     sync.Mutex
	onChange []func()
}

// Open returns a Store over db, keeping its keys under "ct/". now is the
// clock (nil: time.Now).
func Open(db kv.Store, now func() time.Time) (*Store, error) {
	if db == nil {
		return nil, errors.New("contacts: Open needs a kv store")
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// OnChange registers fn to be called after every change to the contacts or
// the block list (not after invite bookkeeping). It is called synchronously,
// without the store's lock held, so it may read the store.
func (s *Store) OnChange(fn func()) {
	s.cbMu.Lock()
	defer s.cbMu.Unlock()
	s.onChange = append(s.onChange, fn)
}

func (s *Store) changed() {
	s.cbMu.Lock()
	fns := slices.Clone(s.onChange)
	s.cbMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// apply runs fill over a new batch and commits it.
func (s *Store) apply(fill func(b kv.Batch) error) error {
	b := s.db.NewBatch()
	defer b.Discard()
	if err := fill(b); err != nil {
		return err
	}
	return b.Commit()
}

func checkPersona(did string) error {
	if _, err := identity.ParseDID(did); err != nil {
		return fmt.Errorf("%w: %w", ErrBadPersona, err)
	}
	return nil
}

// cleanDevices validates peer IDs, drops duplicates (keeping the first) and
// enforces MaxDevices.
func cleanDevices(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := CheckPeerID(id); err != nil {
			return nil, err
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > MaxDevices {
		return nil, fmt.Errorf("%w: %d devices (max %d)", ErrTooMany, len(out), MaxDevices)
	}
	return out, nil
}

func (s *Store) has(key []byte) (bool, error) { return s.db.Has(key) }

// load reads the contact of persona did (Blocked filled in), or ErrNotFound.
func (s *Store) load(did string) (Contact, error) {
	b, err := s.db.Get(contactKey(did))
	if errors.Is(err, kv.ErrNotFound) {
		return Contact{}, fmt.Errorf("%w: contact %s", ErrNotFound, did)
	} else if err != nil {
		return Contact{}, err
	}
	c, err := decodeContact(b)
	if err != nil {
		return Contact{}, err
	}
	if c.Blocked, err = s.has(blockedDIDKey(did)); err != nil {
		return Contact{}, err
	}
	return c, nil
}

func (s *Store) put(b kv.Batch, c Contact) error {
	enc, err := codec.Marshal(c.wire())
	if err != nil {
		return err
	}
	return b.Set(contactKey(c.Persona), enc)
}

// lookupName returns the persona of the contact named name
// (case-insensitively): ok is false if there is none.
func (s *Store) lookupName(name string) (did string, ok bool, err error) {
	if name == "" {
		return "", false, nil
	}
	b, err := s.db.Get(nameKey(name))
	if errors.Is(err, kv.ErrNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// resolve turns a contact reference (did:key or pet name) into the contact.
func (s *Store) resolve(ref string) (Contact, error) {
	if strings.HasPrefix(ref, "did:") {
		if err := checkPersona(ref); err != nil {
			return Contact{}, err
		}
		return s.load(ref)
	}
	did, ok, err := s.lookupName(ref)
	if err != nil {
		return Contact{}, err
	}
	if !ok {
		return Contact{}, fmt.Errorf("%w: no contact named %q", ErrNotFound, ref)
	}
	return s.load(did)
}

// Add adds a contact. Added defaults to now; if Blocked is set the persona is
// also put on the block list. ErrBadPersona, ErrBadName, ErrBadPeerID,
// ErrTooMany for invalid fields; ErrExists if the persona is already a
// contact; ErrNameTaken if another contact has the name.
func (s *Store) Add(c Contact) error {
	if err := checkPersona(c.Persona); err != nil {
		return err
	}
	if err := CheckName(c.Name); err != nil {
		return err
	}
	devs, err := cleanDevices(c.Devices)
	if err != nil {
		return err
	}
	c.Devices = devs
	if c.Added.IsZero() {
		c.Added = s.now()
	}
	c.Added = c.Added.UTC().Truncate(time.Millisecond)
	if !c.LastSeen.IsZero() {
		c.LastSeen = c.LastSeen.UTC().Truncate(time.Millisecond)
	}

	s.mu.Lock()
	if err := s.add(c); err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	s.changed()
	return nil
}

func (s *Store) add(c Contact) error {
	if ok, err := s.has(contactKey(c.Persona)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s is already a contact", ErrExists, c.Persona)
	}
	if _, ok, err := s.lookupName(c.Name); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %q", ErrNameTaken, c.Name)
	}
	return s.apply(func(b kv.Batch) error {
		if err := s.put(b, c); err != nil {
			return err
		}
		if err := b.Set(nameKey(c.Name), []byte(c.Persona)); err != nil {
			return err
		}
		if c.Blocked {
			return b.Set(blockedDIDKey(c.Persona), nil)
		}
		return nil
	})
}

// Get returns the contact named by ref: a did:key or a pet name (matched
// case-insensitively). ErrNotFound if there is none; ErrBadPersona for a
// malformed "did:" reference.
func (s *Store) Get(ref string) (Contact, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resolve(ref)
}

// List returns every contact, sorted by name (case-insensitively).
func (s *Store) List() ([]Contact, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Contact
	it := s.db.Iter(kv.IterOptions{Prefix: []byte(prefixContact)})
	for it.Next() {
		c, err := decodeContact(it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, c)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	for i := range out {
		var err error
		if out[i].Blocked, err = s.has(blockedDIDKey(out[i].Persona)); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Contact) int {
		if c := strings.Compare(foldName(a.Name), foldName(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.Persona, b.Persona)
	})
	return out, nil
}

// update loads the contact ref resolves to, lets change modify it and
// writes it back in one batch (with extra writes from change's batch use).
// change reports whether anything changed; if not nothing is written and
// OnChange is not called.
func (s *Store) update(ref string, change func(c *Contact, b kv.Batch) (bool, error)) error {
	s.mu.Lock()
	c, err := s.resolve(ref)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var changed bool
	err = s.apply(func(b kv.Batch) error {
		var err error
		if changed, err = change(&c, b); err != nil || !changed {
			return err
		}
		return s.put(b, c)
	})
	s.mu.Unlock()
	if err == nil && changed {
		s.changed()
	}
	return err
}

// Rename gives the contact ref a new pet name. Changing only the case of
// the name is allowed; ErrNameTaken if another contact has it.
func (s *Store) Rename(ref, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	return s.update(ref, func(c *Contact, b kv.Batch) (bool, error) {
		if c.Name == name {
			return false, nil
		}
		if foldName(c.Name) != foldName(name) {
			if _, ok, err := s.lookupName(name); err != nil {
				return false, err
			} else if ok {
				return false, fmt.Errorf("%w: %q", ErrNameTaken, name)
			}
			if err := b.Delete(nameKey(c.Name)); err != nil {
				return false, err
			}
		}
		if err := b.Set(nameKey(name), []byte(c.Persona)); err != nil {
			return false, err
		}
		c.Name = name
		return true, nil
	})
}

// Remove deletes the contact ref. A block on its persona stays in place.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	c, err := s.resolve(ref)
	if err == nil {
		err = s.apply(func(b kv.Batch) error {
			if err := b.Delete(contactKey(c.Persona)); err != nil {
				return err
			}
			return b.Delete(nameKey(c.Name))
		})
	}
	s.mu.Unlock()
	if err == nil {
		s.changed()
	}
	return err
}

// SetDevices replaces the peer IDs last known for the contact persona
// (duplicates dropped; at most MaxDevices, else ErrTooMany). ErrNotFound if
// persona is not a contact.
func (s *Store) SetDevices(persona string, peerIDs []string) error {
	if err := checkPersona(persona); err != nil {
		return err
	}
	devs, err := cleanDevices(peerIDs)
	if err != nil {
		return err
	}
	return s.update(persona, func(c *Contact, _ kv.Batch) (bool, error) {
		if slices.Equal(c.Devices, devs) {
			return false, nil
		}
		c.Devices = devs
		return true, nil
	})
}

// Seen records that the contact persona was seen at at. LastSeen only moves
// forward: an older time is ignored. ErrNotFound if persona is not a contact.
func (s *Store) Seen(persona string, at time.Time) error {
	if err := checkPersona(persona); err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Millisecond)
	return s.update(persona, func(c *Contact, _ kv.Batch) (bool, error) {
		if !at.After(c.LastSeen) {
			return false, nil
		}
		c.LastSeen = at
		return true, nil
	})
}

// blockKey classifies a block-list reference: a did:key (contact or not),
// a contact's pet name, or a raw peer ID.
func (s *Store) blockKey(ref string) ([]byte, error) {
	if strings.HasPrefix(ref, "did:") {
		if err := checkPersona(ref); err != nil {
			return nil, err
		}
		return blockedDIDKey(ref), nil
	}
	if did, ok, err := s.lookupName(ref); err != nil {
		return nil, err
	} else if ok {
		return blockedDIDKey(did), nil
	}
	if CheckPeerID(ref) == nil {
		return blockedPeerKey(ref), nil
	}
	return nil, fmt.Errorf("%w: %q is not a contact name, did:key or peer ID", ErrNotFound, ref)
}

// Block puts ref on the block list: a contact's pet name or any did:key
// blocks the persona (on all its devices); anything else that looks like a
// peer ID (CheckPeerID) blocks that peer. Blocking twice is not an error.
func (s *Store) Block(ref string) error {
	return s.setBlock(ref, true)
}

// Unblock removes ref (as for Block) from the block list; ErrNotBlocked if
// it is not on it.
func (s *Store) Unblock(ref string) error {
	return s.setBlock(ref, false)
}

func (s *Store) setBlock(ref string, block bool) error {
	s.mu.Lock()
	changed, err := func() (bool, error) {
		key, err := s.blockKey(ref)
		if err != nil {
			return false, err
		}
		was, err := s.has(key)
		if err != nil {
			return false, err
		}
		switch {
		case block && was:
			return false, nil
		case !block && !was:
			return false, fmt.Errorf("%w: %q", ErrNotBlocked, ref)
		}
		return true, s.apply(func(b kv.Batch) error {
			if block {
				return b.Set(key, nil)
			}
			return b.Delete(key)
		})
	}()
	s.mu.Unlock()
	if err == nil && changed {
		s.changed()
	}
	return err
}

// Blocked returns the block list: the blocked personas, and every peer ID
// the node should refuse (those blocked directly plus the last known devices
// of blocked personas that are contacts), each sorted and without duplicates.
func (s *Store) Blocked() (personas []string, peerIDs []string, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if personas, err = s.suffixes(prefixBlockedDID); err != nil {
		return nil, nil, err
	}
	if peerIDs, err = s.suffixes(prefixBlockedPeer); err != nil {
		return nil, nil, err
	}
	for _, did := range personas {
		c, err := s.load(did)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		peerIDs = append(peerIDs, c.Devices...)
	}
	slices.Sort(peerIDs)
	return personas, slices.Compact(peerIDs), nil
}

// suffixes lists the keys under prefix, without it, in key order.
func (s *Store) suffixes(prefix string) ([]string, error) {
	out := []string{}
	it := s.db.Iter(kv.IterOptions{Prefix: []byte(prefix)})
	for it.Next() {
		out = append(out, string(it.Key()[len(prefix):]))
	}
	return out, it.Close()
}

// IsBlockedPersona reports whether did is on the block list. A storage
// error counts as blocked (fail closed).
func (s *Store) IsBlockedPersona(did string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok, err := s.has(blockedDIDKey(did))
	return ok || err != nil
}
