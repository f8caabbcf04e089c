package filetree

import (
	"fmt"
	"math"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

// Link points from a node (or a FileRoot) to a child block and says how many
// file bytes lie under it.
type Link struct {
	CID  cid.CID
	Size uint64
}

// Node is an interior node: its children in file order, all leaves (raw) or
// all nodes (dag-cbor), and the sum of their sizes.
type Node struct {
	Size     uint64
	Children []Link
}

// FileRoot names a file of two or more chunks: the chunking used to write it
// and the link to the top node. The file's size is Root.Size.
type FileRoot struct {
	Algorithm     string // chunker.Algorithm or chunker.KeyedAlgorithm
	Min, Avg, Max uint32 // chunker.Params sizes
	Root          Link   // always a Node (dag-cbor)
}

// Wire forms, in field order. Version comes first in each so that it can be
// read before the rest is understood.
type linkWire struct {
	_    struct{} `cbor:",toarray"`
	CID  []byte
	Size uint64
}

type nodeWire struct {
	_        struct{} `cbor:",toarray"`
	Version  uint16
	Size     uint64
	Children []linkWire
}

type rootWire struct {
	_         struct{} `cbor:",toarray"`
	Version   uint16
	Algorithm string
	Min       uint32
	Avg       uint32
	Max       uint32
	Root      linkWire
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// checkVersion reads the leading version of an encoded record, so that a
// record from a newer format gets ErrUnsupportedVersion rather than a decoding
// error about its (new) shape.
func checkVersion(data []byte) error {
	v, err := codec.RecordVersion(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v != Version {
		return fmt.Errorf("%w: version %d, this build reads %d", ErrUnsupportedVersion, v, Version)
	}
	return nil
}

func (l Link) wire() linkWire { return linkWire{CID: l.CID.Bytes(), Size: l.Size} }

func linkFromWire(w linkWire) (Link, error) {
	c, err := cid.Cast(w.CID)
	if err != nil {
		return Link{}, fmt.Errorf("%w: link: %w", ErrMalformed, err)
	}
	return Link{CID: c, Size: w.Size}, nil
}

// validate checks the invariants of a node: 1..MaxFanout children of one
// kind, no empty child, leaves no larger than chunker.MaxChunkSize, sizes
// adding up to Size without overflow, and Size within int64.
func (n Node) validate() error {
	if len(n.Children) == 0 || len(n.Children) > MaxFanout {
		return malformed("node has %d children, want 1..%d", len(n.Children), MaxFanout)
	}
	kind := n.Children[0].CID.Prefix().Codec
	var sum uint64
	for i, l := range n.Children {
		if err := cid.Check(l.CID); err != nil {
			return fmt.Errorf("%w: child %d: %w", ErrMalformed, i, err)
		}
		if l.CID.Prefix().Codec != kind {
			return malformed("child %d: mixes leaves and nodes", i)
		}
		if l.Size == 0 {
			return malformed("child %d: empty", i)
		}
		if kind == cid.Raw && l.Size > chunker.MaxChunkSize {
			return malformed("child %d: leaf of %d bytes exceeds %d", i, l.Size, chunker.MaxChunkSize)
		}
		if sum+l.Size < sum {
			return malformed("sizes overflow")
		}
		sum += l.Size
	}
	if sum != n.Size {
		return malformed("node size %d, children add up to %d", n.Size, sum)
	}
	if n.Size > math.MaxInt64 {
		return malformed("node size %d too large", n.Size)
	}
	return nil
}

// EncodeNode returns the block bytes of n (its CID is cid.Sum(cid.DagCBOR,
// bytes)). It refuses a node that DecodeNode would refuse.
func EncodeNode(n Node) ([]byte, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	w := nodeWire{Version: Version, Size: n.Size, Children: make([]linkWire, len(n.Children))}
	for i, l := range n.Children {
		w.Children[i] = l.wire()
	}
	return codec.Marshal(w)
}

// DecodeNode parses and checks the bytes of a node block. Errors wrap
// ErrUnsupportedVersion or ErrMalformed.
func DecodeNode(data []byte) (Node, error) {
	if err := checkVersion(data); err != nil {
		return Node{}, err
	}
	var w nodeWire
	if err := codec.Unmarshal(data, &w); err != nil {
		return Node{}, fmt.Errorf("%w: node: %w", ErrMalformed, err)
	}
	n := Node{Size: w.Size, Children: make([]Link, len(w.Children))}
	for i, lw := range w.Children {
		l, err := linkFromWire(lw)
		if err != nil {
			return Node{}, err
		}
		n.Children[i] = l
	}
	if err := n.validate(); err != nil {
		return Node{}, err
	}
	return n, nil
}

func (r FileRoot) validate() error {
	if r.Algorithm == "" || len(r.Algorithm) > MaxAlgorithmLen {
		return malformed("algorithm name of %d bytes", len(r.Algorithm))
	}
	p := chunker.Params{Min: int(r.Min), Avg: int(r.Avg), Max: int(r.Max)}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := cid.Check(r.Root.CID); err != nil {
		return fmt.Errorf("%w: root: %w", ErrMalformed, err)
	}
	if r.Root.CID.Prefix().Codec != cid.DagCBOR {
		return malformed("root link is not a node")
	}
	if r.Root.Size == 0 || r.Root.Size > math.MaxInt64 {
		return malformed("root size %d", r.Root.Size)
	}
	return nil
}

// EncodeFileRoot returns the block bytes of r (a dag-cbor block).
func EncodeFileRoot(r FileRoot) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return codec.Marshal(rootWire{
		Version: Version, Algorithm: r.Algorithm,
		Min: r.Min, Avg: r.Avg, Max: r.Max, Root: r.Root.wire(),
	})
}

// DecodeFileRoot parses and checks the bytes of a file root block. Errors
// wrap ErrUnsupportedVersion or ErrMalformed.
func DecodeFileRoot(data []byte) (FileRoot, error) {
	if err := checkVersion(data); err != nil {
		return FileRoot{}, err
	}
	var w rootWire
	if err := codec.Unmarshal(data, &w); err != nil {
		return FileRoot{}, fmt.Errorf("%w: file root: %w", ErrMalformed, err)
	}
	l, err := linkFromWire(w.Root)
	if err != nil {
		return FileRoot{}, err
	}
	r := FileRoot{Algorithm: w.Algorithm, Min: w.Min, Avg: w.Avg, Max: w.Max, Root: l}
	if err := r.validate(); err != nil {
		return FileRoot{}, err
	}
	return r, nil
}
