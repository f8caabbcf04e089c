package packstore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/storetest"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
)

func TestBloom(t *testing.T) {
	for _, n := range []int64{1, 1000, 50000} {
		b := newBloom(n)
		for i := range n {
			c, _ := storetest.Block(uint64(i), 8)
			b.add(c)
		}
		for i := range n {
			if c, _ := storetest.Block(uint64(i), 8); !b.mayHave(c) {
				t.Fatalf("n=%d: false negative for block %d", n, i)
			}
		}
		fp := 0
		const probes = 100000
		for i := range probes {
			if c, _ := storetest.Block(uint64(n+1+int64(i)), 8); b.mayHave(c) {
				fp++
			}
		}
		if rate := float64(fp) / probes; rate > 0.01 {
			t.Errorf("n=%d: false-positive rate %.4f at capacity, want ≤ 0.01", n, rate)
		}
	}
}

// countingIndex counts index Gets of block keys.
type countingIndex struct {
	kv.Store
	gets atomic.Int64
}

func (c *countingIndex) Get(k []byte) ([]byte, error) {
	if len(k) > len(blockPrefix) && string(k[:len(blockPrefix)]) == string(blockPrefix) {
		c.gets.Add(1)
	}
	return c.Store.Get(k)
}

func awaitFilterReady(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.wmu.Lock()
		f, building := s.filter.Load(), s.building
		s.wmu.Unlock()
		if f != nil && f.ready.Load() && building == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("presence filter not ready after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFilterSkipsIndexForNewBlocks: once the filter is built, putting new
// blocks asks the index (almost) never, and blocks stored before a reopen
// are still found.
func TestFilterSkipsIndexForNewBlocks(t *testing.T) {
	ctx := context.Background()
	for _, pebble := range []bool{false, true} {
		e := newEnv(t, pebble, Options{})
		s := e.open(t)
		var old []cid.CID
		for i := range 500 {
			c, _ := put(t, s, uint64(i), 100)
			old = append(old, c)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ci := &countingIndex{Store: e.index}
		s, err := Open(e.dir, ci, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		awaitFilterReady(t, s)
		for _, c := range old {
			if ok, err := s.Has(ctx, c); !ok || err != nil {
				t.Fatalf("Has(%s) after reopen = %v, %v", c, ok, err)
			}
		}
		ci.gets.Store(0)
		for i := range 2000 {
			put(t, s, uint64(10000+i), 100)
		}
		if g := ci.gets.Load(); g > 20 {
			t.Errorf("pebble=%v: %d index lookups for 2000 new blocks, want ≤ 20 (false positives)", pebble, g)
		}
		for i := range 2000 {
			c, _ := storetest.Block(uint64(10000+i), 100)
			if ok, err := s.Has(ctx, c); !ok || err != nil {
				t.Fatalf("Has(new %d) = %v, %v", i, ok, err)
			}
		}
	}
}

// TestFilterRebuildMissesNothing: a filter that overflows is rebuilt from
// the index while puts and flushes go on; no stored block is ever reported
// absent.
func TestFilterRebuildMissesNothing(t *testing.T) {
	old := filterMinEntries
	filterMinEntries = 64
	t.Cleanup(func() { filterMinEntries = old })
	ctx := context.Background()
	e := newEnv(t, true, Options{AutoFlushBytes: 4 << 10})
	s := e.open(t)
	var mu sync.Mutex
	var stored []cid.CID
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1500 {
				c, _ := put(t, s, uint64(w*100000+i), 64)
				mu.Lock()
				stored = append(stored, c)
				mu.Unlock()
				if i%7 == 0 {
					mu.Lock()
					probe := stored[(i*31)%len(stored)]
					mu.Unlock()
					if ok, err := s.Has(ctx, probe); !ok || err != nil {
						t.Errorf("Has(%s) = %v, %v during rebuilds", probe, ok, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	awaitFilterReady(t, s)
	if f := s.filter.Load(); f.cap <= 64 {
		t.Fatalf("filter never rebuilt: capacity %d", f.cap)
	}
	for _, c := range stored {
		if ok, err := s.Has(ctx, c); !ok || err != nil {
			t.Fatalf("Has(%s) = %v, %v after rebuilds", c, ok, err)
		}
	}
}
