package identity

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/mr-tron/base58"
)

// DIDPrefix starts every Ed25519 did:key: the method, then the multibase
// prefix 'z' for base58btc.
const DIDPrefix = "did:key:z"

// multicodecEd25519Pub is the unsigned-varint multicodec code 0xed
// (ed25519-pub) that prefixes the key bytes.
var multicodecEd25519Pub = [2]byte{0xed, 0x01}

// maxDIDLen bounds the input to ParseDID before decoding. 34 bytes encode to
// at most 47 base58 digits; real Ed25519 did:keys are 56 characters.
const maxDIDLen = len(DIDPrefix) + 48

// DID returns the did:key of an Ed25519 public key:
// "did:key:z" + base58btc(0xed 0x01 || key), which always starts "did:key:z6Mk".
// It panics if pub is not 32 bytes.
func DID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("identity: DID of a %d-byte public key", len(pub)))
	}
	b := make([]byte, 0, 2+ed25519.PublicKeySize)
	b = append(b, multicodecEd25519Pub[:]...)
	b = append(b, pub...)
	return DIDPrefix + base58.Encode(b)
}

// ParseDID returns the Ed25519 public key named by a did:key. It accepts
// only the canonical form DID produces; anything else wraps ErrBadDID.
func ParseDID(s string) (ed25519.PublicKey, error) {
	if len(s) > maxDIDLen {
		return nil, fmt.Errorf("%w: %d characters is too long", ErrBadDID, len(s))
	}
	rest, ok := strings.CutPrefix(s, DIDPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: %q does not start with %q", ErrBadDID, s, DIDPrefix)
	}
	b, err := base58.Decode(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: bad base58: %v", ErrBadDID, s, err)
	}
	if len(b) != 2+ed25519.PublicKeySize || b[0] != multicodecEd25519Pub[0] || b[1] != multicodecEd25519Pub[1] {
		return nil, fmt.Errorf("%w: %q is not an Ed25519 public key", ErrBadDID, s)
	}
	pub := ed25519.PublicKey(b[2:])
	if DID(pub) != s {
		return nil, fmt.Errorf("%w: %q is not in canonical form", ErrBadDID, s)
	}
	return pub, nil
}
