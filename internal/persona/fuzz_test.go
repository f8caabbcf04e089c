package persona

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzParseEntry; files named valid-* hold
// entries that parse and verify (TestFuzzSeedsAreValid keeps them so).
// PERSONA_WRITE_SEEDS=1 go test -run TestWriteSeeds writes them again.

func FuzzParseEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("parsed entry does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x", data, again)
		}
		if err := e.VerifySignature(); err != nil && !typed(err) {
			t.Fatalf("untyped VerifySignature error: %v", err)
		}
	})
}

const seedDir = "testdata/fuzz/FuzzParseEntry"

func TestWriteSeeds(t *testing.T) {
	if os.Getenv("PERSONA_WRITE_SEEDS") == "" {
		t.Skip("set PERSONA_WRITE_SEEDS=1 to write the fuzz seeds")
	}
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range sampleEntries(t, newFixture(t, 1)) {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("valid-%s-%d", e.Kind, e.Seq)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(seedDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFuzzSeedsAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(seedDir, "valid-*"))
	if err != nil || len(files) < 8 {
		t.Fatalf("%d valid seeds (%v)", len(files), err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.SplitN(string(b), "\n", 3)[1]
		var data []byte
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"), "%q", &data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e, err := ParseEntry(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := e.VerifySignature(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
