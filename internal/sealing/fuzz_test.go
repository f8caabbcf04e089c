package sealing

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzParseKeyRecord and testdata/fuzz/FuzzOpen.
// Key record seeds named valid-* parse and verify with fuzzSigner trusted;
// sealed block seeds named valid-* open under fuzzKey. Regenerate them with
//
//	go test -run TestFuzzSeedsAreValid ./internal/sealing/ -args -write-seeds
//
// Key record seeds are not reproducible byte for byte (HPKE encapsulation
// is randomised), so only their validity is checked; block seeds are
// deterministic and must match the code.
var writeSeeds = flag.Bool("write-seeds", false, "rewrite the generated seeds under testdata/fuzz")

const (
	recordSeedDir = "testdata/fuzz/FuzzParseKeyRecord"
	blockSeedDir  = "testdata/fuzz/FuzzOpen"
)

// fuzzKey is the content key FuzzOpen opens with, in every suite.
var fuzzKey = testKey(0x42)

// fuzzOpen opens a sealed block with fuzzKey in the suite its first byte
// names (XChaCha20-Poly1305 for a byte that names none, so the error
// paths are reached too), and returns that key.
func fuzzOpen(t testing.TB, data []byte) ([]byte, *BlockKey, error) {
	s := SuiteXChaCha20Poly1305
	if len(data) > 0 && Suite(data[0]).Known() {
		s = Suite(data[0])
	}
	k := blockKey(t, fuzzKey, s)
	pt, err := k.Open(data)
	return pt, k, err
}

// fuzzSigner signs the key record seeds.
var fuzzSigner = keyFromSeed(9)

func FuzzParseKeyRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseKeyRecord(data)
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
		if err := r.Verify(trust(fuzzSigner)); err != nil && !typed(err) {
			t.Fatalf("untyped Verify error: %v", err)
		}
		for _, rk := range r.Readers {
			if w, ok := r.For(rk.Persona); !ok || !bytes.Equal(w, rk.Wrapped) {
				t.Fatalf("For(%s) does not find its entry", rk.Persona)
			}
		}
	})
}

func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, k, err := fuzzOpen(t, data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		// Anything that opens is exactly what Seal makes of its plaintext.
		if again := k.Seal(pt); !bytes.Equal(again, data) {
			t.Fatalf("opened block is not Seal's output")
		}
	})
}

func recordSeeds(t *testing.T) map[string][]byte {
	alice, bob := newPersona(t, 1), newPersona(t, 2)
	_, one := signedRecord(t, fuzzSigner, 0, alice)
	_, two := signedRecord(t, fuzzSigner, 6, alice, bob)
	_, forged := signedRecord(t, fuzzSigner, 0, bob)
	forged.Sig[0] ^= 0x80
	_, other := signedRecord(t, keyFromSeed(66), 0, alice)
	return map[string][]byte{
		"valid-one-reader":  mustMarshal(t, one),
		"valid-two-readers": mustMarshal(t, two),
		"forged":            mustMarshal(t, forged),
		"untrusted":         mustMarshal(t, other),
		"junk-empty":        {},
		"junk-array":        {0x80},
		"junk-version-3":    {0x82, 0x03, 0x60},
	}
}

func blockSeeds(t testing.TB) map[string][]byte {
	x, a := blockKey(t, fuzzKey, SuiteXChaCha20Poly1305), blockKey(t, fuzzKey, SuiteAES256GCM)
	return map[string][]byte{
		"valid-empty":     x.Seal(nil),
		"valid-short":     x.Seal([]byte("hello, sealed world")),
		"valid-4k":        x.Seal(pattern(4<<10, 5)),
		"valid-aes-empty": a.Seal(nil),
		"valid-aes-short": a.Seal([]byte("hello, sealed world")),
		"other-key":       blockKey(t, testKey(0x43), SuiteXChaCha20Poly1305).Seal([]byte("hello, sealed world")),
		"aes-other-key":   blockKey(t, testKey(0x43), SuiteAES256GCM).Seal([]byte("hello, sealed world")),
		"junk-empty":      {},
		"junk-format2":    append([]byte{2}, make([]byte, Overhead)...),
		"junk-format3":    append([]byte{3}, make([]byte, Overhead)...),
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

func writeSeedDir(t *testing.T, dir string, seeds map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seedFile(b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFuzzSeedsAreValid(t *testing.T) {
	if *writeSeeds {
		writeSeedDir(t, recordSeedDir, recordSeeds(t))
		writeSeedDir(t, blockSeedDir, blockSeeds(t))
	}
	valid, _ := filepath.Glob(recordSeedDir + "/valid-*")
	if len(valid) < 2 {
		t.Fatalf("want at least 2 valid key record seeds, found %d", len(valid))
	}
	for _, path := range valid {
		b := readSeed(t, path)
		r, err := ParseKeyRecord(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := r.Verify(trust(fuzzSigner)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, err := r.Unwrap(newPersona(t, 1).did, newPersona(t, 1).enc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	valid, _ = filepath.Glob(blockSeedDir + "/valid-*")
	if len(valid) < 2 {
		t.Fatalf("want at least 2 valid block seeds, found %d", len(valid))
	}
	for name, b := range blockSeeds(t) {
		if got := readSeed(t, filepath.Join(blockSeedDir, name)); !bytes.Equal(got, b) {
			t.Errorf("%s: stale seed; regenerate with -write-seeds", name)
		}
		if _, _, err := fuzzOpen(t, b); (err == nil) != strings.HasPrefix(name, "valid-") {
			t.Errorf("%s: Open err = %v", name, err)
		}
	}
}
