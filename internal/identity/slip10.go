package identity

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
)

// Persona key derivation path: m / PersonaPurpose' / PersonaAccount' / index'
// (SLIP-0010, Ed25519, every level hardened).
const (
	// PersonaPurpose is the first path level, our own purpose number.
	PersonaPurpose uint32 = 7337
	// PersonaAccount is the second level; 0 for persona signing keys.
	PersonaAccount uint32 = 0
	// PersonaPathTemplate is the path in the usual notation.
	PersonaPathTemplate = "m/7337'/0'/i'"
	// MaxPersonaIndex is the largest index a hardened path level can hold.
	MaxPersonaIndex uint32 = 1<<31 - 1
)

// Format-2 derivation paths (docs/identity.md section 4): the second level
// says what a key is for, the third is the persona index and the fourth,
// where there is one, the epoch. Every level is hardened.
const (
	// AccountRoot is the level of the persona's root signing key,
	// m/7337'/0'/i' (the same key as PersonaAccount's).
	AccountRoot uint32 = PersonaAccount
	// AccountRecovery is the level of the persona's recovery encryption
	// key, m/7337'/1'/i'.
	AccountRecovery uint32 = 1
	// AccountOperational is the level of the operational signing key of an
	// epoch, m/7337'/2'/i'/e'.
	AccountOperational uint32 = 2
	// AccountEncryption is the level of the generation-0 encryption key of
	// an epoch, m/7337'/3'/i'/e'.
	AccountEncryption uint32 = 3
	// MaxEpoch is the largest epoch: a hardened path level. Epochs start at 1.
	MaxEpoch uint32 = 1<<31 - 1

	// RecoveryPathTemplate, OperationalPathTemplate and
	// EncryptionPathTemplate are the paths in the usual notation.
	RecoveryPathTemplate    = "m/7337'/1'/i'"
	OperationalPathTemplate = "m/7337'/2'/i'/e'"
	EncryptionPathTemplate  = "m/7337'/3'/i'/e'"
)

const (
	slip10Curve    = "ed25519 seed"
	hardenedOffset = 1 << 31
)

// PersonaPath returns the derivation path of persona index, without the
// hardened bit (DeriveSLIP10 adds it).
func PersonaPath(index uint32) []uint32 {
	return []uint32{PersonaPurpose, PersonaAccount, index}
}

// DeriveSLIP10 derives the SLIP-0010 Ed25519 private key and chain code at
// path from seed. Every level is hardened: give indices without the hardened
// bit; DeriveSLIP10 panics if one is 2^31 or more. SLIP-0010 seeds are 16 to
// 64 bytes; DeriveSLIP10 panics on other lengths.
func DeriveSLIP10(seed []byte, path []uint32) (key, chainCode [32]byte) {
	if len(seed) < 16 || len(seed) > 64 {
		panic(fmt.Sprintf("identity: SLIP-0010 seed is %d bytes, want 16 to 64", len(seed)))
	}
	mac := hmac.New(sha512.New, []byte(slip10Curve))
	mac.Write(seed)
	var sum [64]byte
	mac.Sum(sum[:0])
	copy(key[:], sum[:32])
	copy(chainCode[:], sum[32:])

	var data [1 + 32 + 4]byte // 0x00 || parent key || index with hardened bit
	for _, idx := range path {
		if idx >= hardenedOffset {
			panic(fmt.Sprintf("identity: SLIP-0010 index %d too large: give indices without the hardened bit", idx))
		}
		copy(data[1:33], key[:])
		binary.BigEndian.PutUint32(data[33:], idx|hardenedOffset)
		mac := hmac.New(sha512.New, chainCode[:])
		mac.Write(data[:])
		mac.Sum(sum[:0])
		copy(key[:], sum[:32])
		copy(chainCode[:], sum[32:])
	}
	clear(data[:])
	clear(sum[:])
	return key, chainCode
}

// PersonaKey returns the private key of persona index derived from a 64-byte
// BIP-39 seed at m/7337'/0'/index'. It panics if index > MaxPersonaIndex or
// the seed is not 64 bytes.
func PersonaKey(seed []byte, index uint32) ed25519.PrivateKey {
	if len(seed) != 64 {
		panic(fmt.Sprintf("identity: BIP-39 seed is %d bytes, want 64", len(seed)))
	}
	key, chain := DeriveSLIP10(seed, PersonaPath(index))
	clear(chain[:])
	priv := ed25519.NewKeyFromSeed(key[:])
	clear(key[:])
	return priv
}
