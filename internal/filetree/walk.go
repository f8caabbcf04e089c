package filetree

import (
	"context"
	"fmt"

	"github.com/peer-node/peer/internal/cid"
)

// Walk calls fn once for every block reachable from the file root: the root
// itself, every interior node and every leaf, each distinct CID once (a
// chunk repeated in the file is reported once). It fetches the root and the
// interior nodes, never the leaves, so it costs about one block per 1 024
// chunks; it checks the structure on the way (versions, sizes adding up,
// depth) but not the leaves' lengths. Walk stops at the first error, from fn
// or from fetching, and returns it. It is meant for garbage-collection
// marking and for statistics.
func Walk(ctx context.Context, get Getter, root cid.CID, fn func(c cid.CID) error) error {
	if err := cid.Check(root); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := fn(root); err != nil {
		return err
	}
	if root.Prefix().Codec == cid.Raw {
		return nil
	}
	data, err := get.Get(ctx, root)
	if err != nil {
		return err
	}
	fr, err := DecodeFileRoot(data)
	if err != nil {
		return fmt.Errorf("file root %s: %w", root, err)
	}
	seen := map[cid.CID]struct{}{root: {}}
	return walk(ctx, get, fr.Root, 1, seen, fn)
}

func walk(ctx context.Context, get Getter, l Link, depth int, seen map[cid.CID]struct{}, fn func(cid.CID) error) error {
	if _, ok := seen[l.CID]; ok {
		return nil
	}
	seen[l.CID] = struct{}{}
	if err := fn(l.CID); err != nil {
		return err
	}
	if l.CID.Prefix().Codec == cid.Raw {
		return nil
	}
	if depth > MaxDepth {
		return fmt.Errorf("%w: deeper than %d levels at %s", ErrMalformed, MaxDepth, l.CID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := fetchNode(ctx, get, l)
	if err != nil {
		return err
	}
	for _, c := range n.children {
		if err := walk(ctx, get, c, depth+1, seen, fn); err != nil {
			return err
		}
	}
	return nil
}
