package contacts

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"crypto/ed25519"

	"github.com/mr-tron/base58"
)

// Seeds live in testdata/fuzz/<FuzzName>/ (go test fuzz v1, one []byte
// each). Files named valid-* hold records that parse; TestFuzzSeeds keeps
// them so. Regenerate with: go test ./internal/contacts -run TestFuzzSeeds -update-seeds
var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

func typed(err error) bool {
	return errors.Is(err, ErrBadInvite) || errors.Is(err, ErrBadMessage) || errors.Is(err, ErrInviteExpired)
}

func FuzzParseInvite(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// The link form must never panic either.
		if _, err := ParseInvite(InvitePrefix+base58.Encode(data), t0); err != nil && !typed(err) {
			t.Fatalf("untyped ParseInvite error: %v", err)
		}
		inv, err := decodeInvite(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := inv.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decode/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if err := inv.Verify(t0); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHello(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := h.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if _, err := h.Verify(t0); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseWelcome(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWelcome(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := w.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if _, err := w.Verify(t0); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseConfirm(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfirm(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if err := VerifyConfirm(c, seedKey(102).Public().(ed25519.PublicKey)); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseDone(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDone(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := d.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
	})
}

// seedRecords builds deterministic valid records for the seed corpora.
func seedRecords(t *testing.T) map[string]map[string][]byte {
	alice, bob := newParty(t, 1), newParty(t, 2)
	inv := &Invite{Version: InviteVersion, Persona: alice.did, Name: "Alice", Devices: testDevices(alice),
		Secret: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Expires: t0.Add(time.Hour)}
	if err := inv.sign(alice.device, alice.cert); err != nil {
		t.Fatal(err)
	}
	minimal := &Invite{Version: InviteVersion, Persona: alice.did, Devices: []InviteDevice{{PeerID: alice.peer}},
		Secret: [16]byte{9}, Expires: t0.Add(24 * time.Hour)}
	if err := minimal.sign(alice.device, alice.cert); err != nil {
		t.Fatal(err)
	}
	h := &Hello{Version: HandshakeVersion, Secret: inv.Secret, Persona: bob.did, Name: "Bob", Nonce: [16]byte{0xaa}}
	h.Cert, _ = bob.cert.Marshal()
	hb, _ := h.body()
	henc, _ := codecMarshal(hb)
	h.Sig = signWith(bob.device, DomainHello, henc)
	hh, _ := h.Hash()
	w := &Welcome{Version: HandshakeVersion, Persona: alice.did, Name: "Alice", HelloHash: hh, Nonce: [16]byte{0xbb}}
	w.Cert, _ = alice.cert.Marshal()
	wb, _ := w.body()
	wenc, _ := codecMarshal(wb)
	w.Sig = signWith(alice.device, DomainWelcome, wenc)
	wh, _ := w.Hash()
	c := &Confirm{Version: HandshakeVersion, WelcomeHash: wh}
	cb, _ := c.body()
	cenc, _ := codecMarshal(cb)
	c.Sig = signWith(bob.device, DomainConfirm, cenc)

	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	invB := must(inv.Marshal())
	return map[string]map[string][]byte{
		"FuzzParseInvite": {
			"valid-invite":     invB,
			"valid-minimal":    must(minimal.Marshal()),
			"truncated":        invB[:len(invB)/2],
			"other-version":    append([]byte{0x88, 0x02}, invB[2:]...),
			"hello-not-invite": must(h.Marshal()),
		},
		"FuzzParseHello": {
			"valid-hello": must(h.Marshal()),
			"welcome":     must(w.Marshal()),
		},
		"FuzzParseWelcome": {
			"valid-welcome": must(w.Marshal()),
			"hello":         must(h.Marshal()),
		},
		"FuzzParseConfirm": {
			"valid-confirm": must(c.Marshal()),
		},
		"FuzzParseDone": {
			"valid-ok":    must((&Done{Version: HandshakeVersion, OK: true}).Marshal()),
			"valid-error": must((&Done{Version: HandshakeVersion, Error: "invite already used"}).Marshal()),
		},
	}
}

func writeSeed(path string, b []byte) error {
	return os.WriteFile(path, []byte("go test fuzz v1\n[]byte("+strconv.Quote(string(b))+")\n"), 0o644)
}

func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a one-value go test fuzz v1 file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestFuzzSeeds checks that every valid-* seed still parses (and, for the
// signed ones, verifies at t0), so the corpora keep reaching deep code.
func TestFuzzSeeds(t *testing.T) {
	recs := seedRecords(t)
	if *updateSeeds {
		for fuzz, files := range recs {
			dir := filepath.Join("testdata", "fuzz", fuzz)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range files {
				if err := writeSeed(filepath.Join(dir, name), b); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	verify := map[string]func([]byte) error{
		"FuzzParseInvite": func(b []byte) error {
			inv, err := decodeInvite(b)
			if err == nil {
				err = inv.Verify(t0)
			}
			return err
		},
		"FuzzParseHello": func(b []byte) error {
			h, err := ParseHello(b)
			if err == nil {
				_, err = h.Verify(t0)
			}
			return err
		},
		"FuzzParseWelcome": func(b []byte) error {
			w, err := ParseWelcome(b)
			if err == nil {
				_, err = w.Verify(t0)
			}
			return err
		},
		"FuzzParseConfirm": func(b []byte) error {
			c, err := ParseConfirm(b)
			if err == nil {
				err = VerifyConfirm(c, newParty(t, 2).cert.DeviceKey())
			}
			return err
		},
		"FuzzParseDone": func(b []byte) error { _, err := ParseDone(b); return err },
	}
	for fuzz, check := range verify {
		paths, _ := filepath.Glob(filepath.Join("testdata", "fuzz", fuzz, "*"))
		if len(paths) == 0 {
			t.Errorf("%s: no seeds", fuzz)
		}
		for _, p := range paths {
			err := check(readSeed(t, p))
			valid := strings.HasPrefix(filepath.Base(p), "valid-")
			if valid != (err == nil) {
				t.Errorf("%s: valid=%v but check = %v", p, valid, err)
			}
		}
	}
}
