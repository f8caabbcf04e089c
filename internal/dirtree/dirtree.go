// Package dirtree stores a frozen directory tree — the file space of one
// MiMei version — as content-addressed blocks, and reads, walks and compares
// such trees.
//
// A directory is a dag-cbor node listing its entries sorted by name; each
// entry names a file (by its internal/filetree root) or a subdirectory (by
// its node), with the bytes beneath it and a modification time. A directory
// of more than MaxEntriesPerNode entries is split into pages of that many
// entries behind one index node, so any lookup reads at most two blocks per
// path segment. Equal trees give equal root CIDs, and Diff skips every
// subtree whose CID is the same on both sides. The format is versioned and
// specified in docs/formats-dirs.md.
//
// dirtree sits in the storage layer next to filetree, whose block-store roles
// (Getter, Putter) it uses. Package mimei imports it; it must not import
// network, HTTP or node packages.
package dirtree

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/cid"
)

// Version is the format version written first in every node.
const Version = 1

// Format limits.
const (
	// MaxEntriesPerNode bounds the entries of a node and the pages of an
	// index node; a directory with more entries is paged, so a directory
	// holds at most MaxEntriesPerNode² entries.
	MaxEntriesPerNode = 4096
	// MaxNameLen bounds one name, in bytes.
	MaxNameLen = 255
	// MaxMIMELen bounds a file's media type, in bytes.
	MaxMIMELen = 255
)

// maxDepth bounds the number of segments in a path. Build refuses deeper
// trees (ErrTooLarge) and the walkers refuse to descend further
// (ErrMalformed), so recursion stays bounded whatever a block says.
const maxDepth = 256

// maxEntries is the MaxEntriesPerNode that the writer and the decoder apply.
// Tests lower it to exercise paging with small directories; the format fixes
// it at MaxEntriesPerNode.
var maxEntries = MaxEntriesPerNode

// Errors callers branch on. Details (the path or CID concerned) are wrapped
// with %w; block-store errors pass through unchanged.
var (
	// ErrMalformed: a node does not decode or breaks a rule of the format,
	// or Build was given an invalid entry.
	ErrMalformed = errors.New("dirtree: malformed node")
	// ErrUnsupportedVersion: a node has a version this code does not know.
	ErrUnsupportedVersion = errors.New("dirtree: unsupported format version")
	// ErrNotFound: the path names nothing in the tree.
	ErrNotFound = errors.New("dirtree: no such file or directory")
	// ErrNotDir: a directory was needed and the path names a file.
	ErrNotDir = errors.New("dirtree: not a directory")
	// ErrTooLarge: Build was asked for a tree beyond the format's limits
	// (directory entries, depth or total size).
	ErrTooLarge = errors.New("dirtree: tree too large")
)

// Kind says what an entry names.
type Kind uint8

// Entry kinds, as written on the wire.
const (
	KindFile Kind = 1
	KindDir  Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Entry is one name in a directory.
type Entry struct {
	Name    string    // one path segment (see ValidName)
	Kind    Kind      // KindFile or KindDir
	Root    cid.CID   // file: its filetree root (raw or dag-cbor); dir: its node (dag-cbor)
	Size    uint64    // file: its bytes; dir: the bytes of all files beneath it
	MIME    string    // files only, may be empty
	ModTime time.Time // millisecond precision, UTC
}

// ValidName reports whether s is usable as one path segment: non-empty, at
// most MaxNameLen bytes of valid UTF-8, without '/' or NUL, and not "." or
// "..".
func ValidName(s string) bool {
	return s != "" && len(s) <= MaxNameLen && s != "." && s != ".." &&
		utf8.ValidString(s) && !strings.ContainsAny(s, "/\x00")
}

// SkipDir, returned by a Walk callback for a directory, skips that
// directory's contents; returned for a file, it skips the rest of the
// directory holding the file. Walk itself then carries on and does not
// return it.
var SkipDir = errors.New("dirtree: skip this directory")

// malformedError is an ErrMalformed with its reason and, optionally, the
// error behind it (a bad CID, say).
type malformedError struct {
	msg   string
	cause error
}

func (e *malformedError) Error() string {
	if e.cause != nil {
		return ErrMalformed.Error() + ": " + e.msg + ": " + e.cause.Error()
	}
	return ErrMalformed.Error() + ": " + e.msg
}

func (e *malformedError) Unwrap() []error { return []error{ErrMalformed, e.cause} }

func malformed(format string, args ...any) error {
	return &malformedError{msg: fmt.Sprintf(format, args...)}
}

// malformedBy is malformed with the error that caused it.
func malformedBy(cause error, format string, args ...any) error {
	return &malformedError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// at puts where (an entry, a page) in front of the reason of a malformed
// error, keeping the sentinel first in the message.
func at(where string, err error) error {
	if me, ok := err.(*malformedError); ok {
		return &malformedError{msg: where + ": " + me.msg, cause: me.cause}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// join appends name to the slash-joined directory path dir ("" = root).
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// msTime is t at the precision and zone the format keeps.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
