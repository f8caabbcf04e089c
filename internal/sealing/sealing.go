// Package sealing is encryption at rest for non-public MiMei: the content
// key of a MiMei, the sealing of its blocks under that key, the wrapping of
// the key for each reader with HPKE, and the signed key record that carries
// the wrapped keys of one key epoch.
//
// Block sealing is deterministic (a synthetic-IV construction): the same key
// and the same plaintext always give the same sealed bytes, so identical
// chunks in different versions of one MiMei are stored once. The price is
// that whoever sees the sealed blocks of one MiMei learns which of them are
// equal; nothing is learnt across keys. docs/formats-sealing.md describes the
// formats and their limits.
//
// Domain package: it imports only the standard library, golang.org/x/crypto,
// BLAKE3, internal/codec and internal/identity (no storage, no network).
// The block store's encrypt wrapper and the sharing engine import it.
package sealing

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// Block sealing format and sizes.
const (
	// BlockFormat is the first byte of every sealed block this code writes
	// and reads.
	BlockFormat = 0x02
	// NonceSize is the length of the synthetic nonce (XChaCha20-Poly1305).
	NonceSize = chacha20poly1305.NonceSizeX
	// TagSize is the length of the Poly1305 tag.
	TagSize = chacha20poly1305.Overhead
	// Overhead is how much longer a sealed block is than its plaintext:
	// the format byte, the nonce and the tag.
	Overhead = 1 + NonceSize + TagSize
	// MaxBlockSize is the largest plaintext Seal accepts: the largest chunk
	// the chunker can cut (chunker.MaxChunkSize).
	MaxBlockSize = 4 << 20
	// MaxSealedSize is the largest sealed block Open accepts, checked
	// before anything else is done.
	MaxSealedSize = MaxBlockSize + Overhead
)

// Key-derivation contexts (BLAKE3 derive_key). Each names its purpose and
// the format version, so the two subkeys are independent of each other and
// of any other use of a content key.
const (
	nonceKeyContext = "peer 2026 sealing block nonce key v1"
	encKeyContext   = "peer 2026 sealing block encryption key v1"
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

// subkeys derives the nonce key and the AEAD of k.
func (k ContentKey) subkeys() (nonceKey [32]byte, aead cipher.AEAD) {
	var encKey [32]byte
	blake3.DeriveKey(nonceKeyContext, k[:], nonceKey[:])
	blake3.DeriveKey(encKeyContext, k[:], encKey[:])
	aead, err := chacha20poly1305.NewX(encKey[:])
	if err != nil {
		panic("sealing: XChaCha20-Poly1305 refused a 32-byte key: " + err.Error())
	}
	return nonceKey, aead
}

// CheckSize is the length of a sealed block's check: the first bytes of
// its synthetic nonce. A manifest that lists a sealed block with its check
// lets a reader holding the key accept the block without hashing the
// sealed bytes: Open's SIV check ties the nonce to the plaintext's digest,
// so a block that opens, passes that check and carries the listed check is
// the block listed (a forgery is a 128-bit second preimage of keyed
// BLAKE3).
const CheckSize = 16

// Check returns the check of the block Seal makes under k of a plaintext
// with this digest.
func Check(k ContentKey, digest [DigestSize]byte) [CheckSize]byte {
	var nonceKey [32]byte
	blake3.DeriveKey(nonceKeyContext, k[:], nonceKey[:])
	n := syntheticNonce(&nonceKey, &digest)
	return [CheckSize]byte(n[:CheckSize])
}

// SealedCheck returns the check a sealed block carries; false when the
// bytes are too short to be a sealed block or of another format.
func SealedCheck(sealed []byte) ([CheckSize]byte, bool) {
	if len(sealed) < Overhead || sealed[0] != BlockFormat {
		return [CheckSize]byte{}, false
	}
	return [CheckSize]byte(sealed[1 : 1+CheckSize]), true
}

// DigestSize is the length of a plaintext digest: BLAKE3-256, the hash
// inside our CIDs (cid.Digest).
const DigestSize = 32

// Digest is the BLAKE3-256 digest of a block's plaintext.
func Digest(plaintext []byte) [DigestSize]byte { return blake3.Sum256(plaintext) }

// syntheticNonce is keyed BLAKE3, under the nonce key, of the plaintext's
// BLAKE3-256 digest, truncated to NonceSize bytes. Deriving it from the
// digest (not the plaintext itself) lets callers that already know the
// digest — the block's CID names it — seal without hashing the block
// again, and lets Open hand the digest back for the CID.
func syntheticNonce(nonceKey *[32]byte, digest *[DigestSize]byte) [NonceSize]byte {
	h, err := blake3.NewKeyed(nonceKey[:])
	if err != nil {
		panic("sealing: BLAKE3 refused a 32-byte key: " + err.Error())
	}
	h.Write(digest[:])
	var n [NonceSize]byte
	h.Digest().Read(n[:])
	return n
}

// Seal encrypts and authenticates one block under k. It is deterministic:
// the same k and plaintext always give the same result, different keys give
// unrelated results. The result is
//
//	BlockFormat || nonce (24) || XChaCha20-Poly1305 ciphertext and tag
//
// with nonce = BLAKE3-keyed(nonce subkey, BLAKE3-256(plaintext))[:24] and
// the format byte as associated data; it is len(plaintext)+Overhead bytes
// long.
//
// Seal panics if plaintext is longer than MaxBlockSize or k is the zero
// key: both are programming errors (blocks are bounded by the chunker, keys
// come from NewContentKey or Unwrap), and the zero key would encrypt
// nothing.
func Seal(k ContentKey, plaintext []byte) []byte {
	return SealDigest(k, plaintext, Digest(plaintext))
}

// SealDigest is Seal for a caller that knows the plaintext's BLAKE3-256
// digest (from its CID), saving a pass over the block. A wrong digest
// gives a block Open refuses (the SIV check), never a weaker one.
func SealDigest(k ContentKey, plaintext []byte, digest [DigestSize]byte) []byte {
	if len(plaintext) > MaxBlockSize {
		panic(fmt.Sprintf("sealing: Seal of %d bytes, limit %d", len(plaintext), MaxBlockSize))
	}
	if k.isZero() {
		panic("sealing: Seal with the zero content key")
	}
	return SealDigestAppend(make([]byte, 0, len(plaintext)+Overhead), k, plaintext, digest)
}

// SealDigestAppend is SealDigest appending the sealed block to dst (the
// same bytes SealDigest returns), for callers that reuse buffers. It may
// seal in place: when plaintext starts exactly 1+NonceSize bytes after
// the end of dst (in the same array), the ciphertext overwrites it.
// Otherwise plaintext must not overlap the appended bytes.
func SealDigestAppend(dst []byte, k ContentKey, plaintext []byte, digest [DigestSize]byte) []byte {
	if len(plaintext) > MaxBlockSize {
		panic(fmt.Sprintf("sealing: Seal of %d bytes, limit %d", len(plaintext), MaxBlockSize))
	}
	if k.isZero() {
		panic("sealing: Seal with the zero content key")
	}
	nonceKey, aead := k.subkeys()
	nonce := syntheticNonce(&nonceKey, &digest)
	start := len(dst)
	dst = append(dst, BlockFormat)
	dst = append(dst, nonce[:]...)
	return aead.Seal(dst, nonce[:], plaintext, dst[start:start+1])
}

// Open authenticates and decrypts a block sealed by Seal under k. Errors:
// ErrTooLarge (more than MaxSealedSize bytes, checked first), ErrMalformed
// (shorter than Overhead), ErrUnsupportedVersion (another format byte),
// ErrDecrypt (the zero key, the wrong key, tampered bytes, or a nonce that
// is not the synthetic nonce of the plaintext — see the SIV check in
// docs/formats-sealing.md).
func Open(k ContentKey, sealed []byte) ([]byte, error) {
	p, _, err := OpenDigest(k, sealed)
	return p, err
}

// OpenDigest is Open that also returns the plaintext's BLAKE3-256 digest
// (computed for the SIV check), from which the caller can build the
// plaintext's CID without hashing it again (cid.FromDigest).
func OpenDigest(k ContentKey, sealed []byte) ([]byte, [DigestSize]byte, error) {
	return OpenDigestAppend(nil, k, sealed)
}

// OpenDigestAppend is OpenDigest appending the plaintext to dst, for
// callers that reuse buffers; it returns dst extended by the plaintext.
// The appended bytes must not overlap sealed. On error dst's spare
// capacity may have been written (and cleared).
func OpenDigestAppend(dst []byte, k ContentKey, sealed []byte) ([]byte, [DigestSize]byte, error) {
	var digest [DigestSize]byte
	if len(sealed) > MaxSealedSize {
		return nil, digest, fmt.Errorf("%w: sealed block of %d bytes, limit %d", ErrTooLarge, len(sealed), MaxSealedSize)
	}
	if len(sealed) < Overhead {
		return nil, digest, fmt.Errorf("%w: sealed block of %d bytes, minimum %d", ErrMalformed, len(sealed), Overhead)
	}
	if sealed[0] != BlockFormat {
		return nil, digest, fmt.Errorf("%w: block format %d, want %d", ErrUnsupportedVersion, sealed[0], BlockFormat)
	}
	if k.isZero() {
		return nil, digest, fmt.Errorf("%w: zero content key", ErrDecrypt)
	}
	nonceKey, aead := k.subkeys()
	nonce := sealed[1 : 1+NonceSize]
	start := len(dst)
	out, err := aead.Open(dst, nonce, sealed[1+NonceSize:], sealed[:1])
	if err != nil {
		return nil, digest, fmt.Errorf("%w: block authentication failed", ErrDecrypt)
	}
	plaintext := out[start:]
	// SIV check: only a holder of k can make a block that authenticates,
	// but one could pick a nonce other than the synthetic one; such a block
	// breaks determinism (equal plaintexts, different stored bytes) and is
	// refused.
	digest = Digest(plaintext)
	want := syntheticNonce(&nonceKey, &digest)
	if subtle.ConstantTimeCompare(want[:], nonce) != 1 {
		clear(plaintext)
		return nil, [DigestSize]byte{}, fmt.Errorf("%w: nonce is not the synthetic nonce of the plaintext", ErrDecrypt)
	}
	return out, digest, nil
}
