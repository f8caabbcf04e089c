package filetree

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"pgregory.net/rapid"
)

// shortReader returns reads of random lengths from 1 to max bytes.
type shortReader struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func (s *shortReader) Read(p []byte) (int, error) {
	n := min(len(p), 1+s.rng.IntN(s.max))
	return s.r.Read(p[:n])
}

// leafCIDs returns the leaves of the file at root in file order (the data
// must have no repeated chunk, as Walk reports each CID once).
func leafCIDs(t interface {
	Helper()
	Fatal(...any)
}, s *memStore, root cid.CID) []cid.CID {
	t.Helper()
	var leaves []cid.CID
	if err := Walk(context.Background(), s, root, func(c cid.CID) error {
		if c.Prefix().Codec == cid.Raw {
			leaves = append(leaves, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return leaves
}

func wantLeaves(data []byte, p chunker.Params) []cid.CID {
	var out []cid.CID
	off := 0
	for _, n := range boundaries(data, p) {
		out = append(out, cid.Sum(cid.Raw, data[off:off+n]))
		off += n
	}
	return out
}

func setSegmentSizes(t interface{ Cleanup(func()) }, first, most int) {
	f, m := firstBody, maxBody
	firstBody, maxBody = first, most
	t.Cleanup(func() { firstBody, maxBody = f, m })
}

// TestSegmentsCutLikeChunker: Write reads into segments and cuts across
// their seams exactly where chunker.Chunker cuts the whole stream, whatever
// the segment sizes and however the reader splits its data.
func TestSegmentsCutLikeChunker(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := smallParams
		if rapid.Bool().Draw(rt, "keyed") {
			p.Key = pseudoRandom("k", chunker.KeySize)
		}
		first := rapid.IntRange(1, 600).Draw(rt, "firstBody")
		setSegmentSizes(rt, first, first*rapid.IntRange(1, 8).Draw(rt, "growth"))
		data := pseudoRandom(fmt.Sprint(rapid.Int().Draw(rt, "seed")), rapid.IntRange(p.Min+1, 40<<10).Draw(rt, "n"))
		s := newMemStore()
		r := &shortReader{r: bytes.NewReader(data), rng: rand.New(rand.NewPCG(1, uint64(len(data)))), max: rapid.IntRange(1, 2000).Draw(rt, "maxRead")}
		root, size, err := Write(context.Background(), r, s, p, nil)
		if err != nil || size != int64(len(data)) {
			rt.Fatalf("Write: %v, size %d of %d", err, size, len(data))
		}
		got, want := leafCIDs(rt, s, root), wantLeaves(data, p)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			rt.Fatalf("%d leaves, want %d (first differs at %d)", len(got), len(want), firstDiff(got, want))
		}
	})
}

// TestSegmentsDefaultSizes crosses the real segment sizes (bodies growing
// from 256 KiB to 4 MiB) with default chunk sizes.
func TestSegmentsDefaultSizes(t *testing.T) {
	p := chunker.DefaultParams()
	data := pseudoRandom("segments", 21<<20+12345)
	s := newMemStore()
	r := &shortReader{r: bytes.NewReader(data), rng: rand.New(rand.NewPCG(2, 3)), max: 300 << 10}
	root, _, err := Write(context.Background(), r, s, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := leafCIDs(t, s, root), wantLeaves(data, p)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%d leaves, want %d (first differs at %d)", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []cid.CID) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
