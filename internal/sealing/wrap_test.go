package sealing

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"strings"
	"testing"
)

func TestWrapUnwrap(t *testing.T) {
	alice := newPersona(t, 1)
	k := testKey(5)
	w, err := Wrap(k, alice.enc.PublicKey(), testMiMei, 3)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if len(w) != WrappedSize {
		t.Fatalf("wrapped key of %d bytes, want %d", len(w), WrappedSize)
	}
	got, err := Unwrap(w, alice.enc, testMiMei, 3)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if got != k {
		t.Fatal("Unwrap returned another key")
	}
	// The persona key is derived: the same persona restored from its
	// signing key (recovery phrase) unwraps too.
	if got, err := Unwrap(w, newPersona(t, 1).enc, testMiMei, 3); err != nil || got != k {
		t.Fatalf("Unwrap with the re-derived key: %v", err)
	}
	w2, err := Wrap(k, alice.enc.PublicKey(), testMiMei, 3)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w, w2) {
		t.Fatal("two wraps of one key are equal: encapsulation is not randomised")
	}
	if bytes.Contains(w, k[:8]) {
		t.Fatal("wrapped key contains the key")
	}
}

func TestUnwrapErrors(t *testing.T) {
	alice, bob := newPersona(t, 1), newPersona(t, 2)
	k := testKey(5)
	w, err := Wrap(k, alice.enc.PublicKey(), testMiMei, 3)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(w)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name    string
		wrapped []byte
		priv    hpke.PrivateKey
		mimei   string
		epoch   uint32
		want    error
	}{
		{"wrong persona", w, bob.enc, testMiMei, 3, ErrDecrypt},
		{"wrong mimei", w, alice.enc, testMiMei + "x", 3, ErrDecrypt},
		{"wrong epoch", w, alice.enc, testMiMei, 4, ErrDecrypt},
		{"epoch 0", w, alice.enc, testMiMei, 0, ErrDecrypt},
		{"tampered format byte", flip(0), alice.enc, testMiMei, 3, ErrUnsupportedVersion},
		{"tampered ML-KEM ciphertext", flip(1), alice.enc, testMiMei, 3, ErrDecrypt},
		{"tampered X25519 share", flip(1 + encSize - 1), alice.enc, testMiMei, 3, ErrDecrypt},
		{"tampered sealed key", flip(1 + encSize), alice.enc, testMiMei, 3, ErrDecrypt},
		{"tampered tag", flip(WrappedSize - 1), alice.enc, testMiMei, 3, ErrDecrypt},
		{"truncated", w[:WrappedSize-1], alice.enc, testMiMei, 3, ErrMalformed},
		{"empty", nil, alice.enc, testMiMei, 3, ErrMalformed},
		{"nil key", w, nil, testMiMei, 3, ErrMalformed},
		{"classical-only key", w, x25519, testMiMei, 3, ErrMalformed},
		{"empty mimei", w, alice.enc, "", 3, ErrMalformed},
		{"mimei with a space", w, alice.enc, "a b", 3, ErrMalformed},
		{"long mimei", w, alice.enc, strings.Repeat("m", MaxMiMeiLen+1), 3, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unwrap(tt.wrapped, tt.priv, tt.mimei, tt.epoch)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unwrap: err = %v, want %v", err, tt.want)
			}
			if got != (ContentKey{}) {
				t.Fatal("Unwrap returned a key with an error")
			}
		})
	}
}

func TestWrapErrors(t *testing.T) {
	alice := newPersona(t, 1)
	x25519, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    ContentKey
		reader hpke.PublicKey
		mimei  string
	}{
		{"nil reader", testKey(1), nil, testMiMei},
		{"classical-only reader", testKey(1), x25519.PublicKey(), testMiMei},
		{"zero key", ContentKey{}, alice.enc.PublicKey(), testMiMei},
		{"empty mimei", testKey(1), alice.enc.PublicKey(), ""},
		{"control character in mimei", testKey(1), alice.enc.PublicKey(), "mm\n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Wrap(tt.key, tt.reader, tt.mimei, 1); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Wrap: err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestWrapInfoUnambiguous: no two (mimei, epoch) pairs share an info string.
func TestWrapInfoUnambiguous(t *testing.T) {
	pairs := []struct {
		mimei string
		epoch uint32
	}{{"ab", 1}, {"a", 1}, {"abc", 1}, {"ab", 256}, {"ab\x00\x00\x01", 0}}
	seen := map[string]int{}
	for i, p := range pairs {
		info := string(wrapInfo(p.mimei, p.epoch))
		if j, ok := seen[info]; ok {
			t.Fatalf("pairs %d and %d share an info string", j, i)
		}
		seen[info] = i
	}
}
