package sealing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// RecordVersion is the key record format this code writes and reads.
// Version 2 added the sealing suite; version 1 records are refused.
const RecordVersion = 2

// Domain is the signature domain of key records (see codec.SignedMessage).
const Domain = "peer/sealing-key-record"

// Key record limits. A record breaking one is malformed (ErrMalformed),
// except MaxRecordSize, which is ErrTooLarge.
const (
	// MaxRecordSize bounds the encoded record. It is codec's limit for any
	// signed record (64 KiB), which is what caps MaxReaders.
	MaxRecordSize = codec.MaxRecordSize
	// MaxReaders bounds the readers of one record: 48 wrapped keys of
	// WrappedSize bytes fit MaxRecordSize with room to spare. A wider
	// audience is reached through a group key (one reader entry for the
	// group), not by more entries.
	MaxReaders = 48
	// MaxWrappedLen bounds one wrapped key. Keys this code wraps are
	// exactly WrappedSize bytes; the bound leaves room for another KEM.
	MaxWrappedLen = 2 << 10
	// maxPersonaLen bounds a reader's did:key before it is parsed.
	maxPersonaLen = 128
)

// ReaderKey is the content key wrapped for one reader.
type ReaderKey struct {
	// Persona is the reader's did:key (identity.DID).
	Persona string
	// Wrapped is the content key wrapped for the persona's encryption key
	// (Wrap), bound to the record's MiMei and epoch.
	Wrapped []byte
}

// KeyRecord publishes the content key of one epoch of a MiMei to its
// readers: the key wrapped for each of them, signed by a key the MiMei's
// owner trusts (the owner persona or a writer). Epochs start at 1; each
// rotation makes a new key and the next epoch.
//
// Wire form: the CBOR array [Version, MiMei, Epoch, Suite, Issued,
// Readers, Signer, Sig], Issued in Unix milliseconds, each reader the
// array [Persona, Wrapped], readers in strictly ascending order of
// Persona. Sig is Signer's signature, in domain Domain, over the array of
// the first seven fields.
type KeyRecord struct {
	Version uint16
	MiMei   string    // the MiMei ID in text form
	Epoch   uint32    // 1 or more
	Suite   Suite     // how the epoch's blocks are sealed
	Issued  time.Time // kept to the millisecond
	Readers []ReaderKey
	Signer  []byte // Ed25519 public key
	Sig     []byte
}

type readerWire struct {
	_       struct{} `cbor:",toarray"`
	Persona string
	Wrapped []byte
}

type recordBody struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	MiMei   string
	Epoch   uint32
	Suite   byte
	Issued  int64
	Readers []readerWire
	Signer  []byte
}

type recordWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	MiMei   string
	Epoch   uint32
	Suite   byte
	Issued  int64
	Readers []readerWire
	Signer  []byte
	Sig     []byte
}

func (r *KeyRecord) body() recordBody {
	b := recordBody{
		Version: r.Version, MiMei: r.MiMei, Epoch: r.Epoch, Suite: byte(r.Suite),
		Issued: r.Issued.UnixMilli(), Signer: r.Signer,
	}
	b.Readers = make([]readerWire, len(r.Readers))
	for i, rk := range r.Readers {
		b.Readers[i] = readerWire{Persona: rk.Persona, Wrapped: rk.Wrapped}
	}
	return b
}

// check enforces the structural rules that need no keys: version, limits,
// reader order, the signer key's length. The signature's length is checked
// by Marshal and ParseKeyRecord, since an unsigned record lacks one.
func (r *KeyRecord) check() error {
	if r.Version != RecordVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrUnsupportedVersion, r.Version, RecordVersion)
	}
	if err := checkMiMei(r.MiMei); err != nil {
		return fmt.Errorf("%w: MiMei ID: %w", ErrMalformed, err)
	}
	if r.Epoch == 0 {
		return fmt.Errorf("%w: epoch 0 (epochs start at 1)", ErrMalformed)
	}
	if !r.Suite.Known() {
		return fmt.Errorf("%w: sealing suite 0x%02x", ErrUnsupportedVersion, byte(r.Suite))
	}
	if r.Issued.UnixMilli() < 0 {
		return fmt.Errorf("%w: issued before 1970", ErrMalformed)
	}
	if n := len(r.Readers); n == 0 || n > MaxReaders {
		return fmt.Errorf("%w: %d readers, want 1 to %d", ErrMalformed, n, MaxReaders)
	}
	for i, rk := range r.Readers {
		if len(rk.Persona) > maxPersonaLen {
			return fmt.Errorf("%w: reader %d: persona of %d bytes", ErrMalformed, i, len(rk.Persona))
		}
		if _, err := identity.ParseDID(rk.Persona); err != nil {
			return fmt.Errorf("%w: reader %d: %w", ErrMalformed, i, err)
		}
		if i > 0 && r.Readers[i-1].Persona >= rk.Persona {
			return fmt.Errorf("%w: reader %d: personas not in strictly ascending order", ErrMalformed, i)
		}
		if n := len(rk.Wrapped); n == 0 || n > MaxWrappedLen {
			return fmt.Errorf("%w: reader %d: wrapped key of %d bytes, want 1 to %d", ErrMalformed, i, n, MaxWrappedLen)
		}
	}
	if len(r.Signer) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: signer key of %d bytes, want %d", ErrMalformed, len(r.Signer), ed25519.PublicKeySize)
	}
	return nil
}

// msTime is t kept to the millisecond, in UTC, as ParseKeyRecord returns it.
func msTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Sign signs the record with priv. It sets Version and Signer (priv's
// public key), keeps Issued to the millisecond in UTC, sorts Readers by
// Persona, and checks the limits (ErrMalformed, ErrUnsupportedVersion,
// ErrTooLarge). On error Sig is left empty.
func (r *KeyRecord) Sign(priv ed25519.PrivateKey) error {
	r.Sig = nil
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("sealing: signing key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	r.Version = RecordVersion
	r.Signer = bytes.Clone(priv.Public().(ed25519.PublicKey))
	r.Issued = msTime(r.Issued)
	slices.SortFunc(r.Readers, func(a, b ReaderKey) int { return strings.Compare(a.Persona, b.Persona) })
	if err := r.check(); err != nil {
		return err
	}
	body, err := codec.Marshal(r.body())
	if err != nil {
		return encodeErr(err)
	}
	r.Sig = codec.Sign(priv, Domain, body)
	if _, err := r.Marshal(); err != nil {
		r.Sig = nil
		return err
	}
	return nil
}

// Marshal returns the record's canonical encoding. It fails if the record
// breaks a limit (ErrMalformed, ErrUnsupportedVersion, ErrTooLarge) or is
// unsigned (ErrMalformed).
func (r *KeyRecord) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	b := r.body()
	enc, err := codec.Marshal(recordWire{
		Version: b.Version, MiMei: b.MiMei, Epoch: b.Epoch, Suite: b.Suite, Issued: b.Issued,
		Readers: b.Readers, Signer: b.Signer, Sig: r.Sig,
	})
	if err != nil {
		return nil, encodeErr(err)
	}
	return enc, nil
}

// encodeErr types an encoding failure: too large, or (never expected for
// these types) malformed.
func encodeErr(err error) error {
	if errors.Is(err, codec.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// ParseKeyRecord decodes a key record strictly: more than MaxRecordSize
// bytes is ErrTooLarge (before decoding), another version is
// ErrUnsupportedVersion, and anything else wrong — a non-canonical
// encoding, a broken limit, a reader that is not a canonical did:key,
// readers out of order or repeated, a key or signature of the wrong length
// — is ErrMalformed. It does not check the signature: call Verify before
// trusting the record.
func ParseKeyRecord(b []byte) (*KeyRecord, error) {
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: key record of %d bytes, limit %d", ErrTooLarge, len(b), MaxRecordSize)
	}
	v, err := codec.RecordVersion(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != RecordVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrUnsupportedVersion, v, RecordVersion)
	}
	var w recordWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r := &KeyRecord{
		Version: w.Version, MiMei: w.MiMei, Epoch: w.Epoch, Suite: Suite(w.Suite),
		Issued: time.UnixMilli(w.Issued).UTC(), Signer: w.Signer, Sig: w.Sig,
	}
	if len(w.Readers) > 0 {
		r.Readers = make([]ReaderKey, len(w.Readers))
		for i, rw := range w.Readers {
			r.Readers[i] = ReaderKey{Persona: rw.Persona, Wrapped: rw.Wrapped}
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	return r, nil
}

// Verify checks the record's structure (ErrUnsupportedVersion,
// ErrMalformed), then that Sig is Signer's signature of it
// (ErrBadSignature), then that trusted accepts Signer for this MiMei
// (ErrUntrusted; a nil trusted trusts no one). Who may sign key records
// for a MiMei — its owner, its writers — is the caller's policy.
func (r *KeyRecord) Verify(trusted func(signer ed25519.PublicKey) bool) error {
	if err := r.check(); err != nil {
		return err
	}
	body, err := codec.Marshal(r.body())
	if err != nil {
		return encodeErr(err)
	}
	if !codec.Verify(r.Signer, Domain, body, r.Sig) {
		return ErrBadSignature
	}
	if trusted == nil || !trusted(bytes.Clone(r.Signer)) {
		return fmt.Errorf("%w: %x", ErrUntrusted, r.Signer)
	}
	return nil
}

// For returns the wrapped key of persona, and whether the record has one.
func (r *KeyRecord) For(persona string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(r.Readers, persona, func(rk ReaderKey, p string) int {
		return strings.Compare(rk.Persona, p)
	})
	if !ok {
		// Records built by hand and not yet signed may be unsorted.
		i = slices.IndexFunc(r.Readers, func(rk ReaderKey) bool { return rk.Persona == persona })
		if i < 0 {
			return nil, false
		}
	}
	return r.Readers[i].Wrapped, true
}

// Unwrap recovers the record's content key for persona with the persona's
// encryption key (identity.EncryptionKey): For, then the package's Unwrap
// bound to the record's MiMei and epoch. ErrNotReader if the record has no
// entry for persona. Verify the record first.
func (r *KeyRecord) Unwrap(persona string, priv hpke.PrivateKey) (ContentKey, error) {
	w, ok := r.For(persona)
	if !ok {
		return ContentKey{}, fmt.Errorf("%w: %s, MiMei %s epoch %d", ErrNotReader, persona, r.MiMei, r.Epoch)
	}
	return Unwrap(w, priv, r.MiMei, r.Epoch)
}

// OpenKey is Unwrap giving the key ready to seal and open the epoch's
// blocks with the record's suite.
func (r *KeyRecord) OpenKey(persona string, priv hpke.PrivateKey) (*BlockKey, error) {
	k, err := r.Unwrap(persona, priv)
	if err != nil {
		return nil, err
	}
	return NewBlockKey(k, r.Suite)
}

// Rotate makes a fresh content key for the epoch after prevEpoch, to seal
// with suite, and an unsigned key record that wraps it for exactly the
// given readers (persona did:key to persona encryption public key), Issued
// now; the caller may set Issued and then signs it. Pass prevEpoch 0 for a
// MiMei's first key.
//
// Revocation is rotation without the revoked reader: they cannot unwrap
// the new key, so cannot read blocks sealed after the rotation. Keys and
// blocks they already had stay readable to them.
func Rotate(readers map[string]hpke.PublicKey, mimei string, prevEpoch uint32, suite Suite) (*BlockKey, *KeyRecord, error) {
	if prevEpoch == math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: epoch %d is the last", ErrMalformed, prevEpoch)
	}
	if n := len(readers); n == 0 || n > MaxReaders {
		return nil, nil, fmt.Errorf("%w: %d readers, want 1 to %d", ErrMalformed, n, MaxReaders)
	}
	if err := checkMiMei(mimei); err != nil {
		return nil, nil, fmt.Errorf("%w: MiMei ID: %w", ErrMalformed, err)
	}
	k, err := NewContentKey()
	if err != nil {
		return nil, nil, err
	}
	bk, err := NewBlockKey(k, suite)
	if err != nil {
		return nil, nil, err
	}
	r := &KeyRecord{
		Version: RecordVersion, MiMei: mimei, Epoch: prevEpoch + 1, Suite: suite,
		Issued: msTime(time.Now()),
	}
	for _, p := range slices.Sorted(maps.Keys(readers)) {
		if _, err := identity.ParseDID(p); err != nil {
			return nil, nil, fmt.Errorf("%w: reader: %w", ErrMalformed, err)
		}
		w, err := Wrap(k, readers[p], mimei, r.Epoch)
		if err != nil {
			return nil, nil, fmt.Errorf("reader %s: %w", p, err)
		}
		r.Readers = append(r.Readers, ReaderKey{Persona: p, Wrapped: w})
	}
	return bk, r, nil
}
