// Package identity holds the pure cryptography of who a user is: the 24-word
// recovery phrase, the derivation of persona keys from it, did:key persona
// identifiers, and the signed certificates by which a persona vouches for
// the devices that run it: in format 2 (docs/identity.md section 8) the
// root's operational certificate of an epoch (OpCert), the operational
// key's device certificates (DeviceCert) and the Credential made of the
// two, checked against a verifier's Pins, its encryption-key certificates
// (EncKeyCert), and the escrow of encryption keys to the recovery key
// (Escrow, OpenEscrow); in format 1, until it is removed,
// DeviceCertV1 and RevocationV1.
//
// identity does no I/O: storing keys is internal/keystore's job. It is a leaf
// package: it imports only the standard library, internal/codec, go-bip39 (the
// word list and PBKDF2 seed) and base58. Any package may import it.
//
// The formats here are frozen by test vectors (testdata/vectors.json) and
// described in docs/identity.md; changing a derivation or a record layout is
// a breaking change that needs a new version.
package identity

import "errors"

// Errors callers branch on. Functions wrap them with details, so test them
// with errors.Is.
var (
	// ErrBadMnemonic: a recovery phrase is not 24 valid BIP-39 English words
	// with a correct checksum. The wrapping message says what is wrong.
	ErrBadMnemonic = errors.New("invalid recovery phrase")
	// ErrBadDID: a string is not a did:key for an Ed25519 public key.
	ErrBadDID = errors.New("invalid persona ID")
	// ErrMalformed: a record cannot be decoded or breaks a structural rule
	// (field sizes, encoding, time order).
	ErrMalformed = errors.New("malformed record")
	// ErrUnsupportedVersion: a record carries a version this code does not know.
	ErrUnsupportedVersion = errors.New("unsupported record version")
	// ErrBadSignature: a record's signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired: a certificate's validity has ended.
	ErrExpired = errors.New("certificate expired")
	// ErrRevoked: a certificate has been revoked.
	ErrRevoked = errors.New("certificate revoked")
	// ErrPersonaMismatch: a key was used for a record of another persona.
	ErrPersonaMismatch = errors.New("key does not belong to the record's persona")
	// ErrStaleEpoch (format 2): a certificate, credential or record is of an
	// epoch lower than the one the verifier has pinned for its persona.
	ErrStaleEpoch = errors.New("epoch superseded")
	// ErrEpochMismatch (format 2): a device (or encryption-key) certificate
	// whose epoch or persona is not that of its operational certificate.
	ErrEpochMismatch = errors.New("certificate does not match its operational certificate")
	// ErrWrongRoot (format 2): the words (or owner.key) do not derive the
	// persona asked for.
	ErrWrongRoot = errors.New("recovery words are not this persona's")
	// ErrDecrypt (format 2): an escrow does not open: another recovery
	// key, persona, epoch or generation, or tampered bytes.
	ErrDecrypt = errors.New("cannot decrypt")
)

// Signature domains, one per record type (see codec.SignedMessage).
const (
	DomainDeviceCert       = "peer/device-cert" // format 1 and 2
	DomainDeviceRevocation = "peer/device-revocation"
	// DomainOpCert is the only domain the root signs in (format 2).
	DomainOpCert = "peer/op-cert"
	// DomainEncKeyCert is the domain of encryption-key certificates,
	// signed by the operational key (format 2).
	DomainEncKeyCert = "peer/enc-key"
)
