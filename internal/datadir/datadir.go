// Package datadir manages the node's data directory: where it is by default,
// preparing it, the exclusive lock that lets one node at a time use it, the
// runtime file (node.json) through which the CLI finds the running node, and
// the paths of well-known files in it.
//
// Layout of a data directory:
//
//	LOCK        advisory lock held by the running node; holds its pid
//	node.json   runtime file of the running node (Runtime, JSON)
//	api.token   API token file (TokenPath)
//
// It depends only on the standard library and internal/fsutil. The node
// (composition root) and cmd/peer import it; domain packages should be given
// paths, not import it.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// File names inside a data directory.
const (
	lockName    = "LOCK"
	runtimeName = "node.json"
	tokenName   = "api.token"
)

// Default returns the per-user data directory for this operating system:
//
//	Linux and other Unix: $XDG_DATA_HOME/peer, else $HOME/.local/share/peer
//	macOS:                $HOME/Library/Application Support/Peer
//	Windows:              %LocalAppData%\Peer
//
// It does not read $PEER_DATA or any flag; the CLI applies those first. It
// neither creates nor checks the directory (see Prepare).
func Default() (string, error) {
	return defaultDir(runtime.GOOS, os.Getenv)
}

func defaultDir(goos string, getenv func(string) string) (string, error) {
	home := func(name string) (string, error) {
		if h := getenv(name); h != "" {
			return h, nil
		}
		return "", fmt.Errorf("datadir: cannot find the home directory: $%s is not set", name)
	}
	switch goos {
	case "windows":
		dir := getenv("LocalAppData")
		if dir == "" {
			return "", errors.New("datadir: %LocalAppData% is not set")
		}
		return filepath.Join(dir, "Peer"), nil
	case "darwin", "ios":
		h, err := home("HOME")
		if err != nil {
			return "", err
		}
		return filepath.Join(h, "Library", "Application Support", "Peer"), nil
	case "plan9":
		h, err := home("home")
		if err != nil {
			return "", err
		}
		return filepath.Join(h, "lib", "peer"), nil
	default:
		// The XDG spec says to ignore a relative $XDG_DATA_HOME.
		if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
			return filepath.Join(x, "peer"), nil
		}
		h, err := home("HOME")
		if err != nil {
			return "", err
		}
		return filepath.Join(h, ".local", "share", "peer"), nil
	}
}

// Prepare makes sure dir is a usable data directory: it creates it (mode
// 0700, parents included) if missing, and fails with a clear error if the
// path is not a directory or the directory is not writable. It leaves the
// mode of an existing directory alone.
func Prepare(dir string) error {
	if dir == "" {
		return errors.New("datadir: empty data directory path")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("datadir: cannot create data directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("datadir: data directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("datadir: data directory %s exists but is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("datadir: data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("datadir: data directory %s: %w", dir, err)
	}
	return nil
}

// TokenPath returns the path of the API token file in dir.
func TokenPath(dir string) string { return filepath.Join(dir, tokenName) }

// LockPath returns the path of the lock file in dir.
func LockPath(dir string) string { return filepath.Join(dir, lockName) }

// RuntimePath returns the path of the runtime file (node.json) in dir.
func RuntimePath(dir string) string { return filepath.Join(dir, runtimeName) }
