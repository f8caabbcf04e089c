//go:build !linux

package packstore

import (
	"errors"
	"os"
)

// punchHole is not available here: dead records wait for compaction.
func punchHole(f *os.File, off, n int64) error { return errors.ErrUnsupported }

// allocated is the disk space a file takes.
func allocated(fi os.FileInfo) int64 { return fi.Size() }
