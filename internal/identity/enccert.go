package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// EncKeyCertVersion is the encryption-key certificate format
// (docs/identity.md section 8.3).
const EncKeyCertVersion = 1

// EncryptionKEMID is the HPKE KEM ID of EncryptionKEM (MLKEM768-X25519),
// the only KEM an encryption-key certificate may name: there is no
// downgrade to a classical KEM.
const EncryptionKEMID uint16 = 0x647a

// EncryptionPublicKeySize is the length of an EncryptionKEM public key:
// the ML-KEM-768 encapsulation key (1184) and the X25519 key (32).
const EncryptionPublicKeySize = 1184 + 32

// EncKeyCert (identity format 2) is an operational key's signed statement
// that an HPKE public key is the persona's encryption key of generation Gen
// in the operational key's epoch. It does not expire: a later generation
// or epoch supersedes it.
//
// On the wire it is the CBOR array
//
//	[Version, Persona, Epoch, Gen, KEM, Key, IssuedAt, Sig]
//
// and Sig is the signature of the operational key of Epoch, in domain
// DomainEncKeyCert, over the CBOR array of the first seven fields.
type EncKeyCert struct {
	Version  uint16
	Persona  string // did:key of the persona
	Epoch    uint32 // the epoch of the operational key that signs
	Gen      uint32 // generation, 0 upward within the epoch
	KEM      uint16 // HPKE KEM ID: EncryptionKEMID
	Key      []byte // the HPKE public key (EncryptionPublicKeySize bytes)
	IssuedAt int64  // Unix seconds
	Sig      []byte // 64-byte Ed25519 signature by the operational key
}

type encKeyCertBody struct {
	_        struct{} `cbor:",toarray"`
	Version  uint16
	Persona  string
	Epoch    uint32
	Gen      uint32
	KEM      uint16
	Key      []byte
	IssuedAt int64
}

type encKeyCertWire struct {
	_        struct{} `cbor:",toarray"`
	Version  uint16
	Persona  string
	Epoch    uint32
	Gen      uint32
	KEM      uint16
	Key      []byte
	IssuedAt int64
	Sig      []byte
}

// IssueEncKeyCert has the operational key opKey, certified by op, sign a
// certificate for pub as the encryption key of generation gen in op's
// epoch, issued at now. opKey must be the key op certifies (else
// ErrPersonaMismatch); op is checked for structure but not verified: the
// issuer made it. A nil pub, a key of another KEM than EncryptionKEM and a
// time before 1970 are ErrMalformed.
func IssueEncKeyCert(opKey ed25519.PrivateKey, op *OpCert, gen uint32, pub hpke.PublicKey, now time.Time) (*EncKeyCert, error) {
	if op == nil {
		return nil, fmt.Errorf("%w: nil operational certificate", ErrMalformed)
	}
	if err := op.check(); err != nil {
		return nil, err
	}
	signer, err := publicOf(opKey)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(signer, op.OpKey) {
		return nil, fmt.Errorf("%w: the key is not the operational key of %s epoch %d", ErrPersonaMismatch, op.Persona, op.Epoch)
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: no encryption key to certify", ErrMalformed)
	}
	c := &EncKeyCert{
		Version:  EncKeyCertVersion,
		Persona:  op.Persona,
		Epoch:    op.Epoch,
		Gen:      gen,
		KEM:      pub.KEM().ID(),
		Key:      pub.Bytes(),
		IssuedAt: now.Unix(),
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	c.Sig = codec.Sign(opKey, DomainEncKeyCert, body)
	return c, nil
}

// check enforces the structural rules of section 8.6, signature aside: the
// KEM is EncryptionKEMID and the key is a valid public key of it.
func (c *EncKeyCert) check() error {
	if err := checkHead("encryption-key certificate", c.Version, EncKeyCertVersion, c.Persona, c.Epoch); err != nil {
		return err
	}
	if c.KEM != EncryptionKEMID {
		return fmt.Errorf("%w: encryption-key certificate: KEM 0x%04x, want 0x%04x", ErrMalformed, c.KEM, EncryptionKEMID)
	}
	if len(c.Key) != EncryptionPublicKeySize {
		return fmt.Errorf("%w: encryption-key certificate: key is %d bytes, want %d", ErrMalformed, len(c.Key), EncryptionPublicKeySize)
	}
	if _, err := EncryptionKEM().NewPublicKey(c.Key); err != nil {
		return fmt.Errorf("%w: encryption-key certificate: key: %w", ErrMalformed, err)
	}
	if c.IssuedAt < 0 {
		return fmt.Errorf("%w: encryption-key certificate issued before 1970", ErrMalformed)
	}
	return nil
}

func (c *EncKeyCert) checkSigned() error {
	if err := c.check(); err != nil {
		return err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: encryption-key certificate: signature is %d bytes, want %d", ErrMalformed, len(c.Sig), ed25519.SignatureSize)
	}
	return nil
}

func (c *EncKeyCert) body() ([]byte, error) {
	return codec.Marshal(encKeyCertBody{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Gen: c.Gen, KEM: c.KEM, Key: c.Key,
		IssuedAt: c.IssuedAt,
	})
}

// Marshal returns the certificate's deterministic encoding.
func (c *EncKeyCert) Marshal() ([]byte, error) {
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return codec.Marshal(encKeyCertWire{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Gen: c.Gen, KEM: c.KEM, Key: c.Key,
		IssuedAt: c.IssuedAt, Sig: c.Sig,
	})
}

// ParseEncKeyCert decodes an encryption-key certificate strictly: bounded
// size, canonical encoding, known version (else ErrUnsupportedVersion),
// well-formed fields (else ErrMalformed; a KEM other than EncryptionKEMID
// or a key that is not a valid public key of it is malformed). It does not
// check the signature: call Verify.
func ParseEncKeyCert(b []byte) (*EncKeyCert, error) {
	if err := checkVersion(b, "encryption-key certificate", EncKeyCertVersion); err != nil {
		return nil, err
	}
	var w encKeyCertWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: encryption-key certificate: %w", ErrMalformed, err)
	}
	c := &EncKeyCert{
		Version: w.Version, Persona: w.Persona, Epoch: w.Epoch, Gen: w.Gen, KEM: w.KEM, Key: w.Key,
		IssuedAt: w.IssuedAt, Sig: w.Sig,
	}
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks, in this order: the structure of both certificates
// (ErrUnsupportedVersion, ErrMalformed); op's root signature
// (ErrBadSignature); that c names op's persona and epoch
// (ErrEpochMismatch); the operational key's signature (ErrBadSignature).
//
// It does not know the verifier's pins: whether the epoch is current, and
// which generation is the newest, are the caller's questions.
func (c *EncKeyCert) Verify(op *OpCert) error {
	if err := c.checkSigned(); err != nil {
		return err
	}
	if op == nil {
		return fmt.Errorf("%w: nil operational certificate", ErrMalformed)
	}
	if err := op.Verify(); err != nil {
		return err
	}
	if c.Persona != op.Persona || c.Epoch != op.Epoch {
		return fmt.Errorf("%w: encryption-key certificate of %s epoch %d under the operational certificate of %s epoch %d",
			ErrEpochMismatch, c.Persona, c.Epoch, op.Persona, op.Epoch)
	}
	body, err := c.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(op.OpKey, DomainEncKeyCert, body, c.Sig) {
		return fmt.Errorf("%w: encryption-key certificate of %s epoch %d generation %d", ErrBadSignature, c.Persona, c.Epoch, c.Gen)
	}
	return nil
}

// EncKeyID names an encryption public key: the first 8 bytes of SHA-256 of
// its encoding. Two rival certificates of one generation differ in it.
func EncKeyID(pub hpke.PublicKey) [8]byte { return encKeyID(pub.Bytes()) }

func encKeyID(key []byte) [8]byte {
	h := sha256.Sum256(key)
	return [8]byte(h[:8])
}

// KeyID returns the certified key's EncKeyID.
func (c *EncKeyCert) KeyID() [8]byte { return encKeyID(c.Key) }

// PublicKey returns the certified key as an EncryptionKEM public key, to
// seal to. It fails (ErrMalformed) only on a certificate that would not
// parse.
func (c *EncKeyCert) PublicKey() (hpke.PublicKey, error) {
	if c.KEM != EncryptionKEMID {
		return nil, fmt.Errorf("%w: encryption-key certificate: KEM 0x%04x, want 0x%04x", ErrMalformed, c.KEM, EncryptionKEMID)
	}
	pub, err := EncryptionKEM().NewPublicKey(c.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption-key certificate: key: %w", ErrMalformed, err)
	}
	return pub, nil
}

// Clone returns a deep copy of c.
func (c *EncKeyCert) Clone() *EncKeyCert {
	d := *c
	d.Key = bytes.Clone(c.Key)
	d.Sig = bytes.Clone(c.Sig)
	return &d
}
