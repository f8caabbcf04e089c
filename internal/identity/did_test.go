package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/mr-tron/base58"
	"pgregory.net/rapid"
)

func TestDIDVectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			Seed            string
			PublicKeyBase58 string `json:"public_key_base58"`
			DID             string
		}
	}
	loadJSON(t, "testdata/didkey_ed25519.json", &file)
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range file.Vectors {
		t.Run(v.DID, func(t *testing.T) {
			pub := ed25519.NewKeyFromSeed(mustHex(t, v.Seed)).Public().(ed25519.PublicKey)
			if got := base58.Encode(pub); got != v.PublicKeyBase58 {
				t.Fatalf("public key = %s, want %s", got, v.PublicKeyBase58)
			}
			if got := DID(pub); got != v.DID {
				t.Fatalf("DID = %s, want %s", got, v.DID)
			}
			back, err := ParseDID(v.DID)
			if err != nil {
				t.Fatalf("ParseDID: %v", err)
			}
			if !bytes.Equal(back, pub) {
				t.Fatalf("ParseDID = %x, want %x", back, pub)
			}
		})
	}
}

func TestDIDRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pub := ed25519.PublicKey(rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "pub"))
		d := DID(pub)
		if !strings.HasPrefix(d, "did:key:z6Mk") || len(d) != 56 {
			t.Fatalf("DID %q is not 56 characters starting did:key:z6Mk", d)
		}
		back, err := ParseDID(d)
		if err != nil || !bytes.Equal(back, pub) {
			t.Fatalf("ParseDID(%q) = %x, %v", d, back, err)
		}
	})
}

func TestParseDIDRejects(t *testing.T) {
	const good = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	zeros := make([]byte, 34)
	zeros[0], zeros[1] = 0xed, 0x01
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no multibase prefix", "did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"other method", "did:web:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"upper-case method", "DID:KEY:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"secp256k1 key", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"},
		{"x25519 key", "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"},
		{"not base58", "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW0"},
		{"truncated", good[:len(good)-1]},
		{"extra character", good + "z"},
		{"leading zero digit", "did:key:z1" + base58.Encode(zeros)},
		{"fragment", good + "#z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"},
		{"very long", "did:key:z" + strings.Repeat("2", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseDID(tt.in); !errors.Is(err, ErrBadDID) {
				t.Fatalf("ParseDID(%.60q) err = %v, want ErrBadDID", tt.in, err)
			}
		})
	}
}
