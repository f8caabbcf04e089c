package dirtree

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

// Build writes the tree whose directories list describes and returns the
// CID of its root directory node and the total bytes of its files.
//
// list(dir) returns the entries of directory dir ("" for the root, else its
// slash-joined path without a leading slash) in any order. For an entry of
// Kind dir only Name and ModTime are used (and MIME must be empty): Build
// fills Root and Size by listing and writing that directory first. File
// entries are stored as given; their Root must be a filetree root. ModTime is
// kept to the millisecond, in UTC.
//
// Every node is stored through put (blocks that exist already may be put
// again). An empty root still gives a node, with no entries. The same tree
// always gives the same root CID, whatever order list returns entries in.
// Errors: ErrMalformed for an invalid or duplicate name or a bad entry,
// ErrTooLarge for a directory of more than MaxEntriesPerNode² entries, a
// path of more than 256 segments or more than 2^63-1 bytes in total;
// errors from list and put are returned with the directory concerned.
func Build(ctx context.Context, put filetree.Putter, list func(dir string) ([]Entry, error)) (root cid.CID, size uint64, err error) {
	b := builder{ctx: ctx, put: put, list: list}
	return b.dir("", 0)
}

type builder struct {
	ctx  context.Context
	put  filetree.Putter
	list func(string) ([]Entry, error)
}

// dir writes directory path, which has depth segments.
func (b *builder) dir(path string, depth int) (cid.CID, uint64, error) {
	if err := b.ctx.Err(); err != nil {
		return cid.Undef, 0, err
	}
	listed, err := b.list(path)
	if err != nil {
		return cid.Undef, 0, fmt.Errorf("dirtree: list %q: %w", path, err)
	}
	if len(listed) > 0 && depth >= maxDepth {
		return cid.Undef, 0, fmt.Errorf("%w: %s: deeper than %d levels", ErrTooLarge, path, maxDepth)
	}
	if len(listed) > maxEntries*maxEntries {
		return cid.Undef, 0, fmt.Errorf("%w: directory %q has %d entries, at most %d allowed", ErrTooLarge, path, len(listed), maxEntries*maxEntries)
	}
	ents := slices.Clone(listed)
	slices.SortFunc(ents, func(x, y Entry) int { return strings.Compare(x.Name, y.Name) })
	var total uint64
	for i := range ents {
		e := &ents[i]
		if !ValidName(e.Name) {
			return cid.Undef, 0, malformed("directory %q: invalid name %q", path, e.Name)
		}
		if i > 0 && ents[i-1].Name == e.Name {
			return cid.Undef, 0, malformed("directory %q: name %q listed twice", path, e.Name)
		}
		e.ModTime = msTime(e.ModTime)
		if e.Kind == KindDir {
			if e.MIME != "" {
				return cid.Undef, 0, malformed("%s: directory with a MIME type", join(path, e.Name))
			}
			if e.Root, e.Size, err = b.dir(join(path, e.Name), depth+1); err != nil {
				return cid.Undef, 0, err
			}
		}
		if err := e.check(); err != nil {
			return cid.Undef, 0, at(fmt.Sprintf("directory %q", path), err)
		}
		var ok bool
		if total, ok = addSize(total, e.Size); !ok {
			return cid.Undef, 0, fmt.Errorf("%w: %s: more than 2^63-1 bytes", ErrTooLarge, join(path, e.Name))
		}
	}
	c, err := b.write(ents)
	if err != nil {
		return cid.Undef, 0, at(fmt.Sprintf("directory %q", path), err)
	}
	return c, total, nil
}

// write stores the node or nodes of one directory, given its sorted
// entries, and returns the directory's CID.
func (b *builder) write(ents []Entry) (cid.CID, error) {
	if len(ents) <= maxEntries {
		return b.node(Node{Entries: ents})
	}
	var idx Node
	for chunk := range slices.Chunk(ents, maxEntries) {
		c, err := b.node(Node{Entries: chunk})
		if err != nil {
			return cid.Undef, err
		}
		p := Page{FirstName: chunk[0].Name, CID: c, Count: len(chunk)}
		for _, e := range chunk {
			p.Size += e.Size
		}
		idx.Pages = append(idx.Pages, p)
	}
	return b.node(idx)
}

func (b *builder) node(n Node) (cid.CID, error) {
	data, err := EncodeNode(n)
	if err != nil {
		return cid.Undef, err
	}
	c := cid.Sum(cid.DagCBOR, data)
	if err := b.put.Put(b.ctx, c, data); err != nil {
		return cid.Undef, fmt.Errorf("dirtree: store node %s: %w", c, err)
	}
	return c, nil
}
