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
