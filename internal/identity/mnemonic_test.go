package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestBIP39ReferenceVectors(t *testing.T) {
	var file struct {
		Passphrase string
		Vectors    []struct{ Entropy, Mnemonic, Seed string }
	}
	loadJSON(t, "testdata/bip39_english_24.json", &file)
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		t.Run(v.Mnemonic[:20], func(t *testing.T) {
			entropy := mustHex(t, v.Entropy)
			if got := mnemonicFromEntropy(entropy); got != v.Mnemonic {
				t.Errorf("mnemonicFromEntropy = %q, want %q", got, v.Mnemonic)
			}
			got, err := entropyFromMnemonic(v.Mnemonic)
			if err != nil {
				t.Fatalf("entropyFromMnemonic: %v", err)
			}
			if !bytes.Equal(got, entropy) {
				t.Errorf("entropy = %x, want %s", got, v.Entropy)
			}
			seed, err := seedFromMnemonic(v.Mnemonic, file.Passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(seed, mustHex(t, v.Seed)) {
				t.Errorf("seed = %x, want %s", seed, v.Seed)
			}
		})
	}
}

func TestNewMnemonic(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		m, err := NewMnemonic()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(m)); n != MnemonicWords {
			t.Fatalf("NewMnemonic gave %d words: %q", n, m)
		}
		if m != NormalizeMnemonic(m) {
			t.Fatalf("NewMnemonic gave a non-normal phrase %q", m)
		}
		if _, err := SeedFromMnemonic(m); err != nil {
			t.Fatalf("NewMnemonic gave a phrase SeedFromMnemonic rejects: %v", err)
		}
		if seen[m] {
			t.Fatalf("NewMnemonic repeated %q", m)
		}
		seen[m] = true
	}
}

func TestSeedFromMnemonicNormalises(t *testing.T) {
	want, err := SeedFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, phrase string }{
		{"upper case", strings.ToUpper(abandonArt)},
		{"mixed case", "Abandon " + strings.TrimPrefix(abandonArt, "abandon ")},
		{"padding", "  \t" + abandonArt + "\n"},
		{"several spaces", strings.ReplaceAll(abandonArt, " ", "   ")},
		{"newlines and tabs", strings.ReplaceAll(abandonArt, " ", "\n\t")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SeedFromMnemonic(tt.phrase)
			if err != nil {
				t.Fatalf("SeedFromMnemonic: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("seed differs from the normal phrase's")
			}
		})
	}
}

func TestSeedFromMnemonicErrors(t *testing.T) {
	words := strings.Fields(abandonArt)
	replace := func(i int, w string) string {
		c := append([]string(nil), words...)
		c[i] = w
		return strings.Join(c, " ")
	}
	legal := strings.Fields("legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title")
	legal[0], legal[1] = legal[1], legal[0]

	tests := []struct {
		name, phrase, want string
	}{
		{"empty", "", "want 24 words, got 0"},
		{"12 words", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "want 24 words, got 12"},
		{"25 words", abandonArt + " art", "want 24 words, got 25"},
		{"unknown word", replace(6, "fooo"), `word 7 "fooo" is not in the BIP-39 English list`},
		{"typo gets a suggestion", replace(0, "abandom"), `word 1 "abandom" is not in the BIP-39 English list (did you mean "abandon"?)`},
		{"last word wrong", replace(23, "zoo"), "checksum does not match: a word is wrong or the order is changed"},
		{"order changed", strings.Join(legal, " "), "checksum does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SeedFromMnemonic(tt.phrase)
			if !errors.Is(err, ErrBadMnemonic) {
				t.Fatalf("err = %v, want ErrBadMnemonic", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to say %q", err, tt.want)
			}
			if ValidateMnemonic(tt.phrase) == nil {
				t.Fatal("ValidateMnemonic accepted it")
			}
		})
	}
}
