package persona

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// EntryVersion is the format of a persona-state entry (docs/identity.md
// section 14.2).
const EntryVersion = 1

// Domain is the signature domain of persona-state entries.
const Domain = "peer/persona-state"

// Limits of an entry's key and value, in bytes.
const (
	MaxKeySize   = 128
	MaxValueSize = 8 << 10
)

// Kind says what an entry sets (docs/identity.md section 14.1).
type Kind uint8

// The kinds of entries.
const (
	KindDevice    Kind = 1 // device key → DeviceValue
	KindRevoke    Kind = 2 // device key → RevokeValue
	KindEncKey    Kind = 3 // epoch ‖ gen ‖ key ID → EncKeyValue (grow-only)
	KindContact   Kind = 4 // did:key → ContactValue, empty = deleted
	KindBlock     Kind = 5 // did:key or peer ID → BlockedValue, empty = unblocked
	KindRights    Kind = 6 // MiMei ID → opaque until the sharing step fills it
	KindKeyRecord Kind = 7 // MiMei ID ‖ content epoch ‖ key ID → CID of the key record (grow-only)
	KindProfile   Kind = 8 // empty key → ProfileValue
)

func (k Kind) String() string {
	names := [...]string{"", "device", "revoke", "enckey", "contact", "block", "rights", "keyrecord", "profile"}
	if int(k) < len(names) && k != 0 {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// growOnly reports whether entries of k are never replaced: rivals have
// distinct keys and are all kept.
func (k Kind) growOnly() bool { return k == KindEncKey || k == KindKeyRecord }

// Errors callers branch on (docs/identity.md section 7). Entries refused
// for their epoch or author wrap identity.ErrStaleEpoch and
// identity.ErrRevoked.
var (
	// ErrMalformed: an entry does not decode or breaks a structural rule.
	ErrMalformed = errors.New("persona: malformed state entry")
	// ErrUnsupportedVersion: an entry of a version this code does not know.
	ErrUnsupportedVersion = errors.New("persona: unsupported state entry version")
	// ErrBadSignature: the author's signature does not verify.
	ErrBadSignature = errors.New("persona: bad state entry signature")
	// ErrUnknownAuthor: the author has no device entry yet and the queue of
	// entries waiting for one is full.
	ErrUnknownAuthor = errors.New("persona: state entry by an unknown device")
	// ErrNewerEpoch: an entry of an epoch above the state's; the state
	// must adopt that epoch first (section 14.5).
	ErrNewerEpoch = errors.New("persona: state entry of a newer epoch")
	// ErrConflict: an author signed two different entries with one
	// sequence number.
	ErrConflict = errors.New("persona: two entries with one sequence number")
)

// Entry is one signed change of a persona's state. On the wire it is the
// CBOR array
//
//	[Version, Persona, Epoch, Author, Seq, Clock, Kind, Key, Value, Sig]
//
// and Sig is the author device's signature, in Domain, over the array of
// the first nine fields.
type Entry struct {
	Version uint16
	Persona string // did:key
	Epoch   uint32
	Author  []byte // the author device's Ed25519 public key
	Seq     uint64 // the author's entries, 1, 2, 3 … without gaps
	Clock   uint64 // Lamport clock
	Kind    Kind
	Key     []byte
	Value   []byte
	Sig     []byte
}

type entryBody struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Persona string
	Epoch   uint32
	Author  []byte
	Seq     uint64
	Clock   uint64
	Kind    uint8
	Key     []byte
	Value   []byte
}

type entryWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint16
	Persona string
	Epoch   uint32
	Author  []byte
	Seq     uint64
	Clock   uint64
	Kind    uint8
	Key     []byte
	Value   []byte
	Sig     []byte
}

// DeviceValue is the value of a device entry: the device's certificate of
// the entry's epoch (identity.DeviceCert encoding), its name and when it
// was added (Unix ms).
type DeviceValue struct {
	_     struct{} `cbor:",toarray"`
	Cert  []byte
	Name  string
	Added int64
}

// RevokeValue is the value of a revoke entry: the highest sequence of the
// revoked device's entries that is still accepted, and when (Unix ms).
type RevokeValue struct {
	_      struct{} `cbor:",toarray"`
	Cutoff uint64
	At     int64
}

// EncKeyValue is the value of an enckey entry: the encryption-key
// certificate (section 8.3) and the escrow of its private key (section
// 8.5). Both are kept as opaque bytes here; the identity package checks
// them.
type EncKeyValue struct {
	_      struct{} `cbor:",toarray"`
	Cert   []byte
	Escrow []byte
}

// ContactValue is the value of a contact entry (Added in Unix ms).
type ContactValue struct {
	_     struct{} `cbor:",toarray"`
	Name  string
	Added int64
}

// ProfileValue is the value of the profile entry.
type ProfileValue struct {
	_     struct{} `cbor:",toarray"`
	Name  string
	About string
}

// BlockedValue is the value of a block entry that blocks: the empty array.
var BlockedValue = []byte{0x80}

// encKeyKeySize and keyRecordTail are the fixed parts of those kinds' keys.
const (
	encKeyKeySize = 4 + 4 + 8 // epoch, gen, key ID
	keyRecordTail = 4 + 16    // content epoch, key ID after the MiMei ID
)

// EncKeyKey returns the key of an enckey entry.
func EncKeyKey(epoch, gen uint32, keyID [8]byte) []byte {
	k := binary.BigEndian.AppendUint32(nil, epoch)
	k = binary.BigEndian.AppendUint32(k, gen)
	return append(k, keyID[:]...)
}

// KeyRecordKey returns the key of a keyrecord entry.
func KeyRecordKey(mimei string, contentEpoch uint32, keyID [16]byte) []byte {
	k := binary.BigEndian.AppendUint32([]byte(mimei), contentEpoch)
	return append(k, keyID[:]...)
}

// check enforces the structural rules: fields, limits, and each kind's
// key and value shape. Signatures are checked by Verify.
func (e *Entry) check() error {
	if e.Version != EntryVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrUnsupportedVersion, e.Version, EntryVersion)
	}
	if _, err := identity.ParseDID(e.Persona); err != nil {
		return fmt.Errorf("%w: persona: %w", ErrMalformed, err)
	}
	switch {
	case e.Epoch == 0 || e.Epoch > identity.MaxEpoch:
		return fmt.Errorf("%w: epoch %d out of range", ErrMalformed, e.Epoch)
	case len(e.Author) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: author key is %d bytes", ErrMalformed, len(e.Author))
	case e.Seq == 0:
		return fmt.Errorf("%w: sequence 0", ErrMalformed)
	case e.Clock == 0:
		return fmt.Errorf("%w: clock 0", ErrMalformed)
	case len(e.Key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes (max %d)", ErrMalformed, len(e.Key), MaxKeySize)
	case len(e.Value) > MaxValueSize:
		return fmt.Errorf("%w: value of %d bytes (max %d)", ErrMalformed, len(e.Value), MaxValueSize)
	}
	if err := checkKindValue(e.Kind, e.Key, e.Value); err != nil {
		return fmt.Errorf("%w: %s entry: %w", ErrMalformed, e.Kind, err)
	}
	return nil
}

func checkSigned(e *Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	if len(e.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes", ErrMalformed, len(e.Sig))
	}
	return nil
}

// decodeValue decodes a value strictly into v, refusing an empty one.
func decodeValue(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	return codec.Unmarshal(b, v)
}

func checkKindValue(k Kind, key, value []byte) error {
	switch k {
	case KindDevice:
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("key is %d bytes, want a device key", len(key))
		}
		var v DeviceValue
		if err := decodeValue(value, &v); err != nil {
			return err
		}
		c, err := identity.ParseDeviceCert(v.Cert)
		if err != nil {
			return err
		}
		if !bytes.Equal(c.Device, key) {
			return errors.New("certificate of another device")
		}
	case KindRevoke:
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("key is %d bytes, want a device key", len(key))
		}
		var v RevokeValue
		return decodeValue(value, &v)
	case KindEncKey:
		if len(key) != encKeyKeySize {
			return fmt.Errorf("key is %d bytes, want %d", len(key), encKeyKeySize)
		}
		var v EncKeyValue
		if err := decodeValue(value, &v); err != nil {
			return err
		}
		if len(v.Cert) == 0 || len(v.Escrow) == 0 {
			return errors.New("empty certificate or escrow")
		}
	case KindContact:
		if _, err := identity.ParseDID(string(key)); err != nil {
			return err
		}
		if len(value) > 0 {
			var v ContactValue
			return decodeValue(value, &v)
		}
	case KindBlock:
		if len(key) == 0 {
			return errors.New("empty key")
		}
		if len(value) > 0 && !bytes.Equal(value, BlockedValue) {
			return errors.New("value is neither empty nor the empty array")
		}
	case KindRights:
		if len(key) == 0 {
			return errors.New("empty key")
		}
	case KindKeyRecord:
		if len(key) <= keyRecordTail {
			return fmt.Errorf("key is %d bytes, want a MiMei ID and %d more", len(key), keyRecordTail)
		}
		if len(value) == 0 {
			return errors.New("empty CID")
		}
	case KindProfile:
		if len(key) != 0 {
			return errors.New("key is not empty")
		}
		var v ProfileValue
		return decodeValue(value, &v)
	default:
		return fmt.Errorf("unknown kind %d", uint8(k))
	}
	return nil
}

func (e *Entry) body() ([]byte, error) {
	return codec.Marshal(entryBody{
		Version: e.Version, Persona: e.Persona, Epoch: e.Epoch, Author: e.Author, Seq: e.Seq,
		Clock: e.Clock, Kind: uint8(e.Kind), Key: e.Key, Value: e.Value,
	})
}

// Sign sets e's Version and Author (device's public key) and signs it.
func (e *Entry) Sign(device ed25519.PrivateKey) error {
	if len(device) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: device key of %d bytes", ErrMalformed, len(device))
	}
	e.Version = EntryVersion
	e.Author = bytes.Clone(device.Public().(ed25519.PublicKey))
	if err := e.check(); err != nil {
		return err
	}
	body, err := e.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	e.Sig = codec.Sign(device, Domain, body)
	return nil
}

// VerifySignature checks e's structure and its author's signature. It does
// not say whether the author may write the persona's state: the state
// (Store.Apply) decides that.
func (e *Entry) VerifySignature() error {
	if err := checkSigned(e); err != nil {
		return err
	}
	body, err := e.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(e.Author, Domain, body, e.Sig) {
		return fmt.Errorf("%w: %s entry %x/%d", ErrBadSignature, e.Kind, e.Author[:8], e.Seq)
	}
	return nil
}

// Marshal returns the entry's deterministic encoding.
func (e *Entry) Marshal() ([]byte, error) {
	if err := checkSigned(e); err != nil {
		return nil, err
	}
	b, err := codec.Marshal(entryWire{
		Version: e.Version, Persona: e.Persona, Epoch: e.Epoch, Author: e.Author, Seq: e.Seq,
		Clock: e.Clock, Kind: uint8(e.Kind), Key: e.Key, Value: e.Value, Sig: e.Sig,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// ParseEntry decodes an entry strictly: known version first
// (ErrUnsupportedVersion), then canonical encoding, limits and each kind's
// key and value shape (ErrMalformed). It checks no signature.
func ParseEntry(b []byte) (*Entry, error) {
	v, err := codec.RecordVersion(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != EntryVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrUnsupportedVersion, v, EntryVersion)
	}
	var w entryWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	e := &Entry{
		Version: w.Version, Persona: w.Persona, Epoch: w.Epoch, Author: w.Author, Seq: w.Seq,
		Clock: w.Clock, Kind: Kind(w.Kind), Key: w.Key, Value: w.Value, Sig: w.Sig,
	}
	if err := checkSigned(e); err != nil {
		return nil, err
	}
	return e, nil
}

// Clone returns a deep copy of e.
func (e *Entry) Clone() *Entry {
	c := *e
	c.Author, c.Key, c.Value, c.Sig = bytes.Clone(e.Author), bytes.Clone(e.Key), bytes.Clone(e.Value), bytes.Clone(e.Sig)
	return &c
}

// id is the entry's identity in a state: author and sequence, the order of
// the e/ keys.
func (e *Entry) id() string {
	return string(binary.BigEndian.AppendUint64(bytes.Clone(e.Author), e.Seq))
}

// slot is the (kind, key) an entry sets: the order of the v/ keys.
func (e *Entry) slot() string { return string(append([]byte{byte(e.Kind)}, e.Key...)) }

// wins reports whether e beats f for one slot: last writer wins by
// (Clock, Author, Seq); for a revoke, the lowest cutoff wins, so that the
// set of the revoked device's accepted entries only shrinks.
func (e *Entry) wins(f *Entry) bool {
	if e.Kind == KindRevoke {
		ce, cf := revokeCutoff(e), revokeCutoff(f)
		if ce != cf {
			return ce < cf
		}
	}
	if e.Clock != f.Clock {
		return e.Clock > f.Clock
	}
	if c := bytes.Compare(e.Author, f.Author); c != 0 {
		return c > 0
	}
	return e.Seq > f.Seq
}

func revokeCutoff(e *Entry) uint64 {
	var v RevokeValue
	if err := codec.Unmarshal(e.Value, &v); err != nil {
		return 0 // checked at parse; unreachable for an applied entry
	}
	return v.Cutoff
}
