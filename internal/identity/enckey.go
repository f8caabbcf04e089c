package identity

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
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
