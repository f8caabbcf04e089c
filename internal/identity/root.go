package identity

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/cosmos/go-bip39"
)

// Root is what the 24 words stand for (format 2, docs/identity.md sections
// 2 and 4): the 64-byte BIP-39 seed from which each persona's root,
// recovery, operational and generation-0 encryption keys are derived, and,
// when it was made from the words or their entropy, that entropy too.
//
// A Root lives in memory for the length of one root operation: make it
// with RootFromMnemonic (the words typed), RootFromEntropy (words.key) or
// RootFromSeed (owner.key), derive what the operation needs, then Wipe it.
// It prints as identity.Root(redacted) under every fmt verb. Copies of a
// Root share one secret, so Wipe on any of them clears it for all; using a
// wiped, nil or zero Root panics, as does an index or epoch out of range
// (both are programming errors).
type Root struct {
	// s is a function, not a pointer: fmt follows a pointer whose methods
	// it cannot call (a Root held in an unexported field, printed with %s
	// or %q) and prints what it points to, but prints a function only as
	// an address (TestRootRedacted).
	s func() *rootSecret
}

type rootSecret struct {
	seed       [64]byte
	entropy    [entropyBytes]byte
	hasEntropy bool
	wiped      bool
}

const rootRedacted = "identity.Root(redacted)"

// RootFromMnemonic checks a recovery phrase (see ValidateMnemonic) and
// returns its Root. As with SeedFromMnemonic, an error may quote a mistyped
// word: show it to the user who typed it, never log it.
func RootFromMnemonic(phrase string) (*Root, error) {
	entropy, err := entropyFromMnemonic(phrase)
	if err != nil {
		return nil, err
	}
	defer clear(entropy[:cap(entropy)]) // with the checksum byte behind it
	return rootFromEntropy(entropy, NormalizeMnemonic(phrase)), nil
}

// RootFromEntropy returns the Root of the words that encode entropy, the
// 32 bytes a words.key file holds (docs/identity.md section 16).
func RootFromEntropy(entropy []byte) (*Root, error) {
	if len(entropy) != entropyBytes {
		return nil, fmt.Errorf("identity: root: entropy is %d bytes, want %d", len(entropy), entropyBytes)
	}
	return rootFromEntropy(entropy, mnemonicFromEntropy(entropy)), nil
}

func rootFromEntropy(entropy []byte, phrase string) *Root {
	seed := bip39.NewSeed(phrase, "")
	defer clear(seed)
	s := &rootSecret{hasEntropy: true}
	copy(s.seed[:], seed)
	copy(s.entropy[:], entropy)
	return newRoot(s)
}

// RootFromSeed returns the Root of a 64-byte BIP-39 seed, what an owner.key
// file holds. Such a Root cannot give back its words (Entropy and Mnemonic
// report false).
func RootFromSeed(seed []byte) (*Root, error) {
	if len(seed) != 64 {
		return nil, fmt.Errorf("identity: root: seed is %d bytes, want 64", len(seed))
	}
	s := &rootSecret{}
	copy(s.seed[:], seed)
	return newRoot(s), nil
}

func newRoot(s *rootSecret) *Root { return &Root{s: func() *rootSecret { return s }} }

// Wipe zeroes the secret. Afterwards every method but Wipe and the printing
// ones panics. Wipe on a nil, zero or already wiped Root does nothing.
func (r *Root) Wipe() {
	if r == nil || r.s == nil {
		return
	}
	s := r.s()
	clear(s.seed[:])
	clear(s.entropy[:])
	s.hasEntropy = false
	s.wiped = true
}

// secret returns the live secret or panics.
func (r *Root) secret() *rootSecret {
	switch {
	case r == nil || r.s == nil:
		panic("identity: use of an empty Root")
	}
	s := r.s()
	if s.wiped {
		panic("identity: use of a wiped Root")
	}
	return s
}

// Seed returns a copy of the 64-byte BIP-39 seed, for sealing into
// owner.key. Clear it after use.
func (r *Root) Seed() []byte {
	s := r.secret()
	return append([]byte(nil), s.seed[:]...)
}

// Entropy returns a copy of the 32 bytes of entropy the words encode, for
// words.key, and true; or nil and false if the Root was made from a seed
// alone. Clear it after use.
func (r *Root) Entropy() ([]byte, bool) {
	s := r.secret()
	if !s.hasEntropy {
		return nil, false
	}
	return append([]byte(nil), s.entropy[:]...), true
}

// Mnemonic returns the 24 words and true, or "" and false if the Root was
// made from a seed alone. For the owner's eyes only: never log it.
func (r *Root) Mnemonic() (string, bool) {
	s := r.secret()
	if !s.hasEntropy {
		return "", false
	}
	return mnemonicFromEntropy(s.entropy[:]), true
}

// derive returns the SLIP-0010 key at m/7337'/account'/index'[/epoch'].
func (r *Root) derive(account, index uint32, epoch ...uint32) [32]byte {
	s := r.secret()
	checkIndex(index)
	path := []uint32{PersonaPurpose, account, index}
	for _, e := range epoch {
		checkEpoch(e)
		path = append(path, e)
	}
	key, chain := DeriveSLIP10(s.seed[:], path)
	clear(chain[:])
	return key
}

func checkIndex(index uint32) {
	if index > MaxPersonaIndex {
		panic(fmt.Sprintf("identity: persona index %d out of range 0 to %d", index, MaxPersonaIndex))
	}
}

func checkEpoch(epoch uint32) {
	if epoch == 0 || epoch > MaxEpoch {
		panic(fmt.Sprintf("identity: epoch %d out of range 1 to %d", epoch, MaxEpoch))
	}
}

// PersonaRoot returns the root signing key of persona index, at
// m/7337'/0'/index': the key whose did:key is the persona ID, the same key
// as PersonaKey of the seed. It signs operational certificates only.
func (r *Root) PersonaRoot(index uint32) ed25519.PrivateKey {
	k := r.derive(AccountRoot, index)
	defer clear(k[:])
	return ed25519.NewKeyFromSeed(k[:])
}

// recoveryKeyInfo is the HKDF info of the recovery key's derivation.
const recoveryKeyInfo = "peer/recovery-key/v1"

// RecoveryKey returns the recovery encryption key of persona index: HPKE
// (EncryptionKEM) at m/7337'/1'/index', ikm = HKDF-SHA256(k, info
// "peer/recovery-key/v1"). Escrowed encryption keys are sealed to its
// public half, which every device holds; the private half exists only
// while the words are in memory.
func (r *Root) RecoveryKey(index uint32) (hpke.PrivateKey, error) {
	k := r.derive(AccountRecovery, index)
	defer clear(k[:])
	priv, err := hpkeKeyFromSLIP10(k[:], recoveryKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("identity: recovery key: %w", err)
	}
	return priv, nil
}

// RecoveryID names a recovery public key in an operational certificate:
// SHA-256 of its encoding (1216 bytes for EncryptionKEM).
func RecoveryID(pub hpke.PublicKey) [32]byte {
	return sha256.Sum256(pub.Bytes())
}

// OperationalKey returns the operational signing key of persona index in
// epoch (1 to MaxEpoch), at m/7337'/2'/index'/epoch'. Two boxes that start
// the same epoch from the same words derive the same key.
func (r *Root) OperationalKey(index, epoch uint32) ed25519.PrivateKey {
	k := r.derive(AccountOperational, index, epoch)
	defer clear(k[:])
	return ed25519.NewKeyFromSeed(k[:])
}

// Format prints the redacted form under every verb.
func (Root) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, rootRedacted) }

// String returns "identity.Root(redacted)".
func (Root) String() string { return rootRedacted }

// GoString returns "identity.Root(redacted)".
func (Root) GoString() string { return rootRedacted }
