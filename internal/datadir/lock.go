package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrLocked is wrapped by the error Lock returns when another node (in this
// or another process) holds the data directory. The error is a *LockedError.
var ErrLocked = errors.New("data directory is locked")

// LockedError says who holds a data directory's lock.
type LockedError struct {
	Dir string // absolute path of the data directory
	PID int    // process id of the holder; 0 if it could not be read
}

func (e *LockedError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("peer is already running on data directory %s (%s)", e.Dir, pid)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// errHeld is what the platform lock functions return when the lock is held.
var errHeld = errors.New("lock held")

// DirLock is an exclusive hold on a data directory, taken by Lock. (The
// type cannot share the function's name in Go.) It is an advisory lock on
// <dir>/LOCK (flock(2) on Unix, an exclusive open on Windows) that the
// operating system drops when the holding process exits for any reason,
// SIGKILL included, so a crashed node never blocks the next start.
type DirLock struct {
	mu sync.Mutex
	f  *os.File
}

// Lock takes the data directory's lock without waiting and writes the
// caller's pid into the lock file. dir must exist (see Prepare). If another
// holder has it, the error is a *LockedError wrapping ErrLocked, whose message
// reads "peer is already running on data directory <dir> (pid <N>)". The lock
// conflicts with other holders in the same process too.
//
// The lock file is never removed: deleting a lock file while others may
// have it open would let two holders lock two different files.
func Lock(dir string) (*DirLock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	path := LockPath(abs)
	f, err := lockFile(path, true)
	if errors.Is(err, errHeld) {
		return nil, &LockedError{Dir: abs, PID: readPID(path)}
	}
	if err != nil {
		return nil, fmt.Errorf("datadir: lock %s: %w", path, err)
	}
	// Write over any stale content, then cut it to length, so that a reader
	// never sees an empty file between the two steps.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		err = f.Truncate(int64(len(pid)))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("datadir: write %s: %w", path, err)
	}
	return &DirLock{f: f}, nil
}

// Release drops the lock. Calling it again is a no-op.
func (l *DirLock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	f.Truncate(0) // best effort: leave no stale pid behind
	return f.Close()
}

// readPID reads the holder's pid from the lock file. The holder writes it
// just after locking, so a few quick retries cover that window.
func readPID(path string) int {
	for i := 0; i < 5; i++ {
		if i > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}

// held reports whether dir's lock is currently held, and by which pid (0 if
// unknown). It does not create the lock file or write to it.
func held(dir string) (bool, int) {
	path := LockPath(dir)
	f, err := lockFile(path, false)
	switch {
	case errors.Is(err, errHeld):
		return true, readPID(path)
	case err != nil:
		return false, 0 // no lock file: nobody ever locked it
	}
	f.Close()
	return false, 0
}
