package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	"github.com/cosmos/go-bip39"
)

// MnemonicWords is the length of a recovery phrase: 24 words carry 256 bits
// of entropy and an 8-bit checksum.
const MnemonicWords = 24

const (
	entropyBytes = 32
	wordBits     = 11
)

// englishWords is our own copy of the BIP-39 English list and its reverse
// index, so that nothing another package does to go-bip39's mutable globals
// (SetWordList) can change how phrases are read.
var englishWords = sync.OnceValues(func() ([]string, map[string]int) {
	list := append([]string(nil), bip39.EnglishWordList...)
	if len(list) != 1<<wordBits {
		panic(fmt.Sprintf("identity: BIP-39 English list has %d words, want 2048", len(list)))
	}
	index := make(map[string]int, len(list))
	for i, w := range list {
		index[w] = i
	}
	return list, index
})

// NewMnemonic returns a new recovery phrase: 24 English BIP-39 words encoding
// 256 bits from crypto/rand.
func NewMnemonic() (string, error) {
	entropy := make([]byte, entropyBytes)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("identity: read random entropy: %w", err)
	}
	defer clear(entropy)
	return mnemonicFromEntropy(entropy), nil
}

// mnemonicFromEntropy encodes 32 bytes of entropy as 24 words: the entropy
// followed by the first byte of its SHA-256, cut into 11-bit indices.
func mnemonicFromEntropy(entropy []byte) string {
	list, _ := englishWords()
	sum := sha256.Sum256(entropy)
	bits := append(append(make([]byte, 0, entropyBytes+1), entropy...), sum[0])
	defer clear(bits)
	words := make([]string, MnemonicWords)
	for i := range words {
		idx := 0
		for b := i * wordBits; b < (i+1)*wordBits; b++ {
			idx = idx<<1 | int(bits[b/8]>>(7-b%8)&1)
		}
		words[i] = list[idx]
	}
	return strings.Join(words, " ")
}

// NormalizeMnemonic trims a phrase, collapses all runs of white space to
// single spaces and lower-cases it: the form that is hashed into the seed.
func NormalizeMnemonic(phrase string) string {
	return strings.Join(strings.Fields(strings.ToLower(phrase)), " ")
}

// ValidateMnemonic checks that phrase, after NormalizeMnemonic, is 24 BIP-39
// English words with a correct checksum. The error wraps ErrBadMnemonic and
// says in plain words what is wrong; it may quote the offending word, so it
// is for the user's eyes, not for logs.
func ValidateMnemonic(phrase string) error {
	e, err := entropyFromMnemonic(phrase)
	clear(e)
	return err
}

// entropyFromMnemonic decodes and checks a phrase and returns its 32 bytes of
// entropy.
func entropyFromMnemonic(phrase string) ([]byte, error) {
	words := strings.Fields(strings.ToLower(phrase))
	if len(words) != MnemonicWords {
		return nil, fmt.Errorf("%w: want %d words, got %d", ErrBadMnemonic, MnemonicWords, len(words))
	}
	_, index := englishWords()
	bits := make([]byte, entropyBytes+1) // 24*11 = 264 bits = 33 bytes exactly
	for i, w := range words {
		idx, ok := index[w]
		if !ok {
			return nil, fmt.Errorf("%w: word %d %q is not in the BIP-39 English list%s", ErrBadMnemonic, i+1, w, suggest(w))
		}
		for j := 0; j < wordBits; j++ {
			if idx>>(wordBits-1-j)&1 == 1 {
				b := i*wordBits + j
				bits[b/8] |= 1 << (7 - b%8)
			}
		}
	}
	entropy := bits[:entropyBytes]
	if sum := sha256.Sum256(entropy); sum[0] != bits[entropyBytes] {
		clear(bits)
		return nil, fmt.Errorf("%w: checksum does not match: a word is wrong or the order is changed", ErrBadMnemonic)
	}
	return entropy, nil
}

// suggest names the list word a mistyped word probably meant: BIP-39 English
// words are unique in their first four letters.
func suggest(w string) string {
	if len(w) < 4 {
		return ""
	}
	list, _ := englishWords()
	for _, cand := range list {
		if len(cand) >= 4 && cand[:4] == w[:4] {
			return fmt.Sprintf(" (did you mean %q?)", cand)
		}
	}
	return ""
}

// SeedFromMnemonic checks a recovery phrase (see ValidateMnemonic) and returns
// its 64-byte BIP-39 seed, computed with an empty BIP-39 passphrase. Peer
// never uses a BIP-39 passphrase: the 24 words alone restore everything.
//
// An error may quote a mistyped word of the phrase: show it to the user who
// typed it, but do not log it.
func SeedFromMnemonic(phrase string) ([]byte, error) {
	return seedFromMnemonic(phrase, "")
}

func seedFromMnemonic(phrase, bip39Passphrase string) ([]byte, error) {
	if err := ValidateMnemonic(phrase); err != nil {
		return nil, err
	}
	return bip39.NewSeed(NormalizeMnemonic(phrase), bip39Passphrase), nil
}
