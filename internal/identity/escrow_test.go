package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"testing"
)

// escrowKeys returns c's recovery key and that of persona 1.
func escrowKeys(t testing.TB, c chain) (rec, other hpke.PrivateKey) {
	t.Helper()
	rec, err := c.root.RecoveryKey(0)
	if err != nil {
		t.Fatal(err)
	}
	other, err = c.root.RecoveryKey(1)
	if err != nil {
		t.Fatal(err)
	}
	return rec, other
}

func privBytes(t testing.TB, k hpke.PrivateKey) []byte {
	t.Helper()
	b, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEscrowInfo(t *testing.T) {
	got := escrowInfo("did:key:z6Mk", 0x01020304, 0x0a0b0c0d)
	want := "peer 2026 encryption key escrow v1\x00" + "\x00\x0c" + "did:key:z6Mk" + "\x01\x02\x03\x04" + "\x0a\x0b\x0c\x0d"
	if string(got) != want {
		t.Fatalf("info = %q, want %q", got, want)
	}
	if EscrowSize != 1169 {
		t.Fatalf("EscrowSize = %d, want 1169", EscrowSize)
	}
}

func TestEscrowRoundTrip(t *testing.T) {
	c := newChain(t, 1)
	rec, _ := escrowKeys(t, c)
	random, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		epoch uint32
		gen   uint32
		key   hpke.PrivateKey
	}{
		{"generation 0 of epoch 1", 1, 0, encKey0(t, c, 1)},
		{"random generation 3 of epoch 2", 2, 3, random},
		{"largest epoch and generation", MaxEpoch, 1<<32 - 1, random},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e1, err := Escrow(rec.PublicKey(), c.persona, tc.epoch, tc.gen, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := Escrow(rec.PublicKey(), c.persona, tc.epoch, tc.gen, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if len(e1) != EscrowSize || e1[0] != EscrowFormat {
				t.Fatalf("escrow of %d bytes starting %#02x", len(e1), e1[0])
			}
			if bytes.Equal(e1, e2) {
				t.Fatal("two escrows of one key are equal: not randomised")
			}
			for _, e := range [][]byte{e1, e2} {
				got, err := OpenEscrow(rec, c.persona, tc.epoch, tc.gen, e)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(privBytes(t, got), privBytes(t, tc.key)) ||
					!bytes.Equal(got.PublicKey().Bytes(), tc.key.PublicKey().Bytes()) {
					t.Fatal("opened key differs")
				}
				if EncKeyID(got.PublicKey()) != EncKeyID(tc.key.PublicKey()) {
					t.Fatal("opened key has another key ID")
				}
			}
		})
	}
}

func TestOpenEscrowWrongBinding(t *testing.T) {
	c := newChain(t, 1)
	rec, otherRec := escrowKeys(t, c)
	otherWords, err := RootFromMnemonic("legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title")
	if err != nil {
		t.Fatal(err)
	}
	defer otherWords.Wipe()
	foreign, err := otherWords.RecoveryKey(0)
	if err != nil {
		t.Fatal(err)
	}
	other := DID(pubOf(c.root.PersonaRoot(1)))
	e, err := Escrow(rec.PublicKey(), c.persona, 1, 0, encKey0(t, c, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     hpke.PrivateKey
		persona string
		epoch   uint32
		gen     uint32
	}{
		{"another persona", rec, other, 1, 0},
		{"another epoch", rec, c.persona, 2, 0},
		{"another generation", rec, c.persona, 1, 1},
		{"another persona's recovery key", otherRec, c.persona, 1, 0},
		{"another phrase's recovery key", foreign, c.persona, 1, 0},
		{"the encryption key itself", encKey0(t, c, 1), c.persona, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := OpenEscrow(tc.key, tc.persona, tc.epoch, tc.gen, e); !errors.Is(err, ErrDecrypt) || k != nil {
				t.Fatalf("OpenEscrow = %v, %v; want ErrDecrypt", k, err)
			}
		})
	}
}

// TestEscrowEveryByteTampered changes every byte of an escrow: it never
// opens, the format byte fails with ErrUnsupportedVersion and any other
// byte with ErrDecrypt.
func TestEscrowEveryByteTampered(t *testing.T) {
	c := newChain(t, 1)
	rec, _ := escrowKeys(t, c)
	good, err := Escrow(rec.PublicKey(), c.persona, 1, 0, encKey0(t, c, 1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		for _, x := range []byte{0x01, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= x
			want := ErrDecrypt
			if i == 0 {
				want = ErrUnsupportedVersion
			}
			if k, err := OpenEscrow(rec, c.persona, 1, 0, b); !errors.Is(err, want) || k != nil {
				t.Fatalf("byte %d ^ %#02x: OpenEscrow = %v, %v; want %v", i, x, k, err, want)
			}
		}
	}
}

func TestEscrowErrors(t *testing.T) {
	c := newChain(t, 1)
	rec, _ := escrowKeys(t, c)
	key := encKey0(t, c, 1)
	classical, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good, err := Escrow(rec.PublicKey(), c.persona, 1, 0, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pub     hpke.PublicKey
		persona string
		epoch   uint32
		key     hpke.PrivateKey
	}{
		{"no recovery key", nil, c.persona, 1, key},
		{"no encryption key", rec.PublicKey(), c.persona, 1, nil},
		{"classical recovery key", classical.PublicKey(), c.persona, 1, key},
		{"classical encryption key", rec.PublicKey(), c.persona, 1, classical},
		{"bad persona", rec.PublicKey(), "did:key:nope", 1, key},
		{"epoch 0", rec.PublicKey(), c.persona, 0, key},
		{"epoch 2^31", rec.PublicKey(), c.persona, MaxEpoch + 1, key},
	} {
		t.Run("Escrow/"+tc.name, func(t *testing.T) {
			if _, err := Escrow(tc.pub, tc.persona, tc.epoch, 0, tc.key); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		key     hpke.PrivateKey
		persona string
		epoch   uint32
		escrow  []byte
		want    error
	}{
		{"empty", rec, c.persona, 1, nil, ErrMalformed},
		{"one byte short", rec, c.persona, 1, good[:EscrowSize-1], ErrMalformed},
		{"one byte long", rec, c.persona, 1, append(bytes.Clone(good), 0), ErrMalformed},
		{"format 2", rec, c.persona, 1, append([]byte{2}, good[1:]...), ErrUnsupportedVersion},
		{"format 0", rec, c.persona, 1, append([]byte{0}, good[1:]...), ErrUnsupportedVersion},
		{"no recovery key", nil, c.persona, 1, good, ErrMalformed},
		{"classical recovery key", classical, c.persona, 1, good, ErrMalformed},
		{"bad persona", rec, "did:key:nope", 1, good, ErrMalformed},
		{"epoch 0", rec, c.persona, 0, good, ErrMalformed},
		{"zeros", rec, c.persona, 1, append([]byte{EscrowFormat}, make([]byte, EscrowSize-1)...), ErrDecrypt},
	} {
		t.Run("OpenEscrow/"+tc.name, func(t *testing.T) {
			if _, err := OpenEscrow(tc.key, tc.persona, tc.epoch, 0, tc.escrow); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestEscrowOpensWithTheWords: an escrow made with only the recovery
// public key (what every device holds) opens with the recovery key the
// words derive again, in a new Root.
func TestEscrowOpensWithTheWords(t *testing.T) {
	c := newChain(t, 1)
	rec, _ := escrowKeys(t, c)
	key, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	e, err := Escrow(rec.PublicKey(), c.persona, 1, 1, key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Wipe()
	rec2, err := again.RecoveryKey(0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenEscrow(rec2, c.persona, 1, 1, e)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(privBytes(t, got)) != hex.EncodeToString(privBytes(t, key)) {
		t.Fatal("opened key differs")
	}
}

// TestEscrowLeavesTheKey: escrowing a key leaves it usable (crypto/hpke's
// PrivateKey.Bytes returns the key's own memory, so Escrow must not clear
// what it returns).
func TestEscrowLeavesTheKey(t *testing.T) {
	c := newChain(t, 1)
	rec, _ := escrowKeys(t, c)
	key, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(privBytes(t, key))
	if _, err := Escrow(rec.PublicKey(), c.persona, 1, 1, key); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(privBytes(t, key), before) {
		t.Fatal("Escrow changed the key it escrowed")
	}
}
