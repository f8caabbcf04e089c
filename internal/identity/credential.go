package identity

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// CredentialVersion is the credential format (docs/identity.md section 8.4).
const CredentialVersion = 1

// Credential (identity format 2) is what travels with an object a device
// signs, so that a verifier can follow the chain from the persona ID to the
// device key without looking anything up: the operational certificate of
// an epoch and the device certificate it signs.
//
// On the wire it is the CBOR array
//
//	[Version, OpCert, DeviceCert]
//
// of the version and the two certificates' encodings as byte strings. A
// credential carries no signature of its own.
type Credential struct {
	Op     *OpCert
	Device *DeviceCert
}

type credentialWire struct {
	_          struct{} `cbor:",toarray"`
	Version    uint16
	OpCert     []byte
	DeviceCert []byte
}

// Marshal returns the credential's deterministic encoding.
func (c *Credential) Marshal() ([]byte, error) {
	if c.Op == nil || c.Device == nil {
		return nil, fmt.Errorf("%w: credential without both certificates", ErrMalformed)
	}
	op, err := c.Op.Marshal()
	if err != nil {
		return nil, err
	}
	dev, err := c.Device.Marshal()
	if err != nil {
		return nil, err
	}
	return codec.Marshal(credentialWire{Version: CredentialVersion, OpCert: op, DeviceCert: dev})
}

// ParseCredential decodes a credential and both its certificates strictly
// (ErrUnsupportedVersion for an unknown version of any of the three,
// ErrMalformed otherwise). It checks no signature: call Verify.
func ParseCredential(b []byte) (*Credential, error) {
	if err := checkVersion(b, "credential", CredentialVersion); err != nil {
		return nil, err
	}
	var w credentialWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: credential: %w", ErrMalformed, err)
	}
	op, err := ParseOpCert(w.OpCert)
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	dev, err := ParseDeviceCert(w.DeviceCert)
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	return &Credential{Op: op, Device: dev}, nil
}

// Verify checks that the credential makes its device key speak for persona
// at now and returns that key and the epoch. In order: structure and
// versions (ErrMalformed, ErrUnsupportedVersion); the operational
// certificate names persona (ErrPersonaMismatch) and the root's signature
// verifies (ErrBadSignature); the device certificate has the same persona
// and epoch (ErrEpochMismatch) and the operational key's signature
// verifies (ErrBadSignature); it has not expired (ErrExpired); then, if
// pins is not nil, the epoch is not below the pinned one (ErrStaleEpoch)
// and the pins do not revoke the device in it (ErrRevoked).
//
// The caller still checks that the device key is the one that signed the
// object, or the peer on the connection, and raises its pin if the epoch
// is higher than the pinned one.
func (c *Credential) Verify(persona string, now time.Time, pins Pins) (ed25519.PublicKey, uint32, error) {
	if c.Op == nil || c.Device == nil {
		return nil, 0, fmt.Errorf("%w: credential without both certificates", ErrMalformed)
	}
	if err := c.Op.checkSigned(); err != nil {
		return nil, 0, err
	}
	if err := c.Device.checkSigned(); err != nil {
		return nil, 0, err
	}
	if c.Op.Persona != persona {
		return nil, 0, fmt.Errorf("%w: credential of %s, want %s", ErrPersonaMismatch, c.Op.Persona, persona)
	}
	if err := c.Op.Verify(); err != nil {
		return nil, 0, err
	}
	if err := c.Device.verifyUnder(c.Op, now); err != nil {
		return nil, 0, err
	}
	epoch := c.Op.Epoch
	if pins != nil {
		if pinned := pins.Epoch(persona); epoch < pinned {
			return nil, 0, fmt.Errorf("%w: credential of %s epoch %d, pinned epoch %d", ErrStaleEpoch, persona, epoch, pinned)
		}
		if pins.Revoked(persona, epoch, c.Device.DeviceKey()) {
			return nil, 0, fmt.Errorf("%w: device %x of %s in epoch %d", ErrRevoked, c.Device.Device[:8], persona, epoch)
		}
	}
	return c.Device.DeviceKey(), epoch, nil
}
