package mimei

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/peer-node/peer/internal/diskspace"
)

// budget refuses every request while full is set.
type budget struct{ full atomic.Bool }

func (b *budget) Check(n int64) error {
	if b.full.Load() {
		return &diskspace.FullError{Free: 1 << 20, Reserve: 8 << 20, Need: n}
	}
	return nil
}

// TestFullDiskRefusesNewDataOnly: with the budget exhausted, everything
// that adds data is refused with ErrDiskFull, everything that removes data
// (and GC, verification, reads) still works, and writes resume once there
// is room.
func TestFullDiskRefusesNewDataOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	sp := &budget{}
	f.Store.opts.Space = sp
	id := f.create(t, 0)
	f.put(t, id, "/keep.txt", "kept")
	f.put(t, id, "/drop.txt", "dropped")
	db, err := f.DB(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Backup(ctx, id, "before"); err != nil {
		t.Fatal(err)
	}
	sp.full.Store(true)

	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"create", func() error {
			_, err := f.Create(Spec{Author: f.author, AppType: "files", Mark: AutoMark}, Rights{}, 0)
			return err
		}},
		{"put", func() error {
			_, err := f.Put(ctx, id, "/new.txt", strings.NewReader("x"), PutOptions{})
			return err
		}},
		{"mkdir", func() error { _, err := f.Mkdir(id, "/d", false); return err }},
		{"db set", func() error { return db.Set([]byte("k2"), []byte("v2")) }},
		{"backup", func() error { _, err := f.Backup(ctx, id, "after"); return err }},
		{"import", func() error {
			_, err := f.Import(ctx, id, "/", tarOf(t, map[string]string{"a": "b"}), nil)
			return err
		}},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, diskspace.ErrDiskFull) {
				t.Fatalf("%s on a full disk = %v", tc.name, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"remove", func() error { return f.Remove(id, "/drop.txt", false) }},
		{"db del", func() error { _, err := db.Del([]byte("k")); return err }},
		{"read", func() error {
			if got := f.read(t, id, "", "/keep.txt"); got != "kept" {
				return errors.New(got)
			}
			return nil
		}},
		{"gc", func() error { _, err := f.GC(ctx); return err }},
		{"verify", func() error {
			rep, err := f.Verify(ctx)
			if err == nil && len(rep.Problems) > 0 {
				err = errors.New("problems")
			}
			return err
		}},
		{"delete mimei", func() error {
			m, err := f.Create(Spec{Author: f.author, AppType: "files", Mark: AutoMark}, Rights{}, 0)
			if err == nil {
				return errors.New("created on a full disk")
			}
			_ = m
			return f.Delete(id, false)
		}},
	} {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			if err := tc.op(); err != nil {
				t.Fatalf("%s on a full disk: %v", tc.name, err)
			}
		})
	}
	sp.full.Store(false)
	id2 := f.create(t, 0)
	f.put(t, id2, "/again.txt", "room again")
}
