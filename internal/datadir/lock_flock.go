//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package datadir

import (
	"errors"
	"os"
	"syscall"
)

// lockFile opens path (creating it, mode 0600, if create is set) and takes
// an exclusive, non-blocking flock on it. flock locks belong to the open
// file description, so two opens in one process conflict as well, and the
// kernel drops the lock when the last descriptor closes (process death
// included). Go opens files close-on-exec, so child processes do not
// inherit it.
func lockFile(path string, create bool) (*os.File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if !create && errors.Is(err, os.ErrPermission) {
		f, err = os.Open(path) // probing a directory we may only read
	}
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errHeld
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}
