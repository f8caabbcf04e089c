package mimei

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// vdbFields is the size of the hash TestVersionDBBoundedMemory backs up
// and reads (issue 16: a database of 1,000,000 fields; smaller under the
// race detector, race_test.go).
var vdbFields = 1_000_000

// vdbHeapBudget is how far HeapInuse may rise above what it was before the
// reads while a version's database is materialised and read, with 20
// requests at once (docs/benchmarks.md).
const vdbHeapBudget = 64 << 20

// heapPeak samples HeapInuse until stop is called and returns the highest.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		sample()
		return peak.Load()
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// await polls cond until it holds or the deadline passes.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func hasUnder(t *testing.T, st kv.Store, prefix []byte) bool {
	t.Helper()
	it := st.Iter(kv.IterOptions{Prefix: prefix})
	ok := it.Next()
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestVersionDBBoundedMemory backs up a database holding one hash of
// 1,000,000 fields on a Pebble kv and a pack store, as a node has them,
// then: a read whose context is cancelled mid-load returns at once and
// stops the load; 20 concurrent reads share one load and keep the heap
// within vdbHeapBudget; the reads answer right; GC drops the materialised
// database once the version is gone.
func TestVersionDBBoundedMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := pebblekv.Open(filepath.Join(dir, "kv"), pebblekv.Options{CacheSize: 8 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blocks, err := packstore.Open(filepath.Join(dir, "blocks"), st, packstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blocks.Close() })
	f := newFixtureKV(t, st, blocks)
	id := f.create(t, 0)
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 20_000
	args := make([][]byte, 0, 2*chunk)
	for i := 0; i < vdbFields; i += chunk {
		args = args[:0]
		for j := i; j < min(i+chunk, vdbFields); j++ {
			args = append(args, fmt.Appendf(nil, "f%07d", j), fmt.Appendf(nil, "v%d", j))
		}
		if _, err := db.HSet([]byte("h"), args...); err != nil {
			t.Fatal(err)
		}
	}
	args = nil
	if err := db.Set([]byte("s"), []byte("small")); err != nil {
		t.Fatal(err)
	}
	v, err := f.Backup(ctx, id, "big")
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprint(v.Number)
	prefix, done := vdbPrefix(v.CID), vdbDoneKey(v.CID)
	loads := func() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.vdbs) }

	// A client that goes away mid-load: its call returns its context's
	// error, the load stops and leaves no marker.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := f.VersionDB(cctx, id, ref); errc <- err }()
	await(t, "the load to start writing", func() bool { return hasUnder(t, st, prefix) })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled VersionDB = %v, want context.Canceled", err)
	}
	await(t, "the cancelled load to stop", func() bool { return loads() == 0 })
	if ok, _ := st.Has(done); ok {
		t.Fatal("a cancelled load left its complete marker")
	}

	// 20 concurrent reads of the same version: one load, bounded heap.
	base := heapInuse()
	stop := heapPeak()
	start := time.Now()
	const readers = 20
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			view, err := f.VersionDB(ctx, id, ref)
			if err == nil {
				var n int64
				if n, err = view.HLen([]byte("h")); err == nil && n != int64(vdbFields) {
					err = fmt.Errorf("HLEN h = %d", n)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	t.Logf("%d reads of a %d-field version (one load) took %v", readers, vdbFields, time.Since(start).Round(time.Millisecond))
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view, err := f.VersionDB(ctx, id, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, field, want string
	}{
		{"h", "f0000000", "v0"},
		{"h", fmt.Sprintf("f%07d", vdbFields-1), fmt.Sprintf("v%d", vdbFields-1)},
		{"h", "nope", ""},
		{"s", "", "small"},
	} {
		var got []byte
		if c.field == "" {
			got, _, err = view.Get([]byte(c.key))
		} else {
			got, _, err = view.HGet([]byte(c.key), []byte(c.field))
		}
		if err != nil || string(got) != c.want {
			t.Fatalf("%s %s = %q, %v; want %q", c.key, c.field, got, err, c.want)
		}
	}
	if _, keys, err := view.Scan("0", mimeidb.ScanOptions{Count: 100}); err != nil || len(keys) != 2 {
		t.Fatalf("SCAN = %q, %v; want the 2 keys", keys, err)
	}
	if _, fvs, err := view.HScan([]byte("h"), "0", mimeidb.ScanOptions{Count: 100}); err != nil || len(fvs) < 100 {
		t.Fatalf("HSCAN = %d fields, %v; want 100", len(fvs), err)
	}
	peak := stop()
	if grow := int64(peak) - int64(base); grow > vdbHeapBudget {
		t.Fatalf("heap in use rose by %d MiB (base %d MiB, peak %d MiB), budget %d MiB",
			grow>>20, base>>20, peak>>20, vdbHeapBudget>>20)
	} else {
		t.Logf("heap in use: base %d MiB, peak %d MiB (+%d MiB, budget %d MiB)", base>>20, peak>>20, grow>>20, vdbHeapBudget>>20)
	}

	// GC keeps the database of a listed version and drops it once the
	// version is gone.
	if _, err := f.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Has(done); !ok {
		t.Fatal("GC dropped the database of a listed version")
	}
	if err := f.DeleteVersion(ctx, id, ref, true); err != nil {
		t.Fatal(err)
	}
	rep, err := f.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.VersionDBs != 1 || hasUnder(t, st, prefix) {
		t.Fatalf("GC after delete: %d version databases dropped, prefix left: %v", rep.VersionDBs, hasUnder(t, st, prefix))
	}
	if rep.VersionDBBytes < int64(len(prefix)) {
		t.Fatalf("GC after delete: the dropped database held %d bytes", rep.VersionDBBytes)
	}
	if ok, _ := st.Has(done); ok {
		t.Fatal("GC left the marker of a deleted version")
	}
}

// TestVersionDBRetriesAfterPartialLoad: a load that died (no marker) is
// cleared and redone, and a stray prefix of no version is swept by GC.
func TestVersionDBRetriesAfterPartialLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecStrings("HSET", "h", "a", "1", "b", "2"); err != nil {
		t.Fatal(err)
	}
	v, err := f.Backup(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-load leaves: entries, no marker, one of them wrong.
	if err := f.kv.Set(append(vdbPrefix(v.CID), 'k', 'x'), []byte{1, 'j'}); err != nil {
		t.Fatal(err)
	}
	view, err := f.VersionDB(ctx, id, "0")
	if err != nil {
		t.Fatal(err)
	}
	if _, keys, err := view.Scan("0", mimeidb.ScanOptions{Count: 10}); err != nil || len(keys) != 1 {
		t.Fatalf("SCAN after a reload = %q, %v; want [h] (the partial load was not cleared)", keys, err)
	}
	if got, _, _ := view.HGet([]byte("h"), []byte("b")); string(got) != "2" {
		t.Fatalf("HGET h b = %q", got)
	}
	stray := []byte(vdbRoot + "not-a-cid/")
	if err := f.kv.Set(append(stray, 'v'), []byte("1")); err != nil {
		t.Fatal(err)
	}
	rep, err := f.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.VersionDBs != 1 || hasUnder(t, f.kv, stray) || !hasUnder(t, f.kv, vdbPrefix(v.CID)) {
		t.Fatalf("GC: %d dropped, stray left %v, live kept %v", rep.VersionDBs, hasUnder(t, f.kv, stray), hasUnder(t, f.kv, vdbPrefix(v.CID)))
	}
	// The stray held one entry: its key and its one-byte value.
	if want := int64(len(stray) + 1 + 1); rep.VersionDBBytes != want {
		t.Fatalf("GC: %d bytes of version databases dropped, want %d (the stray entry)", rep.VersionDBBytes, want)
	}
}
