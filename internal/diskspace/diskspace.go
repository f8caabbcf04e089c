// Package diskspace treats the free space of the disk under the data
// directory as a resource the node budgets, so that a full disk never
// wedges it.
//
// A Guard keeps a reserve: new data (files put, blocks fetched, database
// writes, versions made) is refused with ErrDiskFull while the disk's free
// space would fall below it, so the embedded store and the pack files never
// meet "no space left on device" from the node's own writes, and deleting,
// garbage collection (with the compaction it needs) and verification still
// have room to run. Maintenance does not ask the Guard: it may use the
// reserve.
//
// Other programs may still fill the disk past the reserve. For that the
// Guard keeps a ballast file (as CockroachDB does): a file of fixed size in
// the data directory that it removes when free space falls to a small part
// of the reserve, or at Open when the disk is already that full, so that the
// embedded store can open and maintenance can run. The ballast is made again
// once the disk has room for it and the warning threshold.
//
// The Guard reports its level (OK, Low below the warning threshold, Full
// below the reserve) through Status and an OnChange callback, which the
// node turns into events, a log line and the web UI's banner.
//
// It is a leaf package (standard library and golang.org/x/sys only).
package diskspace

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrDiskFull is wrapped by every refusal for want of disk space (a
// *FullError) and by writes the file system refused with ENOSPC.
var ErrDiskFull = errors.New("disk full")

// FullError says a write was refused because the disk's free space would
// fall below the reserve.
type FullError struct {
	Free     int64 // bytes free on the disk
	Reserve  int64 // bytes the node keeps free
	Need     int64 // bytes the refused write asked for
	ReadOnly bool  // the node started on a disk too full to open its store for writing
}

func (e *FullError) Error() string {
	if e.ReadOnly {
		return fmt.Sprintf("disk full: the node started with %s free, too little to open its store for writing, so it serves reads only; free space on the disk, then restart the node", Bytes(e.Free))
	}
	return fmt.Sprintf("disk full: %s free, %s kept in reserve; free space by deleting MiMei or old versions and running `peer store gc`, or by freeing space on the disk",
		Bytes(e.Free), Bytes(e.Reserve))
}

// Is makes errors.Is(err, ErrDiskFull) hold.
func (e *FullError) Is(target error) bool { return target == ErrDiskFull }

// Level is how full the disk is.
type Level int

// Levels, from roomy to full.
const (
	OK   Level = iota // free space at or above the warning threshold
	Low               // below the warning threshold: still writable
	Full              // below the reserve: new data is refused
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Low:
		return "low"
	case Full:
		return "full"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Status is a snapshot of the disk as the Guard sees it.
type Status struct {
	Free    int64 // bytes free on the disk (for unprivileged writers)
	Total   int64 // size of the file system
	Reserve int64 // writes of new data stop here
	Warn    int64 // below this, Level is Low
	Ballast int64 // bytes the ballast file holds now (0: released or none)
	Level   Level
	// ReadOnly: the node opened its store read-only (ReadOnly was called);
	// every write is refused until it restarts with room.
	ReadOnly bool
}

// Options configures a Guard. Sizes of zero are chosen from the disk's size.
type Options struct {
	// Dir is the data directory: the file system holding it is watched and
	// the ballast file lives in it.
	Dir string
	// Reserve is the free space new data may not take; 0: 1% of the disk,
	// at least 32 MiB and at most 1 GiB, but never more than a tenth of it.
	Reserve int64
	// Warn is the free space under which the level is Low; 0: twice the
	// reserve (at most a fifth of the disk). Never less than Reserve.
	Warn int64
	// Ballast is the size of the ballast file; 0: half the reserve, at
	// most 64 MiB (room for the store to open and GC to start, which then
	// frees more); < 0: no ballast.
	Ballast int64
	// Logger receives a line when the level changes or the ballast is
	// released or made; nil discards them.
	Logger *slog.Logger
	// OnChange is called (outside the Guard's lock) when the level changes.
	OnChange func(old, cur Status)
	// Interval is how long a measured free space is trusted; 0: 250 ms.
	// Writes granted since count against it meanwhile.
	Interval time.Duration

	statfs func(dir string) (free, total int64, err error) // tests
	now    func() time.Time                                // tests
}

// BallastName is the ballast file's name in the data directory.
const BallastName = "ballast"

const (
	mib            = 1 << 20
	defaultMinimum = 32 * mib
	defaultMaximum = 1 << 30
	// defaultBallastMax bounds the automatic ballast.
	defaultBallastMax = 64 * mib
	// recheckBytes: after granting this much since the last measurement,
	// measure again even within Interval.
	recheckBytes = 4 * mib
)

// Guard budgets the disk under a data directory. It is safe for concurrent
// use.
type Guard struct {
	opts    Options
	log     *slog.Logger
	ballast string

	mu       sync.Mutex
	measured time.Time
	free     int64 // as measured
	total    int64
	granted  int64 // bytes granted since measured
	level    Level
	held     int64 // ballast bytes on disk
	err      error // the last measurement's error
	readOnly *FullError
}

// Open measures the disk, removes the ballast if the disk is nearly full
// (so that what opens next has room) or makes it if there is room, and
// returns the Guard.
func Open(opts Options) (*Guard, error) {
	if opts.Dir == "" {
		return nil, errors.New("diskspace: no directory")
	}
	if opts.statfs == nil {
		opts.statfs = statfs
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	g := &Guard{opts: opts, log: opts.Logger, ballast: filepath.Join(opts.Dir, BallastName)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	free, total, err := opts.statfs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("diskspace: %w", err)
	}
	g.size(total)
	if fi, err := os.Stat(g.ballast); err == nil {
		g.held = fi.Size()
	}
	g.free, g.total, g.measured = free, total, opts.now()
	if g.held > 0 && free < g.opts.Reserve/2 {
		g.releaseLocked(free)
	} else {
		g.keepBallastLocked()
	}
	g.level = g.levelOf(g.free)
	if g.level != OK {
		g.log.Warn("disk space low", g.attrs()...)
	}
	return g, nil
}

// size fills in the automatic sizes for a disk of total bytes.
func (g *Guard) size(total int64) {
	o := &g.opts
	if o.Reserve <= 0 {
		o.Reserve = min(max(total/100, defaultMinimum), defaultMaximum, total/10)
	}
	if o.Warn <= 0 {
		o.Warn = max(min(2*o.Reserve, total/5), o.Reserve)
	}
	o.Warn = max(o.Warn, o.Reserve)
	if o.Ballast == 0 {
		o.Ballast = min(o.Reserve/2, defaultBallastMax)
	}
}

func (g *Guard) levelOf(free int64) Level {
	switch {
	case free < g.opts.Reserve:
		return Full
	case free < g.opts.Warn:
		return Low
	}
	return OK
}

// Check asks for n bytes of new data: nil, or a *FullError when the disk's
// free space would fall below the reserve.
func (g *Guard) Check(n int64) error {
	g.mu.Lock()
	old, cur, changed := g.refreshLocked(false)
	free := g.free - g.granted
	var err error
	if g.readOnly != nil {
		err = g.readOnly
	} else if g.err == nil && free-n < g.opts.Reserve {
		err = &FullError{Free: max(free, 0), Reserve: g.opts.Reserve, Need: n}
	} else {
		g.granted += n
	}
	g.mu.Unlock()
	g.notify(old, cur, changed)
	return err
}

// Free is the free space now (the reserve included), for maintenance that
// may use the reserve.
func (g *Guard) Free() int64 {
	g.mu.Lock()
	old, cur, changed := g.refreshLocked(false)
	free := g.free - g.granted
	g.mu.Unlock()
	g.notify(old, cur, changed)
	return max(free, 0)
}

// Status measures the disk and reports it.
func (g *Guard) Status() Status {
	g.mu.Lock()
	old, cur, changed := g.refreshLocked(true)
	g.mu.Unlock()
	g.notify(old, cur, changed)
	return cur
}

// ReadOnly records that the node opened its store read-only for want of
// space and returns the error every write gets from then on (Check
// returns it too, and Status says so).
func (g *Guard) ReadOnly() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.readOnly = &FullError{Free: max(g.free, 0), Reserve: g.opts.Reserve, ReadOnly: true}
	return g.readOnly
}

// Release removes the ballast now (maintenance about to need room).
func (g *Guard) Release() {
	g.mu.Lock()
	if g.held > 0 {
		g.releaseLocked(g.free)
	}
	g.mu.Unlock()
}

// refreshLocked measures again when the last measurement is stale (or
// always when force), releases or makes the ballast as the space requires,
// and returns the status before and after.
func (g *Guard) refreshLocked(force bool) (old, cur Status, changed bool) {
	old = g.statusLocked()
	now := g.opts.now()
	if !force && now.Sub(g.measured) < g.opts.Interval && g.granted < recheckBytes {
		return old, old, false
	}
	free, total, err := g.opts.statfs(g.opts.Dir)
	g.err = err
	if err == nil {
		g.free, g.total, g.granted, g.measured = free, total, 0, now
		if g.held > 0 && free < g.opts.Reserve/4 {
			g.releaseLocked(free)
		} else if g.held == 0 {
			g.keepBallastLocked()
		}
		g.level = g.levelOf(g.free)
	}
	cur = g.statusLocked()
	return old, cur, cur.Level != old.Level
}

func (g *Guard) statusLocked() Status {
	return Status{Free: max(g.free-g.granted, 0), Total: g.total, Reserve: g.opts.Reserve, Warn: g.opts.Warn, Ballast: g.held, Level: g.level,
		ReadOnly: g.readOnly != nil}
}

func (g *Guard) notify(old, cur Status, changed bool) {
	if !changed {
		return
	}
	switch cur.Level {
	case OK:
		g.log.Info("disk space ok again", "free", Bytes(cur.Free))
	default:
		g.log.Warn("disk space "+cur.Level.String(), "free", Bytes(cur.Free), "reserve", Bytes(cur.Reserve), "warn_below", Bytes(cur.Warn))
	}
	if g.opts.OnChange != nil {
		g.opts.OnChange(old, cur)
	}
}

func (g *Guard) attrs() []any {
	return []any{"free", Bytes(g.free), "reserve", Bytes(g.opts.Reserve), "warn_below", Bytes(g.opts.Warn), "level", g.level.String(),
		"note", "new data is refused below the reserve; delete MiMei or old versions and run `peer store gc`, or free space on the disk"}
}

// releaseLocked removes the ballast file.
func (g *Guard) releaseLocked(free int64) {
	if err := os.Remove(g.ballast); err != nil && !errors.Is(err, os.ErrNotExist) {
		g.log.Warn("diskspace: remove ballast", "err", err)
		return
	}
	g.log.Warn("disk nearly full: released the ballast file", "ballast", Bytes(g.held), "free_before", Bytes(free))
	g.free += g.held
	g.held = 0
}

// keepBallastLocked makes the ballast file when there is room for it and
// for the warning threshold besides.
func (g *Guard) keepBallastLocked() {
	size := g.opts.Ballast
	if size <= 0 || g.held >= size || g.free-size < g.opts.Warn {
		return
	}
	if err := makeBallast(g.ballast, size); err != nil {
		g.log.Warn("diskspace: make ballast", "err", err)
		os.Remove(g.ballast)
		return
	}
	g.held = size
	g.free -= size
}

// makeBallast writes a file of size bytes that really takes them on disk.
func makeBallast(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// writeZeros fills f with size zero bytes (where fallocate is missing).
func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, min(size, mib))
	for off := int64(0); off < size; {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// NoSpace wraps err so that errors.Is(err, ErrDiskFull) holds when the
// file system refused a write for want of space (ENOSPC); other errors are
// returned as they are.
func NoSpace(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	return noSpaceError{err}
}

type noSpaceError struct{ error }

func (e noSpaceError) Unwrap() error        { return e.error }
func (e noSpaceError) Is(target error) bool { return target == ErrDiskFull }

// Bytes formats a byte count for people (KiB, MiB, GiB).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
