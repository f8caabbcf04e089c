package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"testing"
)

func TestEncryptionKey(t *testing.T) {
	a := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	b := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	ka, err := EncryptionKey(a)
	if err != nil {
		t.Fatal(err)
	}
	ka2, _ := EncryptionKey(a)
	kb, _ := EncryptionKey(b)
	if !bytes.Equal(ka.PublicKey().Bytes(), ka2.PublicKey().Bytes()) {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(ka.PublicKey().Bytes(), kb.PublicKey().Bytes()) {
		t.Fatal("two personas share an encryption key")
	}
	// What is sealed to the published public key opens with the derived key.
	pub, err := EncryptionKEM().NewPublicKey(ka.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ct, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), []byte("content key"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := hpke.Open(ka2, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), ct)
	if err != nil || string(pt) != "content key" {
		t.Fatalf("open: %q, %v", pt, err)
	}
	if _, err := hpke.Open(kb, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("info"), ct); err == nil {
		t.Fatal("another persona's key opened it")
	}
	if _, err := EncryptionKey(ed25519.PrivateKey{1}); err == nil {
		t.Fatal("want error for a bad key")
	}
}
