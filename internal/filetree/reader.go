package filetree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/peer-node/peer/internal/cid"
)

// maxCachedNodes bounds the interior nodes a Reader keeps decoded (each at
// most MaxFanout links, about 100 KiB); the top node is always kept.
const maxCachedNodes = 32

// Reader reads a stored file. It implements io.ReaderAt (safe for concurrent
// use, as io.ReaderAt requires) and io.ReadSeeker (Read and Seek share one
// offset and are not safe for concurrent use).
//
// A read fetches only the leaves that overlap the range, plus the interior
// nodes on the way down; interior nodes and the last leaf read are cached,
// so sequential small reads fetch each block once. All fetches use the
// context given to Open.
type Reader struct {
	ctx  context.Context
	get  Getter
	top  Link // a leaf (file of ≤ 1 chunk) or the top node
	size int64
	info FileRoot // zero for a one-block file

	mu       sync.Mutex
	topNode  *node
	nodes    map[cid.CID]*node
	leafCID  cid.CID
	leafData []byte

	off int64 // for Read and Seek
}

// node is a decoded interior node with the end offset of each child relative
// to the node's start, for binary search.
type node struct {
	children []Link
	ends     []uint64
}

// Open opens the file named root. It fetches the root block (and for a
// one-block file that is the whole file); it fails with ErrMalformed,
// ErrUnsupportedVersion or the Getter's error.
func Open(ctx context.Context, get Getter, root cid.CID) (*Reader, error) {
	if err := cid.Check(root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	data, err := get.Get(ctx, root)
	if err != nil {
		return nil, err
	}
	r := &Reader{ctx: ctx, get: get, nodes: make(map[cid.CID]*node)}
	if root.Prefix().Codec == cid.Raw {
		r.top = Link{CID: root, Size: uint64(len(data))}
		r.size = int64(len(data))
		r.leafCID, r.leafData = root, data
		return r, nil
	}
	fr, err := DecodeFileRoot(data)
	if err != nil {
		return nil, fmt.Errorf("file root %s: %w", root, err)
	}
	r.info, r.top, r.size = fr, fr.Root, int64(fr.Root.Size)
	return r, nil
}

// Size returns the file's length in bytes.
func (r *Reader) Size() int64 { return r.size }

// Info returns the FileRoot of a file of two or more chunks, and false for a
// file stored as a single raw block (no chunking parameters recorded).
func (r *Reader) Info() (FileRoot, bool) { return r.info, r.info.Root.CID.Defined() }

// ReadAt reads len(p) bytes at off. It returns io.EOF with fewer bytes when
// the range passes the end of the file.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("filetree: ReadAt: negative offset %d", off)
	}
	if off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := p
	if rem := r.size - off; int64(len(want)) > rem {
		want = want[:rem]
	}
	if err := r.readRange(r.top, 1, uint64(off), want); err != nil {
		return 0, err
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

// readRange fills p with the bytes at off (relative to the start of the
// subtree under l; the range lies inside it).
func (r *Reader) readRange(l Link, depth int, off uint64, p []byte) error {
	if l.CID.Prefix().Codec == cid.Raw {
		leaf, err := r.leaf(l)
		if err != nil {
			return err
		}
		copy(p, leaf[off:])
		return nil
	}
	if depth > MaxDepth {
		return fmt.Errorf("%w: deeper than %d levels at %s", ErrMalformed, MaxDepth, l.CID)
	}
	n, err := r.node(l, depth == 1)
	if err != nil {
		return err
	}
	// First child whose end is past off.
	i := sort.Search(len(n.ends), func(i int) bool { return n.ends[i] > off })
	for ; len(p) > 0 && i < len(n.children); i++ {
		start := n.ends[i] - n.children[i].Size
		within := off - start
		k := min(uint64(len(p)), n.children[i].Size-within)
		if err := r.readRange(n.children[i], depth+1, within, p[:k]); err != nil {
			return err
		}
		p, off = p[k:], off+k
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: node %s ends early", ErrMalformed, l.CID)
	}
	return nil
}

// leaf returns the bytes of a leaf, from the one-leaf cache or the Getter.
func (r *Reader) leaf(l Link) ([]byte, error) {
	r.mu.Lock()
	if r.leafCID == l.CID && r.leafData != nil {
		data := r.leafData
		r.mu.Unlock()
		return data, nil
	}
	r.mu.Unlock()
	data, err := r.get.Get(r.ctx, l.CID)
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) != l.Size {
		return nil, fmt.Errorf("%w: leaf %s has %d bytes, its link says %d", ErrMalformed, l.CID, len(data), l.Size)
	}
	r.mu.Lock()
	r.leafCID, r.leafData = l.CID, data
	r.mu.Unlock()
	return data, nil
}

// node returns the decoded node behind l, from the cache or the Getter,
// checking that its size matches the link.
func (r *Reader) node(l Link, top bool) (*node, error) {
	r.mu.Lock()
	n := r.nodes[l.CID]
	if top && r.topNode != nil {
		n = r.topNode
	}
	r.mu.Unlock()
	if n != nil {
		return n, nil
	}
	n, err := fetchNode(r.ctx, r.get, l)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if top {
		r.topNode = n
	} else {
		if len(r.nodes) >= maxCachedNodes {
			for k := range r.nodes { // evict an arbitrary entry
				delete(r.nodes, k)
				break
			}
		}
		r.nodes[l.CID] = n
	}
	r.mu.Unlock()
	return n, nil
}

func fetchNode(ctx context.Context, get Getter, l Link) (*node, error) {
	data, err := get.Get(ctx, l.CID)
	if err != nil {
		return nil, err
	}
	dn, err := DecodeNode(data)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", l.CID, err)
	}
	if dn.Size != l.Size {
		return nil, fmt.Errorf("%w: node %s holds %d bytes, its link says %d", ErrMalformed, l.CID, dn.Size, l.Size)
	}
	n := &node{children: dn.Children, ends: make([]uint64, len(dn.Children))}
	var end uint64
	for i, c := range dn.Children {
		end += c.Size
		n.ends[i] = end
	}
	return n, nil
}

// Read reads from the current offset.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

var errWhence = errors.New("filetree: Seek: invalid whence")

// Seek sets the offset for the next Read. Seeking past the end is allowed
// (Read then returns io.EOF); a negative result is an error.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.off
	case io.SeekEnd:
		base = r.size
	default:
		return r.off, errWhence
	}
	off := base + offset
	if off < 0 {
		return r.off, fmt.Errorf("filetree: Seek: negative position %d", off)
	}
	r.off = off
	return off, nil
}
