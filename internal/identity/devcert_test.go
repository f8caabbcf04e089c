package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

func TestIssueDeviceCertV2(t *testing.T) {
	c := newChain(t, 1)
	d := c.dev
	if d.Version != CertVersion || d.Persona != c.persona || d.Epoch != 1 || !bytes.Equal(d.Device, pubOf(c.device)) ||
		d.IssuedAt != t2.Unix() || d.ExpiresAt != 0 || len(d.Sig) != ed25519.SignatureSize {
		t.Fatalf("unexpected certificate %+v", d)
	}
	if err := d.Verify(c.op, t2.Add(100*365*24*time.Hour)); err != nil {
		t.Fatalf("certificate without expiry: %v", err)
	}
	b := mustMarshal(t, d)
	back, err := ParseDeviceCert(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(c.op, t2); err != nil {
		t.Fatalf("parsed certificate: %v", err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, b) {
		t.Fatalf("re-marshal differs: %x vs %x", again, b)
	}
	if !bytes.Equal(back.DeviceKey(), pubOf(c.device)) {
		t.Fatal("DeviceKey differs")
	}
	cl := back.Clone()
	cl.Device[0] ^= 1
	cl.Sig[0] ^= 1
	if !bytes.Equal(mustMarshal(t, back), b) {
		t.Fatal("Clone shares memory with the original")
	}

	exp, err := IssueDeviceCert(c.opKey, c.op, pubOf(c.device), t2, 90*time.Minute+time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if exp.ExpiresAt != t2.Unix()+90*60+1 {
		t.Fatalf("ExpiresAt = %d, want lifetime rounded up to whole seconds", exp.ExpiresAt-t2.Unix())
	}
}

func TestIssueDeviceCertV2Errors(t *testing.T) {
	c := newChain(t, 1)
	op2, err := IssueOpCert(c.root, 0, 2, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		key      ed25519.PrivateKey
		op       *OpCert
		device   ed25519.PublicKey
		validFor time.Duration
		want     error // nil: any error
	}{
		{"operational key of another epoch", c.opKey, op2, pubOf(c.device), 0, ErrPersonaMismatch},
		{"root key instead of operational", c.root.PersonaRoot(0), c.op, pubOf(c.device), 0, ErrPersonaMismatch},
		{"nil operational certificate", c.opKey, nil, pubOf(c.device), 0, ErrMalformed},
		{"short device key", c.opKey, c.op, pubOf(c.device)[:31], 0, ErrMalformed},
		{"negative lifetime", c.opKey, c.op, pubOf(c.device), -time.Second, nil},
		{"short private key", c.opKey[:63], c.op, pubOf(c.device), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := IssueDeviceCert(tc.key, tc.op, tc.device, t2, tc.validFor)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// resignDev returns a copy of d with mutate applied and signed by key.
func resignDev(t *testing.T, d *DeviceCert, key ed25519.PrivateKey, mutate func(*DeviceCert)) *DeviceCert {
	t.Helper()
	e := d.Clone()
	mutate(e)
	body, err := e.body()
	if err != nil {
		t.Fatal(err)
	}
	e.Sig = codec.Sign(key, DomainDeviceCert, body)
	return e
}

func TestDeviceCertVerifyOutcomes(t *testing.T) {
	c := newChain(t, 1)
	c2 := newChain(t, 2)
	op1Persona1, err := IssueOpCert(c.root, 1, 1, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := IssueDeviceCert(c.opKey, c.op, pubOf(c.device), t2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forgedOp := resignOp(t, c.op, c.root.PersonaRoot(1), func(*OpCert) {})
	for _, tc := range []struct {
		name string
		dev  *DeviceCert
		op   *OpCert
		now  time.Time
		want error
	}{
		{"valid", c.dev, c.op, t2, nil},
		{"valid until expiry", expiring, c.op, t2.Add(time.Hour - time.Second), nil},
		{"expired", expiring, c.op, t2.Add(time.Hour), ErrExpired},
		{"epoch 2 under epoch 1", c2.dev, c.op, t2, ErrEpochMismatch},
		{"epoch 1 under epoch 2", c.dev, c2.op, t2, ErrEpochMismatch},
		{"other persona's operational certificate", c.dev, op1Persona1, t2, ErrEpochMismatch},
		{"signed by the root", resignDev(t, c.dev, c.root.PersonaRoot(0), func(*DeviceCert) {}), c.op, t2, ErrBadSignature},
		{"signed by epoch 2's key, claims epoch 1", resignDev(t, c.dev, c2.opKey, func(*DeviceCert) {}), c.op, t2, ErrBadSignature},
		{"signed by the device itself", resignDev(t, c.dev, c.device, func(*DeviceCert) {}), c.op, t2, ErrBadSignature},
		{"device changed after signing", func() *DeviceCert { d := c.dev.Clone(); d.Device[0] ^= 1; return d }(), c.op, t2, ErrBadSignature},
		{"operational certificate forged", c.dev, forgedOp, t2, ErrBadSignature},
		{"nil operational certificate", c.dev, nil, t2, ErrMalformed},
		{"epoch 0", resignDev(t, c.dev, c.opKey, func(d *DeviceCert) { d.Epoch = 0 }), c.op, t2, ErrMalformed},
		{"expires when issued", resignDev(t, c.dev, c.opKey, func(d *DeviceCert) { d.ExpiresAt = d.IssuedAt }), c.op, t2, ErrMalformed},
		{"before 1970", resignDev(t, c.dev, c.opKey, func(d *DeviceCert) { d.IssuedAt = -5 }), c.op, t2, ErrMalformed},
		{"short signature", func() *DeviceCert { d := c.dev.Clone(); d.Sig = d.Sig[:10]; return d }(), c.op, t2, ErrMalformed},
		{"version 1", func() *DeviceCert { d := c.dev.Clone(); d.Version = 1; return d }(), c.op, t2, ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dev.Verify(tc.op, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseDeviceCertRejectsFormats(t *testing.T) {
	c := newChain(t, 1)
	persona, device := testKeys(t)
	v1, err := IssueDeviceCertV1(persona, pubOf(device), 1, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	v1b := mustMarshal(t, v1)
	v2b := mustMarshal(t, c.dev)
	wire := func(mutate func(*deviceCertWire)) []byte {
		w := deviceCertWire{Version: c.dev.Version, Persona: c.dev.Persona, Epoch: c.dev.Epoch, Device: c.dev.Device,
			IssuedAt: c.dev.IssuedAt, ExpiresAt: c.dev.ExpiresAt, Sig: c.dev.Sig}
		mutate(&w)
		b, err := codec.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		in    []byte
		want  error
	}{
		{"version 1 to ParseDeviceCert", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, v1b, ErrUnsupportedVersion},
		{"version 2 to ParseDeviceCertV1", func(b []byte) error { _, err := ParseDeviceCertV1(b); return err }, v2b, ErrUnsupportedVersion},
		{"an operational certificate", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, mustMarshal(t, c.op), ErrUnsupportedVersion},
		{"version 3", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, wire(func(w *deviceCertWire) { w.Version = 3 }), ErrUnsupportedVersion},
		{"epoch 2^31", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, wire(func(w *deviceCertWire) { w.Epoch = 1 << 31 }), ErrMalformed},
		{"expires before issued", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, wire(func(w *deviceCertWire) { w.ExpiresAt = 1 }), ErrMalformed},
		{"long device key", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, wire(func(w *deviceCertWire) { w.Device = append(bytes.Clone(w.Device), 1) }), ErrMalformed},
		{"trailing byte", func(b []byte) error { _, err := ParseDeviceCert(b); return err }, append(bytes.Clone(v2b), 0), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDeviceCertEveryByteFlip changes every byte of a valid format-2
// device certificate (see flips): the result never verifies under its
// operational certificate and always fails with a typed error.
func TestDeviceCertEveryByteFlip(t *testing.T) {
	c := newChain(t, 1)
	d, err := IssueDeviceCert(c.opKey, c.op, pubOf(c.device), t2, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good := mustMarshal(t, d)
	for i := range good {
		for _, x := range flips(i) {
			b := bytes.Clone(good)
			b[i] ^= x
			got, err := ParseDeviceCert(b)
			if err == nil {
				if err = got.Verify(c.op, t2); err == nil {
					t.Fatalf("byte %d ^ %#02x: modified certificate verifies", i, x)
				}
			}
			if !typedV2(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}
