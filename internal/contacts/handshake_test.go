package contacts

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// handshake runs the four messages between bob (acceptor) and alice
// (inviter) through their encodings, as the stream protocol will, and
// returns the encodings.
func handshake(t *testing.T, alice, bob party, secret [16]byte) (hello, welcome, confirm, done []byte) {
	t.Helper()
	now := t0.Add(time.Minute)
	h, err := NewHello(bob.device, bob.cert, secret, "Bob")
	if err != nil {
		t.Fatal(err)
	}
	if hello, err = h.Marshal(); err != nil {
		t.Fatal(err)
	}
	// inviter
	h2, err := ParseHello(hello)
	if err != nil {
		t.Fatal(err)
	}
	bobCert, err := h2.Verify(now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, h2) || h2.Persona != bob.did || !bytes.Equal(bobCert.Device, bob.cert.Device) {
		t.Fatalf("hello round trip: %+v vs %+v", h, h2)
	}
	w, err := NewWelcome(alice.device, alice.cert, "Alice", h2)
	if err != nil {
		t.Fatal(err)
	}
	if welcome, err = w.Marshal(); err != nil {
		t.Fatal(err)
	}
	// acceptor
	w2, err := ParseWelcome(welcome)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Verify(now); err != nil {
		t.Fatal(err)
	}
	if hh, _ := h.Hash(); w2.HelloHash != hh || w2.Persona != alice.did || !reflect.DeepEqual(w, w2) {
		t.Fatalf("welcome round trip / binding: %+v", w2)
	}
	c, err := NewConfirm(bob.device, w2)
	if err != nil {
		t.Fatal(err)
	}
	if confirm, err = c.Marshal(); err != nil {
		t.Fatal(err)
	}
	// inviter
	c2, err := ParseConfirm(confirm)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConfirm(c2, bobCert.DeviceKey()); err != nil {
		t.Fatal(err)
	}
	if wh, _ := w.Hash(); c2.WelcomeHash != wh {
		t.Fatal("confirm does not bind the welcome")
	}
	if done, err = (&Done{Version: HandshakeVersion, OK: true}).Marshal(); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDone(done)
	if err != nil || !d.OK {
		t.Fatalf("done: %+v %v", d, err)
	}
	return
}

func TestHandshakeRoundTrip(t *testing.T) {
	alice, bob := newParty(t, 1), newParty(t, 2)
	hello, welcome, confirm, done := handshake(t, alice, bob, [16]byte{7})
	t.Logf("sizes: hello %d, welcome %d, confirm %d, done %d", len(hello), len(welcome), len(confirm), len(done))
	// Confirm by a device other than the Hello's is refused.
	c, _ := ParseConfirm(confirm)
	if err := VerifyConfirm(c, alice.cert.DeviceKey()); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("confirm with wrong key: %v", err)
	}
	d := &Done{Version: HandshakeVersion, Error: "invite already used"}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if d2, err := ParseDone(b); err != nil || *d2 != *d {
		t.Fatalf("done round trip: %+v %v", d2, err)
	}
}

// TestHandshakeTamper flips every bit of every signed message and expects
// parse or verification to fail.
func TestHandshakeTamper(t *testing.T) {
	alice, bob := newParty(t, 1), newParty(t, 2)
	hello, welcome, confirm, _ := handshake(t, alice, bob, [16]byte{7})
	now := t0.Add(time.Minute)
	check := map[string]struct {
		enc    []byte
		verify func([]byte) error
	}{
		"hello": {hello, func(b []byte) error {
			h, err := ParseHello(b)
			if err == nil {
				_, err = h.Verify(now)
			}
			return err
		}},
		"welcome": {welcome, func(b []byte) error {
			w, err := ParseWelcome(b)
			if err == nil {
				_, err = w.Verify(now)
			}
			return err
		}},
		"confirm": {confirm, func(b []byte) error {
			c, err := ParseConfirm(b)
			if err == nil {
				err = VerifyConfirm(c, bob.cert.DeviceKey())
			}
			return err
		}},
	}
	for name, m := range check {
		t.Run(name, func(t *testing.T) {
			if err := m.verify(m.enc); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			for pos := range m.enc {
				for bit := range 8 {
					c := bytes.Clone(m.enc)
					c[pos] ^= 1 << bit
					if err := m.verify(c); !errors.Is(err, ErrBadMessage) {
						t.Fatalf("byte %d bit %d: %v, want ErrBadMessage", pos, bit, err)
					}
				}
			}
		})
	}
}

func TestHandshakeRejects(t *testing.T) {
	alice, bob := newParty(t, 1), newParty(t, 2)
	now := t0.Add(time.Minute)
	h, _ := NewHello(bob.device, bob.cert, [16]byte{1}, "")

	// A Hello whose persona is not the cert's.
	forged := *h
	forged.Persona = alice.did
	if _, err := forged.Verify(now); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("hello with foreign persona: %v", err)
	}
	// Signing with a key the cert does not certify.
	if _, err := NewHello(alice.device, bob.cert, [16]byte{1}, ""); err == nil {
		t.Fatal("NewHello with mismatched key")
	}
	if _, err := NewHello(bob.device, bob.cert, [16]byte{1}, "did:x"); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("bad suggested name: %v", err)
	}
	// Oversized messages.
	big := *h
	big.Cert = make([]byte, MaxMsgSize)
	if _, err := big.Marshal(); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("oversized hello marshals: %v", err)
	}
	for name, parse := range map[string]func([]byte) error{
		"hello":   func(b []byte) error { _, err := ParseHello(b); return err },
		"welcome": func(b []byte) error { _, err := ParseWelcome(b); return err },
		"confirm": func(b []byte) error { _, err := ParseConfirm(b); return err },
		"done":    func(b []byte) error { _, err := ParseDone(b); return err },
	} {
		for _, b := range [][]byte{nil, {0x80}, {0x81, 0x02}, bytes.Repeat([]byte{0x41}, MaxMsgSize+1)} {
			if err := parse(b); !errors.Is(err, ErrBadMessage) {
				t.Errorf("%s: Parse(%.8x…) = %v", name, b, err)
			}
		}
	}
	// Unknown version is reported as such.
	if _, err := ParseDone([]byte{0x83, 0x02, 0xf5, 0x60}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("done v2: %v", err)
	}
	// Done rules.
	for _, d := range []Done{{Version: 1, Error: strings.Repeat("e", MaxDoneError+1)}, {Version: 1, OK: true, Error: "x"}, {Version: 0, OK: true}} {
		if _, err := d.Marshal(); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Done %+v marshals: %v", d, err)
		}
	}
	// Welcome from a persona whose cert has expired.
	short, _ := identityIssue(alice, t0.Add(-time.Hour), time.Minute)
	w, err := NewWelcome(alice.device, short, "", h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Verify(now); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("welcome with expired cert: %v", err)
	}
}

func TestReadWriteMsg(t *testing.T) {
	var buf bytes.Buffer
	msgs := [][]byte{{}, []byte("x"), bytes.Repeat([]byte{9}, 300), bytes.Repeat([]byte{1}, MaxMsgSize)}
	for _, m := range msgs {
		if err := WriteMsg(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range msgs {
		got, err := ReadMsg(&buf, MaxMsgSize)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("ReadMsg = %d bytes, %v; want %d", len(got), err, len(m))
		}
	}
	if _, err := ReadMsg(&buf, MaxMsgSize); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if err := WriteMsg(&buf, make([]byte, MaxMsgSize+1)); !errors.Is(err, ErrBadMessage) {
		t.Fatalf("oversized write: %v", err)
	}

	prefix := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{"over limit", append(prefix(101), make([]byte, 101)...), 100, ErrBadMessage},
		{"at limit", append(prefix(100), make([]byte, 100)...), 100, nil},
		{"limit capped at MaxMsgSize", prefix(MaxMsgSize + 1), 1 << 30, ErrBadMessage},
		{"huge length, no allocation", prefix(1 << 62), MaxMsgSize, ErrBadMessage},
		{"endless prefix", bytes.Repeat([]byte{0x80}, 20), MaxMsgSize, ErrBadMessage},
		{"non-minimal prefix", []byte{0x85, 0x00, 1, 2, 3, 4, 5}, MaxMsgSize, ErrBadMessage},
		{"truncated body", append(prefix(10), 1, 2), MaxMsgSize, io.ErrUnexpectedEOF},
		{"truncated prefix", []byte{0x80}, MaxMsgSize, io.ErrUnexpectedEOF},
		{"negative limit", prefix(1), -1, ErrBadMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(tc.in)}
			_, err := ReadMsg(r, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadMsg = %v, want %v", err, tc.want)
			}
			if r.n > int64(tc.limit)+maxUvarintLen && tc.limit >= 0 {
				t.Fatalf("read %d bytes past the bound", r.n)
			}
		})
	}
	// "huge length" above would need a 4 EiB buffer if ReadMsg allocated
	// before checking; also check the bytes allocated directly.
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	ReadMsg(bytes.NewReader(prefix(1<<40)), MaxMsgSize)
	runtime.ReadMemStats(&m1)
	if d := m1.TotalAlloc - m0.TotalAlloc; d > 4096 {
		t.Fatalf("rejecting a huge length allocated %d bytes", d)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func identityIssue(p party, at time.Time, validFor time.Duration) (*identityCert, error) {
	return issueCert(p.persona, p.device.Public().(ed25519.PublicKey), at, validFor)
}
