//go:build windows

package datadir

import (
	"os"
	"syscall"
)

const errorSharingViolation syscall.Errno = 32 // ERROR_SHARING_VIOLATION

// lockFile opens path for writing while denying write access to every other
// opener: a second lockFile fails with a sharing violation until the handle
// is closed, which Windows does when the process exits. Others may still
// read the file (to learn the holder's pid).
func lockFile(path string, create bool) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	var disposition uint32 = syscall.OPEN_EXISTING
	if create {
		disposition = syscall.OPEN_ALWAYS
	}
	h, err := syscall.CreateFile(p,
		syscall.GENERIC_READ|syscall.GENERIC_WRITE,
		syscall.FILE_SHARE_READ,
		nil, disposition, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err == errorSharingViolation {
		return nil, errHeld
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
