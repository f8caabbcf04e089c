package identity

import (
	"crypto/hpke"
	"encoding/binary"
	"fmt"
)

// Escrow format and sizes (docs/identity.md section 8.5).
const (
	// EscrowFormat is the first byte of every escrow this code writes and
	// reads; it is also the associated data of the sealed key.
	EscrowFormat = 0x01
	// escrowEncSize is the length of an EncryptionKEM encapsulated key:
	// the ML-KEM-768 ciphertext (1088) and the X25519 ephemeral key (32).
	escrowEncSize = 1088 + 32
	// escrowKeySize is the length of a stored encryption private key
	// (hpke.PrivateKey.Bytes() of EncryptionKEM).
	escrowKeySize = 32
	// EscrowSize is the length of an escrow: the format byte, the
	// encapsulated key, and the private key sealed with its 16-byte tag.
	EscrowSize = 1 + escrowEncSize + escrowKeySize + 16
)

// escrowInfoPrefix starts the HPKE info string; see escrowInfo.
const escrowInfoPrefix = "peer 2026 encryption key escrow v1\x00"

// escrowInfo binds an escrow to the persona, epoch and generation of the
// key it holds:
//
//	escrowInfoPrefix || uint16 BE len(persona) || persona || uint32 BE epoch || uint32 BE gen
func escrowInfo(persona string, epoch, gen uint32) []byte {
	info := make([]byte, 0, len(escrowInfoPrefix)+2+len(persona)+8)
	info = append(info, escrowInfoPrefix...)
	info = binary.BigEndian.AppendUint16(info, uint16(len(persona)))
	info = append(info, persona...)
	info = binary.BigEndian.AppendUint32(info, epoch)
	return binary.BigEndian.AppendUint32(info, gen)
}

// checkEscrowFor checks the persona and epoch an escrow is bound to.
func checkEscrowFor(persona string, epoch uint32) error {
	if _, err := ParseDID(persona); err != nil {
		return fmt.Errorf("%w: escrow persona: %w", ErrMalformed, err)
	}
	if epoch == 0 || epoch > MaxEpoch {
		return fmt.Errorf("%w: escrow epoch %d out of range 1 to %d", ErrMalformed, epoch, MaxEpoch)
	}
	return nil
}

// Escrow seals the encryption private key priv of generation gen of
// persona (a did:key) in epoch to the persona's recovery public key, so
// that the words alone can open it (OpenEscrow) while no box can. It is
// HPKE base mode (EncryptionKEM, HKDF-SHA256, ChaCha20-Poly1305), the info
// binding persona, epoch and generation; the result is EscrowSize bytes:
//
//	EscrowFormat || enc (1120) || ChaCha20-Poly1305(aad EscrowFormat, priv.Bytes()) with tag
//
// Escrows are randomised: two of the same key differ. Errors: ErrMalformed
// for a nil key, a key of another KEM than EncryptionKEM, a persona that is
// not a did:key, or an epoch out of range 1 to MaxEpoch.
func Escrow(recoveryPub hpke.PublicKey, persona string, epoch, gen uint32, priv hpke.PrivateKey) ([]byte, error) {
	if recoveryPub == nil || priv == nil {
		return nil, fmt.Errorf("%w: escrow: no key", ErrMalformed)
	}
	if id := recoveryPub.KEM().ID(); id != EncryptionKEMID {
		return nil, fmt.Errorf("%w: escrow: recovery key is for KEM 0x%04x, want 0x%04x", ErrMalformed, id, EncryptionKEMID)
	}
	if id := priv.KEM().ID(); id != EncryptionKEMID {
		return nil, fmt.Errorf("%w: escrow: encryption key is for KEM 0x%04x, want 0x%04x", ErrMalformed, id, EncryptionKEMID)
	}
	if err := checkEscrowFor(persona, epoch); err != nil {
		return nil, err
	}
	// Not cleared after use: crypto/hpke's Bytes returns the private
	// key's own memory, not a copy (TestEscrowLeavesTheKey).
	key, err := priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("identity: escrow: %w", err)
	}
	if len(key) != escrowKeySize {
		return nil, fmt.Errorf("identity: escrow: private key of %d bytes, want %d", len(key), escrowKeySize)
	}
	enc, s, err := hpke.NewSender(recoveryPub, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), escrowInfo(persona, epoch, gen))
	if err != nil {
		return nil, fmt.Errorf("identity: escrow: %w", err)
	}
	if len(enc) != escrowEncSize {
		return nil, fmt.Errorf("identity: escrow: encapsulated key of %d bytes, want %d", len(enc), escrowEncSize)
	}
	ct, err := s.Seal([]byte{EscrowFormat}, key)
	if err != nil {
		return nil, fmt.Errorf("identity: escrow: %w", err)
	}
	out := make([]byte, 0, EscrowSize)
	out = append(out, EscrowFormat)
	out = append(out, enc...)
	return append(out, ct...), nil
}

// OpenEscrow recovers the encryption private key sealed by Escrow, with
// the persona's recovery private key (Root.RecoveryKey) and the persona,
// epoch and generation it was escrowed for. The caller should still check
// that the key is the certified one (EncKeyID of its public key against
// EncKeyCert.KeyID). Errors: ErrMalformed (not EscrowSize bytes, a nil key
// or one of another KEM, a bad persona or epoch, a plaintext that is not
// a private key), ErrUnsupportedVersion (another format byte), ErrDecrypt
// (another recovery key, persona, epoch or generation; tampered bytes).
func OpenEscrow(recoveryPriv hpke.PrivateKey, persona string, epoch, gen uint32, escrow []byte) (hpke.PrivateKey, error) {
	if len(escrow) != EscrowSize {
		return nil, fmt.Errorf("%w: escrow of %d bytes, want %d", ErrMalformed, len(escrow), EscrowSize)
	}
	if escrow[0] != EscrowFormat {
		return nil, fmt.Errorf("%w: escrow format %d, want %d", ErrUnsupportedVersion, escrow[0], EscrowFormat)
	}
	if recoveryPriv == nil {
		return nil, fmt.Errorf("%w: open escrow: no recovery key", ErrMalformed)
	}
	if id := recoveryPriv.KEM().ID(); id != EncryptionKEMID {
		return nil, fmt.Errorf("%w: open escrow: recovery key is for KEM 0x%04x, want 0x%04x", ErrMalformed, id, EncryptionKEMID)
	}
	if err := checkEscrowFor(persona, epoch); err != nil {
		return nil, err
	}
	enc, ct := escrow[1:1+escrowEncSize], escrow[1+escrowEncSize:]
	r, err := hpke.NewRecipient(enc, recoveryPriv, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), escrowInfo(persona, epoch, gen))
	if err != nil {
		// A malformed encapsulation; with ML-KEM, decapsulating a wrong
		// ciphertext "succeeds" with an unrelated secret and fails below.
		return nil, fmt.Errorf("%w: open escrow: %w", ErrDecrypt, err)
	}
	key, err := r.Open(escrow[:1], ct)
	if err != nil {
		return nil, fmt.Errorf("%w: open escrow of %s epoch %d generation %d", ErrDecrypt, persona, epoch, gen)
	}
	defer clear(key)
	priv, err := EncryptionKEM().NewPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: open escrow: not a private key: %w", ErrMalformed, err)
	}
	return priv, nil
}
