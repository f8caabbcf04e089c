package diskspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeDisk is a file system of total bytes of which used are taken by
// others; the ballast file in dir takes its real size.
type fakeDisk struct {
	mu    sync.Mutex
	dir   string
	total int64
	used  int64
	now   time.Time
}

func (d *fakeDisk) statfs(dir string) (int64, int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	free := d.total - d.used
	if fi, err := os.Stat(filepath.Join(d.dir, BallastName)); err == nil {
		free -= fi.Size()
	}
	return max(free, 0), d.total, nil
}

func (d *fakeDisk) set(used int64) {
	d.mu.Lock()
	d.used = used
	d.now = d.now.Add(time.Second) // past the interval: measure again
	d.mu.Unlock()
}

func (d *fakeDisk) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func newFake(t *testing.T, total, used int64) *fakeDisk {
	return &fakeDisk{dir: t.TempDir(), total: total, used: used, now: time.Unix(1e9, 0)}
}

func open(t *testing.T, d *fakeDisk, o Options) *Guard {
	t.Helper()
	o.Dir, o.statfs, o.now = d.dir, d.statfs, d.clock
	g, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestAutomaticSizes(t *testing.T) {
	for _, tc := range []struct {
		total                  int64
		reserve, warn, ballast int64
	}{
		{64 * mib, 64 * mib / 10, 2 * (64 * mib / 10), 64 * mib / 20},
		{1 << 30, 32 * mib, 64 * mib, 16 * mib},
		{100 << 30, 1 << 30, 2 << 30, 64 * mib},
		{1 << 40, 1 << 30, 2 << 30, 64 * mib},
	} {
		t.Run(Bytes(tc.total), func(t *testing.T) {
			d := newFake(t, tc.total, tc.total) // full: no ballast made
			g := open(t, d, Options{})
			st := g.Status()
			if st.Reserve != tc.reserve || st.Warn != tc.warn || g.opts.Ballast != tc.ballast {
				t.Fatalf("reserve %s warn %s ballast %s, want %s %s %s", Bytes(st.Reserve), Bytes(st.Warn), Bytes(g.opts.Ballast),
					Bytes(tc.reserve), Bytes(tc.warn), Bytes(tc.ballast))
			}
		})
	}
}

func TestCheckRefusesBelowReserve(t *testing.T) {
	d := newFake(t, 100*mib, 0)
	g := open(t, d, Options{Reserve: 10 * mib, Warn: 20 * mib, Ballast: -1})
	for _, tc := range []struct {
		used, need int64
		full       bool
		level      Level
	}{
		{0, mib, false, OK},
		{85 * mib, mib, false, Low},
		{89 * mib, mib, false, Low},
		{89 * mib, mib + 1, true, Low},
		{95 * mib, 1, true, Full},
		{100 * mib, 0, true, Full},
		{10 * mib, 50 * mib, false, OK},
	} {
		t.Run(fmt.Sprintf("used %s need %s", Bytes(tc.used), Bytes(tc.need)), func(t *testing.T) {
			d.set(tc.used)
			err := g.Check(tc.need)
			if got := errors.Is(err, ErrDiskFull); got != tc.full {
				t.Fatalf("Check: %v, want full=%v", err, tc.full)
			}
			var fe *FullError
			if tc.full && (!errors.As(err, &fe) || fe.Reserve != 10*mib || fe.Need != tc.need) {
				t.Fatalf("error %#v", err)
			}
			if st := g.Status(); st.Level != tc.level {
				t.Fatalf("level %v, want %v", st.Level, tc.level)
			}
		})
	}
}

func TestGrantsCountUntilMeasuredAgain(t *testing.T) {
	d := newFake(t, 100*mib, 88*mib) // 12 MiB free
	g := open(t, d, Options{Reserve: 10 * mib, Ballast: -1, Interval: time.Hour})
	// Within the interval nothing is measured again: grants add up.
	for i, want := range []bool{true, true, false} {
		if err := g.Check(mib); (err == nil) != want {
			t.Fatalf("grant %d: %v", i, err)
		}
	}
	// Measured again (the writes did not happen on this fake disk), the
	// grants are forgotten.
	g.Status()
	if err := g.Check(mib); err != nil {
		t.Fatal(err)
	}
}

func TestBallast(t *testing.T) {
	d := newFake(t, 100*mib, 0)
	var changes []Level
	var mu sync.Mutex
	g := open(t, d, Options{Reserve: 8 * mib, Warn: 16 * mib, Ballast: 4 * mib, OnChange: func(_, cur Status) {
		mu.Lock()
		changes = append(changes, cur.Level)
		mu.Unlock()
	}})
	path := filepath.Join(d.dir, BallastName)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != 4*mib {
		t.Fatalf("ballast after Open: %v %v", fi, err)
	}
	if st := g.Status(); st.Ballast != 4*mib || st.Free != 96*mib {
		t.Fatalf("status %+v", st)
	}

	// Others fill the disk through the reserve: the ballast goes.
	d.set(95 * mib) // 1 MiB free with the ballast, below reserve/4
	st := g.Status()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) || st.Ballast != 0 {
		t.Fatalf("ballast not released: %v %+v", err, st)
	}
	if st.Free != 5*mib || st.Level != Full {
		t.Fatalf("after release %+v", st)
	}
	// Room again: the ballast comes back only with the warning threshold.
	d.set(85 * mib)
	if st := g.Status(); st.Ballast != 0 {
		t.Fatalf("ballast remade with 15 MiB free: %+v", st)
	}
	d.set(10 * mib)
	if st := g.Status(); st.Ballast != 4*mib || st.Level != OK {
		t.Fatalf("ballast not remade: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []Level{Full, Low, OK}; fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
}

func TestOpenOnFullDiskReleasesBallast(t *testing.T) {
	d := newFake(t, 100*mib, 0)
	open(t, d, Options{Reserve: 8 * mib, Ballast: 4 * mib})
	d.set(93 * mib) // 3 MiB free with the ballast: below reserve/2
	g := open(t, d, Options{Reserve: 8 * mib, Ballast: 4 * mib})
	if st := g.Status(); st.Ballast != 0 || st.Free != 7*mib || st.Level != Full {
		t.Fatalf("status %+v", st)
	}
}

func TestRealDisk(t *testing.T) {
	dir := t.TempDir()
	g, err := Open(Options{Dir: dir, Ballast: -1})
	if err != nil {
		t.Fatal(err)
	}
	st := g.Status()
	if st.Total <= 0 || st.Free < 0 || st.Free > st.Total {
		t.Fatalf("status %+v", st)
	}
	// A ballast of 1 MiB is made on a real file system and takes its space.
	if st.Free > 64*mib {
		if _, err := Open(Options{Dir: dir, Reserve: 1, Warn: 1, Ballast: mib}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, BallastName))
		if err != nil || fi.Size() != mib {
			t.Fatalf("ballast %v %v", fi, err)
		}
	}
}

func TestNoSpace(t *testing.T) {
	wrapped := NoSpace(&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	if !errors.Is(wrapped, ErrDiskFull) || !errors.Is(wrapped, syscall.ENOSPC) {
		t.Fatalf("%v", wrapped)
	}
	other := errors.New("other")
	if NoSpace(other) != other || NoSpace(nil) != nil {
		t.Fatal("other errors changed")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 * mib / 2: "1.5 MiB", 1 << 30: "1.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
