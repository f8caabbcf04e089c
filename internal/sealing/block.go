package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// Suite is how the blocks of one key epoch are sealed. It is the first
// byte of every sealed block, and the key record of the epoch names it, so
// every device seals a given plaintext of the epoch to the same bytes.
type Suite byte

const (
	// SuiteXChaCha20Poly1305 seals with XChaCha20-Poly1305 under the
	// epoch's encryption subkey, the synthetic IV as the nonce. It runs in
	// constant time and fast everywhere, which makes it the choice of
	// devices without AES instructions (a Raspberry Pi 4).
	SuiteXChaCha20Poly1305 Suite = 0x02
	// SuiteAES256GCM seals with AES-256-GCM under a key derived for each
	// block from the synthetic IV, with a zero nonce: each key seals one
	// plaintext, so GCM's 96-bit nonces never need managing. About 2.5
	// times faster than XChaCha20-Poly1305 on CPUs with AES and carry-less
	// multiply instructions, several times slower without them.
	SuiteAES256GCM Suite = 0x03
)

// Suites lists the suites this code seals and opens.
var Suites = []Suite{SuiteXChaCha20Poly1305, SuiteAES256GCM}

// Known says whether this code seals and opens s.
func (s Suite) Known() bool {
	return s == SuiteXChaCha20Poly1305 || s == SuiteAES256GCM
}

// String is the suite's name as configuration spells it.
func (s Suite) String() string {
	switch s {
	case SuiteXChaCha20Poly1305:
		return "xchacha20-poly1305"
	case SuiteAES256GCM:
		return "aes-256-gcm"
	}
	return fmt.Sprintf("suite-0x%02x", byte(s))
}

// ParseSuite returns the suite a name (Suite.String) names; "auto" is
// DefaultSuite.
func ParseSuite(name string) (Suite, error) {
	if name == "auto" {
		return DefaultSuite(), nil
	}
	for _, s := range Suites {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown sealing suite %q (want auto, xchacha20-poly1305 or aes-256-gcm)", ErrUnsupportedVersion, name)
}

// aesGCMHardware: this CPU runs AES-GCM in hardware, as crypto/tls decides
// when it orders its cipher suites.
var aesGCMHardware = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ ||
	cpu.ARM64.HasAES && cpu.ARM64.HasPMULL

// DefaultSuite is the suite this device picks for a new key epoch:
// AES-256-GCM where the CPU has AES and carry-less multiply instructions,
// XChaCha20-Poly1305 elsewhere.
func DefaultSuite() Suite {
	if aesGCMHardware {
		return SuiteAES256GCM
	}
	return SuiteXChaCha20Poly1305
}

// BlockKey seals and opens the blocks of one key epoch: its content key
// and suite, with the subkeys derived once. It is safe for concurrent use
// and, like ContentKey, never prints its key.
type BlockKey struct {
	key     ContentKey
	suite   Suite
	ivs     keyedHashes // BLAKE3 keyed with the nonce subkey
	xchacha cipher.AEAD // SuiteXChaCha20Poly1305
	aesKeys keyedHashes // SuiteAES256GCM: BLAKE3 keyed with the key block keys derive from
}

// keyedHashes hands out BLAKE3 hashers keyed with one key, reset for
// reuse: a hasher is large, and two are needed per block.
type keyedHashes struct{ pool sync.Pool }

func newKeyedHashes(key *[32]byte) keyedHashes {
	k := *key
	return keyedHashes{pool: sync.Pool{New: func() any {
		h, err := blake3.NewKeyed(k[:])
		if err != nil {
			panic("sealing: BLAKE3 refused a 32-byte key: " + err.Error())
		}
		return h
	}}}
}

// sum32 is the keyed BLAKE3-256 of msg. Shorter outputs are its prefixes
// (BLAKE3's output is an extendable stream).
func (k *keyedHashes) sum32(msg []byte) [32]byte {
	h := k.pool.Get().(*blake3.Hasher)
	h.Write(msg)
	var out [32]byte
	h.Sum(out[:0])
	h.Reset()
	k.pool.Put(h)
	return out
}

// NewBlockKey prepares k for sealing and opening under suite s. Errors:
// ErrMalformed for the zero key (it would encrypt nothing),
// ErrUnsupportedVersion for a suite this code does not know.
func NewBlockKey(k ContentKey, s Suite) (*BlockKey, error) {
	if k.isZero() {
		return nil, fmt.Errorf("%w: zero content key", ErrMalformed)
	}
	if !s.Known() {
		return nil, fmt.Errorf("%w: sealing suite 0x%02x", ErrUnsupportedVersion, byte(s))
	}
	b := &BlockKey{key: k, suite: s}
	var nonceKey [32]byte
	blake3.DeriveKey(nonceKeyContext, k[:], nonceKey[:])
	b.ivs = newKeyedHashes(&nonceKey)
	switch s {
	case SuiteXChaCha20Poly1305:
		var encKey [32]byte
		blake3.DeriveKey(encKeyContext, k[:], encKey[:])
		aead, err := chacha20poly1305.NewX(encKey[:])
		if err != nil {
			panic("sealing: XChaCha20-Poly1305 refused a 32-byte key: " + err.Error())
		}
		b.xchacha = aead
	case SuiteAES256GCM:
		var aesKey [32]byte
		blake3.DeriveKey(aesKeyContext, k[:], aesKey[:])
		b.aesKeys = newKeyedHashes(&aesKey)
	}
	return b, nil
}

// Key is the content key (for wrapping it again for new readers).
func (b *BlockKey) Key() ContentKey { return b.key }

// Suite is the suite b seals with and opens.
func (b *BlockKey) Suite() Suite { return b.suite }

// String returns a placeholder naming the suite only.
func (b *BlockKey) String() string { return "sealing.BlockKey(" + b.suite.String() + ", redacted)" }

// GoString is String, for %#v.
func (b *BlockKey) GoString() string { return b.String() }

// CheckSize is the length of a sealed block's check: the first bytes of
// its synthetic IV. A manifest that lists a sealed block with its check
// lets a reader holding the key accept the block without hashing the
// sealed bytes: Open's SIV check ties the IV to the plaintext's digest,
// so a block that opens, passes that check and carries the listed check is
// the block listed (a forgery is a 128-bit second preimage of keyed
// BLAKE3).
const CheckSize = 16

// Check returns the check of the block b seals from a plaintext with this
// digest.
func (b *BlockKey) Check(digest [DigestSize]byte) [CheckSize]byte {
	n := b.syntheticIV(&digest)
	return [CheckSize]byte(n[:CheckSize])
}

// SealedCheck returns the check a sealed block carries; false when the
// bytes are too short to be a sealed block or of a suite this code does
// not know.
func SealedCheck(sealed []byte) ([CheckSize]byte, bool) {
	if len(sealed) < Overhead || !Suite(sealed[0]).Known() {
		return [CheckSize]byte{}, false
	}
	return [CheckSize]byte(sealed[1 : 1+CheckSize]), true
}

// DigestSize is the length of a plaintext digest: BLAKE3-256, the hash
// inside our CIDs (cid.Digest).
const DigestSize = 32

// Digest is the BLAKE3-256 digest of a block's plaintext.
func Digest(plaintext []byte) [DigestSize]byte { return blake3.Sum256(plaintext) }

// syntheticIV is keyed BLAKE3, under the nonce key, of the plaintext's
// BLAKE3-256 digest, truncated to NonceSize bytes. Deriving it from the
// digest (not the plaintext itself) lets callers that already know the
// digest — the block's CID names it — seal without hashing the block
// again, and lets Open hand the digest back for the CID.
func (b *BlockKey) syntheticIV(digest *[DigestSize]byte) [NonceSize]byte {
	h := b.ivs.sum32(digest[:])
	return [NonceSize]byte(h[:NonceSize])
}

var zeroGCMNonce [12]byte

// aead returns the AEAD, nonce and length of associated data (a prefix of
// the sealed block) of the block whose synthetic IV is iv.
//
//   - XChaCha20-Poly1305: the epoch's AEAD, nonce iv, associated data the
//     suite byte.
//   - AES-256-GCM: a key of its own, BLAKE3-keyed(aes_key, iv), a zero
//     nonce, associated data the suite byte and iv.
func (b *BlockKey) aead(iv []byte) (cipher.AEAD, []byte, int) {
	if b.suite == SuiteXChaCha20Poly1305 {
		return b.xchacha, iv, 1
	}
	k := b.aesKeys.sum32(iv)
	c, err := aes.NewCipher(k[:])
	if err != nil {
		panic("sealing: AES refused a 32-byte key: " + err.Error())
	}
	g, err := cipher.NewGCM(c)
	if err != nil {
		panic("sealing: GCM: " + err.Error())
	}
	return g, zeroGCMNonce[:], 1 + NonceSize
}

// Seal encrypts and authenticates one block. It is deterministic: the same
// key, suite and plaintext always give the same result; different keys
// give unrelated results. The result is
//
//	suite (1) || synthetic IV (24) || ciphertext || tag (16)
//
// with IV = BLAKE3-keyed(nonce subkey, BLAKE3-256(plaintext))[:24]; it is
// len(plaintext)+Overhead bytes long (docs/formats-sealing.md).
//
// Seal panics if plaintext is longer than MaxBlockSize: blocks are bounded
// by the chunker, so that is a programming error.
func (b *BlockKey) Seal(plaintext []byte) []byte {
	return b.SealDigest(plaintext, Digest(plaintext))
}

// SealDigest is Seal for a caller that knows the plaintext's BLAKE3-256
// digest (from its CID), saving a pass over the block. A wrong digest
// gives a block Open refuses (the SIV check), never a weaker one.
func (b *BlockKey) SealDigest(plaintext []byte, digest [DigestSize]byte) []byte {
	return b.SealDigestAppend(make([]byte, 0, len(plaintext)+Overhead), plaintext, digest)
}

// SealDigestAppend is SealDigest appending the sealed block to dst (the
// same bytes SealDigest returns), for callers that reuse buffers. It may
// seal in place: when plaintext starts exactly 1+NonceSize bytes after
// the end of dst (in the same array), the ciphertext overwrites it.
// Otherwise plaintext must not overlap the appended bytes.
func (b *BlockKey) SealDigestAppend(dst, plaintext []byte, digest [DigestSize]byte) []byte {
	if len(plaintext) > MaxBlockSize {
		panic(fmt.Sprintf("sealing: Seal of %d bytes, limit %d", len(plaintext), MaxBlockSize))
	}
	iv := b.syntheticIV(&digest)
	start := len(dst)
	dst = append(dst, byte(b.suite))
	dst = append(dst, iv[:]...)
	aead, nonce, ad := b.aead(dst[start+1:])
	return aead.Seal(dst, nonce, plaintext, dst[start:start+ad])
}

// Open authenticates and decrypts a block sealed by Seal with this key and
// suite. Errors: ErrTooLarge (more than MaxSealedSize bytes, checked
// first), ErrMalformed (shorter than Overhead), ErrUnsupportedVersion (a
// suite byte this code does not know), ErrDecrypt (another suite than the
// key's, the wrong key, tampered bytes, or an IV that is not the synthetic
// IV of the plaintext — see the SIV check in docs/formats-sealing.md).
func (b *BlockKey) Open(sealed []byte) ([]byte, error) {
	p, _, err := b.OpenDigestAppend(nil, sealed)
	return p, err
}

// OpenDigest is Open that also returns the plaintext's BLAKE3-256 digest
// (computed for the SIV check), from which the caller can build the
// plaintext's CID without hashing it again (cid.FromDigest).
func (b *BlockKey) OpenDigest(sealed []byte) ([]byte, [DigestSize]byte, error) {
	return b.OpenDigestAppend(nil, sealed)
}

// OpenDigestAppend is OpenDigest appending the plaintext to dst, for
// callers that reuse buffers; it returns dst extended by the plaintext.
// The appended bytes must not overlap sealed. On error dst's spare
// capacity may have been written (and cleared).
func (b *BlockKey) OpenDigestAppend(dst, sealed []byte) ([]byte, [DigestSize]byte, error) {
	var digest [DigestSize]byte
	if len(sealed) > MaxSealedSize {
		return nil, digest, fmt.Errorf("%w: sealed block of %d bytes, limit %d", ErrTooLarge, len(sealed), MaxSealedSize)
	}
	if len(sealed) < Overhead {
		return nil, digest, fmt.Errorf("%w: sealed block of %d bytes, minimum %d", ErrMalformed, len(sealed), Overhead)
	}
	if s := Suite(sealed[0]); !s.Known() {
		return nil, digest, fmt.Errorf("%w: block suite 0x%02x", ErrUnsupportedVersion, sealed[0])
	} else if s != b.suite {
		// Only a holder of the key could make it, and it would open to
		// the right plaintext, but under another suite than the epoch's
		// record names: not the block Seal makes, so refused.
		return nil, digest, fmt.Errorf("%w: block sealed with %s, the key's suite is %s", ErrDecrypt, s, b.suite)
	}
	iv := sealed[1 : 1+NonceSize]
	aead, nonce, ad := b.aead(iv)
	start := len(dst)
	out, err := aead.Open(dst, nonce, sealed[1+NonceSize:], sealed[:ad])
	if err != nil {
		return nil, digest, fmt.Errorf("%w: block authentication failed", ErrDecrypt)
	}
	plaintext := out[start:]
	// SIV check: only a holder of the key can make a block that
	// authenticates, but one could pick an IV other than the synthetic
	// one; such a block breaks determinism (equal plaintexts, different
	// stored bytes) and is refused.
	digest = Digest(plaintext)
	want := b.syntheticIV(&digest)
	if subtle.ConstantTimeCompare(want[:], iv) != 1 {
		clear(plaintext)
		return nil, [DigestSize]byte{}, fmt.Errorf("%w: IV is not the synthetic IV of the plaintext", ErrDecrypt)
	}
	return out, digest, nil
}
