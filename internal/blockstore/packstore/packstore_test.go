package packstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/blockstore/storetest"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// env is one store directory with its index.
type env struct {
	dir   string
	index kv.Store
	opts  Options
}

func newEnv(t testing.TB, pebble bool, opts Options) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), opts: opts}
	if pebble {
		idx, err := pebblekv.Open(filepath.Join(e.dir, "index"), pebblekv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		e.index = idx
	} else {
		e.index = memkv.New()
	}
	return e
}

func (e *env) open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(e.dir, e.index, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// corrupt flips one byte of c's data in its pack file.
func corrupt(t *testing.T, bs blockstore.Store, c cid.CID) {
	t.Helper()
	s := bs.(*Store)
	loc, staged, err := s.locate(c)
	if err != nil || staged {
		t.Fatalf("corrupt: locate %s: staged=%v %v", c, staged, err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, packName(loc.pack)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := loc.off + recordLen(c, loc.dataLen) - 1 - int64(loc.dataLen/2)
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	for _, backend := range []struct {
		name   string
		pebble bool
	}{{"memkv", false}, {"pebblekv", true}} {
		t.Run(backend.name, func(t *testing.T) {
			envs := map[*Store]*env{}
			storetest.RunWith(t, func(t *testing.T) blockstore.Store {
				// Small packs so the suite crosses pack boundaries.
				e := newEnv(t, backend.pebble, Options{MaxPackSize: 6 << 20, AutoFlushBytes: 3 << 20})
				s := e.open(t)
				envs[s] = e
				return s
			}, storetest.Options{
				Corrupt: corrupt,
				Reopen: func(t *testing.T, bs blockstore.Store) blockstore.Store {
					if err := bs.Close(); err != nil {
						t.Fatal(err)
					}
					return envs[bs.(*Store)].open(t)
				},
			})
		})
	}
}

// crash abandons the store as a power cut would after the OS wrote what it
// was given: buffered bytes and staged index entries are lost, nothing is
// flushed, files are closed.
func (s *Store) crash() {
	s.stopBackground()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closed.Store(true)
	s.buf = s.buf[:0]
	s.closeFiles()
}

func put(t testing.TB, s *Store, seed uint64, n int) (cid.CID, []byte) {
	t.Helper()
	c, b := storetest.Block(seed, n)
	if err := s.Put(context.Background(), c, b); err != nil {
		t.Fatal(err)
	}
	return c, b
}

func mustVerifyClean(t *testing.T, s *Store) blockstore.VerifyReport {
	t.Helper()
	rep, err := s.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("Verify found problems: %+v", rep.Problems)
	}
	return rep
}

func TestCrashLosesOnlyUnflushed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true, Options{})
	s := e.open(t)
	want := map[cid.CID][]byte{}
	for i := range 40 {
		c, b := put(t, s, uint64(i), 1000+i*5000)
		want[c] = b
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var lost []cid.CID
	for i := range 40 {
		c, _ := put(t, s, uint64(100+i), 700+i*3000) // mix of buffered and direct writes
		lost = append(lost, c)
	}
	s.crash()

	s2 := e.open(t)
	for c, b := range want {
		got, err := s2.Get(ctx, c)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("flushed block %s after crash: %v", c, err)
		}
	}
	for _, c := range lost {
		if ok, _ := s2.Has(ctx, c); ok {
			t.Fatalf("unflushed block %s indexed after crash", c)
		}
	}
	rep := mustVerifyClean(t, s2)
	if rep.Checked != len(want) {
		t.Fatalf("Verify checked %d; want %d", rep.Checked, len(want))
	}
	st, _ := s2.Stats(ctx)
	if st.DeadBytes != 0 || st.DiskBytes != st.LiveBytes+st.OverheadBytes {
		t.Fatalf("after recovery the unindexed tail should be truncated: %+v", st)
	}
	// The lost blocks can be put again and survive a clean reopen.
	for i := range 40 {
		put(t, s2, uint64(100+i), 700+i*3000)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := e.open(t)
	if rep := mustVerifyClean(t, s3); rep.Checked != 80 {
		t.Fatalf("checked %d; want 80", rep.Checked)
	}
}

func TestGarbageTail(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false, Options{})
	s := e.open(t)
	c, b := put(t, s, 1, 10000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "packs", packName(0))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A torn record: a valid-looking header promising more than is there.
	tail := appendRecordHeader(nil, c.Bytes(), 5000)
	f.Write(append(tail, "garbage"...))
	f.Close()
	// And an uncommitted pack file from a crash during rollover.
	os.WriteFile(filepath.Join(e.dir, "packs", packName(7)), encodePackHeader(), 0o600)

	s2 := e.open(t)
	got, err := s2.Get(ctx, c)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get after garbage tail: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "packs", packName(7))); !os.IsNotExist(err) {
		t.Fatalf("uncommitted pack not removed: %v", err)
	}
	fi, _ := os.Stat(path)
	if want := int64(packHeaderSize) + recordLen(c, len(b)); fi.Size() != want {
		t.Fatalf("pack size %d; want truncated to %d", fi.Size(), want)
	}
	c2, b2 := put(t, s2, 2, 3000)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := e.open(t)
	if got, err := s3.Get(ctx, c2); err != nil || !bytes.Equal(got, b2) {
		t.Fatalf("block put after recovery: %v", err)
	}
	mustVerifyClean(t, s3)
}

func TestUnknownFormat(t *testing.T) {
	e := newEnv(t, false, Options{})
	s := e.open(t)
	put(t, s, 1, 100)
	s.Close()
	path := filepath.Join(e.dir, "packs", packName(0))
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{0, 0, 0, 9}, 8) // pack format version 9
	f.Close()
	_, err := Open(e.dir, e.index, Options{})
	if !errors.Is(err, blockstore.ErrUnsupportedFormat) {
		t.Fatalf("Open with pack version 9 = %v; want ErrUnsupportedFormat", err)
	}

	e2 := newEnv(t, false, Options{})
	e2.index.Set(formatKey, []byte("2"))
	if _, err := Open(e2.dir, e2.index, Options{}); !errors.Is(err, blockstore.ErrUnsupportedFormat) {
		t.Fatalf("Open with index format 2 = %v; want ErrUnsupportedFormat", err)
	}

	hdr := appendRecordHeader(nil, cid.Sum(cid.Raw, nil).Bytes(), 0)
	hdr[4] = 2
	if _, err := DecodeRecordHeader(hdr); !errors.Is(err, blockstore.ErrUnsupportedFormat) {
		t.Fatalf("record version 2 = %v; want ErrUnsupportedFormat", err)
	}
}

func TestMissingPackReported(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false, Options{MaxPackSize: 64 << 10})
	s := e.open(t)
	var cs []cid.CID
	for i := range 10 {
		c, _ := put(t, s, uint64(i), 20000)
		cs = append(cs, c)
	}
	s.Close()
	// Lose the first pack.
	if err := os.Remove(filepath.Join(e.dir, "packs", packName(0))); err != nil {
		t.Fatal(err)
	}
	s2 := e.open(t)
	_, err := s2.Get(ctx, cs[0])
	if !errors.Is(err, cid.ErrIntegrity) {
		t.Fatalf("Get from a lost pack = %v; want integrity error", err)
	}
	rep, err := s2.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 || rep.Problems[0].Kind != blockstore.Missing {
		t.Fatalf("Verify problems = %+v; want missing blocks", rep.Problems)
	}
	if rep.Checked != 10 {
		t.Fatalf("checked %d; want 10", rep.Checked)
	}
}

func TestStagedReadFromBuffer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false, Options{})
	s := e.open(t)
	for i := range 100 {
		c, b := put(t, s, uint64(i), 100+i)
		got, err := s.Get(ctx, c)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("read of staged block %d: %v", i, err)
		}
	}
}

func TestIndexPointingAtWrongRecord(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false, Options{})
	s := e.open(t)
	c1, _ := put(t, s, 1, 1000)
	c2, b2 := put(t, s, 2, 1000)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Point c1's entry at c2's record: same length, different CID.
	loc2, _, _ := s.locate(c2)
	if err := e.index.Set(blockKey(c1), loc2.encode()); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, c1)
	if !errors.Is(err, cid.ErrIntegrity) || !strings.Contains(err.Error(), c1.String()) {
		t.Fatalf("Get through a wrong index entry = %v; want integrity error naming %s", err, c1)
	}
	if got, err := s.Get(ctx, c2); err != nil || !bytes.Equal(got, b2) {
		t.Fatalf("c2: %v", err)
	}
	rep, err := s.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].CID != c1 || rep.Problems[0].Kind != blockstore.Unreadable {
		t.Fatalf("Verify problems = %+v; want %s unreadable", rep.Problems, c1)
	}
}

// TestGetUnverified: GetUnverified returns a block's bytes without
// re-hashing them (a corrupt block comes back as stored, for a reader that
// verifies), while Get refuses it; both fail alike for a missing block.
func TestGetUnverified(t *testing.T) {
	ctx := context.Background()
	s := newEnv(t, false, Options{}).open(t)
	data := bytes.Repeat([]byte("unverified "), 1000)
	c := cid.Sum(cid.Raw, data)
	if err := s.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := blockstore.GetFast(ctx, s, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetFast of a good block: %v", err)
	}
	corrupt(t, s, c)
	if _, err := s.Get(ctx, c); !errors.Is(err, cid.ErrIntegrity) {
		t.Fatalf("Get of a corrupt block: %v, want ErrIntegrity", err)
	}
	got, err = s.GetUnverified(ctx, c)
	if err != nil || len(got) != len(data) || bytes.Equal(got, data) {
		t.Fatalf("GetUnverified of a corrupt block: %d bytes, %v; want the corrupt bytes", len(got), err)
	}
	if cid.Verify(c, got) == nil {
		t.Fatal("the corrupt bytes verify")
	}
	if _, err := s.GetUnverified(ctx, cid.Sum(cid.Raw, []byte("absent"))); !blockstore.IsNotFound(err) {
		t.Fatalf("GetUnverified of a missing block: %v", err)
	}
}

// TestAppendUnverified: AppendUnverified appends exactly the block to the
// buffer given, for staged, buffered and flushed blocks, large and small,
// and fails like Get for a missing block or a wrong index entry.
func TestAppendUnverified(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false, Options{})
	s := e.open(t)
	check := func(c cid.CID, want []byte) {
		t.Helper()
		got, err := s.AppendUnverified(ctx, c, []byte("pre"))
		if err != nil || string(got[:3]) != "pre" || !bytes.Equal(got[3:], want) {
			t.Fatalf("AppendUnverified of %s (%d bytes): %v", c, len(want), err)
		}
		got, err = s.AppendUnverified(ctx, c, make([]byte, 0, len(want)+10))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("AppendUnverified into spare capacity: %v", err)
		}
	}
	var blocks []cid.CID
	var datas [][]byte
	for i, n := range []int{10, 1000, 300 << 10, 2 << 20} {
		c, b := put(t, s, uint64(i), n)
		check(c, b) // staged (buffered or written)
		blocks, datas = append(blocks, c), append(datas, b)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range blocks {
		check(c, datas[i])
	}
	if _, err := s.AppendUnverified(ctx, cid.Sum(cid.Raw, []byte("absent")), nil); !blockstore.IsNotFound(err) {
		t.Fatalf("missing block: %v", err)
	}
	loc, _, _ := s.locate(blocks[1])
	if err := e.index.Set(blockKey(blocks[0]), loc.encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUnverified(ctx, blocks[0], nil); !errors.Is(err, cid.ErrIntegrity) {
		t.Fatalf("wrong index entry: %v, want ErrIntegrity", err)
	}
}
