package dirtree

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

// The readers treat cid.Undef as the root of an empty tree, as a version
// record does for an empty file space.

// loadNode fetches and decodes the node c. Errors name c.
func loadNode(ctx context.Context, get filetree.Getter, c cid.CID) (Node, error) {
	if err := ctx.Err(); err != nil {
		return Node{}, err
	}
	if !c.Defined() {
		return Node{}, nil
	}
	if err := cid.Check(c); err != nil || c.Prefix().Codec != cid.DagCBOR {
		return Node{}, malformed("directory %s is not a dag-cbor node", c)
	}
	data, err := get.Get(ctx, c)
	if err != nil {
		return Node{}, err
	}
	n, err := DecodeNode(data)
	if err != nil {
		return Node{}, at(fmt.Sprintf("directory node %s", c), err)
	}
	return n, nil
}

// loadDir loads the node of directory entry e and checks that it holds the
// bytes e says.
func loadDir(ctx context.Context, get filetree.Getter, e Entry) (Node, error) {
	n, err := loadNode(ctx, get, e.Root)
	if err != nil {
		return Node{}, err
	}
	if n.size() != e.Size {
		return Node{}, malformed("directory %s holds %d bytes, its entry says %d", e.Root, n.size(), e.Size)
	}
	return n, nil
}

// loadPage fetches page i of index node n and checks it against its Page
// record and its neighbour.
func loadPage(ctx context.Context, get filetree.Getter, n Node, i int) ([]Entry, error) {
	p := n.Pages[i]
	pn, err := loadNode(ctx, get, p.CID)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pn.Pages) > 0:
		return nil, malformed("page %s is an index node", p.CID)
	case len(pn.Entries) != p.Count:
		return nil, malformed("page %s holds %d entries, its index says %d", p.CID, len(pn.Entries), p.Count)
	case pn.Entries[0].Name != p.FirstName:
		return nil, malformed("page %s starts at %q, its index says %q", p.CID, pn.Entries[0].Name, p.FirstName)
	case pn.size() != p.Size:
		return nil, malformed("page %s holds %d bytes, its index says %d", p.CID, pn.size(), p.Size)
	case i+1 < len(n.Pages) && pn.Entries[len(pn.Entries)-1].Name >= n.Pages[i+1].FirstName:
		return nil, malformed("page %s overlaps the next page", p.CID)
	}
	return pn.Entries, nil
}

// cursor iterates over the entries of a directory in name order, fetching
// its pages one at a time.
type cursor struct {
	ctx  context.Context
	get  filetree.Getter
	n    Node
	ents []Entry
	i    int
	page int // next page to load
}

func newCursor(ctx context.Context, get filetree.Getter, n Node) *cursor {
	return &cursor{ctx: ctx, get: get, n: n, ents: n.Entries}
}

// peek returns the current entry; ok is false at the end.
func (c *cursor) peek() (e Entry, ok bool, err error) {
	for c.i >= len(c.ents) {
		if c.page >= len(c.n.Pages) {
			return Entry{}, false, nil
		}
		ents, err := loadPage(c.ctx, c.get, c.n, c.page)
		if err != nil {
			return Entry{}, false, err
		}
		c.ents, c.i = ents, 0
		c.page++
	}
	return c.ents[c.i], true, nil
}

func (c *cursor) advance() { c.i++ }

// nextPage returns the page the cursor would load next, if it stands at a
// page boundary.
func (c *cursor) nextPage() (cid.CID, bool) {
	if c.i < len(c.ents) || c.page >= len(c.n.Pages) {
		return cid.Undef, false
	}
	return c.n.Pages[c.page].CID, true
}

func (c *cursor) skipPage() { c.page++ }

// find looks name up in directory n, reading at most one page.
func find(ctx context.Context, get filetree.Getter, n Node, name string) (Entry, bool, error) {
	ents := n.Entries
	if len(n.Pages) > 0 {
		i := sort.Search(len(n.Pages), func(i int) bool { return n.Pages[i].FirstName > name }) - 1
		if i < 0 {
			return Entry{}, false, nil
		}
		var err error
		if ents, err = loadPage(ctx, get, n, i); err != nil {
			return Entry{}, false, err
		}
	}
	i, ok := slices.BinarySearchFunc(ents, name, func(e Entry, name string) int { return strings.Compare(e.Name, name) })
	if !ok {
		return Entry{}, false, nil
	}
	return ents[i], true, nil
}

// lookup resolves path to its entry. For a directory it also returns the
// directory's node if node is set.
func lookup(ctx context.Context, get filetree.Getter, root cid.CID, path string, node bool) (Entry, Node, error) {
	n, err := loadNode(ctx, get, root)
	if err != nil {
		return Entry{}, Node{}, err
	}
	e := Entry{Kind: KindDir, Root: root, Size: n.size()}
	if path == "" {
		return e, n, nil
	}
	segs := strings.Split(path, "/")
	for i, name := range segs {
		if e.Kind != KindDir {
			return Entry{}, Node{}, fmt.Errorf("%w: %s", ErrNotDir, strings.Join(segs[:i], "/"))
		}
		if !ValidName(name) {
			return Entry{}, Node{}, fmt.Errorf("%w: %q: invalid path", ErrNotFound, path)
		}
		if i > 0 {
			if n, err = loadDir(ctx, get, e); err != nil {
				return Entry{}, Node{}, err
			}
		}
		var ok bool
		if e, ok, err = find(ctx, get, n, name); err != nil {
			return Entry{}, Node{}, err
		} else if !ok {
			return Entry{}, Node{}, fmt.Errorf("%w: %s", ErrNotFound, strings.Join(segs[:i+1], "/"))
		}
	}
	n = Node{}
	if node && e.Kind == KindDir {
		if n, err = loadDir(ctx, get, e); err != nil {
			return Entry{}, Node{}, err
		}
	}
	return e, n, nil
}

// Lookup returns the entry at path under root. path is slash-joined names
// without a leading slash; "" is the root itself, returned as an entry of
// Kind dir with an empty Name, Root root and the tree's total Size. Errors:
// ErrNotFound (also for a path that no entry can have, such as "a//b"),
// ErrNotDir when a segment before the last is a file, ErrMalformed for bad
// blocks. A lookup reads one block per path segment, two in a paged
// directory.
func Lookup(ctx context.Context, get filetree.Getter, root cid.CID, path string) (Entry, error) {
	e, _, err := lookup(ctx, get, root, path, false)
	return e, err
}

// List returns the entries of the directory at path, sorted by name
// (bytewise). It fails with ErrNotDir if path names a file.
func List(ctx context.Context, get filetree.Getter, root cid.CID, path string) ([]Entry, error) {
	e, n, err := lookup(ctx, get, root, path, true)
	if err != nil {
		return nil, err
	}
	if e.Kind != KindDir {
		return nil, fmt.Errorf("%w: %s", ErrNotDir, path)
	}
	if len(n.Pages) == 0 {
		return n.Entries, nil
	}
	out := make([]Entry, 0, maxEntries*(len(n.Pages)-1)+n.Pages[len(n.Pages)-1].Count)
	for i := range n.Pages {
		ents, err := loadPage(ctx, get, n, i)
		if err != nil {
			return nil, err
		}
		out = append(out, ents...)
	}
	return out, nil
}

// ListPage returns at most limit entries of the directory at path whose
// names sort after after (bytewise; "" starts at the first), in name order,
// and whether more follow. after need not be a name in the directory. It
// reads the directory's node and only the pages holding those entries, so a
// page of a directory of any size costs at most limit entries plus one
// node's worth (MaxEntriesPerNode) in memory. limit must be positive.
func ListPage(ctx context.Context, get filetree.Getter, root cid.CID, path, after string, limit int) ([]Entry, bool, error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("dirtree: list limit %d, want 1 or more", limit)
	}
	e, n, err := lookup(ctx, get, root, path, true)
	if err != nil {
		return nil, false, err
	}
	if e.Kind != KindDir {
		return nil, false, fmt.Errorf("%w: %s", ErrNotDir, path)
	}
	// from is the first index in ents of a name after after.
	from := func(ents []Entry) int {
		return sort.Search(len(ents), func(i int) bool { return ents[i].Name > after })
	}
	if len(n.Pages) == 0 {
		ents := n.Entries[from(n.Entries):]
		if len(ents) > limit {
			return slices.Clone(ents[:limit]), true, nil
		}
		return slices.Clone(ents), false, nil
	}
	// The page that would hold after: the last one starting at or before it.
	i := max(sort.Search(len(n.Pages), func(i int) bool { return n.Pages[i].FirstName > after })-1, 0)
	var out []Entry
	for ; i < len(n.Pages); i++ {
		ents, err := loadPage(ctx, get, n, i)
		if err != nil {
			return nil, false, err
		}
		ents = ents[from(ents):]
		if room := limit - len(out); len(ents) > room {
			return append(out, ents[:room]...), true, nil
		}
		out = append(out, ents...)
		if len(out) == limit {
			// Pages are never empty: another page is another entry.
			return out, i+1 < len(n.Pages), nil
		}
	}
	return out, false, nil
}

// Walk calls fn for every entry beneath root, depth first in name order, a
// directory before its contents; path is the entry's slash-joined path. If
// fn returns SkipDir for a directory, its contents are skipped; for a file,
// the rest of its directory is. Any other error from fn, or from fetching,
// stops the walk and is returned.
func Walk(ctx context.Context, get filetree.Getter, root cid.CID, fn func(path string, e Entry) error) error {
	n, err := loadNode(ctx, get, root)
	if err != nil {
		return err
	}
	err = walkDir(ctx, get, n, "", 0, fn)
	if err == SkipDir {
		return nil
	}
	return err
}

// walkDir walks the entries of n, whose path is prefix and has depth
// segments. It returns SkipDir when fn asked to skip the rest of n.
func walkDir(ctx context.Context, get filetree.Getter, n Node, prefix string, depth int, fn func(string, Entry) error) error {
	if depth >= maxDepth && (len(n.Entries) > 0 || len(n.Pages) > 0) {
		return malformed("%s: deeper than %d levels", prefix, maxDepth)
	}
	c := newCursor(ctx, get, n)
	for {
		e, ok, err := c.peek()
		if err != nil || !ok {
			return err
		}
		c.advance()
		p := join(prefix, e.Name)
		err = fn(p, e)
		if err == SkipDir {
			if e.Kind == KindDir {
				continue
			}
			return SkipDir
		}
		if err != nil {
			return err
		}
		if e.Kind != KindDir {
			continue
		}
		child, err := loadDir(ctx, get, e)
		if err != nil {
			return err
		}
		if err := walkDir(ctx, get, child, p, depth+1, fn); err != nil && err != SkipDir {
			return err
		}
	}
}

// Blocks calls fn once for every block the tree under root needs: every
// directory, index and page node and, through filetree.Walk, every block of
// every file. Each CID is reported once per call, however often it occurs.
// It fetches directory nodes and files' interior nodes, never file leaves.
// It is meant for garbage-collection marking; it stops at the first error.
func Blocks(ctx context.Context, get filetree.Getter, root cid.CID, fn func(c cid.CID) error) error {
	if !root.Defined() {
		return nil
	}
	seen := make(map[cid.CID]struct{})
	once := func(c cid.CID) error {
		if _, ok := seen[c]; ok {
			return nil
		}
		seen[c] = struct{}{}
		return fn(c)
	}
	n, err := loadNode(ctx, get, root)
	if err != nil {
		return err
	}
	if err := once(root); err != nil {
		return err
	}
	return blocksDir(ctx, get, n, "", 0, seen, once)
}

func blocksDir(ctx context.Context, get filetree.Getter, n Node, prefix string, depth int, seen map[cid.CID]struct{}, once func(cid.CID) error) error {
	if depth >= maxDepth && (len(n.Entries) > 0 || len(n.Pages) > 0) {
		return malformed("%s: deeper than %d levels", prefix, maxDepth)
	}
	for _, p := range n.Pages {
		if err := once(p.CID); err != nil {
			return err
		}
	}
	c := newCursor(ctx, get, n)
	for {
		e, ok, err := c.peek()
		if err != nil || !ok {
			return err
		}
		c.advance()
		if _, done := seen[e.Root]; done {
			continue // the same file or directory met before: all reported
		}
		p := join(prefix, e.Name)
		if e.Kind == KindFile {
			if err := filetree.Walk(ctx, get, e.Root, once); err != nil {
				return fmt.Errorf("dirtree: file %s: %w", p, err)
			}
			continue
		}
		child, err := loadDir(ctx, get, e)
		if err != nil {
			return err
		}
		if err := once(e.Root); err != nil {
			return err
		}
		if err := blocksDir(ctx, get, child, p, depth+1, seen, once); err != nil {
			return err
		}
	}
}
