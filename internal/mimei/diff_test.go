package mimei

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/dirtree"
	"github.com/peer-node/peer/internal/kv/pebblekv"
	"github.com/peer-node/peer/internal/mimeidb"
)

// dbState is a database's content for the diff tests: key → value; a value
// "list:a,b" is a list of a and b, anything else a string.
type dbState map[string]string

// apply turns db's content from old into next, in one transaction.
func apply(t *testing.T, db *mimeidb.DB, old, next dbState) {
	t.Helper()
	err := db.Update(func(tx *mimeidb.Tx) error {
		for k := range old {
			if _, err := tx.Del([]byte(k)); err != nil {
				return err
			}
		}
		for k, v := range next {
			var err error
			if l, ok := strings.CutPrefix(v, "list:"); ok {
				var vs [][]byte
				for _, e := range strings.Split(l, ",") {
					vs = append(vs, []byte(e))
				}
				_, err = tx.RPush([]byte(k), vs...)
			} else {
				err = tx.Set([]byte(k), []byte(v))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantKeys is what a diff from a to b must list, computed from the maps.
func wantKeys(a, b dbState) []string {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case !inA:
			out = append(out, "added "+k)
		case !inB:
			out = append(out, "removed "+k)
		case va != vb:
			out = append(out, "changed "+k)
		}
	}
	return out
}

func keyLines(d Diff) []string {
	var out []string
	for _, k := range d.Keys {
		out = append(out, string(k.Op)+" "+string(k.Key))
	}
	return out
}

// numbered makes n keys "k0000"… with values from val (skipped when "").
func numbered(n int, val func(i int) string) dbState {
	s := dbState{}
	for i := range n {
		if v := val(i); v != "" {
			s[fmt.Sprintf("k%04d", i)] = v
		}
	}
	return s
}

// TestDiffKeys checks the merge of the two export streams against a diff
// computed from maps, for versions and cur on either side, across batch
// boundaries.
func TestDiffKeys(t *testing.T) {
	many := numbered(1000, func(i int) string { return fmt.Sprint(i) })
	manyNext := numbered(1100, func(i int) string {
		switch {
		case i >= 1000 || i%7 == 0:
			return fmt.Sprint("new", i) // added (i ≥ 1000) or changed
		case i%5 == 0:
			return "" // removed
		}
		return fmt.Sprint(i)
	})
	for _, c := range []struct {
		name     string
		from, to dbState
	}{
		{"both empty", nil, nil},
		{"from empty", nil, dbState{"a": "1", "b": "2"}},
		{"to empty", dbState{"a": "1", "b": "2"}, nil},
		{"same", dbState{"a": "1", "l": "list:x,y"}, dbState{"a": "1", "l": "list:x,y"}},
		{"changed", dbState{"a": "1", "b": "2", "c": "3"}, dbState{"a": "1", "b": "two", "c": "three"}},
		{"interleaved", dbState{"a": "1", "c": "3", "e": "5", "g": "7"}, dbState{"b": "2", "c": "three", "d": "4", "e": "5", "h": "8"}},
		{"one key each", dbState{"a": "1"}, dbState{"b": "1"}},
		{"type changed", dbState{"t": "x", "u": "list:a,b"}, dbState{"t": "list:x", "u": "list:ab"}},
		{"bytewise order", dbState{"a": "1", "a\x00": "2", "\xff": "3"}, dbState{"a": "1", "ab": "2", "a\x00": "two", "\xfe": "3"}},
		{"across batches", many, manyNext},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, nil)
			id := f.create(t, 0)
			db, err := f.DB(id)
			if err != nil {
				t.Fatal(err)
			}
			apply(t, db, nil, c.from)
			if _, err := f.Backup(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
			apply(t, db, c.from, c.to)
			check := func(from, to string, a, b dbState) {
				t.Helper()
				d, err := f.Diff(ctx, id, from, to)
				if err != nil {
					t.Fatalf("diff %s→%s: %v", from, to, err)
				}
				want := wantKeys(a, b)
				if got := keyLines(d); !slices.Equal(got, want) {
					t.Fatalf("diff %s→%s keys:\n got %q\nwant %q", from, to, got, want)
				}
				if d.KeyCount != len(want) || d.KeysTruncated {
					t.Fatalf("diff %s→%s: count %d, truncated %v; want %d, false", from, to, d.KeyCount, d.KeysTruncated, len(want))
				}
			}
			check("0", "cur", c.from, c.to)
			check("cur", "0", c.to, c.from)
			if _, err := f.Backup(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
			check("0", "1", c.from, c.to)
			check("1", "0", c.to, c.from)
			check("1", "cur", c.to, c.to)
			check("cur", "cur", c.to, c.to)
		})
	}
}

// TestDiffLimit: a diff lists the first changes of each kind up to the
// limit (or the byte budget), counts them all and says it stopped short.
func TestDiffLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Backup(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	const files, keys = 25, 30
	for i := range files {
		f.put(t, id, fmt.Sprintf("f%02d", i), "x")
	}
	apply(t, db, nil, numbered(keys, func(i int) string { return "v" }))
	for _, c := range []struct {
		limit               int
		wantFiles, wantKeys int
	}{
		{0, files, keys}, // the default lists all
		{10, 10, 10},
		{25, 25, 25},
		{30, 25, 30},
		{MaxDiffLimit + 1, files, keys},
	} {
		d, err := f.DiffWith(ctx, id, "0", "cur", DiffOptions{Limit: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Files) != c.wantFiles || len(d.Keys) != c.wantKeys || d.FileCount != files || d.KeyCount != keys ||
			d.FilesTruncated != (c.wantFiles < files) || d.KeysTruncated != (c.wantKeys < keys) {
			t.Fatalf("limit %d: %d files (of %d, truncated %v), %d keys (of %d, truncated %v); want %d and %d of %d and %d",
				c.limit, len(d.Files), d.FileCount, d.FilesTruncated, len(d.Keys), d.KeyCount, d.KeysTruncated, c.wantFiles, c.wantKeys, files, keys)
		}
		// The first ones, in order.
		for i, k := range d.Keys {
			if want := fmt.Sprintf("k%04d", i); string(k.Key) != want || k.Op != dirtree.Added {
				t.Fatalf("limit %d: key %d = %s %q, want added %q", c.limit, i, k.Op, k.Key, want)
			}
		}
		for i, fc := range d.Files {
			if want := fmt.Sprintf("f%02d", i); fc.Path != want {
				t.Fatalf("limit %d: file %d = %q, want %q", c.limit, i, fc.Path, want)
			}
		}
	}

	// Large keys: the byte budget stops the list before the limit.
	big := dbState{}
	for i := range 300 {
		big[fmt.Sprintf("%03d%s", i, bytes.Repeat([]byte{'k'}, mimeidb.MaxKeyLen-3))] = "v"
	}
	apply(t, db, nil, big)
	d, err := f.DiffWith(ctx, id, "0", "cur", DiffOptions{Limit: MaxDiffLimit})
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, k := range d.Keys {
		listed += len(k.Key)
	}
	if !d.KeysTruncated || d.KeyCount != keys+len(big) || len(d.Keys) >= d.KeyCount || listed > DiffMaxBytes {
		t.Fatalf("big keys: %d listed (%d bytes) of %d, truncated %v; want at most %d bytes listed and all counted",
			len(d.Keys), listed, d.KeyCount, d.KeysTruncated, DiffMaxBytes)
	}
}

// digestGoroutines counts the goroutines of digest streams.
func digestGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Count(string(buf), "created by github.com/peer-node/peer/internal/mimei.startDigests")
}

// awaitDeadline polls cond until it holds or d passes.
func awaitDeadline(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDiffStopsItsGoroutines: a diff whose context is cancelled while it
// merges returns the context's error and stops both exports (a frozen
// version's and cur's); so does a diff one of whose exports fails.
func TestDiffStopsItsGoroutines(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	from := numbered(n, func(i int) string { return "a" })
	apply(t, db, nil, from)
	v0, err := f.Backup(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, db, from, numbered(n, func(i int) string { return "b" }))
	if digestGoroutines() != 0 {
		t.Fatal("digest goroutines before any diff")
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := 0
	testHookMergeKeys = func() {
		if calls++; calls == 1 {
			awaitDeadline(t, "both exports to run", 30*time.Second, func() bool { return digestGoroutines() == 4 })
			cancel()
		}
	}
	t.Cleanup(func() { testHookMergeKeys = nil })
	if _, err := f.Diff(cctx, id, "0", "cur"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled diff = %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Fatalf("the merge went on after its context was cancelled (%d checks)", calls)
	}
	// A goroutine that has signalled its end may not have returned yet:
	// none may be left once that has had time.
	awaitDeadline(t, "no digest goroutines after a cancelled diff", 10*time.Second, func() bool { return digestGoroutines() == 0 })
	testHookMergeKeys = nil

	// One side's export gone: the diff fails and both streams end.
	if _, err := f.Backup(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.blocks.Delete(ctx, v0.DB); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"0", "1"}, {"1", "0"}, {"cur", "0"}} {
		if _, err := f.Diff(ctx, id, c[0], c[1]); err == nil {
			t.Fatalf("diff %s→%s with a missing export succeeded", c[0], c[1])
		}
		awaitDeadline(t, "no digest goroutines after a failed diff "+c[0]+"→"+c[1], 10*time.Second, func() bool { return digestGoroutines() == 0 })
	}
}

// diffHeapBudget is how far HeapInuse may rise above what it was before a
// diff of two versions of a database of vdbFields keys, half of them
// changed (docs/benchmarks.md).
const diffHeapBudget = 64 << 20

// TestDiffBoundedMemory diffs two versions of a database of vdbFields
// keys, every other one changed, on a Pebble kv and a pack store: the heap
// stays within diffHeapBudget, the answer lists DefaultDiffLimit keys and
// counts them all.
func TestDiffBoundedMemory(t *testing.T) {
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
	fill := func(val func(i int) []byte) {
		t.Helper()
		const chunk = 20_000
		for i := 0; i < vdbFields; i += chunk {
			err := db.Update(func(tx *mimeidb.Tx) error {
				for j := i; j < min(i+chunk, vdbFields); j++ {
					if v := val(j); v != nil {
						if err := tx.Set(fmt.Appendf(nil, "k%07d", j), v); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	fill(func(i int) []byte { return fmt.Appendf(nil, "v%d", i) })
	if _, err := f.Backup(ctx, id, "all"); err != nil {
		t.Fatal(err)
	}
	fill(func(i int) []byte {
		if i%2 == 0 {
			return fmt.Appendf(nil, "w%d", i)
		}
		return nil
	})
	if _, err := f.Backup(ctx, id, "half changed"); err != nil {
		t.Fatal(err)
	}
	t.Logf("two versions of %d keys made in %v", vdbFields, time.Since(start).Round(time.Millisecond))

	// Diff on a store opened afresh over the same kv and blocks, as after
	// a restart: the fill's own leftovers (the database handle's
	// bookkeeping of a million writes) are not part of the base.
	f, db = newFixtureKV(t, st, blocks), nil
	base := heapInuse()
	stop := heapPeak()
	for _, c := range []struct{ from, to string }{{"0", "1"}, {"0", "cur"}} {
		start = time.Now()
		d, err := f.Diff(ctx, id, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("diff %s→%s of %d keys (%d changed) took %v", c.from, c.to, vdbFields, d.KeyCount, time.Since(start).Round(time.Millisecond))
		if d.KeyCount != vdbFields/2 || len(d.Keys) != DefaultDiffLimit || !d.KeysTruncated ||
			string(d.Keys[0].Key) != "k0000000" || string(d.Keys[1].Key) != "k0000002" || d.Keys[0].Op != dirtree.Changed {
			t.Fatalf("diff %s→%s: %d keys listed of %d (truncated %v), first %q",
				c.from, c.to, len(d.Keys), d.KeyCount, d.KeysTruncated, keyLines(d)[:min(2, len(d.Keys))])
		}
	}
	peak := stop()
	if grow := int64(peak) - int64(base); grow > diffHeapBudget {
		t.Fatalf("heap in use rose by %d MiB (base %d MiB, peak %d MiB), budget %d MiB",
			grow>>20, base>>20, peak>>20, diffHeapBudget>>20)
	} else {
		t.Logf("heap in use: base %d MiB, peak %d MiB (+%d MiB, budget %d MiB)", base>>20, peak>>20, grow>>20, diffHeapBudget>>20)
	}
}
