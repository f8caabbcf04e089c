package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// CertVersionV1 is the device certificate format this code writes and reads.
const CertVersionV1 = 1

// DeviceCertV1 (identity format 1; docs/identity.md §18) is a persona's signed statement that a device (one running node,
// named by its Ed25519 public key) acts for it.
//
// On the wire it is the CBOR array
//
//	[Version, Persona, Device, Serial, IssuedAt, ExpiresAt, Sig]
//
// and Sig is the persona's signature, in domain DomainDeviceCert, over the
// CBOR array of the first six fields (see docs/identity.md).
type DeviceCertV1 struct {
	Version   uint16
	Persona   string // did:key of the issuing persona
	Device    []byte // the device's 32-byte Ed25519 public key
	Serial    uint64 // chosen by the issuer, unique per persona; names the cert in revocations
	IssuedAt  int64  // Unix seconds
	ExpiresAt int64  // Unix seconds; 0 means the certificate does not expire
	Sig       []byte // 64-byte Ed25519 signature by Persona
}

// certBody is the signed part of a DeviceCert, in wire order.
type certBody struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Device    []byte
	Serial    uint64
	IssuedAt  int64
	ExpiresAt int64
}

// certWire is the whole DeviceCert on the wire.
type certWire struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Device    []byte
	Serial    uint64
	IssuedAt  int64
	ExpiresAt int64
	Sig       []byte
}

// IssueDeviceCertV1 has persona sign a certificate for device, valid from now
// for validFor (0: no expiry; otherwise rounded up to whole seconds).
func IssueDeviceCertV1(persona ed25519.PrivateKey, device ed25519.PublicKey, serial uint64, now time.Time, validFor time.Duration) (*DeviceCertV1, error) {
	pub, err := publicOf(persona)
	if err != nil {
		return nil, err
	}
	if validFor < 0 {
		return nil, fmt.Errorf("identity: negative certificate lifetime %v", validFor)
	}
	c := &DeviceCertV1{
		Version:  CertVersionV1,
		Persona:  DID(pub),
		Device:   bytes.Clone(device),
		Serial:   serial,
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
	c.Sig = codec.Sign(persona, DomainDeviceCert, body)
	return c, nil
}

// publicOf checks that priv is a well-formed Ed25519 private key (its public
// half matches its seed) and returns the public key.
func publicOf(priv ed25519.PrivateKey) (ed25519.PublicKey, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("identity: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := ed25519.NewKeyFromSeed(priv.Seed()).Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, priv[32:]) {
		return nil, errors.New("identity: private key's public half does not match its seed")
	}
	return pub, nil
}

// check enforces the structural rules of a certificate, signature aside.
func (c *DeviceCertV1) check() error {
	if c.Version != CertVersionV1 {
		return fmt.Errorf("%w: device certificate version %d, want %d", ErrUnsupportedVersion, c.Version, CertVersionV1)
	}
	if _, err := ParseDID(c.Persona); err != nil {
		return fmt.Errorf("%w: device certificate persona: %w", ErrMalformed, err)
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

func (c *DeviceCertV1) body() ([]byte, error) {
	return codec.Marshal(certBody{
		Version: c.Version, Persona: c.Persona, Device: c.Device,
		Serial: c.Serial, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	})
}

// Marshal returns the certificate's deterministic encoding.
func (c *DeviceCertV1) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: device certificate: signature is %d bytes, want %d", ErrMalformed, len(c.Sig), ed25519.SignatureSize)
	}
	return codec.Marshal(certWire{
		Version: c.Version, Persona: c.Persona, Device: c.Device, Serial: c.Serial,
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, Sig: c.Sig,
	})
}

// ParseDeviceCertV1 decodes a certificate strictly: bounded size, canonical
// encoding, known version (else ErrUnsupportedVersion), well-formed fields
// (else ErrMalformed). It does not check the signature, expiry or
// revocation: call Verify.
func ParseDeviceCertV1(b []byte) (*DeviceCertV1, error) {
	if err := checkVersion(b, "device certificate", CertVersionV1); err != nil {
		return nil, err
	}
	var w certWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: device certificate: %w", ErrMalformed, err)
	}
	c := &DeviceCertV1{
		Version: w.Version, Persona: w.Persona, Device: w.Device, Serial: w.Serial,
		IssuedAt: w.IssuedAt, ExpiresAt: w.ExpiresAt, Sig: w.Sig,
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(c.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: device certificate: signature is %d bytes, want %d", ErrMalformed, len(c.Sig), ed25519.SignatureSize)
	}
	return c, nil
}

// checkVersion reads the first element of an encoded record array, so that a
// record of another version is reported as ErrUnsupportedVersion even when
// its layout differs from the one this code knows.
func checkVersion(b []byte, what string, want uint16) error {
	v, err := codec.RecordVersion(b)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if v != want {
		return fmt.Errorf("%w: %s version %d, want %d", ErrUnsupportedVersion, what, v, want)
	}
	return nil
}

// Verify checks, in this order, the certificate's version and structure
// (ErrUnsupportedVersion, ErrMalformed), the persona's signature
// (ErrBadSignature), expiry at now (ErrExpired) and, when revoked is not nil,
// revocation (ErrRevoked). revoked may be (*RevocationList).Has.
//
// Verify does not know which device it is talking to: the caller must also
// check that Device is the key the peer proved it holds.
func (c *DeviceCertV1) Verify(now time.Time, revoked func(persona string, serial uint64) bool) error {
	if err := c.check(); err != nil {
		return err
	}
	pub, err := ParseDID(c.Persona)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	body, err := c.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(pub, DomainDeviceCert, body, c.Sig) {
		return fmt.Errorf("%w: device certificate %d of %s", ErrBadSignature, c.Serial, c.Persona)
	}
	if c.ExpiresAt != 0 && now.Unix() >= c.ExpiresAt {
		return fmt.Errorf("%w: device certificate %d of %s expired at %s", ErrExpired, c.Serial, c.Persona,
			time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	if revoked != nil && revoked(c.Persona, c.Serial) {
		return fmt.Errorf("%w: device certificate %d of %s", ErrRevoked, c.Serial, c.Persona)
	}
	return nil
}

// DeviceKey returns a copy of the certified device's public key.
func (c *DeviceCertV1) DeviceKey() ed25519.PublicKey {
	return ed25519.PublicKey(bytes.Clone(c.Device))
}

// Clone returns a deep copy of c.
func (c *DeviceCertV1) Clone() *DeviceCertV1 {
	d := *c
	d.Device = bytes.Clone(c.Device)
	d.Sig = bytes.Clone(c.Sig)
	return &d
}
