package filetree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"pgregory.net/rapid"
)

type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// roundTrip writes data, checks the root kind and that everything written is
// reachable by Walk, reads it back whole and returns the store and root.
func roundTrip(t fataler, data []byte, p chunker.Params) (*memStore, cid.CID) {
	t.Helper()
	ctx := context.Background()
	s := newMemStore()
	var lastProgress int64
	root, size, err := Write(ctx, bytes.NewReader(data), s, p, func(n int64) { lastProgress = n })
	if err != nil {
		t.Fatalf("Write %d bytes: %v", len(data), err)
	}
	if size != int64(len(data)) || lastProgress != size {
		t.Fatalf("Write %d bytes: size %d, progress %d", len(data), size, lastProgress)
	}
	chunks := len(boundaries(data, p))
	if wantRaw := chunks <= 1; (root.Prefix().Codec == cid.Raw) != wantRaw {
		t.Fatalf("%d bytes in %d chunks: root %s", len(data), chunks, root)
	}
	r, err := Open(ctx, s, root)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if r.Size() != int64(len(data)) {
		t.Fatalf("Size %d, want %d", r.Size(), len(data))
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%d bytes: read back differs", len(data))
	}
	reached := map[cid.CID]bool{}
	if err := Walk(ctx, s, root, func(c cid.CID) error {
		if reached[c] {
			t.Fatalf("Walk reports %s twice", c)
		}
		reached[c] = true
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(reached) != len(s.blocks) {
		t.Fatalf("Walk reached %d blocks, %d stored", len(reached), len(s.blocks))
	}
	return s, root
}

// nthBoundary returns the offset after the first n chunks of data.
func nthBoundary(t *testing.T, sizes []int, n int) int {
	t.Helper()
	if n > len(sizes) {
		t.Fatalf("only %d chunks", len(sizes))
	}
	end := 0
	for _, s := range sizes[:n] {
		end += s
	}
	return end
}

func TestRoundTripBoundarySizes(t *testing.T) {
	p := smallParams
	long := pseudoRandom("boundary sizes", 400<<10)
	sizes := boundaries(long, p)
	cases := map[string]int{
		"0": 0, "1": 1, "Min-1": p.Min - 1, "Min": p.Min, "Min+1": p.Min + 1,
		"Avg": p.Avg, "Max-1": p.Max - 1, "Max": p.Max, "Max+1": p.Max + 1,
		"2Max": 2 * p.Max, "2Max+1": 2*p.Max + 1,
		"2chunks":         nthBoundary(t, sizes, 2),
		"node-full":       nthBoundary(t, sizes, MaxFanout),
		"node-full+1":     nthBoundary(t, sizes, MaxFanout+1),
		"node-full+1byte": nthBoundary(t, sizes, MaxFanout) + 1,
	}
	for name, n := range cases {
		t.Run(name, func(t *testing.T) {
			s, root := roundTrip(t, long[:n], p)
			chunks := len(boundaries(long[:n], p))
			// nodes: none for ≤ 1 chunk; one for 2..fanout; 2+1 above that.
			wantNodes := 0
			switch {
			case chunks > MaxFanout:
				wantNodes = (chunks+MaxFanout-1)/MaxFanout + 1
			case chunks > 1:
				wantNodes = 1
			}
			nodes := len(s.blocks) - distinct(long[:n], p) - btoi(chunks > 1)
			if nodes != wantNodes {
				t.Fatalf("%d chunks: %d nodes, want %d (root %s)", chunks, nodes, wantNodes, root)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// distinct counts the distinct chunks of data (the empty file has one: the
// empty block).
func distinct(data []byte, p chunker.Params) int {
	seen := map[cid.CID]bool{}
	off := 0
	for _, n := range boundaries(data, p) {
		seen[cid.Sum(cid.Raw, data[off:off+n])] = true
		off += n
	}
	return max(len(seen), 1)
}

// TestDeepTrees lowers the fan-out so that full and full+1 nodes occur at
// several levels.
func TestDeepTrees(t *testing.T) {
	setFanout(t, 4)
	long := pseudoRandom("deep trees", 64<<10)
	sizes := boundaries(long, smallParams)
	for _, chunks := range []int{3, 4, 5, 15, 16, 17, 63, 64, 65, 200} {
		n := nthBoundary(t, sizes, chunks)
		roundTrip(t, long[:n], smallParams)
		roundTrip(t, long[:n+1], smallParams)
	}
}

func TestRoundTripDefaultParams(t *testing.T) {
	p := chunker.DefaultParams()
	long := pseudoRandom("default params", 5<<20+17)
	for _, n := range []int{0, 1, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max, p.Max + 1, 2 * p.Max, len(long)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { roundTrip(t, long[:n], p) })
	}
	keyed := p
	keyed.Key = pseudoRandom("key", chunker.KeySize)
	_, root := roundTrip(t, long, keyed)
	s, plainRoot := roundTrip(t, long, p)
	if root == plainRoot {
		t.Fatal("keyed and unkeyed roots are equal")
	}
	r, err := Open(context.Background(), s, plainRoot)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := r.Info()
	if !ok || info.Algorithm != chunker.Algorithm || int(info.Avg) != p.Avg || int(info.Min) != p.Min || int(info.Max) != p.Max {
		t.Fatalf("Info = %+v, %v", info, ok)
	}
}

func TestRepeatedContent(t *testing.T) {
	// Identical chunks and identical subtrees are stored once and read back.
	block := pseudoRandom("repeat", 3000)
	data := bytes.Repeat(block, 200)
	setFanout(t, 4)
	roundTrip(t, data, smallParams)
	roundTrip(t, make([]byte, 100000), smallParams)
}

func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minSize := rapid.IntRange(64, 1024).Draw(t, "min")
		avg := 1 << rapid.IntRange(bitsFor(minSize+1), 12).Draw(t, "avgBits")
		p := chunker.Params{Min: minSize, Avg: avg, Max: rapid.IntRange(avg+1, 4*avg).Draw(t, "max")}
		if rapid.Bool().Draw(t, "keyed") {
			p.Key = pseudoRandom("k", chunker.KeySize)
		}
		n := rapid.IntRange(0, 200<<10).Draw(t, "n")
		data := pseudoRandom(fmt.Sprint(rapid.Int().Draw(t, "seed")), n)
		if rapid.Bool().Draw(t, "lowEntropy") {
			for i := range data {
				data[i] &= 3
			}
		}
		old := fanout
		fanout = rapid.IntRange(4, MaxFanout).Draw(t, "fanout")
		defer func() { fanout = old }()
		s, root := roundTrip(t, data, p)
		r, err := Open(context.Background(), s, root)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			off := rapid.IntRange(0, n).Draw(t, "off")
			buf := make([]byte, rapid.IntRange(0, n-off+10).Draw(t, "len"))
			k, err := r.ReadAt(buf, int64(off))
			want := data[off:min(n, off+len(buf))]
			if k != len(want) || !bytes.Equal(buf[:k], want) {
				t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d", off, len(buf), k, len(want))
			}
			if (k < len(buf)) != (err == io.EOF) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d, %d): err %v with %d bytes", off, len(buf), err, k)
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

// TestRangeReads: reads at random offsets return the same bytes as the
// original and fetch exactly the leaves they overlap (on a fresh Reader).
func TestRangeReads(t *testing.T) {
	setFanout(t, 16)
	p := chunker.Params{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}
	data := pseudoRandom("range reads", 3<<20)
	s, root := roundTrip(t, data, p)
	sizes := boundaries(data, p)
	ends := make([]int, len(sizes))
	end := 0
	for i, n := range sizes {
		end += n
		ends[i] = end
	}
	overlapping := func(off, n int) int {
		if n == 0 {
			return 0
		}
		count, start := 0, 0
		for _, e := range ends {
			if start < off+n && e > off {
				count++
			}
			start = e
		}
		return count
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		off := rng.IntN(len(data))
		n := rng.IntN(min(len(data)-off, 64<<10) + 1)
		if i%10 == 0 {
			n = rng.IntN(100) // tiny reads, often inside one leaf
		}
		r, err := Open(ctx, s, root)
		if err != nil {
			t.Fatal(err)
		}
		s.resetCounts()
		buf := make([]byte, n)
		if k, err := r.ReadAt(buf, int64(off)); err != nil || k != n {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, k, err)
		}
		if !bytes.Equal(buf, data[off:off+n]) {
			t.Fatalf("ReadAt(%d, %d): wrong bytes", off, n)
		}
		if got, want := s.leafGets.Load(), int64(overlapping(off, n)); got != want {
			t.Fatalf("ReadAt(%d, %d) fetched %d leaves, want %d", off, n, got, want)
		}
		// Depth here is 3 (1 000-odd leaves at fan-out 16): at most a few
		// nodes per level on the path.
		if got := s.nodeGets.Load(); got > 3*3 {
			t.Fatalf("ReadAt(%d, %d) fetched %d nodes", off, n, got)
		}
	}
	// A second read of the same leaf hits the cache; nodes are cached too.
	r, _ := Open(ctx, s, root)
	s.resetCounts()
	buf := make([]byte, 10)
	for i := range 50 {
		if _, err := r.ReadAt(buf, int64(1<<20+10*i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.leafGets.Load() != 1 || s.nodeGets.Load() > 3 {
		t.Fatalf("sequential small reads fetched %d leaves and %d nodes", s.leafGets.Load(), s.nodeGets.Load())
	}
}

func TestReaderInterfaces(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000} {
		data := pseudoRandom("iotest", n)
		s, root := roundTrip(t, data, smallParams)
		r, err := Open(context.Background(), s, root)
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(r, data); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
			t.Fatal("negative offset accepted")
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Fatal("negative seek accepted")
		}
	}
}

type failingPutter struct {
	after int
	n     int
	err   error
}

func (f *failingPutter) Put(ctx context.Context, c cid.CID, data []byte) error {
	f.n++
	if f.n > f.after {
		return f.err
	}
	return nil
}

func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	data := pseudoRandom("errors", 200<<10)
	boom := errors.New("disk full")
	// Put failing: single block, first chunk, an interior node.
	for _, after := range []int{0, 3, 1000000} {
		fp := &failingPutter{after: after, err: boom}
		// The last case fails on the FileRoot, after all chunks.
		if after == 1000000 {
			fp.after = len(boundaries(data, smallParams)) + 1
		}
		if _, _, err := Write(ctx, bytes.NewReader(data), &lockedPutter{p: fp}, smallParams, nil); !errors.Is(err, boom) {
			t.Errorf("Put failing after %d: %v", after, err)
		}
	}
	if _, _, err := Write(ctx, bytes.NewReader(data[:10]), &failingPutter{err: boom}, smallParams, nil); !errors.Is(err, boom) {
		t.Errorf("small file, Put failing: %v", err)
	}
	// Reader failing.
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	if _, _, err := Write(ctx, r, newMemStore(), smallParams, nil); !errors.Is(err, boom) {
		t.Errorf("reader failing: %v", err)
	}
	// Cancelled context, before and during.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Write(cctx, bytes.NewReader(data), newMemStore(), smallParams, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	progress := func(n int64) {
		if n > 50<<10 {
			cancel()
		}
	}
	if _, _, err := Write(cctx, bytes.NewReader(data), newMemStore(), smallParams, progress); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled midway: %v", err)
	}
	// Bad params.
	if _, _, err := Write(ctx, bytes.NewReader(data), newMemStore(), chunker.Params{}, nil); !errors.Is(err, chunker.ErrInvalidParams) {
		t.Errorf("bad params: %v", err)
	}
}

// lockedPutter serialises Puts to a Putter that is not safe for concurrent use.
type lockedPutter struct {
	mu sync.Mutex
	p  Putter
}

func (l *lockedPutter) Put(ctx context.Context, c cid.CID, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.Put(ctx, c, data)
}
