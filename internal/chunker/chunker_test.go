package chunker

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"
	"pgregory.net/rapid"
)

// pseudoRandom returns n deterministic bytes: the BLAKE3 XOF of seed. Unlike
// math/rand, its output is fixed by a published specification, so golden
// values built on it stay valid across Go releases.
func pseudoRandom(seed string, n int) []byte {
	h := blake3.New()
	h.WriteString(seed)
	out := make([]byte, n)
	if _, err := io.ReadFull(h.Digest(), out); err != nil {
		panic(err)
	}
	return out
}

func testKey() []byte { return pseudoRandom("peer chunker test key", KeySize) }

type fataler interface {
	Helper()
	Fatal(args ...any)
}

func chunkAll(t fataler, r io.Reader, p Params) []int {
	t.Helper()
	c, err := New(r, p)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(chunk))
	}
}

// sizesDigest condenses a boundary list for golden comparison.
func sizesDigest(sizes []int) string {
	var b strings.Builder
	for _, s := range sizes {
		fmt.Fprintf(&b, "%d,", s)
	}
	d := blake3.Sum256([]byte(b.String()))
	return hex.EncodeToString(d[:8])
}

// TestGoldenBoundaries pins chunk boundaries. If it fails, the algorithm has
// changed under us: files written before would stop deduplicating against
// files written after. Do not update the values; pin the old behaviour or
// introduce a new algorithm name.
func TestGoldenBoundaries(t *testing.T) {
	data := pseudoRandom("peer chunker golden input v1", 8<<20)
	small := Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}
	smallKeyed := small
	smallKeyed.Key = testKey()
	defKeyed := DefaultParams()
	defKeyed.Key = testKey()
	cases := []struct {
		name   string
		p      Params
		count  int
		digest string
		first  []int
	}{
		{"default", DefaultParams(), 30, "71bba395a086dee7", []int{373346, 377582, 277174, 536467, 306024, 277063}},
		{"default-keyed", defKeyed, 27, "7a7b341db439fe4a", []int{326461, 385793, 234689, 321240, 299217, 306964}},
		{"small", small, 440, "8e0a4f338c31ab93", []int{17051, 16533, 8075, 12776, 36212, 16684}},
		{"small-keyed", smallKeyed, 449, "08d340396328b405", []int{20662, 17793, 4852, 5286, 19057, 19711}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sizes := chunkAll(t, bytes.NewReader(data), tc.p)
			got := sizesDigest(sizes)
			first := sizes[:min(6, len(sizes))]
			if len(sizes) != tc.count || got != tc.digest || fmt.Sprint(first) != fmt.Sprint(tc.first) {
				t.Errorf("boundaries changed for %s: %d chunks, digest %q, first %#v; want %d, %q, %#v",
					tc.p.AlgorithmName(), len(sizes), got, first, tc.count, tc.digest, tc.first)
			}
		})
	}
}

func TestKeyChangesBoundaries(t *testing.T) {
	data := pseudoRandom("key test", 4<<20)
	p := Params{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10}
	plain := chunkAll(t, bytes.NewReader(data), p)
	p.Key = testKey()
	keyed := chunkAll(t, bytes.NewReader(data), p)
	p.Key = pseudoRandom("another key", KeySize)
	keyed2 := chunkAll(t, bytes.NewReader(data), p)
	if fmt.Sprint(plain) == fmt.Sprint(keyed) || fmt.Sprint(keyed) == fmt.Sprint(keyed2) {
		t.Fatal("a key does not change the boundaries")
	}
	if got := p.AlgorithmName(); got != KeyedAlgorithm {
		t.Fatalf("AlgorithmName with key = %q", got)
	}
	if got := (Params{}).AlgorithmName(); got != Algorithm {
		t.Fatalf("AlgorithmName without key = %q", got)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Params{
		{},
		{Min: 32, Avg: 128, Max: 256},
		{Min: 128, Avg: 128, Max: 256},
		{Min: 64, Avg: 100, Max: 256},
		{Min: 64, Avg: 128, Max: 128},
		{Min: 64 << 10, Avg: 256 << 10, Max: MaxChunkSize + 1},
		{Min: 64, Avg: 128, Max: 256, Key: []byte("short")},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidParams", p, err)
		}
		if _, err := New(bytes.NewReader(nil), p); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("New(%+v) = %v, want ErrInvalidParams", p, err)
		}
	}
}

func TestEmptyAndTiny(t *testing.T) {
	p := Params{Min: 64, Avg: 128, Max: 256}
	c, err := New(bytes.NewReader(nil), p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if chunk, err := c.Next(); err != io.EOF || chunk != nil {
			t.Fatalf("empty stream: %v, %v", chunk, err)
		}
	}
	for _, n := range []int{1, 63, 64, 65, 127, 128, 255, 256, 257, 512, 513} {
		data := pseudoRandom("tiny", n)
		sizes := chunkAll(t, bytes.NewReader(data), p)
		total := 0
		for i, s := range sizes {
			if s == 0 || s > p.Max || (s < p.Min && i != len(sizes)-1) {
				t.Fatalf("n=%d: bad sizes %v", n, sizes)
			}
			total += s
		}
		if total != n {
			t.Fatalf("n=%d: sizes %v add to %d", n, sizes, total)
		}
	}
}

// TestReadErrors: a failing reader's error surfaces, and one-byte reads give
// the same boundaries as whole reads.
func TestReaders(t *testing.T) {
	p := Params{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}
	data := pseudoRandom("readers", 200<<10)
	whole := chunkAll(t, bytes.NewReader(data), p)
	oneByte := chunkAll(t, iotest.OneByteReader(bytes.NewReader(data)), p)
	if fmt.Sprint(whole) != fmt.Sprint(oneByte) {
		t.Fatal("boundaries depend on read sizes")
	}
	boom := errors.New("boom")
	c, err := New(io.MultiReader(bytes.NewReader(data[:50<<10]), iotest.ErrReader(boom)), p)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want boom", err)
		}
		break
	}
}

// TestProperties: for random params and data, chunks concatenate to the
// input, respect the bounds, and chunking a prefix that ends on a boundary
// gives the same boundaries (what makes edits local).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minSize := rapid.IntRange(MinChunkSize, 4096).Draw(t, "min")
		avgBits := rapid.IntRange(bitsFor(minSize+1), 15).Draw(t, "avgBits")
		avg := 1 << avgBits
		maxSize := rapid.IntRange(avg+1, 4*avg).Draw(t, "max")
		p := Params{Min: minSize, Avg: avg, Max: maxSize}
		if rapid.Bool().Draw(t, "keyed") {
			p.Key = testKey()
		}
		n := rapid.IntRange(0, 256<<10).Draw(t, "n")
		data := pseudoRandom(fmt.Sprint("prop", rapid.Int().Draw(t, "seed")), n)
		c, err := New(bytes.NewReader(data), p)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		var sizes []int
		for {
			chunk, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(chunk) == 0 || len(chunk) > p.Max {
				t.Fatalf("chunk of %d bytes", len(chunk))
			}
			if len(sizes) > 0 && sizes[len(sizes)-1] < p.Min {
				t.Fatalf("short chunk before the last: %v", sizes)
			}
			sizes = append(sizes, len(chunk))
			got = append(got, chunk...)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("chunks do not concatenate to the input")
		}
		if len(sizes) > 1 {
			k := rapid.IntRange(1, len(sizes)-1).Draw(t, "k")
			end := 0
			for _, s := range sizes[:k] {
				end += s
			}
			prefix := chunkAll(t, bytes.NewReader(data[:end]), p)
			if fmt.Sprint(prefix) != fmt.Sprint(sizes[:k]) {
				t.Fatalf("prefix boundaries %v, want %v", prefix, sizes[:k])
			}
		}
	})
}

func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}
