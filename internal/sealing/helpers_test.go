package sealing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testMiMei is a MiMei ID in text form.
const testMiMei = "mm1qexampleexampleexampleexample"

func keyFromSeed(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// persona is a test persona: its signing key, did:key and HPKE key.
type persona struct {
	sign ed25519.PrivateKey
	did  string
	enc  hpke.PrivateKey
}

func newPersona(t testing.TB, seed byte) persona {
	t.Helper()
	p := persona{sign: keyFromSeed(seed)}
	p.did = identity.DID(p.sign.Public().(ed25519.PublicKey))
	enc, err := identity.EncryptionKey(p.sign)
	if err != nil {
		t.Fatal(err)
	}
	p.enc = enc
	return p
}

// readerMap maps the personas' DIDs to their encryption public keys.
func readerMap(ps ...persona) map[string]hpke.PublicKey {
	m := make(map[string]hpke.PublicKey, len(ps))
	for _, p := range ps {
		m[p.did] = p.enc.PublicKey()
	}
	return m
}

// signedRecord rotates to a new key for readers after prevEpoch, sealing
// with AES-256-GCM, issued at t0, signed by signer.
func signedRecord(t testing.TB, signer ed25519.PrivateKey, prevEpoch uint32, readers ...persona) (*BlockKey, *KeyRecord) {
	t.Helper()
	k, r, err := Rotate(readerMap(readers...), testMiMei, prevEpoch, SuiteAES256GCM)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	r.Issued = t0
	if err := r.Sign(signer); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return k, r
}

func mustMarshal(t testing.TB, r *KeyRecord) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// trust returns a trusted func accepting exactly the given keys.
func trust(keys ...ed25519.PrivateKey) func(ed25519.PublicKey) bool {
	return func(pub ed25519.PublicKey) bool {
		for _, k := range keys {
			if pub.Equal(k.Public()) {
				return true
			}
		}
		return false
	}
}

// signUnchecked signs r with priv exactly as it stands (no sorting, no
// limits) and returns its encoding, bypassing Sign and Marshal's checks, so
// tests can build records that those refuse.
func signUnchecked(t testing.TB, r *KeyRecord, priv ed25519.PrivateKey) []byte {
	t.Helper()
	r.Signer = priv.Public().(ed25519.PublicKey)
	body, err := codec.Marshal(r.body())
	if err != nil {
		t.Fatal(err)
	}
	r.Sig = codec.Sign(priv, Domain, body)
	return encodeUnchecked(t, r)
}

// encodeUnchecked encodes r as it stands, signature included.
func encodeUnchecked(t testing.TB, r *KeyRecord) []byte {
	t.Helper()
	b := r.body()
	enc, err := codec.Marshal(recordWire{
		Version: b.Version, MiMei: b.MiMei, Epoch: b.Epoch, Suite: b.Suite, Issued: b.Issued,
		Readers: b.Readers, Signer: b.Signer, Sig: r.Sig,
	})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// typed reports whether err wraps one of the package's sentinel errors.
func typed(err error) bool {
	for _, s := range []error{ErrMalformed, ErrUnsupportedVersion, ErrTooLarge, ErrDecrypt, ErrBadSignature, ErrUntrusted, ErrNotReader} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
