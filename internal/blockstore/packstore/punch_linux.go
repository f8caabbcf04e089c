package packstore

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// punchHole gives the n bytes of f at off back to the file system, leaving
// a hole that reads as zeros; the file keeps its size.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// allocated is the disk space a file takes (less than its size where it has
// holes).
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
