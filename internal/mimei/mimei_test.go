package mimei

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/identity"
)

func TestIDVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/id_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Author, AppType, Ext, Mark, ID string
		}
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(b), "app_type", "AppType")), &f); err != nil || len(f.Vectors) == 0 {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		id, err := DeriveID(Spec{v.Author, v.AppType, v.Ext, v.Mark})
		if err != nil || id.String() != v.ID {
			t.Errorf("%+v: got %s, %v", v, id, err)
		}
		p, err := ParseID(v.ID)
		if err != nil || p != id {
			t.Errorf("parse %s: %v", v.ID, err)
		}
	}
}

func author(t *testing.T) (ed25519.PrivateKey, string) {
	t.Helper()
	k := ed25519.NewKeyFromSeed(make([]byte, 32))
	return k, identity.DID(k.Public().(ed25519.PublicKey))
}

func TestSpecAndID(t *testing.T) {
	_, a := author(t)
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"plain", Spec{a, "files", "", ""}, true},
		{"full", Spec{a, "notes.app-2_x", "md", "a mark with spaces ✓"}, true},
		{"bad author", Spec{"did:key:nope", "files", "", ""}, false},
		{"empty app type", Spec{a, "", "", ""}, false},
		{"upper-case app type", Spec{a, "Files", "", ""}, false},
		{"long app type", Spec{a, strings.Repeat("a", 65), "", ""}, false},
		{"long ext", Spec{a, "files", strings.Repeat("e", 65), ""}, false},
		{"long mark", Spec{a, "files", "", strings.Repeat("m", 257)}, false},
		{"bad utf-8", Spec{a, "files", "\xff", ""}, false},
		{"unresolved auto", Spec{a, "files", "", AutoMark}, false},
	}
	for _, tc := range tests {
		_, err := DeriveID(tc.spec)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadSpec)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Auto marks: fresh each time, and the resolved spec reproduces the ID.
	id1, s1, err := NewID(Spec{a, "files", "", AutoMark})
	if err != nil {
		t.Fatal(err)
	}
	id2, _, _ := NewID(Spec{a, "files", "", AutoMark})
	if id1 == id2 || !strings.HasPrefix(s1.Mark, "auto-") {
		t.Fatalf("auto marks: %s %s %q", id1, id2, s1.Mark)
	}
	if again, _ := DeriveID(s1); again != id1 {
		t.Fatal("resolved spec does not reproduce the ID")
	}
	for _, bad := range []string{"", "m", "x" + id1.String()[1:], id1.String() + "a", "m" + strings.Repeat("1", 32)} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q): %v", bad, err)
		}
	}
}

func signer(t *testing.T) Signer {
	t.Helper()
	persona, _ := author(t)
	dev := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	cert, err := identity.IssueDeviceCertV1(persona, dev.Public().(ed25519.PublicKey), 7, time.Unix(1_800_000_000, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Device: dev, Cert: cert}
}

func testVersion(t *testing.T, s Signer) (*Version, ID) {
	t.Helper()
	id, err := DeriveID(Spec{s.Cert.Persona, "files", "", "v"})
	if err != nil {
		t.Fatal(err)
	}
	v := &Version{MiMei: id, Number: 1, Parent: cid.Sum(cid.DagCBOR, []byte("v0")), Time: time.Unix(1_800_000_100, 5e8),
		Memo: "first edit", Files: cid.Sum(cid.DagCBOR, []byte("tree")), DB: cid.Sum(cid.DagCBOR, []byte("db"))}
	if err := v.Sign(s); err != nil {
		t.Fatal(err)
	}
	return v, id
}

var now = time.Unix(1_800_000_200, 0)

// typed reports whether err is one of the errors a caller can branch on.
func typed(err error) bool {
	for _, e := range []error{ErrMalformed, ErrUnsupportedVersion, ErrBadSignature, ErrCertificate, ErrWrongMiMei} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func TestVersionRoundTripAndTamper(t *testing.T) {
	s := signer(t)
	v, id := testVersion(t, s)
	enc, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseVersion(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(id, now, nil); err != nil {
		t.Fatal(err)
	}
	if got.Memo != v.Memo || got.Files != v.Files || got.DB != v.DB || got.Parent != v.Parent || !got.Time.Equal(v.Time) || got.Author != s.Cert.Persona {
		t.Fatalf("round trip: %+v", got)
	}
	// One tampered byte anywhere: never verifies, always a typed error.
	for i := range enc {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), enc...)
			b[i] ^= flip
			p, err := ParseVersion(b)
			if err == nil {
				err = p.Verify(id, now, nil)
			}
			if err == nil {
				t.Fatalf("byte %d ^%#x: tampered version record verified", i, flip)
			}
			if !typed(err) {
				t.Fatalf("byte %d ^%#x: untyped error %v", i, flip, err)
			}
		}
	}
}

func TestVersionRejects(t *testing.T) {
	s := signer(t)
	v, id := testVersion(t, s)
	other, _ := DeriveID(Spec{s.Cert.Persona, "files", "", "other"})
	if err := v.Verify(other, now, nil); !errors.Is(err, ErrWrongMiMei) {
		t.Errorf("wrong MiMei: %v", err)
	}
	revoked := func(string, uint64) bool { return true }
	if err := v.Verify(id, now, revoked); !errors.Is(err, ErrCertificate) || !errors.Is(err, identity.ErrRevoked) {
		t.Errorf("revoked certificate: %v", err)
	}
	// A record claiming another author than its certificate's persona.
	w := *v
	w.Author = identity.DID(ed25519.NewKeyFromSeed(append(make([]byte, 31), 9)).Public().(ed25519.PublicKey))
	if err := w.Verify(id, now, nil); !errors.Is(err, ErrCertificate) {
		t.Errorf("author mismatch: %v", err)
	}
	// Another format version is reported as such.
	enc, _ := v.Marshal()
	var elems []codec.RawMessage
	codec.Unmarshal(enc, &elems)
	elems[0], _ = codec.Marshal(uint16(2))
	v2, _ := codec.Marshal(elems)
	if _, err := ParseVersion(v2); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("format 2: %v", err)
	}
	// Structural rules.
	bad := &Version{MiMei: id, Number: 3, Time: now}
	if err := bad.Sign(s); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 3 without parent: %v", err)
	}
	bad = &Version{MiMei: id, Number: 0, Time: now, Memo: strings.Repeat("x", MaxMemoLen+1)}
	if err := bad.Sign(s); !errors.Is(err, ErrMalformed) {
		t.Errorf("long memo: %v", err)
	}
	// A signer whose certificate is for another device is refused.
	s2 := s
	s2.Device = ed25519.NewKeyFromSeed(append(make([]byte, 31), 3))
	if err := (&Version{MiMei: id, Time: now}).Sign(s2); err == nil {
		t.Error("signer with a foreign certificate accepted")
	}
}

func TestPointerRoundTripAndTamper(t *testing.T) {
	s := signer(t)
	v, id := testVersion(t, s)
	vc, _ := v.CID()
	p := &Pointer{MiMei: id, Name: PointerLast, Number: v.Number, Target: vc, Seq: 4, Time: now}
	if err := p.Sign(s); err != nil {
		t.Fatal(err)
	}
	enc, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePointer(enc)
	if err != nil || got.Verify(id, now, nil) != nil || got.Target != vc || got.Seq != 4 || got.Name != PointerLast {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for i := range enc {
		b := append([]byte(nil), enc...)
		b[i] ^= 0x01
		q, err := ParsePointer(b)
		if err == nil {
			err = q.Verify(id, now, nil)
		}
		if err == nil || !typed(err) {
			t.Fatalf("byte %d: tampered pointer: %v", i, err)
		}
	}
	if err := (&Pointer{MiMei: id, Name: "head", Target: vc}).Sign(s); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad pointer name: %v", err)
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseVersion(b); err == nil {
			if _, err := v.Marshal(); err != nil {
				t.Fatalf("parsed but does not re-encode: %v", err)
			}
		}
	})
}

func FuzzParsePointer(f *testing.F) {
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParsePointer(b); err == nil {
			if _, err := p.Marshal(); err != nil {
				t.Fatalf("parsed but does not re-encode: %v", err)
			}
		}
	})
}
