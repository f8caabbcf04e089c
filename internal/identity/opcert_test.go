package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

func TestIssueOpCert(t *testing.T) {
	c := newChain(t, 1)
	rec, err := c.root.RecoveryKey(0)
	if err != nil {
		t.Fatal(err)
	}
	rid := RecoveryID(rec.PublicKey())
	op := c.op
	if op.Version != OpCertVersion || op.Persona != DID(pubOf(c.root.PersonaRoot(0))) || op.Epoch != 1 || op.Flags != 0 ||
		!bytes.Equal(op.OpKey, pubOf(c.opKey)) || !bytes.Equal(op.RecoveryID, rid[:]) || op.IssuedAt != t2.Unix() ||
		len(op.Sig) != ed25519.SignatureSize {
		t.Fatalf("unexpected certificate %+v", op)
	}
	if op.CutOff() {
		t.Fatal("CutOff without the flag")
	}
	if err := op.Verify(); err != nil {
		t.Fatal(err)
	}
	b := mustMarshal(t, op)
	back, err := ParseOpCert(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Fatalf("parsed certificate: %v", err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, b) {
		t.Fatalf("re-marshal differs: %x vs %x", again, b)
	}
	if !bytes.Equal(back.OpPublicKey(), pubOf(c.opKey)) {
		t.Fatal("OpPublicKey differs")
	}
	cl := back.Clone()
	cl.OpKey[0] ^= 1
	cl.RecoveryID[0] ^= 1
	cl.Sig[0] ^= 1
	if !bytes.Equal(mustMarshal(t, back), b) {
		t.Fatal("Clone shares memory with the original")
	}

	cut, err := IssueOpCert(c.root, 0, 2, OpFlagCutOff, t2)
	if err != nil {
		t.Fatal(err)
	}
	if !cut.CutOff() || cut.Epoch != 2 || !bytes.Equal(cut.OpKey, pubOf(c.root.OperationalKey(0, 2))) {
		t.Fatalf("cut-off certificate %+v", cut)
	}
	if err := cut.Verify(); err != nil {
		t.Fatal(err)
	}
	// Two certificates of one epoch carry the same key (section 10.2).
	again, err := IssueOpCert(c.root, 0, 1, 0, t2.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.OpKey, op.OpKey) {
		t.Fatal("same epoch, different operational key")
	}
}

func TestIssueOpCertErrors(t *testing.T) {
	c := newChain(t, 1)
	for _, tc := range []struct {
		name  string
		flags uint8
		now   time.Time
	}{
		{"unknown flag", 0x02, t2},
		{"all flags", 0xff, t2},
		{"before 1970", 0, time.Unix(-1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := IssueOpCert(c.root, 0, 1, tc.flags, tc.now); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	for _, epoch := range []uint32{0, MaxEpoch + 1} {
		if msg := panics(func() { _, _ = IssueOpCert(c.root, 0, epoch, 0, t2) }); msg == "" {
			t.Errorf("epoch %d: no panic", epoch)
		}
	}
}

// resignOp returns a copy of op with mutate applied and signed by key.
func resignOp(t *testing.T, op *OpCert, key ed25519.PrivateKey, mutate func(*OpCert)) *OpCert {
	t.Helper()
	d := op.Clone()
	mutate(d)
	body, err := d.body()
	if err != nil {
		t.Fatal(err)
	}
	d.Sig = codec.Sign(key, DomainOpCert, body)
	return d
}

func TestOpCertVerifyOutcomes(t *testing.T) {
	c := newChain(t, 1)
	rootKey := c.root.PersonaRoot(0)
	other := c.root.PersonaRoot(1)
	for _, tc := range []struct {
		name string
		cert *OpCert
		want error
	}{
		{"valid", c.op, nil},
		{"valid cut-off", resignOp(t, c.op, rootKey, func(d *OpCert) { d.Flags = OpFlagCutOff }), nil},
		{"forged root signature", resignOp(t, c.op, other, func(*OpCert) {}), ErrBadSignature},
		{"signed by the operational key", resignOp(t, c.op, c.opKey, func(*OpCert) {}), ErrBadSignature},
		{"epoch changed after signing", func() *OpCert { d := c.op.Clone(); d.Epoch = 2; return d }(), ErrBadSignature},
		{"key changed after signing", func() *OpCert { d := c.op.Clone(); d.OpKey[3] ^= 1; return d }(), ErrBadSignature},
		{"signed in another domain", func() *OpCert {
			d := c.op.Clone()
			body, _ := d.body()
			d.Sig = codec.Sign(rootKey, DomainDeviceCert, body)
			return d
		}(), ErrBadSignature},
		{"epoch 0", resignOp(t, c.op, rootKey, func(d *OpCert) { d.Epoch = 0 }), ErrMalformed},
		{"epoch too large", resignOp(t, c.op, rootKey, func(d *OpCert) { d.Epoch = MaxEpoch + 1 }), ErrMalformed},
		{"unknown flag", resignOp(t, c.op, rootKey, func(d *OpCert) { d.Flags = 0x80 }), ErrMalformed},
		{"short key", resignOp(t, c.op, rootKey, func(d *OpCert) { d.OpKey = d.OpKey[:31] }), ErrMalformed},
		{"short recovery ID", resignOp(t, c.op, rootKey, func(d *OpCert) { d.RecoveryID = d.RecoveryID[:31] }), ErrMalformed},
		{"before 1970", resignOp(t, c.op, rootKey, func(d *OpCert) { d.IssuedAt = -1 }), ErrMalformed},
		{"bad persona", func() *OpCert { d := c.op.Clone(); d.Persona = "did:key:nope"; return d }(), ErrMalformed},
		{"short signature", func() *OpCert { d := c.op.Clone(); d.Sig = d.Sig[:63]; return d }(), ErrMalformed},
		{"version 2", func() *OpCert { d := c.op.Clone(); d.Version = 2; return d }(), ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cert.Verify()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseOpCertRejects(t *testing.T) {
	c := newChain(t, 1)
	wire := func(mutate func(*opCertWire)) []byte {
		w := opCertWire{Version: c.op.Version, Persona: c.op.Persona, Epoch: c.op.Epoch, Flags: c.op.Flags,
			OpKey: c.op.OpKey, RecoveryID: c.op.RecoveryID, IssuedAt: c.op.IssuedAt, Sig: c.op.Sig}
		mutate(&w)
		b, err := codec.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := mustMarshal(t, c.op)
	devCert := mustMarshal(t, c.dev)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", []byte{0x01}, ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
		{"version 2", wire(func(w *opCertWire) { w.Version = 2 }), ErrUnsupportedVersion},
		{"a device certificate", devCert, ErrUnsupportedVersion},
		{"epoch 0", wire(func(w *opCertWire) { w.Epoch = 0 }), ErrMalformed},
		{"epoch 2^31", wire(func(w *opCertWire) { w.Epoch = 1 << 31 }), ErrMalformed},
		{"flag bit 1", wire(func(w *opCertWire) { w.Flags = 2 }), ErrMalformed},
		{"no signature", wire(func(w *opCertWire) { w.Sig = nil }), ErrMalformed},
		{"long key", wire(func(w *opCertWire) { w.OpKey = append(bytes.Clone(w.OpKey), 0) }), ErrMalformed},
		{"seven fields", func() []byte {
			b, _ := codec.Marshal(opCertBody{Version: 1, Persona: c.op.Persona, Epoch: 1, OpKey: c.op.OpKey,
				RecoveryID: c.op.RecoveryID, IssuedAt: c.op.IssuedAt})
			return b
		}(), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseOpCert(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// An epoch that does not fit 32 bits and flags that do not fit 8 are
	// malformed, not truncated.
	type wide struct {
		_          struct{} `cbor:",toarray"`
		Version    uint16
		Persona    string
		Epoch      uint64
		Flags      uint64
		OpKey      []byte
		RecoveryID []byte
		IssuedAt   int64
		Sig        []byte
	}
	for _, w := range []wide{
		{Version: 1, Persona: c.op.Persona, Epoch: 1<<32 + 1, OpKey: c.op.OpKey, RecoveryID: c.op.RecoveryID, Sig: c.op.Sig},
		{Version: 1, Persona: c.op.Persona, Epoch: 1, Flags: 256 + 1, OpKey: c.op.OpKey, RecoveryID: c.op.RecoveryID, Sig: c.op.Sig},
	} {
		b, err := codec.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseOpCert(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("epoch %d flags %d: err = %v, want ErrMalformed", w.Epoch, w.Flags, err)
		}
	}
}

// TestOpCertEveryByteFlip changes every byte of a valid operational
// certificate (see flips): the result never verifies and always fails with
// a typed error.
func TestOpCertEveryByteFlip(t *testing.T) {
	c := newChain(t, 1)
	good := mustMarshal(t, c.op)
	for i := range good {
		for _, x := range flips(i) {
			b := bytes.Clone(good)
			b[i] ^= x
			got, err := ParseOpCert(b)
			if err == nil {
				if err = got.Verify(); err == nil {
					t.Fatalf("byte %d ^ %#02x: modified certificate verifies", i, x)
				}
			}
			if !typedV2(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}

func TestRootCheckPersona(t *testing.T) {
	c := newChain(t, 1)
	if err := c.root.CheckPersona(0, c.persona); err != nil {
		t.Fatal(err)
	}
	other, err := RootFromMnemonic("legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Wipe()
	for _, tc := range []struct {
		name  string
		root  *Root
		index uint32
	}{
		{"other words", other, 0},
		{"other index", c.root, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.root.CheckPersona(tc.index, c.persona); !errors.Is(err, ErrWrongRoot) {
				t.Fatalf("err = %v, want ErrWrongRoot", err)
			}
		})
	}
}
