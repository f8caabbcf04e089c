package identity

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// OpCertVersion is the operational certificate format (docs/identity.md
// section 8.1).
const OpCertVersion = 1

// Operational certificate flags. Bits not named here must be zero.
const (
	// OpFlagCutOff says every device of an earlier epoch is removed
	// (docs/identity.md section 10.6), not merely left uncertified.
	OpFlagCutOff uint8 = 1 << 0

	opFlagsKnown = OpFlagCutOff
)

// OpCert (identity format 2) is a persona root's signed statement that an
// operational key speaks for the persona in one epoch. It does not expire:
// a later epoch ends it.
//
// On the wire it is the CBOR array
//
//	[Version, Persona, Epoch, Flags, OpKey, RecoveryID, IssuedAt, Sig]
//
// and Sig is the root's signature, in domain DomainOpCert, over the CBOR
// array of the first seven fields.
type OpCert struct {
	Version    uint16
	Persona    string // did:key of the persona: the root's public key
	Epoch      uint32 // 1 to MaxEpoch
	Flags      uint8  // OpFlagCutOff; other bits zero
	OpKey      []byte // the operational Ed25519 public key (32 bytes)
	RecoveryID []byte // RecoveryID of the persona's recovery public key (32 bytes)
	IssuedAt   int64  // Unix seconds
	Sig        []byte // 64-byte Ed25519 signature by the root
}

type opCertBody struct {
	_          struct{} `cbor:",toarray"`
	Version    uint16
	Persona    string
	Epoch      uint32
	Flags      uint8
	OpKey      []byte
	RecoveryID []byte
	IssuedAt   int64
}

type opCertWire struct {
	_          struct{} `cbor:",toarray"`
	Version    uint16
	Persona    string
	Epoch      uint32
	Flags      uint8
	OpKey      []byte
	RecoveryID []byte
	IssuedAt   int64
	Sig        []byte
}

// IssueOpCert has the root of persona index sign the operational
// certificate of epoch (1 to MaxEpoch) with flags, issued at now. The
// operational key (OperationalKey(index, epoch)) and the recovery key ID
// are derived from root, so a certificate can name neither a key the words
// do not give nor another persona's recovery key. Like the Root's other
// methods it panics on an index or epoch out of range; unknown flag bits
// and a time before 1970 are errors (ErrMalformed).
func IssueOpCert(root *Root, index, epoch uint32, flags uint8, now time.Time) (*OpCert, error) {
	rootKey := root.PersonaRoot(index)
	defer clear(rootKey)
	opKey := root.OperationalKey(index, epoch)
	defer clear(opKey)
	rec, err := root.RecoveryKey(index)
	if err != nil {
		return nil, err
	}
	rid := RecoveryID(rec.PublicKey())
	c := &OpCert{
		Version:    OpCertVersion,
		Persona:    DID(rootKey.Public().(ed25519.PublicKey)),
		Epoch:      epoch,
		Flags:      flags,
		OpKey:      bytes.Clone(opKey.Public().(ed25519.PublicKey)),
		RecoveryID: rid[:],
		IssuedAt:   now.Unix(),
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	c.Sig = codec.Sign(rootKey, DomainOpCert, body)
	return c, nil
}

// check enforces the structural rules of section 8.6, signature aside.
func (c *OpCert) check() error {
	if err := checkHead("operational certificate", c.Version, OpCertVersion, c.Persona, c.Epoch); err != nil {
		return err
	}
	if c.Flags&^opFlagsKnown != 0 {
		return fmt.Errorf("%w: operational certificate has unknown flags %#02x", ErrMalformed, c.Flags&^opFlagsKnown)
	}
	if len(c.OpKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: operational certificate: key is %d bytes, want %d", ErrMalformed, len(c.OpKey), ed25519.PublicKeySize)
	}
	if len(c.RecoveryID) != 32 {
		return fmt.Errorf("%w: operational certificate: recovery ID is %d bytes, want 32", ErrMalformed, len(c.RecoveryID))
	}
	if c.IssuedAt < 0 {
		return fmt.Errorf("%w: operational certificate issued before 1970", ErrMalformed)
	}
	return nil
}

// checkSigned is check plus the signature's length.
// checkHead enforces the fields every format-2 certificate starts with:
// its version, a persona that is a did:key, and an epoch in range.
func checkHead(what string, version, want uint16, persona string, epoch uint32) error {
	if version != want {
		return fmt.Errorf("%w: %s version %d, want %d", ErrUnsupportedVersion, what, version, want)
	}
	if _, err := ParseDID(persona); err != nil {
		return fmt.Errorf("%w: %s persona: %w", ErrMalformed, what, err)
	}
	if epoch == 0 || epoch > MaxEpoch {
		return fmt.Errorf("%w: %s epoch %d out of range 1 to %d", ErrMalformed, what, epoch, MaxEpoch)
	}
	return nil
}

func (c *OpCert) checkSigned() error {
	if err := c.check(); err != nil {
		return err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: operational certificate: signature is %d bytes, want %d", ErrMalformed, len(c.Sig), ed25519.SignatureSize)
	}
	return nil
}

func (c *OpCert) body() ([]byte, error) {
	return codec.Marshal(opCertBody{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Flags: c.Flags,
		OpKey: c.OpKey, RecoveryID: c.RecoveryID, IssuedAt: c.IssuedAt,
	})
}

// Marshal returns the certificate's deterministic encoding.
func (c *OpCert) Marshal() ([]byte, error) {
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return codec.Marshal(opCertWire{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Flags: c.Flags,
		OpKey: c.OpKey, RecoveryID: c.RecoveryID, IssuedAt: c.IssuedAt, Sig: c.Sig,
	})
}

// ParseOpCert decodes an operational certificate strictly: bounded size,
// canonical encoding, known version (else ErrUnsupportedVersion),
// well-formed fields (else ErrMalformed). It does not check the signature:
// call Verify.
func ParseOpCert(b []byte) (*OpCert, error) {
	if err := checkVersion(b, "operational certificate", OpCertVersion); err != nil {
		return nil, err
	}
	var w opCertWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: operational certificate: %w", ErrMalformed, err)
	}
	c := &OpCert{
		Version: w.Version, Persona: w.Persona, Epoch: w.Epoch, Flags: w.Flags,
		OpKey: w.OpKey, RecoveryID: w.RecoveryID, IssuedAt: w.IssuedAt, Sig: w.Sig,
	}
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks the certificate's version and structure
// (ErrUnsupportedVersion, ErrMalformed) and the root's signature under the
// persona ID (ErrBadSignature). It knows nothing of pins: whether the
// epoch is current is the caller's question (Credential.Verify asks it).
func (c *OpCert) Verify() error {
	if err := c.checkSigned(); err != nil {
		return err
	}
	root, err := ParseDID(c.Persona)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	body, err := c.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(root, DomainOpCert, body, c.Sig) {
		return fmt.Errorf("%w: operational certificate of %s epoch %d", ErrBadSignature, c.Persona, c.Epoch)
	}
	return nil
}

// CutOff reports whether the certificate carries OpFlagCutOff.
func (c *OpCert) CutOff() bool { return c.Flags&OpFlagCutOff != 0 }

// OpPublicKey returns a copy of the operational public key.
func (c *OpCert) OpPublicKey() ed25519.PublicKey {
	return ed25519.PublicKey(bytes.Clone(c.OpKey))
}

// Clone returns a deep copy of c.
func (c *OpCert) Clone() *OpCert {
	d := *c
	d.OpKey = bytes.Clone(c.OpKey)
	d.RecoveryID = bytes.Clone(c.RecoveryID)
	d.Sig = bytes.Clone(c.Sig)
	return &d
}

// CheckPersona returns nil if root derives persona (a did:key) at index,
// and otherwise an error wrapping ErrWrongRoot: the words typed, or the
// owner.key opened, are not this persona's.
func (r *Root) CheckPersona(index uint32, persona string) error {
	k := r.PersonaRoot(index)
	defer clear(k)
	got := DID(k.Public().(ed25519.PublicKey))
	if got != persona {
		return fmt.Errorf("%w: persona %d of these words is %s, not %s", ErrWrongRoot, index, got, persona)
	}
	return nil
}
