package identity

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Seeds live in testdata/fuzz/<FuzzName>; files named valid-* hold records
// that parse and verify (TestFuzzSeedsAreValid keeps them so).

func FuzzParseDeviceCertV1(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDeviceCertV1(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil {
			t.Fatalf("parsed certificate does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x", data, again)
		}
		if err := c.Verify(time.Unix(c.IssuedAt, 0), nil); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseRevocation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRevocationV1(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if err := r.Verify(); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseOpCert(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseOpCert(data)
		if err != nil {
			if !typedV2(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if err := c.Verify(); err != nil && !typedV2(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

// fuzzOp is the operational certificate a fuzzed device certificate is
// verified under: the one the valid seeds were issued by.
func fuzzOp(t testing.TB) *OpCert {
	t.Helper()
	root, err := RootFromMnemonic(abandonArt)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Wipe()
	op, err := IssueOpCert(root, 0, 1, 0, t2)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func FuzzParseDeviceCert(f *testing.F) {
	op := fuzzOp(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDeviceCert(data)
		if err != nil {
			if !typedV2(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if err := c.Verify(op, time.Unix(c.IssuedAt, 0)); err != nil && !typedV2(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseEncKeyCert(f *testing.F) {
	op := fuzzOp(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseEncKeyCert(data)
		if err != nil {
			if !typedV2(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		if _, err := c.PublicKey(); err != nil {
			t.Fatalf("parsed certificate without a public key: %v", err)
		}
		if err := c.Verify(op); err != nil && !typedV2(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

func FuzzParseCredential(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCredential(data)
		if err != nil {
			if !typedV2(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x (%v)", data, again, err)
		}
		pins := testPins{epochs: map[string]uint32{c.Op.Persona: 2}}
		if _, _, err := c.Verify(c.Op.Persona, time.Unix(c.Device.IssuedAt, 0), pins); err != nil && !typedV2(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
	})
}

// readSeed reads one file of the go test fuzz v1 corpus format holding a
// single []byte value.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a []byte corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

func TestFuzzSeedsAreValid(t *testing.T) {
	certs, _ := filepath.Glob("testdata/fuzz/FuzzParseDeviceCertV1/valid-*")
	revs, _ := filepath.Glob("testdata/fuzz/FuzzParseRevocation/valid-*")
	if len(certs) < 2 || len(revs) < 1 {
		t.Fatalf("want valid seeds, found %d certificates and %d revocations", len(certs), len(revs))
	}
	for _, p := range certs {
		c, err := ParseDeviceCertV1(readSeed(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := c.Verify(time.Unix(c.IssuedAt, 0), nil); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	for _, p := range revs {
		r, err := ParseRevocationV1(readSeed(t, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := r.Verify(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

// TestFuzzSeedsAreValidFormat2 keeps the valid-* seeds of the format-2
// decoders valid: the operational certificates verify, the device
// and encryption-key certificates verify under the epoch-1 certificate
// the fuzz targets use, and the credentials verify for their persona.
func TestFuzzSeedsAreValidFormat2(t *testing.T) {
	glob := func(name string) []string {
		ps, _ := filepath.Glob("testdata/fuzz/" + name + "/valid-*")
		if len(ps) < 2 {
			t.Fatalf("%s: want at least two valid seeds, found %d", name, len(ps))
		}
		return ps
	}
	for _, p := range glob("FuzzParseOpCert") {
		c, err := ParseOpCert(readSeed(t, p))
		if err == nil {
			err = c.Verify()
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	op := fuzzOp(t)
	for _, p := range glob("FuzzParseDeviceCert") {
		c, err := ParseDeviceCert(readSeed(t, p))
		if err == nil {
			err = c.Verify(op, time.Unix(c.IssuedAt, 0))
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range glob("FuzzParseEncKeyCert") {
		c, err := ParseEncKeyCert(readSeed(t, p))
		if err == nil {
			err = c.Verify(op)
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range glob("FuzzParseCredential") {
		c, err := ParseCredential(readSeed(t, p))
		if err == nil {
			_, _, err = c.Verify(c.Op.Persona, time.Unix(c.Device.IssuedAt, 0), nil)
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
