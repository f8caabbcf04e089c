// Package filetree stores a file as a Merkle tree of content-defined chunks
// and reads it back, whole or by range.
//
// Leaves are raw blocks (cid.Raw) holding the chunks that internal/chunker
// cuts; interior nodes are dag-cbor records (internal/codec) listing their
// children with the number of file bytes under each, so a range read descends
// by sizes and fetches only the leaves it needs. A file of more than one chunk
// is named by a small FileRoot record that also records the chunking
// algorithm and sizes; a file of zero or one chunk is named by its raw block
// alone. The format is versioned and specified in docs/formats-files.md.
//
// filetree sits in the storage layer: it imports cid, codec and chunker and
// declares the two block-store roles it needs (Getter, Putter), so that any
// block store, wrapper or fake can be plugged in. mimei and the layers above
// may import it; it must not import network, HTTP or node packages.
package filetree

import (
	"context"
	"errors"

	"github.com/peer-node/peer/internal/cid"
)

// Getter fetches blocks. Get returns the bytes of the block named c, already
// verified against c (a block store checks hashes on read). The caller owns
// the returned slice. filetree additionally checks that a leaf's length
// matches the size its parent records.
type Getter interface {
	Get(ctx context.Context, c cid.CID) ([]byte, error)
}

// Putter stores blocks. Put stores data under c, trusting that c is its CID
// (Write computes it). Put must not keep data after it returns: Write reuses
// the buffer for later chunks.
type Putter interface {
	Put(ctx context.Context, c cid.CID, data []byte) error
}

// Version is the format version written into every FileRoot and Node.
const Version = 1

// Format limits.
const (
	// MaxFanout bounds the children of a node; 1024 links of at most 48
	// encoded bytes keep a node under codec.MaxRecordSize (64 KiB).
	MaxFanout = 1024
	// MaxDepth bounds the levels of interior nodes under a FileRoot. Writers
	// need at most 6 at MaxFanout even for 2^63-byte files of 64-byte chunks.
	MaxDepth = 8
	// MaxAlgorithmLen bounds FileRoot.Algorithm.
	MaxAlgorithmLen = 64
)

// Errors callers branch on. Details (and the CID concerned) are wrapped with
// %w; block-store errors such as cid.ErrIntegrity pass through unchanged.
var (
	// ErrUnsupportedVersion: a FileRoot or Node has a version this code does
	// not know.
	ErrUnsupportedVersion = errors.New("filetree: unsupported format version")
	// ErrMalformed: a FileRoot, Node or leaf is not valid: bad encoding,
	// sizes that do not add up, a leaf of the wrong length, too deep a tree,
	// a link of the wrong kind.
	ErrMalformed = errors.New("filetree: malformed file tree")
)

// fanout is the number of children the writer packs into a node. Tests lower
// it to build deep trees cheaply; the format allows any 1..MaxFanout.
var fanout = MaxFanout
