package p2p

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/identity"
)

func TestPeerID(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	id, err := PeerID(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// Ed25519 peer IDs are identity multihashes: base58 "12D3KooW…".
	if !strings.HasPrefix(id.String(), "12D3KooW") {
		t.Fatalf("peer ID %s", id)
	}
	pk, err := PrivKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !id.MatchesPrivateKey(pk) {
		t.Fatal("peer ID does not match the private key")
	}
	if _, err := PeerID(ed25519.PublicKey{1, 2}); err == nil {
		t.Fatal("want error for a short key")
	}
}

func TestPrintableKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/peerid/\x00\xff", "/peerid/00ff"},
		{"/peerid/", "/peerid/"},
		{"nokey", `"nokey"`},
		{"/ns", `"/ns"`},
	} {
		if got := printableKey(tc.in); got != tc.want {
			t.Errorf("printableKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDeviceIDMatchesLibp2p: identity.DeviceID names a key as libp2p does.
func TestDeviceIDMatchesLibp2p(t *testing.T) {
	for i := range 20 {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[31] = byte(i), byte(3*i+1)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		want, err := PeerID(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := identity.DeviceID(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got != want.String() {
			t.Fatalf("key %d: DeviceID %s, libp2p %s", i, got, want)
		}
	}
	if _, err := identity.DeviceID(ed25519.PublicKey{1}); err == nil {
		t.Fatal("want an error for a short key")
	}
}
