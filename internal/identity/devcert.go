package identity

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// CertVersion is the format-2 device certificate format (docs/identity.md
// section 8.2). Format 1's is CertVersionV1.
const CertVersion = 2

// DeviceCert (identity format 2) is an operational key's signed statement
// that a device key acts for the persona in the operational key's epoch.
// Format 1's random serial is gone: revocations name the device key within
// an epoch.
//
// On the wire it is the CBOR array
//
//	[Version, Persona, Epoch, Device, IssuedAt, ExpiresAt, Sig]
//
// and Sig is the signature of the operational key of Epoch, in domain
// DomainDeviceCert, over the CBOR array of the first six fields.
type DeviceCert struct {
	Version   uint16
	Persona   string // did:key of the persona
	Epoch     uint32 // the epoch of the operational key that signs
	Device    []byte // the device's 32-byte Ed25519 public key
	IssuedAt  int64  // Unix seconds
	ExpiresAt int64  // Unix seconds; 0: until the epoch ends or the device is revoked
	Sig       []byte // 64-byte Ed25519 signature by the operational key
}

type deviceCertBody struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Epoch     uint32
	Device    []byte
	IssuedAt  int64
	ExpiresAt int64
}

type deviceCertWire struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Epoch     uint32
	Device    []byte
	IssuedAt  int64
	ExpiresAt int64
	Sig       []byte
}

// IssueDeviceCert has the operational key opKey, certified by op, sign a
// certificate for device in op's epoch, valid from now for validFor (0:
// until the epoch ends; otherwise rounded up to whole seconds). opKey must
// be the key op certifies (else ErrPersonaMismatch); op is checked for
// structure but not verified: the issuer made it.
func IssueDeviceCert(opKey ed25519.PrivateKey, op *OpCert, device ed25519.PublicKey, now time.Time, validFor time.Duration) (*DeviceCert, error) {
	if op == nil {
		return nil, fmt.Errorf("%w: nil operational certificate", ErrMalformed)
	}
	if err := op.check(); err != nil {
		return nil, err
	}
	pub, err := publicOf(opKey)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pub, op.OpKey) {
		return nil, fmt.Errorf("%w: the key is not the operational key of %s epoch %d", ErrPersonaMismatch, op.Persona, op.Epoch)
	}
	if validFor < 0 {
		return nil, fmt.Errorf("identity: negative certificate lifetime %v", validFor)
	}
	c := &DeviceCert{
		Version:  CertVersion,
		Persona:  op.Persona,
		Epoch:    op.Epoch,
		Device:   bytes.Clone(device),
		IssuedAt: now.Unix(),
	}
	if validFor > 0 {
		c.ExpiresAt = c.IssuedAt + int64((validFor+time.Second-1)/time.Second)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	c.Sig = codec.Sign(opKey, DomainDeviceCert, body)
	return c, nil
}

// check enforces the structural rules of section 8.6, signature aside.
func (c *DeviceCert) check() error {
	if err := checkHead("device certificate", c.Version, CertVersion, c.Persona, c.Epoch); err != nil {
		return err
	}
	if len(c.Device) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: device certificate: device key is %d bytes, want %d", ErrMalformed, len(c.Device), ed25519.PublicKeySize)
	}
	if c.IssuedAt < 0 {
		return fmt.Errorf("%w: device certificate issued before 1970", ErrMalformed)
	}
	if c.ExpiresAt != 0 && c.ExpiresAt <= c.IssuedAt {
		return fmt.Errorf("%w: device certificate expires (%d) before it is issued (%d)", ErrMalformed, c.ExpiresAt, c.IssuedAt)
	}
	return nil
}

func (c *DeviceCert) checkSigned() error {
	if err := c.check(); err != nil {
		return err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: device certificate: signature is %d bytes, want %d", ErrMalformed, len(c.Sig), ed25519.SignatureSize)
	}
	return nil
}

func (c *DeviceCert) body() ([]byte, error) {
	return codec.Marshal(deviceCertBody{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Device: c.Device,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	})
}

// Marshal returns the certificate's deterministic encoding.
func (c *DeviceCert) Marshal() ([]byte, error) {
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return codec.Marshal(deviceCertWire{
		Version: c.Version, Persona: c.Persona, Epoch: c.Epoch, Device: c.Device,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, Sig: c.Sig,
	})
}

// ParseDeviceCert decodes a format-2 device certificate strictly: bounded
// size, canonical encoding, known version (else ErrUnsupportedVersion; a
// format-1 certificate is version 1, read by ParseDeviceCertV1),
// well-formed fields (else ErrMalformed). It does not check the signature,
// expiry or revocation: call Verify.
func ParseDeviceCert(b []byte) (*DeviceCert, error) {
	if err := checkVersion(b, "device certificate", CertVersion); err != nil {
		return nil, err
	}
	var w deviceCertWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: device certificate: %w", ErrMalformed, err)
	}
	c := &DeviceCert{
		Version: w.Version, Persona: w.Persona, Epoch: w.Epoch, Device: w.Device,
		IssuedAt: w.IssuedAt, ExpiresAt: w.ExpiresAt, Sig: w.Sig,
	}
	if err := c.checkSigned(); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks, in this order: the structure of both certificates
// (ErrUnsupportedVersion, ErrMalformed); op's root signature (ErrBadSignature);
// that c names op's persona and epoch (ErrEpochMismatch); the operational
// key's signature (ErrBadSignature); expiry at now (ErrExpired).
//
// It does not know the verifier's pins (Credential.Verify applies them), nor
// which device it is talking to: the caller must also check that Device is
// the key the peer proved it holds.
func (c *DeviceCert) Verify(op *OpCert, now time.Time) error {
	if err := c.checkSigned(); err != nil {
		return err
	}
	if op == nil {
		return fmt.Errorf("%w: nil operational certificate", ErrMalformed)
	}
	if err := op.Verify(); err != nil {
		return err
	}
	return c.verifyUnder(op, now)
}

// verifyUnder is Verify after op has been verified.
func (c *DeviceCert) verifyUnder(op *OpCert, now time.Time) error {
	if c.Persona != op.Persona || c.Epoch != op.Epoch {
		return fmt.Errorf("%w: device certificate of %s epoch %d under the operational certificate of %s epoch %d",
			ErrEpochMismatch, c.Persona, c.Epoch, op.Persona, op.Epoch)
	}
	body, err := c.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(op.OpKey, DomainDeviceCert, body, c.Sig) {
		return fmt.Errorf("%w: device certificate of %s epoch %d", ErrBadSignature, c.Persona, c.Epoch)
	}
	if c.ExpiresAt != 0 && now.Unix() >= c.ExpiresAt {
		return fmt.Errorf("%w: device certificate of %s epoch %d expired at %s", ErrExpired, c.Persona, c.Epoch,
			time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// DeviceKey returns a copy of the certified device's public key.
func (c *DeviceCert) DeviceKey() ed25519.PublicKey {
	return ed25519.PublicKey(bytes.Clone(c.Device))
}

// Clone returns a deep copy of c.
func (c *DeviceCert) Clone() *DeviceCert {
	d := *c
	d.Device = bytes.Clone(c.Device)
	d.Sig = bytes.Clone(c.Sig)
	return &d
}
