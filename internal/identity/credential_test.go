package identity

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

func TestCredentialRoundTrip(t *testing.T) {
	c := newChain(t, 1)
	b := mustMarshal(t, c.cred)
	back, err := ParseCredential(b)
	if err != nil {
		t.Fatal(err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, b) {
		t.Fatalf("re-marshal differs: %x vs %x", again, b)
	}
	if !bytes.Equal(mustMarshal(t, back.Op), mustMarshal(t, c.op)) || !bytes.Equal(mustMarshal(t, back.Device), mustMarshal(t, c.dev)) {
		t.Fatal("parsed certificates differ")
	}
	key, epoch, err := back.Verify(c.persona, t2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if epoch != 1 || !bytes.Equal(key, pubOf(c.device)) {
		t.Fatalf("Verify = %x, epoch %d; want the device key, epoch 1", key, epoch)
	}
	if n := len(b); n > 400 {
		t.Errorf("credential is %d bytes, section 8.4 says about 380", n)
	}
}

func TestCredentialVerifyOutcomes(t *testing.T) {
	c := newChain(t, 1)
	c2 := newChain(t, 2)
	other := newChain(t, 1)
	op1, err := IssueOpCert(other.root, 1, 1, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	other.op = op1
	other.opKey = other.root.OperationalKey(1, 1)
	other.dev, err = IssueDeviceCert(other.opKey, op1, pubOf(other.device), t2, 0)
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := IssueDeviceCert(c.opKey, c.op, pubOf(c.device), t2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dev := pubOf(c.device)
	pinned := func(epoch uint32) testPins { return testPins{epochs: map[string]uint32{c.persona: epoch}} }
	revoked := func(epoch uint32) testPins {
		return testPins{revoked: map[string]bool{revokedKey(c.persona, epoch, dev): true}}
	}
	for _, tc := range []struct {
		name      string
		cred      *Credential
		persona   string
		now       time.Time
		pins      Pins
		want      error
		wantEpoch uint32
	}{
		{"valid, no pins", c.cred, c.persona, t2, nil, nil, 1},
		{"valid, nothing pinned", c.cred, c.persona, t2, testPins{}, nil, 1},
		{"valid at the pinned epoch", c.cred, c.persona, t2, pinned(1), nil, 1},
		{"epoch 2 above pin 1", c2.cred, c.persona, t2, pinned(1), nil, 2},
		{"epoch 2 under pin 3", c2.cred, c.persona, t2, pinned(3), ErrStaleEpoch, 0},
		{"pin of another persona", c.cred, c.persona, t2, testPins{epochs: map[string]uint32{other.op.Persona: 9}}, nil, 1},
		{"device revoked in its epoch", c.cred, c.persona, t2, revoked(1), ErrRevoked, 0},
		{"device revoked in another epoch", c2.cred, c.persona, t2, revoked(1), nil, 2},
		{"other persona", c.cred, other.op.Persona, t2, nil, ErrPersonaMismatch, 0},
		{"not a DID", c.cred, "did:key:nope", t2, nil, ErrPersonaMismatch, 0},
		{"device cert of epoch 2 under op cert of epoch 1", &Credential{Op: c.op, Device: c2.dev}, c.persona, t2, nil, ErrEpochMismatch, 0},
		{"device cert of another persona", &Credential{Op: c.op, Device: other.dev}, c.persona, t2, nil, ErrEpochMismatch, 0},
		{"forged root signature", &Credential{Op: resignOp(t, c.op, c.root.PersonaRoot(1), func(*OpCert) {}), Device: c.dev}, c.persona, t2, nil, ErrBadSignature, 0},
		{"device cert forged", &Credential{Op: c.op, Device: resignDev(t, c.dev, c.device, func(*DeviceCert) {})}, c.persona, t2, nil, ErrBadSignature, 0},
		{"expired", &Credential{Op: c.op, Device: expiring}, c.persona, t2.Add(2 * time.Hour), nil, ErrExpired, 0},
		{"expiry is checked before pins", &Credential{Op: c.op, Device: expiring}, c.persona, t2.Add(2 * time.Hour), revoked(1), ErrExpired, 0},
		{"no device certificate", &Credential{Op: c.op}, c.persona, t2, nil, ErrMalformed, 0},
		{"no operational certificate", &Credential{Device: c.dev}, c.persona, t2, nil, ErrMalformed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, epoch, err := tc.cred.Verify(tc.persona, tc.now, tc.pins)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
				if key != nil || epoch != 0 {
					t.Fatalf("failed Verify returned key %x, epoch %d", key, epoch)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if epoch != tc.wantEpoch || !bytes.Equal(key, tc.cred.Device.Device) {
				t.Fatalf("Verify = %x, epoch %d; want epoch %d", key, epoch, tc.wantEpoch)
			}
		})
	}
}

func TestParseCredentialRejects(t *testing.T) {
	c := newChain(t, 1)
	op := mustMarshal(t, c.op)
	dev := mustMarshal(t, c.dev)
	persona, device := testKeys(t)
	v1, err := IssueDeviceCertV1(persona, pubOf(device), 1, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wire := func(version uint16, op, dev []byte) []byte {
		b, err := codec.Marshal(credentialWire{Version: version, OpCert: op, DeviceCert: dev})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	opV2 := func() []byte {
		b, _ := codec.Marshal(opCertWire{Version: 2, Persona: c.op.Persona, Epoch: 1, OpKey: c.op.OpKey,
			RecoveryID: c.op.RecoveryID, Sig: c.op.Sig})
		return b
	}()
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"version 2", wire(2, op, dev), ErrUnsupportedVersion},
		{"operational certificate of version 2", wire(1, opV2, dev), ErrUnsupportedVersion},
		{"format-1 device certificate", wire(1, op, mustMarshal(t, v1)), ErrUnsupportedVersion},
		{"certificates swapped", wire(1, dev, op), ErrUnsupportedVersion},
		{"no device certificate", wire(1, op, nil), ErrMalformed},
		{"no operational certificate", wire(1, nil, dev), ErrMalformed},
		{"trailing byte in the operational certificate", wire(1, append(bytes.Clone(op), 0), dev), ErrMalformed},
		{"two fields", func() []byte {
			b, _ := codec.Marshal([]any{uint16(1), op})
			return b
		}(), ErrMalformed},
		{"four fields", func() []byte {
			b, _ := codec.Marshal([]any{uint16(1), op, dev, dev})
			return b
		}(), ErrMalformed},
		{"empty", nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCredential(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := (&Credential{Op: c.op}).Marshal(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Marshal without a device certificate: %v", err)
	}
}

// TestCredentialEveryByteFlip changes every byte of a valid credential (see
// flips): the result never verifies for the persona and always fails with
// a typed error, also when the verifier has pins.
func TestCredentialEveryByteFlip(t *testing.T) {
	c := newChain(t, 1)
	good := mustMarshal(t, c.cred)
	pins := testPins{epochs: map[string]uint32{c.persona: 1}}
	for i := range good {
		for _, x := range flips(i) {
			b := bytes.Clone(good)
			b[i] ^= x
			got, err := ParseCredential(b)
			if err == nil {
				if _, _, err = got.Verify(c.persona, t2, pins); err == nil {
					t.Fatalf("byte %d ^ %#02x: modified credential verifies", i, x)
				}
			}
			if !typedV2(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}
