package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

// encKey0 returns the generation-0 encryption key of persona 0 of c's
// words in epoch.
func encKey0(t testing.TB, c chain, epoch uint32) hpke.PrivateKey {
	t.Helper()
	k, err := c.root.EncryptionKey0(0, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newEncCert issues the certificate of c's generation-0 encryption key of
// epoch 1, at t2.
func newEncCert(t testing.TB, c chain) *EncKeyCert {
	t.Helper()
	e, err := IssueEncKeyCert(c.opKey, c.op, 0, encKey0(t, c, 1).PublicKey(), t2)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEncryptionKEMID(t *testing.T) {
	if got := EncryptionKEM().ID(); got != EncryptionKEMID {
		t.Fatalf("EncryptionKEM().ID() = %#04x, want %#04x", got, EncryptionKEMID)
	}
	k, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.PublicKey().Bytes()); n != EncryptionPublicKeySize {
		t.Fatalf("public key of %d bytes, want %d", n, EncryptionPublicKeySize)
	}
}

func TestIssueEncKeyCert(t *testing.T) {
	c := newChain(t, 1)
	pub := encKey0(t, c, 1).PublicKey()
	e := newEncCert(t, c)
	if e.Version != EncKeyCertVersion || e.Persona != c.persona || e.Epoch != 1 || e.Gen != 0 || e.KEM != EncryptionKEMID ||
		!bytes.Equal(e.Key, pub.Bytes()) || e.IssuedAt != t2.Unix() || len(e.Sig) != ed25519.SignatureSize {
		t.Fatalf("unexpected certificate %+v", e)
	}
	if err := e.Verify(c.op); err != nil {
		t.Fatal(err)
	}
	b := mustMarshal(t, e)
	if len(b) < 1340 || len(b) > 1380 {
		t.Errorf("encoding of %d bytes, want about 1360", len(b))
	}
	back, err := ParseEncKeyCert(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(c.op); err != nil {
		t.Fatalf("parsed certificate: %v", err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, b) {
		t.Fatalf("re-marshal differs: %x vs %x", again, b)
	}
	h := sha256.Sum256(pub.Bytes())
	if id := back.KeyID(); !bytes.Equal(id[:], h[:8]) || id != EncKeyID(pub) {
		t.Fatalf("KeyID = %x, want %x", id, h[:8])
	}
	got, err := back.PublicKey()
	if err != nil || !bytes.Equal(got.Bytes(), pub.Bytes()) || got.KEM().ID() != EncryptionKEMID {
		t.Fatalf("PublicKey = %v", err)
	}
	cl := back.Clone()
	cl.Key[0] ^= 1
	cl.Sig[0] ^= 1
	if !bytes.Equal(mustMarshal(t, back), b) {
		t.Fatal("Clone shares memory with the original")
	}

	// A random later generation: two rival certificates of one generation
	// differ in key ID.
	r1, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	g1, err := IssueEncKeyCert(c.opKey, c.op, 1, r1.PublicKey(), t2.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	g1b, err := IssueEncKeyCert(c.opKey, c.op, 1, r2.PublicKey(), t2.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*EncKeyCert{g1, g1b} {
		if err := g.Verify(c.op); err != nil || g.Gen != 1 {
			t.Fatalf("generation 1: %v (gen %d)", err, g.Gen)
		}
	}
	if g1.KeyID() == g1b.KeyID() {
		t.Fatal("rival certificates share a key ID")
	}
}

func TestIssueEncKeyCertErrors(t *testing.T) {
	c := newChain(t, 1)
	pub := encKey0(t, c, 1).PublicKey()
	classical, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opKey ed25519.PrivateKey
		op    *OpCert
		pub   hpke.PublicKey
		now   time.Time
		want  error
	}{
		{"another epoch's key", c.root.OperationalKey(0, 2), c.op, pub, t2, ErrPersonaMismatch},
		{"the root key", c.root.PersonaRoot(0), c.op, pub, t2, ErrPersonaMismatch},
		{"nil operational certificate", c.opKey, nil, pub, t2, ErrMalformed},
		{"bad operational certificate", c.opKey, func() *OpCert { d := c.op.Clone(); d.Epoch = 0; return d }(), pub, t2, ErrMalformed},
		{"no public key", c.opKey, c.op, nil, t2, ErrMalformed},
		{"classical KEM", c.opKey, c.op, classical.PublicKey(), t2, ErrMalformed},
		{"before 1970", c.opKey, c.op, pub, time.Unix(-1, 0), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := IssueEncKeyCert(tc.opKey, tc.op, 0, tc.pub, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// resignEnc returns a copy of e with mutate applied and signed by key.
func resignEnc(t *testing.T, e *EncKeyCert, key ed25519.PrivateKey, domain string, mutate func(*EncKeyCert)) *EncKeyCert {
	t.Helper()
	d := e.Clone()
	mutate(d)
	body, err := d.body()
	if err != nil {
		t.Fatal(err)
	}
	d.Sig = codec.Sign(key, domain, body)
	return d
}

func TestEncKeyCertVerifyOutcomes(t *testing.T) {
	c := newChain(t, 1)
	e := newEncCert(t, c)
	op2, err := IssueOpCert(c.root, 0, 2, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := IssueOpCert(c.root, 1, 1, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	forgedOp := resignOp(t, c.op, c.root.PersonaRoot(1), func(*OpCert) {})
	invalidKey := bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize) // ML-KEM coefficients out of range
	none := func(*EncKeyCert) {}
	for _, tc := range []struct {
		name string
		cert *EncKeyCert
		op   *OpCert
		want error
	}{
		{"valid", e, c.op, nil},
		{"valid generation 7", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.Gen = 7 }), c.op, nil},
		{"generation changed after signing", func() *EncKeyCert { d := e.Clone(); d.Gen = 1; return d }(), c.op, ErrBadSignature},
		{"key changed after signing", func() *EncKeyCert {
			k, _ := NewEncryptionKey()
			d := e.Clone()
			d.Key = k.PublicKey().Bytes()
			return d
		}(), c.op, ErrBadSignature},
		{"signed by the root", resignEnc(t, e, c.root.PersonaRoot(0), DomainEncKeyCert, none), c.op, ErrBadSignature},
		{"signed by epoch 2's key", resignEnc(t, e, c.root.OperationalKey(0, 2), DomainEncKeyCert, none), c.op, ErrBadSignature},
		{"signed in the device-cert domain", resignEnc(t, e, c.opKey, DomainDeviceCert, none), c.op, ErrBadSignature},
		{"under epoch 2's certificate", e, op2, ErrEpochMismatch},
		{"under another persona's certificate", e, other, ErrEpochMismatch},
		{"under a forged certificate", e, forgedOp, ErrBadSignature},
		{"nil operational certificate", e, nil, ErrMalformed},
		{"classical KEM ID", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.KEM = 0x0020 }), c.op, ErrMalformed},
		{"ML-KEM-768 alone", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.KEM = 0x0041 }), c.op, ErrMalformed},
		{"short key", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.Key = d.Key[:1215] }), c.op, ErrMalformed},
		{"invalid key", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.Key = invalidKey }), c.op, ErrMalformed},
		{"epoch 0", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.Epoch = 0 }), c.op, ErrMalformed},
		{"before 1970", resignEnc(t, e, c.opKey, DomainEncKeyCert, func(d *EncKeyCert) { d.IssuedAt = -1 }), c.op, ErrMalformed},
		{"bad persona", func() *EncKeyCert { d := e.Clone(); d.Persona = "did:key:nope"; return d }(), c.op, ErrMalformed},
		{"short signature", func() *EncKeyCert { d := e.Clone(); d.Sig = d.Sig[:63]; return d }(), c.op, ErrMalformed},
		{"version 2", func() *EncKeyCert { d := e.Clone(); d.Version = 2; return d }(), c.op, ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cert.Verify(tc.op)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseEncKeyCertRejects(t *testing.T) {
	c := newChain(t, 1)
	e := newEncCert(t, c)
	wire := func(mutate func(*encKeyCertWire)) []byte {
		w := encKeyCertWire{Version: e.Version, Persona: e.Persona, Epoch: e.Epoch, Gen: e.Gen, KEM: e.KEM, Key: e.Key,
			IssuedAt: e.IssuedAt, Sig: e.Sig}
		mutate(&w)
		b, err := codec.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := mustMarshal(t, e)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", []byte{0x01}, ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
		{"version 2", wire(func(w *encKeyCertWire) { w.Version = 2 }), ErrUnsupportedVersion},
		{"a device certificate", mustMarshal(t, c.dev), ErrUnsupportedVersion},
		{"an operational certificate", mustMarshal(t, c.op), ErrMalformed},
		{"KEM 0x0020 (X25519)", wire(func(w *encKeyCertWire) { w.KEM = 0x0020 }), ErrMalformed},
		{"KEM 0x0041 (ML-KEM-768)", wire(func(w *encKeyCertWire) { w.KEM = 0x0041 }), ErrMalformed},
		{"KEM 0", wire(func(w *encKeyCertWire) { w.KEM = 0 }), ErrMalformed},
		{"key of 1215 bytes", wire(func(w *encKeyCertWire) { w.Key = w.Key[:1215] }), ErrMalformed},
		{"key of 1217 bytes", wire(func(w *encKeyCertWire) { w.Key = append(bytes.Clone(w.Key), 0) }), ErrMalformed},
		{"key of 32 bytes", wire(func(w *encKeyCertWire) { w.Key = w.Key[1184:] }), ErrMalformed},
		{"invalid key", wire(func(w *encKeyCertWire) { w.Key = bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize) }), ErrMalformed},
		{"epoch 0", wire(func(w *encKeyCertWire) { w.Epoch = 0 }), ErrMalformed},
		{"epoch 2^31", wire(func(w *encKeyCertWire) { w.Epoch = 1 << 31 }), ErrMalformed},
		{"no signature", wire(func(w *encKeyCertWire) { w.Sig = nil }), ErrMalformed},
		{"seven fields", func() []byte {
			b, _ := codec.Marshal(encKeyCertBody{Version: 1, Persona: e.Persona, Epoch: 1, KEM: e.KEM, Key: e.Key, IssuedAt: e.IssuedAt})
			return b
		}(), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseEncKeyCert(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A generation that does not fit 32 bits and a KEM ID that does not
	// fit 16 are malformed, not truncated.
	type wide struct {
		_        struct{} `cbor:",toarray"`
		Version  uint16
		Persona  string
		Epoch    uint32
		Gen      uint64
		KEM      uint64
		Key      []byte
		IssuedAt int64
		Sig      []byte
	}
	for _, w := range []wide{
		{Version: 1, Persona: e.Persona, Epoch: 1, Gen: 1<<32 + 1, KEM: uint64(EncryptionKEMID), Key: e.Key, Sig: e.Sig},
		{Version: 1, Persona: e.Persona, Epoch: 1, KEM: 1<<16 + uint64(EncryptionKEMID), Key: e.Key, Sig: e.Sig},
	} {
		b, err := codec.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseEncKeyCert(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("gen %d KEM %d: err = %v, want ErrMalformed", w.Gen, w.KEM, err)
		}
	}
}

// TestEncKeyCertEveryByteFlip changes every byte of a valid
// encryption-key certificate (see flips): the result never verifies under
// its operational certificate and always fails with a typed error.
func TestEncKeyCertEveryByteFlip(t *testing.T) {
	c := newChain(t, 1)
	good := mustMarshal(t, newEncCert(t, c))
	for i := range good {
		for _, x := range flips(i) {
			b := bytes.Clone(good)
			b[i] ^= x
			got, err := ParseEncKeyCert(b)
			if err == nil {
				if err = got.Verify(c.op); err == nil {
					t.Fatalf("byte %d ^ %#02x: modified certificate verifies", i, x)
				}
			}
			if !typedV2(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}
