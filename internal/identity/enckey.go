package identity

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// EncryptionKEM is the key-encapsulation mechanism of personas' encryption
// keys: the X25519 + ML-KEM-768 hybrid, so that what is wrapped for a
// persona today stays secret against a later quantum computer.
func EncryptionKEM() hpke.KEM { return hpke.MLKEM768X25519() }

// encKeyInfo separates the derivation of the encryption key from every
// other use of the persona key.
const encKeyInfo = "peer/persona-encryption-key/v1"

// EncryptionKey derives the persona's HPKE private key from its signing
// key: the same persona always has the same encryption key, so it needs no
// storage of its own and is restored with the recovery phrase. The public
// half is published in the persona's identity record.
func EncryptionKey(persona ed25519.PrivateKey) (hpke.PrivateKey, error) {
	if len(persona) != ed25519.PrivateKeySize {
		return nil, errors.New("identity: encryption key: bad persona key")
	}
	ikm, err := hkdf.Key(sha256.New, persona.Seed(), nil, encKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	return EncryptionKEM().DeriveKeyPair(ikm)
}

// Format 2 (docs/identity.md sections 2 and 4): the encryption key belongs
// to the operational layer. Generation 0 of each epoch is derived from the
// words; later generations are random. Either way a private key is stored
// and escrowed as its 32-byte hpke.PrivateKey.Bytes() and read back with
// EncryptionKEM().NewPrivateKey.

// encKey0Info is the HKDF info of the generation-0 encryption key.
const encKey0Info = "peer/encryption-key/v1"

// EncryptionKey0 returns the generation-0 encryption key of persona index
// in epoch (1 to MaxEpoch): HPKE (EncryptionKEM) at m/7337'/3'/index'/epoch',
// ikm = HKDF-SHA256(k, info "peer/encryption-key/v1"). Two root operations
// that start the same epoch agree on it.
func (r *Root) EncryptionKey0(index, epoch uint32) (hpke.PrivateKey, error) {
	k := r.derive(AccountEncryption, index, epoch)
	defer clear(k[:])
	priv, err := hpkeKeyFromSLIP10(k[:], encKey0Info)
	if err != nil {
		return nil, fmt.Errorf("identity: encryption key 0: %w", err)
	}
	return priv, nil
}

// NewEncryptionKey returns a random encryption key, for generation 1 and
// later: DeriveKeyPair of 32 bytes from crypto/rand.
func NewEncryptionKey() (hpke.PrivateKey, error) {
	var ikm [32]byte
	defer clear(ikm[:])
	if _, err := rand.Read(ikm[:]); err != nil {
		return nil, fmt.Errorf("identity: new encryption key: %w", err)
	}
	return EncryptionKEM().DeriveKeyPair(ikm[:])
}

// hpkeKeyFromSLIP10 turns a SLIP-0010 key k into an HPKE key pair:
// DeriveKeyPair(HKDF-SHA256(k, salt none, info, 32 bytes)).
func hpkeKeyFromSLIP10(k []byte, info string) (hpke.PrivateKey, error) {
	ikm, err := hkdf.Key(sha256.New, k, nil, info, 32)
	if err != nil {
		return nil, err
	}
	defer clear(ikm)
	return EncryptionKEM().DeriveKeyPair(ikm)
}
