package contacts

import (
	"bytes"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"github.com/mr-tron/base58"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func seedKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// peerID returns the text peer ID libp2p gives an Ed25519 key made from seed
// (identity multihash of the protobuf-encoded public key).
func peerID(seed byte) string {
	pub := seedKey(seed).Public().(ed25519.PublicKey)
	return base58.Encode(append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, pub...))
}

// party is a persona with one certified device.
type party struct {
	persona ed25519.PrivateKey
	device  ed25519.PrivateKey
	cert    *identity.DeviceCertV1
	did     string
	peer    string
}

func newParty(t testing.TB, seed byte) party {
	t.Helper()
	p := party{persona: seedKey(seed), device: seedKey(seed + 100)}
	cert, err := identity.IssueDeviceCertV1(p.persona, p.device.Public().(ed25519.PublicKey), 1, t0.Add(-time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	p.cert, p.did, p.peer = cert, cert.Persona, peerID(seed+100)
	return p
}

func didOf(seed byte) string { return identity.DID(seedKey(seed).Public().(ed25519.PublicKey)) }

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func newStore(t testing.TB) (*Store, *memkv.Store, *clock) {
	t.Helper()
	db := memkv.New()
	clk := &clock{t: t0}
	s, err := Open(db, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, db, clk
}

func kvAll() kv.IterOptions { return kv.IterOptions{} }

func codecMarshal(v any) ([]byte, error) { return codec.Marshal(v) }

func signWith(k ed25519.PrivateKey, domain string, body []byte) []byte {
	return codec.Sign(k, domain, body)
}

type identityCert = identity.DeviceCertV1

func issueCert(persona ed25519.PrivateKey, device ed25519.PublicKey, at time.Time, validFor time.Duration) (*identity.DeviceCertV1, error) {
	return identity.IssueDeviceCertV1(persona, device, 9, at, validFor)
}
