package packstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/peer-node/peer/internal/cid"
)

// dirUsage returns the apparent size and the allocated size (st_blocks) of
// every file under dir.
func dirUsage(t *testing.T, dir string) (size, alloc int64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			alloc += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, alloc
}

// TestGCReturnsSpace is the acceptance check at this level: adding
// 64 MiB, deleting it and compacting brings disk use back within 10%.
func TestGCReturnsSpace(t *testing.T) {
	for _, tc := range []struct {
		name     string
		packSize int64
	}{{"OneActivePack", 0}, {"ManyPacks", 16 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, true, Options{MaxPackSize: tc.packSize})
			s := e.open(t)
			r := rand.New(rand.NewPCG(1, 2))
			keep := map[cid.CID][]byte{}
			for i := 0; len(keep) < 24; i++ { // ~ 16 MiB kept throughout
				c, b := put(t, s, uint64(i), 256<<10+r.IntN(768<<10))
				keep[c] = b
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			st0, _ := s.Stats(ctx)
			size0, alloc0 := dirUsage(t, e.dir)

			var added []cid.CID
			var n int64
			for i := 1000; n < 64<<20; i++ {
				c, b := put(t, s, uint64(i), 256<<10+r.IntN(768<<10))
				added = append(added, c)
				n += int64(len(b))
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			st1, _ := s.Stats(ctx)
			size1, _ := dirUsage(t, e.dir)
			if st1.DiskBytes < st0.DiskBytes+64<<20 {
				t.Fatalf("adding 64 MiB grew DiskBytes only from %d to %d", st0.DiskBytes, st1.DiskBytes)
			}
			if err := s.Delete(ctx, added...); err != nil {
				t.Fatal(err)
			}
			var last [2]int
			rep, err := s.Compact(ctx, func(d, t int) { last = [2]int{d, t} })
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Skipped) > 0 || rep.PacksRemoved == 0 || last[0] != last[1] {
				t.Fatalf("Compact = %+v, last progress %v", rep, last)
			}
			st2, _ := s.Stats(ctx)
			size2, alloc2 := dirUsage(t, e.dir)
			t.Logf("DiskBytes %d -> %d -> %d; files %d -> %d -> %d (allocated %d -> %d); report %+v",
				st0.DiskBytes, st1.DiskBytes, st2.DiskBytes, size0, size1, size2, alloc0, alloc2, rep)
			within := func(before, after int64) bool { return float64(after) <= 1.1*float64(before) }
			if !within(st0.DiskBytes, st2.DiskBytes) || !within(size0, size2) || !within(alloc0, alloc2) {
				t.Fatalf("disk use not back within 10%%: DiskBytes %d -> %d, files %d -> %d, allocated %d -> %d",
					st0.DiskBytes, st2.DiskBytes, size0, size2, alloc0, alloc2)
			}
			if st2.DeadBytes != 0 || st2.Blocks != int64(len(keep)) {
				t.Fatalf("after compaction: %+v", st2)
			}
			for c, b := range keep {
				got, err := s.Get(ctx, c)
				if err != nil || !bytes.Equal(got, b) {
					t.Fatalf("kept block %s: %v", c, err)
				}
			}
			mustVerifyClean(t, s)
			s.Close()
			mustVerifyClean(t, e.open(t))
		})
	}
}

var errCrash = errors.New("simulated crash")

// TestCompactionCrash interrupts compaction after each step and checks
// that the reopened store lost no live block and finishes the job.
func TestCompactionCrash(t *testing.T) {
	for _, step := range []string{"copied", "flushed", "unindexed"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, true, Options{MaxPackSize: 1 << 20})
			s := e.open(t)
			live := map[cid.CID][]byte{}
			var dead []cid.CID
			for i := range 60 {
				c, b := put(t, s, uint64(i), 50<<10+i)
				if i%3 == 0 {
					live[c] = b
				} else {
					dead = append(dead, c)
				}
			}
			if err := s.Delete(ctx, dead...); err != nil {
				t.Fatal(err)
			}
			before, _ := s.Stats(ctx)
			s.hook = func(got string) error {
				if got == step {
					return errCrash
				}
				return nil
			}
			if _, err := s.Compact(ctx, nil); !errors.Is(err, errCrash) {
				t.Fatalf("Compact = %v; want the simulated crash", err)
			}
			s.crash()

			s2 := e.open(t)
			check := func(s *Store) {
				t.Helper()
				for c, b := range live {
					got, err := s.Get(ctx, c)
					if err != nil || !bytes.Equal(got, b) {
						t.Fatalf("live block %s: %v", c, err)
					}
				}
				for _, c := range dead {
					if ok, _ := s.Has(ctx, c); ok {
						t.Fatalf("deleted block %s came back", c)
					}
				}
				if rep := mustVerifyClean(t, s); rep.Checked != len(live) {
					t.Fatalf("checked %d; want %d", rep.Checked, len(live))
				}
			}
			check(s2)
			rep, err := s2.Compact(ctx, nil)
			if err != nil || len(rep.Skipped) > 0 {
				t.Fatalf("second Compact = %+v, %v", rep, err)
			}
			after, _ := s2.Stats(ctx)
			if after.DeadBytes != 0 || after.DiskBytes >= before.DiskBytes/2 {
				t.Fatalf("space not returned: before %+v after %+v", before, after)
			}
			check(s2)
			s2.Close()
			check(e.open(t))
		})
	}
}

// TestCompactConcurrent compacts while other goroutines read and write.
func TestCompactConcurrent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true, Options{MaxPackSize: 512 << 10, AutoFlushBytes: 256 << 10})
	s := e.open(t)
	live := map[cid.CID][]byte{}
	var dead []cid.CID
	for i := range 200 {
		c, b := put(t, s, uint64(i), 10<<10+i)
		if i%2 == 0 {
			live[c] = b
		} else {
			dead = append(dead, c)
		}
	}
	if err := s.Delete(ctx, dead...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 10)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				for c, b := range live {
					select {
					case <-stop:
						return
					default:
					}
					got, err := s.Get(ctx, c)
					if err != nil || !bytes.Equal(got, b) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			put(t, s, uint64(10000+i), 5000)
		}
	}()
	rep, err := s.Compact(ctx, nil)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("read during compaction: %v", err)
	}
	if err != nil || rep.PacksRemoved == 0 {
		t.Fatalf("Compact = %+v, %v", rep, err)
	}
	if rep := mustVerifyClean(t, s); rep.Checked != len(live)+100 {
		t.Fatalf("checked %d; want %d", rep.Checked, len(live)+100)
	}
}
