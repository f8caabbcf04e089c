package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/peer-node/peer/internal/fsutil"
)

// RuntimeVersion is the format version of node.json this build writes and
// reads.
const RuntimeVersion = 1

// maxRuntimeSize bounds how much of node.json is read.
const maxRuntimeSize = 64 << 10

var (
	// ErrNotRunning means there is no runtime file: the node is not running
	// on this data directory.
	ErrNotRunning = errors.New("peer is not running")
	// ErrUnsupportedVersion means node.json has a format version this build
	// does not understand (written by a newer peer, probably).
	ErrUnsupportedVersion = errors.New("datadir: unsupported runtime file version")
)

// Runtime describes a running node. The node writes it to <dir>/node.json
// once its API is listening, and removes it on a clean shutdown.
type Runtime struct {
	// Version is the file format version; WriteRuntime fills in
	// RuntimeVersion when it is zero.
	Version int `json:"version"`
	// PID is the node's process id.
	PID int `json:"pid"`
	// API is the base URL of the node's HTTP API, e.g. http://127.0.0.1:7357.
	API string `json:"api"`
	// Started is when the node started.
	Started time.Time `json:"started"`
}

// WriteRuntime atomically writes r to <dir>/node.json with mode 0600.
func WriteRuntime(dir string, r Runtime) error {
	if r.Version == 0 {
		r.Version = RuntimeVersion
	}
	if err := r.check(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	data = append(data, '\n')
	if err := fsutil.WriteFileAtomic(RuntimePath(dir), data, 0o600); err != nil {
		return fmt.Errorf("datadir: write runtime file: %w", err)
	}
	return nil
}

// ReadRuntime reads <dir>/node.json. If it does not exist the error wraps
// ErrNotRunning and suggests `peer up`. A file with another format version
// fails with ErrUnsupportedVersion.
//
// A runtime file may be stale (left by a node that crashed); use
// ProbeRunning to learn whether the node is actually running.
func ReadRuntime(dir string) (Runtime, error) {
	path := RuntimePath(dir)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Runtime{}, fmt.Errorf("%w on data directory %s (no %s); start it with `peer up`",
			ErrNotRunning, dir, filepath.Base(path))
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("datadir: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRuntimeSize+1))
	if err != nil {
		return Runtime{}, fmt.Errorf("datadir: read %s: %w", path, err)
	}
	if len(data) > maxRuntimeSize {
		return Runtime{}, fmt.Errorf("datadir: %s is larger than %d bytes", path, maxRuntimeSize)
	}
	var r Runtime
	if err := json.Unmarshal(data, &r); err != nil {
		return Runtime{}, fmt.Errorf("datadir: parse %s: %w", path, err)
	}
	if err := r.check(); err != nil {
		return Runtime{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func (r Runtime) check() error {
	if r.Version != RuntimeVersion {
		return fmt.Errorf("%w: version %d (this build reads version %d)", ErrUnsupportedVersion, r.Version, RuntimeVersion)
	}
	if r.PID <= 0 {
		return fmt.Errorf("datadir: runtime file: invalid pid %d", r.PID)
	}
	return nil
}

// RemoveRuntime removes <dir>/node.json. A missing file is not an error.
func RemoveRuntime(dir string) error {
	err := os.Remove(RuntimePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	return fsutil.SyncDir(dir)
}

// ProbeRunning reports whether a node is running on dir, and its Runtime if
// so. It is true only if the data directory's lock is held right now (it
// tries the lock without taking it for good and without writing to the lock
// file) AND node.json exists, parses, and names the lock holder's pid (when
// that can be read). This tells a running node from a stale node.json left
// by a crash. A node that has taken the lock but not yet written node.json
// reads as not running.
func ProbeRunning(dir string) (Runtime, bool) {
	locked, holder := held(dir)
	if !locked {
		return Runtime{}, false
	}
	r, err := ReadRuntime(dir)
	if err != nil {
		return Runtime{}, false
	}
	if holder != 0 && r.PID != holder {
		return Runtime{}, false
	}
	return r, true
}
