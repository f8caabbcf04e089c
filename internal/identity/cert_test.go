package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/codec"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testKeys returns a fixed persona key (persona 0 of the abandon…art
// phrase) and a fixed device key, so encodings are reproducible.
func testKeys(t testing.TB) (persona ed25519.PrivateKey, device ed25519.PrivateKey) {
	t.Helper()
	seed, err := SeedFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	return PersonaKey(seed, 0), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func TestIssueAndVerify(t *testing.T) {
	persona, device := testKeys(t)
	c, err := IssueDeviceCertV1(persona, pubOf(device), 42, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != CertVersionV1 || c.Persona != DID(pubOf(persona)) || !bytes.Equal(c.Device, pubOf(device)) ||
		c.Serial != 42 || c.IssuedAt != t0.Unix() || c.ExpiresAt != 0 || len(c.Sig) != ed25519.SignatureSize {
		t.Fatalf("unexpected certificate %+v", c)
	}
	if err := c.Verify(t0.Add(100*365*24*time.Hour), nil); err != nil {
		t.Fatalf("non-expiring certificate: %v", err)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDeviceCertV1(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(t0, nil); err != nil {
		t.Fatalf("parsed certificate: %v", err)
	}
	again, err := back.Marshal()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-marshal differs: %x vs %x (%v)", again, b, err)
	}
	if !bytes.Equal(back.DeviceKey(), pubOf(device)) {
		t.Fatal("DeviceKey differs")
	}
}

func TestIssueIsDeterministic(t *testing.T) {
	persona, device := testKeys(t)
	a, _ := IssueDeviceCertV1(persona, pubOf(device), 1, t0, time.Hour)
	b, _ := IssueDeviceCertV1(persona, pubOf(device), 1, t0, time.Hour)
	ab, _ := a.Marshal()
	bb, _ := b.Marshal()
	if !bytes.Equal(ab, bb) {
		t.Fatal("same inputs gave different certificates")
	}
}

func TestIssueDeviceCertErrors(t *testing.T) {
	persona, device := testKeys(t)
	broken := append(ed25519.PrivateKey(nil), persona...)
	broken[40] ^= 1 // public half no longer matches the seed
	tests := []struct {
		name     string
		persona  ed25519.PrivateKey
		device   ed25519.PublicKey
		now      time.Time
		validFor time.Duration
	}{
		{"short persona key", persona[:32], pubOf(device), t0, 0},
		{"inconsistent persona key", broken, pubOf(device), t0, 0},
		{"short device key", persona, pubOf(device)[:31], t0, 0},
		{"nil device key", persona, nil, t0, 0},
		{"negative lifetime", persona, pubOf(device), t0, -time.Second},
		{"before 1970", persona, pubOf(device), time.Unix(-10, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := IssueDeviceCertV1(tt.persona, tt.device, 1, tt.now, tt.validFor); err == nil {
				t.Fatalf("issued %+v", c)
			}
		})
	}
}

func TestVerifyOutcomes(t *testing.T) {
	persona, device := testKeys(t)
	otherPersona := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	issue := func(validFor time.Duration) *DeviceCertV1 {
		c, err := IssueDeviceCertV1(persona, pubOf(device), 7, t0, validFor)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var revoked RevocationListV1
	rc := issue(0)
	r, err := RevokeV1(persona, rc, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := revoked.Add(r); err != nil {
		t.Fatal(err)
	}
	otherSerial := func(string, uint64) bool { return false }

	tests := []struct {
		name    string
		cert    func() *DeviceCertV1
		now     time.Time
		revoked func(string, uint64) bool
		want    error
	}{
		{"valid", func() *DeviceCertV1 { return issue(time.Hour) }, t0.Add(59 * time.Minute), nil, nil},
		{"valid, revocation list without it", func() *DeviceCertV1 { return issue(0) }, t0, otherSerial, nil},
		{"lifetime rounded up to a second", func() *DeviceCertV1 { return issue(time.Nanosecond) }, t0, nil, nil},
		{"expired at the instant", func() *DeviceCertV1 { return issue(time.Hour) }, t0.Add(time.Hour), nil, ErrExpired},
		{"expired later", func() *DeviceCertV1 { return issue(time.Hour) }, t0.Add(48 * time.Hour), nil, ErrExpired},
		{"revoked", func() *DeviceCertV1 { return issue(0) }, t0, revoked.Has, ErrRevoked},
		{"serial changed", func() *DeviceCertV1 { c := issue(0); c.Serial++; return c }, t0, nil, ErrBadSignature},
		{"expiry removed", func() *DeviceCertV1 { c := issue(time.Hour); c.ExpiresAt = 0; return c }, t0.Add(2 * time.Hour), nil, ErrBadSignature},
		{"device swapped", func() *DeviceCertV1 { c := issue(0); c.Device = pubOf(otherPersona); return c }, t0, nil, ErrBadSignature},
		{"persona swapped", func() *DeviceCertV1 { c := issue(0); c.Persona = DID(pubOf(otherPersona)); return c }, t0, nil, ErrBadSignature},
		{"signature cut", func() *DeviceCertV1 { c := issue(0); c.Sig = c.Sig[:10]; return c }, t0, nil, ErrBadSignature},
		{"version 2", func() *DeviceCertV1 { c := issue(0); c.Version = 2; return c }, t0, nil, ErrUnsupportedVersion},
		{"bad persona", func() *DeviceCertV1 { c := issue(0); c.Persona = "did:key:zzz"; return c }, t0, nil, ErrMalformed},
		{"short device", func() *DeviceCertV1 { c := issue(0); c.Device = c.Device[:4]; return c }, t0, nil, ErrMalformed},
		{"expires before issue", func() *DeviceCertV1 { c := issue(0); c.ExpiresAt = c.IssuedAt; return c }, t0, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cert().Verify(tt.now, tt.revoked)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
		})
	}
}

// A certificate signature must not verify as any other record type.
func TestCertSignatureIsDomainSeparated(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 0)
	body, _ := c.body()
	if !codec.Verify(pubOf(persona), DomainDeviceCert, body, c.Sig) {
		t.Fatal("signature does not verify in its own domain")
	}
	if codec.Verify(pubOf(persona), DomainDeviceRevocation, body, c.Sig) {
		t.Fatal("certificate signature verifies as a revocation")
	}
	if ed25519.Verify(pubOf(persona), body, c.Sig) {
		t.Fatal("signature verifies without its domain")
	}
}

func TestParseDeviceCertRejects(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 0)
	enc := func(v any) []byte {
		b, err := codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type v2 struct {
		_                   struct{} `cbor:",toarray"`
		Version             uint16
		Persona             string
		Device              []byte
		Serial              uint64
		IssuedAt, ExpiresAt int64
		Sig                 []byte
		Extra               string
	}
	good, _ := c.Marshal()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", enc("hello"), ErrMalformed},
		{"empty array", enc([]int{}), ErrMalformed},
		{"version not a number", enc([]any{"1"}), ErrMalformed},
		{"version 2 with another layout", enc(v2{Version: 2, Persona: c.Persona, Device: c.Device, Sig: c.Sig, Extra: "x"}), ErrUnsupportedVersion},
		{"version 0", enc(certWire{Version: 0, Persona: c.Persona, Device: c.Device, Sig: c.Sig}), ErrUnsupportedVersion},
		{"extra field", enc(v2{Version: 1, Persona: c.Persona, Device: c.Device, Sig: c.Sig, Extra: "x"}), ErrMalformed},
		{"short signature", enc(certWire{Version: 1, Persona: c.Persona, Device: c.Device, IssuedAt: 1, Sig: c.Sig[:63]}), ErrMalformed},
		{"bad persona", enc(certWire{Version: 1, Persona: "alice", Device: c.Device, IssuedAt: 1, Sig: c.Sig}), ErrMalformed},
		{"trailing byte", append(append([]byte{}, good...), 0), ErrMalformed},
		{"too large", make([]byte, codec.MaxRecordSize+1), ErrMalformed},
		{"a revocation", mustRevocationBytes(t, persona, c), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDeviceCertV1(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustRevocationBytes(t testing.TB, persona ed25519.PrivateKey, c *DeviceCertV1) []byte {
	r, err := RevokeV1(persona, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// typed reports whether err is one of the errors callers branch on.
func typed(err error) bool {
	for _, e := range []error{ErrMalformed, ErrUnsupportedVersion, ErrBadSignature, ErrExpired, ErrRevoked} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// flips returns the XOR masks to try on byte i of a record: every single bit
// and all bits everywhere, and every possible value in the leading bytes,
// where the array, version and field headers sit.
func flips(i int) []byte {
	if i < 16 {
		all := make([]byte, 255)
		for x := range all {
			all[x] = byte(x + 1)
		}
		return all
	}
	return []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff}
}

// TestCertEveryByteFlip changes every byte of a valid certificate (see
// flips): the result must never verify, and must fail with a typed error.
func TestCertEveryByteFlip(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 30*24*time.Hour)
	good, _ := c.Marshal()
	for i := range good {
		for _, x := range flips(i) {
			b := append([]byte(nil), good...)
			b[i] ^= x
			got, err := ParseDeviceCertV1(b)
			if err == nil {
				err = got.Verify(t0, nil)
				if err == nil {
					t.Fatalf("byte %d ^ %#02x: modified certificate verifies", i, x)
				}
			}
			if !typed(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}

func TestRevocation(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 0)
	r, err := RevokeV1(persona, c, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.Persona != c.Persona || r.Serial != 7 || !bytes.Equal(r.Device, c.Device) || r.RevokedAt != t0.Add(time.Hour).Unix() {
		t.Fatalf("unexpected revocation %+v", r)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRevocationV1(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Fatal(err)
	}
	var l RevocationListV1
	if l.Has(c.Persona, 7) {
		t.Fatal("empty list has the certificate")
	}
	if err := l.Add(back); err != nil {
		t.Fatal(err)
	}
	if !l.Has(c.Persona, 7) || l.Has(c.Persona, 8) || l.Has(DID(pubOf(device)), 7) || l.Len() != 1 {
		t.Fatal("list membership wrong")
	}
	if err := c.Verify(t0, l.Has); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Verify with the list: %v, want ErrRevoked", err)
	}
}

func TestRevocationErrors(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 0)
	if _, err := RevokeV1(device, c, t0); !errors.Is(err, ErrPersonaMismatch) {
		t.Fatalf("revoke with the wrong key: %v, want ErrPersonaMismatch", err)
	}
	if _, err := RevokeV1(persona, nil, t0); err == nil {
		t.Fatal("revoked a nil certificate")
	}
	r, _ := RevokeV1(persona, c, t0)
	tests := []struct {
		name   string
		mutate func(r *RevocationV1)
		want   error
	}{
		{"serial changed", func(r *RevocationV1) { r.Serial = 8 }, ErrBadSignature},
		{"date changed", func(r *RevocationV1) { r.RevokedAt++ }, ErrBadSignature},
		{"device changed", func(r *RevocationV1) { r.Device = pubOf(persona) }, ErrBadSignature},
		{"cert signature as revocation signature", func(r *RevocationV1) { r.Sig = c.Sig }, ErrBadSignature},
		{"version 9", func(r *RevocationV1) { r.Version = 9 }, ErrUnsupportedVersion},
		{"short device", func(r *RevocationV1) { r.Device = nil }, ErrMalformed},
		{"bad persona", func(r *RevocationV1) { r.Persona = "x" }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := *r
			tt.mutate(&m)
			if err := m.Verify(); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			var l RevocationListV1
			if err := l.Add(&m); err == nil || l.Len() != 0 {
				t.Fatal("list accepted a bad revocation")
			}
		})
	}
}

func TestRevocationEveryByteFlip(t *testing.T) {
	persona, device := testKeys(t)
	c, _ := IssueDeviceCertV1(persona, pubOf(device), 7, t0, 0)
	good := mustRevocationBytes(t, persona, c)
	for i := range good {
		for _, x := range flips(i) {
			b := append([]byte(nil), good...)
			b[i] ^= x
			r, err := ParseRevocationV1(b)
			if err == nil {
				if err = r.Verify(); err == nil {
					t.Fatalf("byte %d ^ %#02x: modified revocation verifies", i, x)
				}
			}
			if !typed(err) {
				t.Fatalf("byte %d ^ %#02x: untyped error %v", i, x, err)
			}
		}
	}
}

func TestRevocationListConcurrent(t *testing.T) {
	persona, device := testKeys(t)
	var l RevocationListV1
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 1000; i++ {
			l.Has("x", uint64(i))
		}
	}()
	for s := uint64(0); s < 20; s++ {
		c, _ := IssueDeviceCertV1(persona, pubOf(device), s, t0, 0)
		r, _ := RevokeV1(persona, c, t0)
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if l.Len() != 20 {
		t.Fatalf("Len = %d", l.Len())
	}
}
