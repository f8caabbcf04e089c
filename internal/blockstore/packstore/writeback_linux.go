package packstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing a range of f to the disk
// without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE). It is only
// a hint that spreads disk writes over the ingest; durability still comes
// from the fsync in Flush, so errors are ignored.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
