package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"testing"
)

func TestSLIP10Vectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			Seed   string
			Chains []struct {
				Path            []uint32
				ChainCode       string `json:"chain_code"`
				Private, Public string
			}
		}
	}
	loadJSON(t, "testdata/slip10_ed25519.json", &file)
	if len(file.Vectors) != 2 {
		t.Fatalf("want SLIP-0010 ed25519 test vectors 1 and 2, got %d", len(file.Vectors))
	}
	for vi, v := range file.Vectors {
		seed := mustHex(t, v.Seed)
		for _, c := range v.Chains {
			t.Run(fmt.Sprintf("vector%d/%v", vi+1, c.Path), func(t *testing.T) {
				key, chain := DeriveSLIP10(seed, c.Path)
				if got := hex.EncodeToString(key[:]); got != c.Private {
					t.Errorf("private = %s, want %s", got, c.Private)
				}
				if got := hex.EncodeToString(chain[:]); got != c.ChainCode {
					t.Errorf("chain code = %s, want %s", got, c.ChainCode)
				}
				pub := ed25519.NewKeyFromSeed(key[:]).Public().(ed25519.PublicKey)
				if want := mustHex(t, c.Public); !bytes.Equal(append([]byte{0}, pub...), want) {
					t.Errorf("public = 00%x, want %s", pub, c.Public)
				}
			})
		}
	}
}

func TestPersonaKeyUsesPersonaPath(t *testing.T) {
	seed, err := SeedFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{0, 1, 2, MaxPersonaIndex} {
		key, _ := DeriveSLIP10(seed, []uint32{7337, 0, i})
		if got := PersonaKey(seed, i); !bytes.Equal(got.Seed(), key[:]) {
			t.Errorf("PersonaKey(%d) is not m/7337'/0'/%d'", i, i)
		}
	}
	if bytes.Equal(PersonaKey(seed, 0), PersonaKey(seed, 1)) {
		t.Error("personas 0 and 1 share a key")
	}
}

func TestDerivationPanicsOnMisuse(t *testing.T) {
	seed64 := make([]byte, 64)
	tests := []struct {
		name string
		f    func()
	}{
		{"hardened bit given", func() { DeriveSLIP10(seed64, []uint32{1 << 31}) }},
		{"seed too short", func() { DeriveSLIP10(make([]byte, 15), nil) }},
		{"seed too long", func() { DeriveSLIP10(make([]byte, 65), nil) }},
		{"persona seed not 64 bytes", func() { PersonaKey(make([]byte, 32), 0) }},
		{"persona index too large", func() { PersonaKey(seed64, MaxPersonaIndex+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tt.f()
		})
	}
}
