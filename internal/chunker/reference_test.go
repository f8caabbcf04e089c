package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	"github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // also registers "fastcdc-v1.0.0"
	"pgregory.net/rapid"
)

// The reference: go-cdc-chunkers v1.1.0 as this package wrapped it before it
// had its own cut-point search (the library's final short chunk comes with
// io.EOF; a read error ends the stream).

type refChunker struct {
	c    *chunkers.Chunker
	done bool
}

func newRef(r io.Reader, p Params) (*refChunker, error) {
	opts := &chunkers.ChunkerOpts{MinSize: p.Min, NormalSize: p.Avg, MaxSize: p.Max}
	if p.Key != nil {
		opts.Key = append([]byte(nil), p.Key...)
	}
	c, err := chunkers.NewChunkerBuffer("fastcdc-v1.0.0", r, opts, make([]byte, 2*p.Max))
	if err != nil {
		return nil, err
	}
	return &refChunker{c: c}, nil
}

func (c *refChunker) Next() ([]byte, error) {
	if c.done {
		return nil, io.EOF
	}
	chunk, err := c.c.Next()
	switch {
	case err == io.EOF:
		c.done = true
		if len(chunk) == 0 {
			return nil, io.EOF
		}
		return chunk, nil
	case err != nil:
		c.done = true
		return nil, err
	case len(chunk) == 0:
		c.done = true
		return nil, io.EOF
	}
	return chunk, nil
}

type nexter interface{ Next() ([]byte, error) }

// drain returns the chunk sizes and the error that ended the stream (nil at
// io.EOF), checking the chunks against data.
func drain(t fataler, c nexter, data []byte) ([]int, error) {
	t.Helper()
	var sizes []int
	off := 0
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return sizes, nil
		}
		if err != nil {
			if chunk != nil {
				t.Fatal("chunk returned with an error")
			}
			return sizes, err
		}
		if len(chunk) == 0 || !bytes.Equal(chunk, data[off:off+len(chunk)]) {
			t.Fatal("chunk does not match the input")
		}
		off += len(chunk)
		sizes = append(sizes, len(chunk))
	}
}

// shortReader returns 1..max bytes per Read (and now and then 0, nil),
// driven by seed.
type shortReader struct {
	r   io.Reader
	rnd *rand.Rand
	max int
}

func newShortReader(r io.Reader, seed uint64, max int) *shortReader {
	return &shortReader{r: r, rnd: rand.New(rand.NewPCG(seed, 1)), max: max}
}

func (s *shortReader) Read(p []byte) (int, error) {
	if s.rnd.IntN(16) == 0 {
		return 0, nil
	}
	n := 1 + s.rnd.IntN(s.max)
	return s.r.Read(p[:min(n, len(p))])
}

// failAfter delivers data and then err; with both set, the last bytes come
// together with the error.
func failAfter(data []byte, err error, together bool) io.Reader {
	if together {
		return iotest.DataErrReader(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(err)))
	}
	return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(err))
}

var errBoom = errors.New("boom")

type readerCase struct {
	name string
	mk   func(data []byte) io.Reader
}

func readerCases(p Params) []readerCase {
	return []readerCase{
		{"whole", func(d []byte) io.Reader { return bytes.NewReader(d) }},
		{"onebyte", func(d []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(d)) }},
		{"short", func(d []byte) io.Reader { return newShortReader(bytes.NewReader(d), 7, p.Max/3+1) }},
		{"short-large", func(d []byte) io.Reader { return newShortReader(bytes.NewReader(d), 8, 3*p.Max) }},
		{"boom", func(d []byte) io.Reader { return failAfter(d[:len(d)*2/3], errBoom, false) }},
		{"boom-with-data", func(d []byte) io.Reader { return failAfter(d[:len(d)*2/3], errBoom, true) }},
		{"boom-short", func(d []byte) io.Reader {
			return newShortReader(failAfter(d[:len(d)/2], errBoom, true), 9, p.Max/2+1)
		}},
		{"eof-with-data", func(d []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(d)) }},
	}
}

func testParams() map[string]Params {
	small := Params{Min: 64, Avg: 256, Max: 1024}
	smallKeyed := small
	smallKeyed.Key = testKey()
	defKeyed := DefaultParams()
	defKeyed.Key = testKey()
	mid := Params{Min: 4 << 10, Avg: 64 << 10, Max: 256 << 10}
	midKeyed := mid
	midKeyed.Key = pseudoRandom("another key", KeySize)
	return map[string]Params{
		"default":     DefaultParams(),
		"default-key": defKeyed,
		"small":       small,
		"small-key":   smallKeyed,
		"mid":         mid,
		"mid-key":     midKeyed,
		// The library's historical defaults, for which it uses fixed masks.
		"legacy":  {Min: 2 << 10, Avg: 8 << 10, Max: 64 << 10},
		"narrow":  {Min: 100, Avg: 128, Max: 129},
		"maximal": {Min: MaxChunkSize / 4, Avg: MaxChunkSize / 2, Max: MaxChunkSize},
	}
}

func compare(t *testing.T, data []byte, p Params, mk func([]byte) io.Reader) {
	t.Helper()
	ours, err := New(mk(data), p)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := newRef(mk(data), p)
	if err != nil {
		t.Fatal(err)
	}
	gotSizes, gotErr := drain(t, ours, data)
	wantSizes, wantErr := drain(t, ref, data)
	if fmt.Sprint(gotSizes) != fmt.Sprint(wantSizes) || gotErr != wantErr {
		t.Fatalf("n=%d: got %d chunks %v, err %v; library %d chunks %v, err %v",
			len(data), len(gotSizes), head(gotSizes), gotErr, len(wantSizes), head(wantSizes), wantErr)
	}
}

func head(s []int) []int {
	if i := firstDiffHint; i < len(s) {
		return s[:i]
	}
	return s
}

const firstDiffHint = 12

// TestMatchesLibrary: boundaries, and where a read error ends the stream,
// are the library's, for many sizes, params and readers.
func TestMatchesLibrary(t *testing.T) {
	for name, p := range testParams() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sizes := []int{0, 1, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max - 1, p.Max, p.Max + 1,
				2*p.Max + p.Min, 10 * p.Max}
			for _, rc := range readerCases(p) {
				for i, n := range sizes {
					// One-byte reads are slow (under -race especially): keep
					// them to the sizes around one chunk.
					if rc.name == "onebyte" && n > min(2*p.Max+p.Min, 600<<10) ||
						rc.name != "whole" && rc.name != "short-large" && n > 4<<20 {
						continue
					}
					data := pseudoRandom(fmt.Sprint("match", name, i), n)
					compare(t, data, p, rc.mk)
				}
			}
			// Low-entropy input: long runs hash to the same fp, so cut points
			// fall (or fail to fall) differently than on random bytes.
			zeros := make([]byte, 5*p.Max+3)
			compare(t, zeros, p, readerCases(p)[0].mk)
			text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 8*p.Max/44)
			compare(t, text, p, readerCases(p)[0].mk)
		})
	}
}

func TestMatchesLibraryLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: chunks 64 MiB")
	}
	size := 64 << 20
	if raceEnabled {
		size = 16 << 20 // about 10 s instead of 40
	}
	data := pseudoRandom("match large", size)
	for _, name := range []string{"default", "default-key", "mid"} {
		p := testParams()[name]
		t.Run(name, func(t *testing.T) {
			compare(t, data, p, readerCases(p)[0].mk)
			compare(t, data, p, readerCases(p)[2].mk)
		})
	}
}

// TestMatchesLibraryRapid: the same for random params, sizes and readers.
func TestMatchesLibraryRapid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minSize := rapid.IntRange(MinChunkSize, 8192).Draw(t, "min")
		avg := 1 << rapid.IntRange(bitsFor(minSize+1), 16).Draw(t, "avgBits")
		p := Params{Min: minSize, Avg: avg, Max: rapid.IntRange(avg+1, 4*avg).Draw(t, "max")}
		if rapid.Bool().Draw(t, "keyed") {
			p.Key = pseudoRandom(fmt.Sprint("key", rapid.IntRange(0, 3).Draw(t, "key")), KeySize)
		}
		n := rapid.IntRange(0, 600<<10).Draw(t, "n")
		data := pseudoRandom(fmt.Sprint("rapid", rapid.Int().Draw(t, "seed")), n)
		cases := readerCases(p)
		rc := cases[rapid.IntRange(0, len(cases)-1).Draw(t, "reader")]
		ours, err := New(rc.mk(data), p)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := newRef(rc.mk(data), p)
		if err != nil {
			t.Fatal(err)
		}
		gotSizes, gotErr := drain(t, ours, data)
		wantSizes, wantErr := drain(t, ref, data)
		if fmt.Sprint(gotSizes) != fmt.Sprint(wantSizes) || gotErr != wantErr {
			t.Fatalf("%s: got %v, %v; library %v, %v", rc.name, gotSizes, gotErr, wantSizes, wantErr)
		}
	})
}

// TestScan: the four-lane scan finds the same first hit (and fp) as the
// plain loop, for any start fp, with masks of 8 to 15 bits: sparse enough
// that lane 0 often runs through its block, dense enough that the other
// lanes often hit in the same round.
func TestScan(t *testing.T) {
	data := pseudoRandom("scan", 5*4*laneBlock+333)
	keyed, err := gearTable(testKey())
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for trial := range 800 {
		gear := &fastcdc.G
		if trial%2 == 1 {
			gear = keyed
		}
		var mask uint64
		for bits.OnesCount64(mask) < 8+trial%8 {
			mask |= 1 << rnd.IntN(64)
		}
		fp := rnd.Uint64()
		lo := rnd.IntN(len(data) / 4)
		hi := lo + rnd.IntN(len(data)-lo+1)
		d := data[lo:hi]
		gi, gfp := scan(gear, fp, mask, d)
		wi, wfp := scan1(gear, fp, mask, d)
		if gi != wi || gfp != wfp {
			t.Fatalf("trial %d: scan = %d, %#x; want %d, %#x", trial, gi, gfp, wi, wfp)
		}
	}
}

// TestBadReader: a reader that claims more bytes than it was given is an
// error, not a panic or a silent overrun.
func TestBadReader(t *testing.T) {
	c, err := New(badReader{}, Params{Min: 64, Avg: 128, Max: 256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); !errors.Is(err, errBadRead) {
		t.Fatalf("got %v, want errBadRead", err)
	}
	if _, err := c.Next(); err != io.EOF {
		t.Fatalf("after an error: %v, want io.EOF", err)
	}
}

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// TestNoProgress: a reader stuck at (0, nil) gives io.ErrNoProgress, like
// the library.
func TestNoProgress(t *testing.T) {
	p := Params{Min: 64, Avg: 128, Max: 256}
	mk := func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, 1000)), stuckReader{}) }
	c, _ := New(mk(), p)
	r, _ := newRef(mk(), p)
	got, gotErr := drain(t, c, make([]byte, 1000))
	want, wantErr := drain(t, r, make([]byte, 1000))
	if fmt.Sprint(got) != fmt.Sprint(want) || gotErr != io.ErrNoProgress || wantErr != io.ErrNoProgress {
		t.Fatalf("got %v, %v; library %v, %v", got, gotErr, want, wantErr)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// TestScanEveryLanePosition forces the first hit to a chosen offset q: with
// mask = ^fp(q), fp(q)&mask == 0, while an earlier fp(x) hits only if its
// one-bits are a subset of fp(q)'s (about (3/4)^64 odds). Offsets next to
// lane and round boundaries are where a lane's rebuilt hash would first be
// wrong.
func TestScanEveryLanePosition(t *testing.T) {
	data := pseudoRandom("scan positions", 3*4*laneBlock+100)
	gear := &fastcdc.G
	const start = 0x0123456789abcdef
	fps := make([]uint64, len(data))
	fp := uint64(start)
	for i, b := range data {
		fp = fp<<1 + gear[b]
		fps[i] = fp
	}
	var qs []int
	for edge := 0; edge <= len(data); edge += laneBlock {
		for q := edge - 3; q <= edge+3; q++ {
			if q >= 0 && q < len(data) {
				qs = append(qs, q)
			}
		}
	}
	for _, q := range qs {
		mask := ^fps[q]
		want := q
		for x := range q {
			if fps[x]&mask == 0 {
				want = x
				break
			}
		}
		if i, f := scan(gear, start, mask, data); i != want || f != fps[want] {
			t.Fatalf("q=%d: scan = %d, %#x; want %d, %#x", q, i, f, want, fps[want])
		}
	}
	// No hit: the final fp.
	if i, f := scan(gear, start, ^uint64(0), data[:2*4*laneBlock]); i != 2*4*laneBlock || f != fps[i-1] {
		t.Fatalf("no hit: scan = %d, %#x", i, f)
	}
}
