package filetree

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
)

// skipper composes a file from pieces of deterministic streams without
// holding it in memory.
func piece(seed string, off, n int64) io.Reader {
	s := stream(seed)
	if _, err := s.Seek(off, io.SeekStart); err != nil {
		panic(err)
	}
	return io.LimitReader(s, n)
}

// TestEditAddsFewBlocks is the acceptance test of issue 3: after
// overwriting 1 MiB, and separately after inserting 1 MiB, in the middle of
// a 256 MiB file, the new version adds ≤ 3 MiB of new blocks.
func TestEditAddsFewBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB edit test skipped in -short mode")
	}
	const (
		size = 256 << 20
		mid  = size/2 + 12345 // not aligned with anything
		edit = 1 << 20
	)
	ctx := context.Background()
	p := chunker.DefaultParams()
	base := newMemStore()
	base.keepNoData = true // CIDs and sizes only: memory stays small
	if _, _, err := Write(ctx, piece("base", 0, size), base, p, nil); err != nil {
		t.Fatal(err)
	}
	versions := map[string]io.Reader{
		"overwrite 1 MiB": io.MultiReader(piece("base", 0, mid), piece("edit", 0, edit), piece("base", mid+edit, size-mid-edit)),
		"insert 1 MiB":    io.MultiReader(piece("base", 0, mid), piece("edit", 0, edit), piece("base", mid, size-mid)),
	}
	for name, r := range versions {
		t.Run(name, func(t *testing.T) {
			next := newMemStore()
			next.keepNoData = true
			if _, _, err := Write(ctx, r, next, p, nil); err != nil {
				t.Fatal(err)
			}
			var newBytes, newBlocks int
			for c := range next.blocks {
				if _, ok := base.blocks[c]; !ok {
					newBytes += next.sizeOf(c)
					newBlocks++
				}
			}
			t.Logf("%s in the middle of 256 MiB: %d new blocks, %d bytes (%.2f MiB; limit 3 MiB) out of %d blocks",
				name, newBlocks, newBytes, float64(newBytes)/(1<<20), len(next.blocks))
			if newBytes > 3<<20 {
				t.Fatalf("%d new bytes, limit %d", newBytes, 3<<20)
			}
		})
	}
}

// discardPutter counts what it is given.
type discardPutter struct{ n atomic.Int64 }

func (d *discardPutter) Put(ctx context.Context, c cid.CID, data []byte) error {
	d.n.Add(int64(len(data)))
	return nil
}

// TestWriteMemoryBounded writes 1 GiB and samples the live heap meanwhile.
func TestWriteMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB test skipped in -short mode")
	}
	const size = 1 << 30
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	var d discardPutter
	start := time.Now()
	_, n, err := Write(context.Background(), piece("gig", 0, size), &d, chunker.DefaultParams(), nil)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil || n != size {
		t.Fatalf("Write: %d bytes, %v", n, err)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("1 GiB written in %v (%.0f MB/s incl. generating input); heap in use peaked %.1f MiB above the start (limit 50 MiB)",
		elapsed, float64(size)/elapsed.Seconds()/1e6, float64(grew)/(1<<20))
	if grew > 50<<20 {
		t.Fatalf("heap grew by %d bytes", grew)
	}
}
