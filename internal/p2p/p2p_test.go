package p2p

import (
	"crypto/ed25519"
	"strings"
	"testing"
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
