package identity

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
)

// TestCommittedVectors pins the whole derivation, phrase to DID. If it
// fails, existing users' recovery phrases would restore different personas:
// fix the code, never the vectors.
func TestCommittedVectors(t *testing.T) {
	var file struct {
		Path            string
		BIP39Passphrase string `json:"bip39_passphrase"`
		Vectors         []struct {
			Mnemonic string
			Seed     string
			Personas []struct {
				Index       uint32
				PrivateSeed string `json:"private_seed"`
				PublicKey   string `json:"public_key"`
				DID         string
			}
		}
	}
	loadJSON(t, "testdata/vectors.json", &file)
	if file.Path != PersonaPathTemplate || file.BIP39Passphrase != "" {
		t.Fatalf("vectors are for path %q passphrase %q", file.Path, file.BIP39Passphrase)
	}
	if len(file.Vectors) < 2 || file.Vectors[0].Mnemonic != abandonArt {
		t.Fatalf("vectors.json must start with the abandon…art phrase and hold at least two phrases")
	}
	for _, v := range file.Vectors {
		t.Run(v.Mnemonic[:20], func(t *testing.T) {
			seed, err := SeedFromMnemonic(v.Mnemonic)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(seed); got != v.Seed {
				t.Fatalf("seed = %s, want %s", got, v.Seed)
			}
			if len(v.Personas) < 2 {
				t.Fatal("want personas 0 and 1")
			}
			for _, p := range v.Personas {
				k := PersonaKey(seed, p.Index)
				if got := hex.EncodeToString(k.Seed()); got != p.PrivateSeed {
					t.Errorf("persona %d private seed = %s, want %s", p.Index, got, p.PrivateSeed)
				}
				pub := k.Public().(ed25519.PublicKey)
				if got := hex.EncodeToString(pub); got != p.PublicKey {
					t.Errorf("persona %d public key = %s, want %s", p.Index, got, p.PublicKey)
				}
				if got := DID(pub); got != p.DID {
					t.Errorf("persona %d DID = %s, want %s", p.Index, got, p.DID)
				}
			}
		})
	}
}
