// Package storetest is the conformance suite every blockstore.Store backend
// (and every fake or wrapper) must pass. A backend's test calls Run (or
// RunWith, to enable the corruption and reopen tests) with a function that
// opens a fresh, empty store.
//
// Only _test.go files may import it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
)

// Opener returns a fresh, empty store. The suite closes it (possibly more
// than once: Close must be idempotent).
type Opener func(t *testing.T) blockstore.Store

// Options enables the parts of the suite that need backend help.
type Options struct {
	// Corrupt, if set, damages the stored bytes of block c (already
	// flushed) so that the next Get must fail with an integrity error.
	Corrupt func(t *testing.T, s blockstore.Store, c cid.CID)
	// Reopen, if set, closes s and opens the same store again (persistent
	// backends). The suite checks that flushed blocks survive.
	Reopen func(t *testing.T, s blockstore.Store) blockstore.Store
}

// Run runs the suite without the optional parts.
func Run(t *testing.T, open Opener) { RunWith(t, open, Options{}) }

// RunWith runs the whole suite.
func RunWith(t *testing.T, open Opener, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blockstore.Store)
	}{
		{"PutGetHasSize", testPutGet},
		{"EmptyBlock", testEmpty},
		{"IdempotentPut", testIdempotent},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"Enumerate", testEnumerate},
		{"TooLarge", testTooLarge},
		{"BadCID", testBadCID},
		{"Aliasing", testAliasing},
		{"Concurrent", testConcurrent},
		{"Stats", testStats},
		{"Closed", testClosed},
		{"Verify", testVerify},
		{"Corruption", func(t *testing.T, s blockstore.Store) { testCorruption(t, s, opts) }},
		{"Reopen", func(t *testing.T, s blockstore.Store) { testReopen(t, s, opts) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer func() { s.Close() }()
			tc.fn(t, s)
		})
	}
}

// Block makes a deterministic block of n bytes from seed and its CID.
func Block(seed uint64, n int) (cid.CID, []byte) {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return cid.Sum(cid.Raw, b), b
}

func mustPut(t *testing.T, s blockstore.Store, c cid.CID, b []byte) {
	t.Helper()
	if err := s.Put(context.Background(), c, b); err != nil {
		t.Fatalf("Put %s: %v", c, err)
	}
}

func mustGet(t *testing.T, s blockstore.Store, c cid.CID, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), c)
	if err != nil {
		t.Fatalf("Get %s: %v", c, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %s: %d bytes differ from the %d put", c, len(got), len(want))
	}
}

func testPutGet(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	sizes := []int{1, 100, 4096, 300 << 10, 1 << 20, blockstore.MaxBlockSize}
	for i, n := range sizes {
		c, b := Block(uint64(i), n)
		mustPut(t, s, c, b)
		mustGet(t, s, c, b)
		if ok, err := s.Has(ctx, c); err != nil || !ok {
			t.Fatalf("Has %s = %v, %v; want true", c, ok, err)
		}
		if sz, err := s.Size(ctx, c); err != nil || sz != n {
			t.Fatalf("Size %s = %d, %v; want %d", c, sz, err, n)
		}
	}
	// The dag-cbor codec is a different CID for the same bytes.
	_, b := Block(0, 1)
	dc := cid.Sum(cid.DagCBOR, b)
	if ok, _ := s.Has(ctx, dc); ok {
		t.Fatal("dag-cbor CID of a raw block's bytes reported present")
	}
	mustPut(t, s, dc, b)
	mustGet(t, s, dc, b)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		c, b := Block(uint64(i), n)
		mustGet(t, s, c, b)
	}
}

func testEmpty(t *testing.T, s blockstore.Store) {
	c := cid.Sum(cid.Raw, nil)
	mustPut(t, s, c, nil)
	mustGet(t, s, c, []byte{})
	if n, err := s.Size(context.Background(), c); err != nil || n != 0 {
		t.Fatalf("Size = %d, %v", n, err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, c, []byte{})
}

func testIdempotent(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	c, b := Block(7, 5000)
	for range 3 {
		mustPut(t, s, c, b)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, c, b)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 1 || st.LiveBytes != 5000 {
		t.Fatalf("after 4 puts of one block: Blocks=%d LiveBytes=%d; want 1, 5000", st.Blocks, st.LiveBytes)
	}
	n := 0
	if err := s.Enumerate(ctx, func(cid.CID, int) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Enumerate saw %d blocks (%v); want 1", n, err)
	}
}

func testNotFound(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	c, _ := Block(99, 10)
	_, err := s.Get(ctx, c)
	if !errors.Is(err, blockstore.ErrNotFound) || !strings.Contains(err.Error(), c.String()) {
		t.Fatalf("Get missing = %v; want ErrNotFound naming %s", err, c)
	}
	if _, err := s.Size(ctx, c); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("Size missing = %v; want ErrNotFound", err)
	}
	if ok, err := s.Has(ctx, c); ok || err != nil {
		t.Fatalf("Has missing = %v, %v", ok, err)
	}
}

func testDelete(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	var cs []cid.CID
	for i := range 10 {
		c, b := Block(uint64(100+i), 1000+i)
		mustPut(t, s, c, b)
		cs = append(cs, c)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	missing, _ := Block(1000, 1)
	// Delete flushed and unflushed blocks, a missing one, and a duplicate.
	c11, b11 := Block(111, 77)
	mustPut(t, s, c11, b11)
	if err := s.Delete(ctx, cs[0], cs[1], cs[1], missing, c11); err != nil {
		t.Fatal(err)
	}
	for _, c := range []cid.CID{cs[0], cs[1], c11} {
		if ok, _ := s.Has(ctx, c); ok {
			t.Fatalf("%s still present after Delete", c)
		}
		if _, err := s.Get(ctx, c); !errors.Is(err, blockstore.ErrNotFound) {
			t.Fatalf("Get deleted = %v", err)
		}
	}
	for i, c := range cs[2:] {
		_, b := Block(uint64(102+i), 1002+i)
		mustGet(t, s, c, b)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	// A deleted block can be put again.
	_, b0 := Block(100, 1000)
	mustPut(t, s, cs[0], b0)
	mustGet(t, s, cs[0], b0)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 9 {
		t.Fatalf("Blocks = %d; want 9", st.Blocks)
	}
}

func testEnumerate(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	want := map[cid.CID]int{}
	for i := range 50 {
		c, b := Block(uint64(200+i), 10*i)
		mustPut(t, s, c, b)
		want[c] = len(b)
		if i == 25 {
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[cid.CID]int{}
	err := s.Enumerate(ctx, func(c cid.CID, n int) error {
		if _, dup := got[c]; dup {
			return fmt.Errorf("%s enumerated twice", c)
		}
		got[c] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("enumerated %d blocks; want %d", len(got), len(want))
	}
	for c, n := range want {
		if got[c] != n {
			t.Fatalf("%s: size %d; want %d", c, got[c], n)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Enumerate(ctx, func(cid.CID, int) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Enumerate did not stop on fn's error: %v after %d calls", err, n)
	}
}

func testTooLarge(t *testing.T, s blockstore.Store) {
	b := make([]byte, blockstore.MaxBlockSize+1)
	c := cid.Sum(cid.Raw, b)
	if err := s.Put(context.Background(), c, b); !errors.Is(err, blockstore.ErrTooLarge) {
		t.Fatalf("Put of %d bytes = %v; want ErrTooLarge", len(b), err)
	}
	if ok, _ := s.Has(context.Background(), c); ok {
		t.Fatal("oversized block stored")
	}
}

func testBadCID(t *testing.T, s blockstore.Store) {
	if err := s.Put(context.Background(), cid.Undef, []byte("x")); !errors.Is(err, cid.ErrBadCID) {
		t.Fatalf("Put with undefined CID = %v; want ErrBadCID", err)
	}
}

func testAliasing(t *testing.T, s blockstore.Store) {
	c, b := Block(300, 1000)
	orig := bytes.Clone(b)
	mustPut(t, s, c, b)
	b[0] ^= 0xff // the caller reuses its buffer
	got, err := s.Get(context.Background(), c)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("block changed when the caller modified its slice: %v", err)
	}
	got[1] ^= 0xff
	mustGet(t, s, c, orig)
}

func testConcurrent(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	const workers, per = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				// Overlapping seeds: workers race to put the same blocks.
				seed := uint64(1000 + (w/2)*per + i)
				c, b := Block(seed, 512+int(seed%7)*9000)
				if err := s.Put(ctx, c, b); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(ctx, c)
				if err != nil || !bytes.Equal(got, b) {
					errs <- fmt.Errorf("get %s after put: %v", c, err)
					return
				}
				if i%10 == 0 {
					if err := s.Flush(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
		wg.Add(1)
		go func() { // readers, and a concurrent Stats/Enumerate
			defer wg.Done()
			for i := range per {
				c, _ := Block(uint64(1000+i), 512+(1000+i)%7*9000)
				if _, err := s.Get(ctx, c); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
					errs <- err
					return
				}
				if _, err := s.Stats(ctx); err != nil {
					errs <- err
					return
				}
			}
			if err := s.Enumerate(ctx, func(cid.CID, int) error { return nil }); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(workers / 2 * per); st.Blocks != want {
		t.Fatalf("Blocks = %d; want %d distinct", st.Blocks, want)
	}
}

func testStats(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	var total int64
	for i := range 5 {
		c, b := Block(uint64(400+i), 3000*(i+1))
		mustPut(t, s, c, b)
		total += int64(len(b))
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 5 || st.LiveBytes != total {
		t.Fatalf("before flush: Blocks=%d LiveBytes=%d; want 5, %d", st.Blocks, st.LiveBytes, total)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 5 || st.LiveBytes != total || st.PendingBlocks != 0 {
		t.Fatalf("after flush: %+v; want 5 blocks, %d bytes, none pending", st, total)
	}
}

func testClosed(t *testing.T, s blockstore.Store) {
	ctx := context.Background()
	c, b := Block(500, 10)
	mustPut(t, s, c, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Get(ctx, c); !errors.Is(err, blockstore.ErrClosed) {
		t.Fatalf("Get after Close = %v; want ErrClosed", err)
	}
	if err := s.Put(ctx, c, b); !errors.Is(err, blockstore.ErrClosed) {
		t.Fatalf("Put after Close = %v; want ErrClosed", err)
	}
}

func testVerify(t *testing.T, s blockstore.Store) {
	v, ok := s.(blockstore.Verifier)
	if !ok {
		t.Skip("the store does not implement blockstore.Verifier: nothing to check")
	}
	for i := range 20 {
		c, b := Block(uint64(600+i), 2000)
		mustPut(t, s, c, b)
	}
	var last [2]int
	rep, err := v.Verify(context.Background(), func(done, total int) { last = [2]int{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != 20 || rep.Bytes != 40000 {
		t.Fatalf("Verify = %+v; want 20 clean blocks, 40000 bytes", rep)
	}
	if last != [2]int{20, 20} {
		t.Fatalf("last progress = %v; want [20 20]", last)
	}
}

func testCorruption(t *testing.T, s blockstore.Store, opts Options) {
	if opts.Corrupt == nil {
		t.Skip("Options.Corrupt is not set for this backend: corruption cannot be staged")
	}
	ctx := context.Background()
	var cs []cid.CID
	for i := range 5 {
		c, b := Block(uint64(700+i), 5000)
		mustPut(t, s, c, b)
		cs = append(cs, c)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bad := cs[2]
	opts.Corrupt(t, s, bad)
	_, err := s.Get(ctx, bad)
	if !errors.Is(err, cid.ErrIntegrity) || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("Get of corrupted block = %v; want an integrity error naming %s", err, bad)
	}
	for i, c := range cs {
		if c != bad {
			_, b := Block(uint64(700+i), 5000)
			mustGet(t, s, c, b)
		}
	}
	if v, ok := s.(blockstore.Verifier); ok {
		rep, err := v.Verify(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].CID != bad || rep.Problems[0].Kind != blockstore.Corrupt {
			t.Fatalf("Verify problems = %+v; want just %s corrupt", rep.Problems, bad)
		}
	}
}

func testReopen(t *testing.T, s blockstore.Store, opts Options) {
	if opts.Reopen == nil {
		t.Skip("Options.Reopen is not set for this backend (it keeps nothing across a reopen, as memory does)")
	}
	ctx := context.Background()
	want := map[cid.CID][]byte{}
	for i := range 30 {
		c, b := Block(uint64(800+i), 100+i*3000)
		mustPut(t, s, c, b)
		want[c] = b
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dead, _ := Block(800, 100)
	if err := s.Delete(ctx, dead); err != nil {
		t.Fatal(err)
	}
	delete(want, dead)
	s2 := opts.Reopen(t, s)
	defer s2.Close()
	for c, b := range want {
		mustGet(t, s2, c, b)
	}
	if ok, _ := s2.Has(ctx, dead); ok {
		t.Fatal("deleted block back after reopen")
	}
	st, err := s2.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != int64(len(want)) {
		t.Fatalf("Blocks after reopen = %d; want %d", st.Blocks, len(want))
	}
	// Still writable.
	c, b := Block(900, 1234)
	mustPut(t, s2, c, b)
	mustGet(t, s2, c, b)
}
