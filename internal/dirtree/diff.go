package dirtree

import (
	"context"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

// Op says how a path changed.
type Op string

// Change operations.
const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Change is one difference between two trees. Old is the zero Entry for
// Added, New the zero Entry for Removed.
type Change struct {
	Path     string
	Op       Op
	Old, New Entry
}

// Diff calls fn with every difference from tree a to tree b (either may be
// cid.Undef, the empty tree), in the order Walk visits paths. Subtrees with
// the same Root on both sides (and identical pages of large directories) are
// skipped without being read.
//
//   - A path only in b is Added; if it is a directory, every entry beneath
//     it follows as Added too. Likewise Removed for a path only in a.
//   - A path that is a file in one tree and a directory in the other is
//     Removed (with its contents) and then Added (with its contents).
//   - A file whose Root, Size, MIME or ModTime differs is Changed.
//   - A directory is never reported as Changed; only what differs beneath it
//     is (so a change of a directory's ModTime alone is not reported).
//
// Diff stops at the first error, from fn or from fetching, and returns it.
func Diff(ctx context.Context, get filetree.Getter, a, b cid.CID, fn func(Change) error) error {
	if a == b {
		return nil
	}
	na, err := loadNode(ctx, get, a)
	if err != nil {
		return err
	}
	nb, err := loadNode(ctx, get, b)
	if err != nil {
		return err
	}
	err = diffDirs(ctx, get, na, nb, "", 0, fn)
	if ce, ok := err.(callbackError); ok {
		return ce.err
	}
	return err
}

// callbackError carries an error from fn through walkDir, which would
// otherwise take a SkipDir from fn as an instruction.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

func diffDirs(ctx context.Context, get filetree.Getter, na, nb Node, prefix string, depth int, fn func(Change) error) error {
	if depth >= maxDepth && (len(na.Entries) > 0 || len(na.Pages) > 0 || len(nb.Entries) > 0 || len(nb.Pages) > 0) {
		return malformed("%s: deeper than %d levels", prefix, maxDepth)
	}
	report := func(c Change) error {
		if err := fn(c); err != nil {
			return callbackError{err}
		}
		return nil
	}
	ca, cb := newCursor(ctx, get, na), newCursor(ctx, get, nb)
	for {
		if pa, ok := ca.nextPage(); ok {
			if pb, ok := cb.nextPage(); ok && pa == pb {
				ca.skipPage()
				cb.skipPage()
				continue
			}
		}
		ea, okA, err := ca.peek()
		if err != nil {
			return err
		}
		eb, okB, err := cb.peek()
		if err != nil {
			return err
		}
		switch {
		case !okA && !okB:
			return nil
		case !okB || okA && ea.Name < eb.Name:
			ca.advance()
			if err := subtree(ctx, get, join(prefix, ea.Name), depth+1, ea, Removed, report); err != nil {
				return err
			}
		case !okA || eb.Name < ea.Name:
			cb.advance()
			if err := subtree(ctx, get, join(prefix, eb.Name), depth+1, eb, Added, report); err != nil {
				return err
			}
		default:
			ca.advance()
			cb.advance()
			if err := diffEntries(ctx, get, join(prefix, ea.Name), depth+1, ea, eb, report); err != nil {
				return err
			}
		}
	}
}

// diffEntries compares two entries of the same path, which has depth
// segments.
func diffEntries(ctx context.Context, get filetree.Getter, path string, depth int, ea, eb Entry, report func(Change) error) error {
	switch {
	case ea.Kind != eb.Kind:
		if err := subtree(ctx, get, path, depth, ea, Removed, report); err != nil {
			return err
		}
		return subtree(ctx, get, path, depth, eb, Added, report)
	case ea.Kind == KindFile:
		if ea.Root != eb.Root || ea.Size != eb.Size || ea.MIME != eb.MIME || !ea.ModTime.Equal(eb.ModTime) {
			return report(Change{Path: path, Op: Changed, Old: ea, New: eb})
		}
		return nil
	case ea.Root == eb.Root:
		return nil
	}
	na, err := loadDir(ctx, get, ea)
	if err != nil {
		return err
	}
	nb, err := loadDir(ctx, get, eb)
	if err != nil {
		return err
	}
	return diffDirs(ctx, get, na, nb, path, depth, report)
}

// subtree reports e, at path, as Added or Removed, and everything beneath it.
func subtree(ctx context.Context, get filetree.Getter, path string, depth int, e Entry, op Op, report func(Change) error) error {
	change := func(p string, e Entry) error {
		if op == Added {
			return report(Change{Path: p, Op: Added, New: e})
		}
		return report(Change{Path: p, Op: Removed, Old: e})
	}
	if err := change(path, e); err != nil || e.Kind != KindDir {
		return err
	}
	n, err := loadDir(ctx, get, e)
	if err != nil {
		return err
	}
	return walkDir(ctx, get, n, path, depth, change)
}
