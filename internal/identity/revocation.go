package identity

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// RevocationVersionV1 is the revocation format this code writes and reads.
const RevocationVersionV1 = 1

// RevocationV1 is a persona's signed statement that its device certificate
// Serial (for Device) is no longer valid.
//
// On the wire it is the CBOR array
//
//	[Version, Persona, Serial, Device, RevokedAt, Sig]
//
// and Sig is the persona's signature, in domain DomainDeviceRevocation, over
// the CBOR array of the first five fields.
type RevocationV1 struct {
	Version   uint16
	Persona   string // did:key of the persona that issued the certificate
	Serial    uint64 // serial of the revoked certificate
	Device    []byte // device key of the revoked certificate (32 bytes)
	RevokedAt int64  // Unix seconds
	Sig       []byte // 64-byte Ed25519 signature by Persona
}

type revocationBody struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Serial    uint64
	Device    []byte
	RevokedAt int64
}

type revocationWire struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Persona   string
	Serial    uint64
	Device    []byte
	RevokedAt int64
	Sig       []byte
}

// RevokeV1 has persona sign the revocation of certificate c. persona must be
// the key that issued c (else ErrPersonaMismatch).
func RevokeV1(persona ed25519.PrivateKey, c *DeviceCertV1, now time.Time) (*RevocationV1, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil device certificate", ErrMalformed)
	}
	pub, err := publicOf(persona)
	if err != nil {
		return nil, err
	}
	if DID(pub) != c.Persona {
		return nil, fmt.Errorf("%w: certificate %d belongs to %s", ErrPersonaMismatch, c.Serial, c.Persona)
	}
	r := &RevocationV1{
		Version:   RevocationVersionV1,
		Persona:   c.Persona,
		Serial:    c.Serial,
		Device:    bytes.Clone(c.Device),
		RevokedAt: now.Unix(),
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	body, err := r.body()
	if err != nil {
		return nil, err
	}
	r.Sig = codec.Sign(persona, DomainDeviceRevocation, body)
	return r, nil
}

func (r *RevocationV1) check() error {
	if r.Version != RevocationVersionV1 {
		return fmt.Errorf("%w: revocation version %d, want %d", ErrUnsupportedVersion, r.Version, RevocationVersionV1)
	}
	if _, err := ParseDID(r.Persona); err != nil {
		return fmt.Errorf("%w: revocation persona: %w", ErrMalformed, err)
	}
	if len(r.Device) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: revocation: device key is %d bytes, want %d", ErrMalformed, len(r.Device), ed25519.PublicKeySize)
	}
	if r.RevokedAt < 0 {
		return fmt.Errorf("%w: revocation dated before 1970", ErrMalformed)
	}
	return nil
}

func (r *RevocationV1) body() ([]byte, error) {
	return codec.Marshal(revocationBody{
		Version: r.Version, Persona: r.Persona, Serial: r.Serial, Device: r.Device, RevokedAt: r.RevokedAt,
	})
}

// Marshal returns the revocation's deterministic encoding.
func (r *RevocationV1) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: revocation: signature is %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	return codec.Marshal(revocationWire{
		Version: r.Version, Persona: r.Persona, Serial: r.Serial, Device: r.Device,
		RevokedAt: r.RevokedAt, Sig: r.Sig,
	})
}

// ParseRevocationV1 decodes a revocation strictly (see ParseDeviceCertV1). It
// does not check the signature: call Verify.
func ParseRevocationV1(b []byte) (*RevocationV1, error) {
	if err := checkVersion(b, "revocation", RevocationVersionV1); err != nil {
		return nil, err
	}
	var w revocationWire
	if err := codec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: revocation: %w", ErrMalformed, err)
	}
	r := &RevocationV1{
		Version: w.Version, Persona: w.Persona, Serial: w.Serial, Device: w.Device,
		RevokedAt: w.RevokedAt, Sig: w.Sig,
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: revocation: signature is %d bytes, want %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	return r, nil
}

// Verify checks the revocation's version, structure and signature.
func (r *RevocationV1) Verify() error {
	if err := r.check(); err != nil {
		return err
	}
	pub, err := ParseDID(r.Persona)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	body, err := r.body()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !codec.Verify(pub, DomainDeviceRevocation, body, r.Sig) {
		return fmt.Errorf("%w: revocation of certificate %d of %s", ErrBadSignature, r.Serial, r.Persona)
	}
	return nil
}

// RevocationListV1 is an in-memory set of verified revocations, keyed by
// (persona, serial). The zero value is empty and ready; it is safe for
// concurrent use. Its Has method fits DeviceCert.Verify's revoked argument.
type RevocationListV1 struct {
	mu sync.RWMutex
	m  map[revocationKey]struct{}
}

type revocationKey struct {
	persona string
	serial  uint64
}

// Add verifies r and adds it to the list; a revocation that does not verify
// is refused with Verify's error.
func (l *RevocationListV1) Add(r *RevocationV1) error {
	if r == nil {
		return fmt.Errorf("%w: nil revocation", ErrMalformed)
	}
	if err := r.Verify(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[revocationKey]struct{})
	}
	l.m[revocationKey{r.Persona, r.Serial}] = struct{}{}
	return nil
}

// Has reports whether certificate serial of persona has been revoked.
func (l *RevocationListV1) Has(persona string, serial uint64) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.m[revocationKey{persona, serial}]
	return ok
}

// Len returns the number of revoked certificates in the list.
func (l *RevocationListV1) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.m)
}
