package idrecord

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// certLife is how long test device certificates are valid.
const certLife = 30 * 24 * time.Hour

func keyFromSeed(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pubOf(priv ed25519.PrivateKey) ed25519.PublicKey {
	return priv.Public().(ed25519.PublicKey)
}

// persona is a test persona with its devices: device i has serial i+1 and
// a certificate valid for certLife from t0.
type persona struct {
	priv    ed25519.PrivateKey
	did     string
	devices []ed25519.PrivateKey
	certs   [][]byte
}

func newPersona(t testing.TB, seed byte, devices int) *persona {
	t.Helper()
	p := &persona{priv: keyFromSeed(seed)}
	p.did = identity.DID(pubOf(p.priv))
	for i := range devices {
		d := keyFromSeed(seed + 100 + byte(i))
		p.devices = append(p.devices, d)
		p.certs = append(p.certs, p.cert(t, pubOf(d), uint64(i+1), certLife))
	}
	return p
}

// cert has the persona certify device at t0.
func (p *persona) cert(t testing.TB, device ed25519.PublicKey, serial uint64, validFor time.Duration) []byte {
	t.Helper()
	c, err := identity.IssueDeviceCertV1(p.priv, device, serial, t0, validFor)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// record returns an unsigned record of all the persona's devices, issued
// at t0 and valid for a day, each device with a direct and a relay address.
func (p *persona) record(seq uint64) *Record {
	r := &Record{Persona: p.did, Seq: seq, Issued: t0, Expires: t0.Add(24 * time.Hour)}
	for i, c := range p.certs {
		r.Devices = append(r.Devices, Device{Cert: c, Addrs: []string{
			"/ip4/192.0.2.1/udp/4001/quic-v1",
			"/ip4/198.51.100.7/tcp/4001/p2p/12D3KooWRelay/p2p-circuit/p2p/12D3KooWDevice" + string(rune('A'+i)),
		}})
	}
	return r
}

// signed returns record(seq) signed by device 0, after mutating it with
// edit (may be nil).
func (p *persona) signed(t testing.TB, seq uint64, edit func(*Record)) *Record {
	t.Helper()
	r := p.record(seq)
	if edit != nil {
		edit(r)
	}
	if err := r.Sign(p.devices[0]); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return r
}

func mustMarshal(t testing.TB, r *Record) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// signUnchecked signs r with priv exactly as it stands (no limits, no
// signer lookup) and returns its encoding, bypassing Marshal's checks, so
// tests can build records that Sign and Marshal refuse.
func signUnchecked(t testing.TB, r *Record, priv ed25519.PrivateKey) []byte {
	t.Helper()
	body, err := codec.Marshal(r.body())
	if err != nil {
		t.Fatal(err)
	}
	r.Sig = codec.Sign(priv, Domain, body)
	return encodeUnchecked(t, r)
}

// encodeUnchecked encodes r as it stands, signature included.
func encodeUnchecked(t testing.TB, r *Record) []byte {
	t.Helper()
	b := r.body()
	enc, err := codec.Marshal(recordWire{
		Format: b.Format, Persona: b.Persona, Seq: b.Seq, Issued: b.Issued, Expires: b.Expires,
		Devices: b.Devices, EncKey: b.EncKey, Mailboxes: b.Mailboxes, Profile: b.Profile,
		Signer: b.Signer, Sig: r.Sig,
	})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// typed reports whether err wraps one of the package's sentinel errors.
func typed(err error) bool {
	for _, s := range []error{ErrMalformed, ErrUnsupportedVersion, ErrTooLarge, ErrBadSignature, ErrExpired, ErrUncertified, ErrWrongKey} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
