// Package keystore keeps a node's keys on disk: the root secret (the BIP-39
// seed every persona derives from), this device's own key, and for each
// persona its metadata, private key and the certificate it issued for this
// device. With a passphrase every secret file is sealed (Argon2id and
// XChaCha20-Poly1305); without one the files are plain but readable only by
// their owner.
//
// Crash safety is the point of the layout: a store is built in a staging
// directory and renamed into place, and a persona is added the same way, so
// after a crash the store either does not exist or is complete, and every
// persona in it is whole. See docs/identity.md for the formats.
//
// keystore is a storage-layer package: it imports internal/identity,
// internal/fsutil and crypto libraries only. The composition root
// (internal/node) opens the store; other packages receive keys or the
// *Store from it. One process at a time may use a store directory.
package keystore

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/fsutil"
	"github.com/peer-node/peer/internal/identity"
)

// Errors callers branch on. They are wrapped with details (the file, the
// persona reference), so test them with errors.Is.
var (
	ErrExists             = errors.New("key store already exists")
	ErrNotInitialised     = errors.New("key store not initialised")
	ErrPassphraseRequired = errors.New("passphrase required")
	ErrWrongPassphrase    = errors.New("wrong passphrase")
	ErrCorrupt            = errors.New("key store damaged")
	ErrUnknownPersona     = errors.New("unknown persona")
	ErrNameTaken          = errors.New("persona name already taken")
	ErrBadName            = errors.New("bad persona name")
	ErrUnsupportedVersion = errors.New("unsupported key store format version")
)

// DefaultPersonaName names persona 0 when CreateOptions.FirstPersonaName is empty.
const DefaultPersonaName = "default"

// MaxNameLen is the longest persona name.
const MaxNameLen = 64

// CreateOptions configure Create. The zero value makes an unsealed store
// with a new recovery phrase and a first persona named "default".
type CreateOptions struct {
	// Mnemonic restores from an existing 24-word recovery phrase;
	// "" generates a new one.
	Mnemonic string
	// Seed restores from a root seed (the 64-byte BIP-39 seed) handed over
	// by a paired device of the same person, instead of a phrase; Create then
	// returns no phrase. Mnemonic must be empty.
	Seed []byte
	// Passphrase seals the secret files; nil or empty leaves them unsealed.
	Passphrase []byte
	// FirstPersonaName names persona 0; "" means "default".
	FirstPersonaName string
	// Now is the clock for creation times and certificates; nil means time.Now.
	Now func() time.Time
}

// PersonaInfo describes a persona. It holds no secret material.
type PersonaInfo struct {
	ID      string // did:key
	Name    string
	Index   uint32 // derivation index: m/7337'/0'/Index'
	Created time.Time
	Default bool // true for index 0
}

// Store is an open key store. It is safe for concurrent use. Its keys are
// reachable only through methods; printing a Store shows no secrets.
type Store struct {
	dir    string
	sealed bool
	st     *state // behind a pointer so that fmt never walks into it
}

type state struct {
	mu       sync.RWMutex
	now      func() time.Time
	aead     cipher.AEAD // nil when unsealed
	root     []byte      // 64-byte BIP-39 seed
	device   ed25519.PrivateKey
	personas []*persona // sorted by index; [0] is index 0
}

type persona struct {
	info PersonaInfo
	key  ed25519.PrivateKey
	cert *identity.DeviceCertV1
}

// String describes the store without any key material.
func (s Store) String() string {
	n := 0
	if s.st != nil {
		s.st.mu.RLock()
		n = len(s.st.personas)
		s.st.mu.RUnlock()
	}
	return fmt.Sprintf("keystore.Store{dir: %q, sealed: %t, personas: %d}", s.dir, s.sealed, n)
}

// GoString is String, so that %#v shows no key material either.
func (s Store) GoString() string { return s.String() }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Sealed reports whether the store's secret files are sealed with a passphrase.
func (s *Store) Sealed() bool { return s.sealed }

// Personas returns every persona, sorted by index; the first is the default.
func (s *Store) Personas() []PersonaInfo {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]PersonaInfo, len(s.st.personas))
	for i, p := range s.st.personas {
		out[i] = p.info
	}
	return out
}

// DefaultPersona returns persona 0, the one derived first from the phrase.
func (s *Store) DefaultPersona() PersonaInfo {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return s.st.personas[0].info
}

// Persona finds a persona by its did:key or its name.
func (s *Store) Persona(ref string) (PersonaInfo, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	p, err := s.st.find(ref)
	if err != nil {
		return PersonaInfo{}, err
	}
	return p.info, nil
}

func (st *state) find(ref string) (*persona, error) {
	for _, p := range st.personas {
		if p.info.ID == ref || p.info.Name == ref {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownPersona, ref)
}

// PersonaKey returns a copy of the private key of the persona with this
// did:key or name.
func (s *Store) PersonaKey(id string) (ed25519.PrivateKey, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	p, err := s.st.find(id)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(p.key), nil
}

// RootSeed returns a copy of the root secret every persona key derives
// from. It is as secret as the recovery phrase: it leaves the node only to
// a device being paired to the same person, over an authenticated,
// encrypted channel (see docs/devices.md).
func (s *Store) RootSeed() []byte {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return bytes.Clone(s.st.root)
}

// DeviceKey returns a copy of this device's private key.
func (s *Store) DeviceKey() ed25519.PrivateKey {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return bytes.Clone(s.st.device)
}

// DevicePublicKey returns this device's public key.
func (s *Store) DevicePublicKey() ed25519.PublicKey {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return bytes.Clone(s.st.device.Public().(ed25519.PublicKey))
}

// DeviceCert returns a copy of the certificate by which the persona with
// this did:key or name vouches for this device.
func (s *Store) DeviceCert(personaID string) (*identity.DeviceCertV1, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	p, err := s.st.find(personaID)
	if err != nil {
		return nil, err
	}
	return p.cert.Clone(), nil
}

// NewPersona derives the persona with the next free index from the root
// secret, certifies this device for it and saves it. An empty name becomes
// "persona-<index>". Names are 1 to 64 characters of [a-zA-Z0-9._-]
// (ErrBadName) and unique (ErrNameTaken).
//
// The persona is written to a staging directory and renamed into place, so
// a crash leaves either the whole persona or none of it.
func (s *Store) NewPersona(name string) (PersonaInfo, error) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	last := st.personas[len(st.personas)-1].info.Index
	if last >= identity.MaxPersonaIndex {
		return PersonaInfo{}, fmt.Errorf("keystore: no persona index left after %d", last)
	}
	index := last + 1
	if name == "" {
		name = st.freeName(index)
	} else if err := ValidateName(name); err != nil {
		return PersonaInfo{}, err
	}
	if _, err := st.find(name); err == nil {
		return PersonaInfo{}, fmt.Errorf("%w: %q", ErrNameTaken, name)
	}
	p, err := st.derivePersona(index, name)
	if err != nil {
		return PersonaInfo{}, err
	}
	renamed, err := s.commitPersona(p)
	if renamed {
		// The persona is in place on disk even if syncing its parent
		// failed; keep memory in step so its index is not reused.
		st.personas = append(st.personas, p)
	}
	if err != nil {
		return PersonaInfo{}, err
	}
	return p.info, nil
}

// freeName returns "persona-<index>", with a suffix if a persona already has
// that name.
func (st *state) freeName(index uint32) string {
	base := "persona-" + strconv.FormatUint(uint64(index), 10)
	name := base
	for n := 2; ; n++ {
		if _, err := st.find(name); err != nil {
			return name
		}
		name = base + "-" + strconv.Itoa(n)
	}
}

// derivePersona derives persona index and issues its certificate for this
// device.
func (st *state) derivePersona(index uint32, name string) (*persona, error) {
	key := identity.PersonaKey(st.root, index)
	now := st.now()
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	cert, err := identity.IssueDeviceCertV1(key, st.device.Public().(ed25519.PublicKey), serial, now, 0)
	if err != nil {
		return nil, fmt.Errorf("keystore: certify device for persona %d: %w", index, err)
	}
	return &persona{
		info: PersonaInfo{
			ID:      identity.DID(key.Public().(ed25519.PublicKey)),
			Name:    name,
			Index:   index,
			Created: time.Unix(now.Unix(), 0).UTC(),
			Default: index == 0,
		},
		key:  key,
		cert: cert,
	}, nil
}

// randomSerial returns a random non-zero certificate serial. Serials are
// random rather than counted because several devices, each with its own
// store, certify themselves for the same persona: counters would collide and
// one revocation would hit them all.
func randomSerial() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("keystore: random serial: %w", err)
		}
		if s := binary.BigEndian.Uint64(b[:]); s != 0 {
			return s, nil
		}
	}
}

// commitPersona writes p under personas/ through a staging directory. It
// reports whether the persona directory was renamed into place.
func (s *Store) commitPersona(p *persona) (renamed bool, err error) {
	pdir := filepath.Join(s.dir, personasDir)
	staging, err := os.MkdirTemp(pdir, personaStagingPrefix)
	if err != nil {
		return false, fmt.Errorf("keystore: %w", err)
	}
	crashed := false
	defer func() {
		if !crashed {
			os.RemoveAll(staging) // no-op once renamed
		}
	}()
	step := func(point string) error {
		if crash(point) {
			crashed = true
			return errSimulatedCrash
		}
		return nil
	}
	if err := writePersonaFiles(staging, p, s.st.aead, step); err != nil {
		return false, err
	}
	if err := step("persona:before-rename"); err != nil {
		return false, err
	}
	final := filepath.Join(pdir, personaDirName(p.info.Index))
	if err := os.Rename(staging, final); err != nil {
		return false, fmt.Errorf("keystore: commit persona %d: %w", p.info.Index, err)
	}
	if err := fsutil.SyncDir(pdir); err != nil {
		return true, fmt.Errorf("keystore: commit persona %d: %w", p.info.Index, err)
	}
	return true, nil
}

// ValidateName checks a persona name: 1 to 64 characters of [a-zA-Z0-9._-].
func ValidateName(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w %q: use 1 to %d letters, digits, '.', '_' or '-'", ErrBadName, name, MaxNameLen)
	}
	return nil
}

// sortPersonas orders personas by index.
func sortPersonas(ps []*persona) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].info.Index < ps[j].info.Index })
}
