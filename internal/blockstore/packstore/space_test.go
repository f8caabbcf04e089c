package packstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// fakeSpace grants while free is at least need and reports free.
type fakeSpace struct{ free atomic.Int64 }

func (f *fakeSpace) Check(n int64) error {
	if f.free.Load() < n {
		return &diskspace.FullError{Free: f.free.Load(), Need: n}
	}
	return nil
}
func (f *fakeSpace) Free() int64 { return f.free.Load() }

// TestPutRefusedBySpace: a refusal of the budget reaches the caller as
// ErrDiskFull, writes nothing, and the store goes on once there is room.
func TestPutRefusedBySpace(t *testing.T) {
	ctx := context.Background()
	sp := &fakeSpace{}
	sp.free.Store(1 << 30)
	e := newEnv(t, false, Options{Space: sp})
	s := e.open(t)
	c1, b1 := put(t, s, 1, 10_000)
	sp.free.Store(100)
	b2 := bytes.Repeat([]byte{7}, 5000)
	c2 := cid.Sum(cid.Raw, b2)
	if err := s.Put(ctx, c2, b2); !errors.Is(err, diskspace.ErrDiskFull) {
		t.Fatalf("Put with no room = %v", err)
	}
	if ok, _ := s.Has(ctx, c2); ok {
		t.Fatal("refused block is there")
	}
	// Maintenance is not refused.
	if err := s.Delete(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mustVerifyClean(t, s)
	sp.free.Store(1 << 30)
	if err := s.Put(ctx, c2, b2); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, c1, b1); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustVerifyClean(t, s)
}

// smallFS mounts a tmpfs of size bytes for the test, or skips where that is
// not possible (no root, no mount).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestNoSpaceLeftRecovers fills a real (small) file system with no budget
// in front: the write that meets ENOSPC fails as ErrDiskFull, the store is
// not wedged (reads, deletes, compaction and verification work), and once
// space is back, puts work again.
func TestNoSpaceLeftRecovers(t *testing.T) {
	ctx := context.Background()
	dir := smallFS(t, "8m")
	s, err := Open(dir, memkv.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	have := map[cid.CID][]byte{}
	var full error
	for i := range 100 {
		n := 300_000
		if i%3 == 0 {
			n = 20_000 // through the buffer as well as direct
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*7 + j)
		}
		c := cid.Sum(cid.Raw, b)
		if err := s.Put(ctx, c, b); err != nil {
			full = err
			break
		}
		have[c] = b
	}
	if !errors.Is(full, diskspace.ErrDiskFull) {
		t.Fatalf("filling the disk ended with %v", full)
	}
	t.Logf("%d blocks fit before: %v", len(have), full)
	// A flush may still fail (the buffer needs room); what was put stays
	// readable meanwhile.
	_ = s.Flush(ctx)
	for c, b := range have {
		got, err := s.Get(ctx, c)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("read %s on a full disk: %v", c, err)
		}
	}
	var drop []cid.CID
	for c := range have {
		if len(drop) < len(have)/2 {
			drop = append(drop, c)
		}
	}
	if err := s.Delete(ctx, drop...); err != nil {
		t.Fatalf("Delete on a full disk: %v", err)
	}
	for _, c := range drop {
		delete(have, c)
	}
	if _, err := s.Compact(ctx, nil); err != nil {
		t.Fatalf("Compact on a full disk: %v", err)
	}
	if rep := mustVerifyClean(t, s); rep.Checked != len(have) {
		t.Fatalf("verified %d, want %d", rep.Checked, len(have))
	}
	b := bytes.Repeat([]byte{1}, 100_000)
	c := cid.Sum(cid.Raw, b)
	if err := s.Put(ctx, c, b); err != nil {
		t.Fatalf("Put after freeing space: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(dir, s.index, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rep := mustVerifyClean(t, s2); rep.Checked != len(have)+1 {
		t.Fatalf("after reopen verified %d, want %d", rep.Checked, len(have)+1)
	}
}

// TestCompactPunchesWhenNoRoom: a pack too large to rewrite in the free
// space has its dead records punched out in place; the space comes back,
// the live blocks stay readable, and a later compaction with room still
// rewrites the pack.
func TestCompactPunchesWhenNoRoom(t *testing.T) {
	ctx := context.Background()
	sp := &fakeSpace{}
	sp.free.Store(1 << 40)
	e := newEnv(t, true, Options{Space: sp})
	s := e.open(t)
	live := map[cid.CID][]byte{}
	var dead []cid.CID
	for i := range 40 {
		c, b := put(t, s, uint64(i), 200_000)
		if i%4 == 0 {
			live[c] = b
		} else {
			dead = append(dead, c)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, alloc0 := dirUsage(t, s.dir)
	if err := s.Delete(ctx, dead...); err != nil {
		t.Fatal(err)
	}
	sp.free.Store(1 << 20) // less than the live records
	rep, err := s.Compact(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PacksPunched == 0 {
		if len(rep.Skipped) > 0 {
			t.Skipf("this file system cannot punch holes: %v", rep.Skipped)
		}
		t.Fatalf("Compact = %+v", rep)
	}
	_, alloc1 := dirUsage(t, s.dir)
	st, _ := s.Stats(ctx)
	t.Logf("report %+v; allocated %d -> %d; stats %+v", rep, alloc0, alloc1, st)
	if alloc1 > alloc0/2 || rep.BytesPunched < int64(len(dead))*190_000 || st.DeadBytes > int64(len(dead))*(holeUnit+100) {
		t.Fatalf("space not given back: allocated %d -> %d, report %+v, stats %+v", alloc0, alloc1, rep, st)
	}
	for c, b := range live {
		got, err := s.Get(ctx, c)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("live block %s: %v", c, err)
		}
	}
	// Punching again gives nothing more and breaks nothing.
	if rep, err := s.Compact(ctx, nil); err != nil || rep.BytesPunched != 0 {
		t.Fatalf("second Compact = %+v, %v", rep, err)
	}
	mustVerifyClean(t, s)
	s.Close()
	s2, err := Open(e.dir, e.index, Options{MaxDeadFraction: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// With room (no budget), compaction may rewrite the punched pack: its
	// headers are intact.
	if rep, err := s2.Compact(ctx, nil); err != nil || len(rep.Skipped) > 0 {
		t.Fatalf("Compact with room = %+v, %v", rep, err)
	}
	if rep := mustVerifyClean(t, s2); rep.Checked != len(live) {
		t.Fatalf("verified %d, want %d", rep.Checked, len(live))
	}
}
