package sealing

import (
	"crypto/hpke"
	"encoding/binary"
	"fmt"

	"github.com/peer-node/peer/internal/identity"
)

// Key wrapping format and sizes.
const (
	// WrapFormat is the first byte of every wrapped key this code writes
	// and reads.
	WrapFormat = 0x01
	// encSize is the length of an MLKEM768X25519 encapsulated key: the
	// ML-KEM-768 ciphertext (1088) and the X25519 ephemeral key (32).
	encSize = 1088 + 32
	// WrappedSize is the length of a wrapped key: the format byte, the
	// encapsulated key, and the content key sealed with its tag.
	WrappedSize = 1 + encSize + len(ContentKey{}) + 16
	// MaxMiMeiLen bounds the MiMei ID bound into a wrapped key or record.
	MaxMiMeiLen = 128
)

// wrapInfoPrefix starts the HPKE info string; see wrapInfo.
const wrapInfoPrefix = "peer 2026 sealing content key wrap v1\x00"

// The HPKE suite: the persona's KEM (identity.EncryptionKEM), HKDF-SHA256
// and ChaCha20-Poly1305, in base mode.
func wrapKDF() hpke.KDF   { return hpke.HKDFSHA256() }
func wrapAEAD() hpke.AEAD { return hpke.ChaCha20Poly1305() }

// wrapInfo binds a wrapped key to its MiMei and epoch:
//
//	wrapInfoPrefix || uint16 BE len(mimei) || mimei || uint32 BE epoch
func wrapInfo(mimei string, epoch uint32) []byte {
	info := make([]byte, 0, len(wrapInfoPrefix)+2+len(mimei)+4)
	info = append(info, wrapInfoPrefix...)
	info = binary.BigEndian.AppendUint16(info, uint16(len(mimei)))
	info = append(info, mimei...)
	return binary.BigEndian.AppendUint32(info, epoch)
}

// Wrap encrypts k for one reader with HPKE (RFC 9180, base mode) to the
// reader's persona encryption key, binding it to mimei and epoch: Unwrap
// with any other MiMei ID or epoch fails. The result is WrappedSize bytes:
//
//	WrapFormat || enc (1120) || ChaCha20-Poly1305(k) with tag
//
// Errors: ErrMalformed for a nil reader key, a reader key of another KEM
// than identity.EncryptionKEM (no downgrade to a classical-only KEM), an
// invalid MiMei ID, or the zero content key.
func Wrap(k ContentKey, reader hpke.PublicKey, mimei string, epoch uint32) ([]byte, error) {
	if reader == nil {
		return nil, fmt.Errorf("%w: wrap: no reader key", ErrMalformed)
	}
	if id, want := reader.KEM().ID(), identity.EncryptionKEM().ID(); id != want {
		return nil, fmt.Errorf("%w: wrap: reader key is for KEM 0x%04x, want 0x%04x", ErrMalformed, id, want)
	}
	if err := checkMiMei(mimei); err != nil {
		return nil, fmt.Errorf("%w: wrap: MiMei ID: %w", ErrMalformed, err)
	}
	if k.isZero() {
		return nil, fmt.Errorf("%w: wrap: zero content key", ErrMalformed)
	}
	enc, s, err := hpke.NewSender(reader, wrapKDF(), wrapAEAD(), wrapInfo(mimei, epoch))
	if err != nil {
		return nil, fmt.Errorf("sealing: wrap: %w", err)
	}
	if len(enc) != encSize {
		return nil, fmt.Errorf("sealing: wrap: encapsulated key of %d bytes, want %d", len(enc), encSize)
	}
	ct, err := s.Seal([]byte{WrapFormat}, k[:]) // the format byte is the associated data
	if err != nil {
		return nil, fmt.Errorf("sealing: wrap: %w", err)
	}
	out := make([]byte, 0, WrappedSize)
	out = append(out, WrapFormat)
	out = append(out, enc...)
	return append(out, ct...), nil
}

// Unwrap recovers a content key wrapped by Wrap, with the reader's persona
// encryption key (identity.EncryptionKey) and the MiMei ID and epoch it was
// wrapped for. Errors: ErrMalformed (not WrappedSize bytes, a nil key or a
// key of another KEM, a bad MiMei ID), ErrUnsupportedVersion (another
// format byte), ErrDecrypt (another reader's key, another MiMei or epoch,
// tampered bytes).
func Unwrap(sealed []byte, priv hpke.PrivateKey, mimei string, epoch uint32) (ContentKey, error) {
	if len(sealed) != WrappedSize {
		return ContentKey{}, fmt.Errorf("%w: wrapped key of %d bytes, want %d", ErrMalformed, len(sealed), WrappedSize)
	}
	if sealed[0] != WrapFormat {
		return ContentKey{}, fmt.Errorf("%w: wrap format %d, want %d", ErrUnsupportedVersion, sealed[0], WrapFormat)
	}
	if priv == nil {
		return ContentKey{}, fmt.Errorf("%w: unwrap: no private key", ErrMalformed)
	}
	if id, want := priv.KEM().ID(), identity.EncryptionKEM().ID(); id != want {
		return ContentKey{}, fmt.Errorf("%w: unwrap: key is for KEM 0x%04x, want 0x%04x", ErrMalformed, id, want)
	}
	if err := checkMiMei(mimei); err != nil {
		return ContentKey{}, fmt.Errorf("%w: unwrap: MiMei ID: %w", ErrMalformed, err)
	}
	enc, ct := sealed[1:1+encSize], sealed[1+encSize:]
	r, err := hpke.NewRecipient(enc, priv, wrapKDF(), wrapAEAD(), wrapInfo(mimei, epoch))
	if err != nil {
		// A malformed encapsulation; with ML-KEM, decapsulation of a
		// wrong ciphertext "succeeds" with an unrelated secret and fails
		// below instead.
		return ContentKey{}, fmt.Errorf("%w: unwrap: %w", ErrDecrypt, err)
	}
	pt, err := r.Open(sealed[:1], ct)
	if err != nil {
		return ContentKey{}, fmt.Errorf("%w: unwrap: authentication failed", ErrDecrypt)
	}
	var k ContentKey
	copy(k[:], pt)
	clear(pt)
	if len(pt) != len(k) || k.isZero() {
		return ContentKey{}, fmt.Errorf("%w: unwrap: not a content key", ErrMalformed)
	}
	return k, nil
}

// checkMiMei accepts 1 to MaxMiMeiLen bytes of printable ASCII without
// spaces: MiMei IDs in their text form.
func checkMiMei(s string) error {
	return checkToken(s, MaxMiMeiLen)
}

// checkToken accepts 1 to max bytes of printable ASCII without spaces.
func checkToken(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%d bytes, want 1 to %d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("byte 0x%02x at %d is not printable ASCII", s[i], i)
		}
	}
	return nil
}
