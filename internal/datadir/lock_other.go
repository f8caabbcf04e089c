//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package datadir

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lockFile is not implemented on this platform: a lock that the operating
// system does not drop when the holder dies would make a crashed node block
// the next start, so Lock refuses instead.
func lockFile(path string, create bool) (*os.File, error) {
	return nil, fmt.Errorf("data directory locking is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
