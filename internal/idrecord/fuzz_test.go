package idrecord

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Seeds live in testdata/fuzz/FuzzParse; files named valid-* hold records
// that parse and verify at their Issued time (TestFuzzSeedsAreValid keeps
// them so). Regenerate them with
//
//	go test -run TestFuzzSeedsAreValid ./internal/idrecord/ -args -write-seeds
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated seeds under testdata/fuzz/FuzzParse")

const seedDir = "testdata/fuzz/FuzzParse"

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("parsed record does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("parse/marshal not identity: %x -> %x", data, again)
		}
		if err := r.Verify(r.Issued, nil); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
		r.DeviceKeys()
	})
}

// seeds builds the generated seed corpus: valid records and some that
// parse but fail Verify.
func seeds(t *testing.T) map[string][]byte {
	p := newPersona(t, 1, 3)
	forged := p.signed(t, 3, nil)
	forged.Sig[0] ^= 0x80
	return map[string][]byte{
		"valid-minimal": mustMarshal(t, p.signed(t, 1, func(r *Record) {
			r.Devices = r.Devices[:1]
			r.Devices[0].Addrs = nil
		})),
		"valid-full": mustMarshal(t, p.signed(t, 2, func(r *Record) {
			r.EncKey = bytes.Repeat([]byte{0xe5}, 32)
			r.Mailboxes = []string{"12D3KooWMailboxA", "12D3KooWMailboxB"}
			r.Profile = &Profile{Name: "Ada", About: "Writes notes.\nRuns nodes."}
		})),
		"forged":        mustMarshal(t, forged),
		"junk-empty":    {},
		"junk-array":    {0x80},
		"junk-format-2": {0x82, 0x02, 0x60},
		"junk-text":     []byte("/peerid/not a record"),
	}
}

func seedFile(b []byte) string {
	return "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
}

// readSeed reads one corpus file holding a single []byte value.
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
	if *writeSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds(t) {
			if err := os.WriteFile(filepath.Join(seedDir, name), []byte(seedFile(b)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid, _ := filepath.Glob(seedDir + "/valid-*")
	if len(valid) < 2 {
		t.Fatalf("want at least 2 valid seeds, found %d", len(valid))
	}
	for _, path := range valid {
		b := readSeed(t, path)
		r, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := r.Verify(r.Issued.Add(time.Minute), nil); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if again := mustMarshal(t, r); !bytes.Equal(again, b) {
			t.Fatalf("%s: re-marshal differs", path)
		}
	}
	// The generated seeds are deterministic (fixed keys and times, and
	// Ed25519 signatures are deterministic): they still match the code.
	for name, b := range seeds(t) {
		if got := readSeed(t, filepath.Join(seedDir, name)); !bytes.Equal(got, b) {
			t.Errorf("%s: stale seed; regenerate with -write-seeds", name)
		}
	}
}
