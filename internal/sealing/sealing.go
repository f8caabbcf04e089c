// Package sealing is encryption at rest for non-public MiMei: the content
// key of a MiMei, the sealing of its blocks under that key, the wrapping of
// the key for each reader with HPKE, and the signed key record that carries
// the wrapped keys of one key epoch.
//
// Block sealing is deterministic (a synthetic-IV construction): the same key
// and the same plaintext always give the same sealed bytes, so identical
// chunks in different versions of one MiMei are stored once. The price is
// that whoever sees the sealed blocks of one MiMei learns which of them are
// equal; nothing is learnt across keys. Each key epoch seals with one suite,
// named in its key record: AES-256-GCM where the creating device has AES
// instructions, XChaCha20-Poly1305 elsewhere (BlockKey, DefaultSuite).
// docs/formats-sealing.md describes the formats and their limits.
//
// Domain package: it imports only the standard library, golang.org/x/crypto,
// golang.org/x/sys/cpu, BLAKE3, internal/codec and internal/identity (no
// storage, no network).
// The sharing engine (internal/share) imports it.
package sealing

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Block sealing sizes, the same for every suite.
const (
	// NonceSize is the length of a sealed block's synthetic IV: the
	// XChaCha20 nonce, from which AES-256-GCM derives its block key.
	NonceSize = chacha20poly1305.NonceSizeX
	// TagSize is the length of the authentication tag (Poly1305 or GCM).
	TagSize = 16
	// Overhead is how much longer a sealed block is than its plaintext:
	// the suite byte, the synthetic IV and the tag.
	Overhead = 1 + NonceSize + TagSize
	// MaxBlockSize is the largest plaintext Seal accepts: the largest chunk
	// the chunker can cut (chunker.MaxChunkSize).
	MaxBlockSize = 4 << 20
	// MaxSealedSize is the largest sealed block Open accepts, checked
	// before anything else is done.
	MaxSealedSize = MaxBlockSize + Overhead
)

// Key-derivation contexts (BLAKE3 derive_key). Each names its purpose and
// the format version, so the subkeys are independent of each other and
// of any other use of a content key.
const (
	nonceKeyContext = "peer 2026 sealing block nonce key v1"
	encKeyContext   = "peer 2026 sealing block encryption key v1"
	aesKeyContext   = "peer 2026 sealing block aes-256-gcm key v1"
)

// Errors callers branch on. Details are wrapped with %w, so test them with
// errors.Is.
var (
	// ErrMalformed: the input cannot be decoded or breaks a structural
	// rule (a sealed block too short, a key record over a limit, a bad
	// persona or MiMei ID, an epoch of zero).
	ErrMalformed = errors.New("sealing: malformed input")
	// ErrUnsupportedVersion: the format byte or version field is not one
	// this code knows.
	ErrUnsupportedVersion = errors.New("sealing: unsupported format version")
	// ErrTooLarge: the input exceeds its size limit (MaxSealedSize,
	// MaxRecordSize).
	ErrTooLarge = errors.New("sealing: input too large")
	// ErrDecrypt: authentication failed — the wrong key, the wrong reader,
	// the wrong MiMei or epoch, or bytes that were tampered with. The
	// causes are deliberately not told apart.
	ErrDecrypt = errors.New("sealing: cannot decrypt")
	// ErrBadSignature: a key record's signature does not verify.
	ErrBadSignature = errors.New("sealing: bad signature")
	// ErrUntrusted: a key record is signed by a key the caller does not
	// trust for that MiMei.
	ErrUntrusted = errors.New("sealing: untrusted signer")
	// ErrNotReader: a key record holds no wrapped key for the persona.
	ErrNotReader = errors.New("sealing: persona is not a reader")
)

// ContentKey is the symmetric key that seals the blocks of one MiMei in one
// key epoch. It is a secret: its String method does not print it.
type ContentKey [32]byte

// NewContentKey returns a fresh random content key.
func NewContentKey() (ContentKey, error) {
	var k ContentKey
	for k.isZero() { // the zero key is refused everywhere; never return it
		if _, err := rand.Read(k[:]); err != nil {
			return ContentKey{}, fmt.Errorf("sealing: new content key: %w", err)
		}
	}
	return k, nil
}

// String returns a fixed placeholder, so that a content key printed by
// mistake (with %v, %s or %x) never reaches a log.
func (k ContentKey) String() string { return "sealing.ContentKey(redacted)" }

// GoString is String, for %#v.
func (k ContentKey) GoString() string { return k.String() }

func (k ContentKey) isZero() bool {
	return k == ContentKey{}
}
