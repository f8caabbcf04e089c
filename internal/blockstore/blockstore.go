// Package blockstore is the contract for Peer's content-addressed block
// storage: immutable byte blocks named by a cid.CID (CIDv1, BLAKE3-256).
//
// It declares tiny role interfaces (Getter, Putter) that consumers such as
// the chunker and the MiMei layer should depend on, the full Store interface
// that backends implement, optional maintenance roles (Verifier, Compacter),
// and the sentinel errors callers branch on.
//
// Backends live in subpackages: blockstore/packstore (the local, on-disk
// backend: append-only pack files plus an index in a kv.Store) and
// blockstore/memstore (in memory, for tests and ephemeral data). Every
// backend passes the conformance suite in blockstore/storetest.
//
// This package depends only on the standard library and internal/cid, so any
// storage or domain package may import it. It must never import networking
// or HTTP packages.
//
// # Integrity
//
// Callers inside the node compute the CID (cid.Sum) and Put trusts it: Put
// does not re-hash. Every Get verifies the bytes against the CID and fails
// with an error wrapping cid.ErrIntegrity that names the CID, so a block
// corrupted at rest is never returned.
package blockstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/peer-node/peer/internal/cid"
)

// MaxBlockSize is the largest block a store accepts; Put refuses larger
// blocks with ErrTooLarge.
const MaxBlockSize = 4 << 20

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: no block with that CID is stored. The wrapping error
	// names the CID.
	ErrNotFound = errors.New("block not found")
	// ErrTooLarge: a block larger than MaxBlockSize was given to Put.
	ErrTooLarge = errors.New("block too large")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("block store closed")
	// ErrUnsupportedFormat: on-disk data carries a format version this build
	// does not understand. The wrapping error names the file and version.
	ErrUnsupportedFormat = errors.New("unsupported block store format")
)

// Getter reads blocks. Get returns the block's bytes (the caller owns the
// slice), an error wrapping ErrNotFound, or an error wrapping
// cid.ErrIntegrity if the stored bytes do not match c.
type Getter interface {
	Get(ctx context.Context, c cid.CID) ([]byte, error)
}

// UnverifiedGetter is implemented by stores that can return a block without
// re-hashing it, for readers that verify what they get anyway (the block
// exchange server: its client checks every block). GetUnverified falls
// back to Get through GetFast.
type UnverifiedGetter interface {
	GetUnverified(ctx context.Context, c cid.CID) ([]byte, error)
}

// GetFast reads c from g without re-hashing it when g allows that; the
// caller must verify the result (or hand it to someone who will).
func GetFast(ctx context.Context, g Getter, c cid.CID) ([]byte, error) {
	if u, ok := g.(UnverifiedGetter); ok {
		return u.GetUnverified(ctx, c)
	}
	return g.Get(ctx, c)
}

// AppendGetter is implemented by stores that can read a block into a
// buffer the caller gives, without re-hashing it: AppendUnverified appends
// block c to dst (growing it if it must) and returns the result. The
// caller must verify the block, as with GetFast.
type AppendGetter interface {
	AppendUnverified(ctx context.Context, c cid.CID, dst []byte) ([]byte, error)
}

// Putter stores blocks. Put is idempotent: a block already present is not
// written again. The caller computed c from data; Put trusts it. Put copies
// data (or is done with it) before it returns.
type Putter interface {
	Put(ctx context.Context, c cid.CID, data []byte) error
}

// Store is a complete block store. Implementations are safe for concurrent
// use by many goroutines.
type Store interface {
	Getter
	Putter
	// Has reports whether a block is stored (without reading or verifying it).
	Has(ctx context.Context, c cid.CID) (bool, error)
	// Size returns the length of a stored block, or ErrNotFound.
	Size(ctx context.Context, c cid.CID) (int, error)
	// Delete removes blocks (for the GC sweep). Missing ones are ignored.
	Delete(ctx context.Context, cs ...cid.CID) error
	// Enumerate calls fn for every stored block, in no particular order.
	// An error from fn stops the walk and is returned. fn must not call
	// Put or Delete on the same store.
	Enumerate(ctx context.Context, fn func(c cid.CID, size int) error) error
	// Flush makes every block whose Put returned before Flush was called
	// durable. See each backend for its sync policy between flushes.
	Flush(ctx context.Context) error
	// Stats reports counts and sizes.
	Stats(ctx context.Context) (Stats, error)
	// Close flushes and releases the store. It is idempotent; afterwards
	// other methods return ErrClosed.
	Close() error
}

// Stats describes a store's content and disk use.
type Stats struct {
	Blocks        int64 `json:"blocks"`         // stored (live) blocks
	LiveBytes     int64 `json:"live_bytes"`     // sum of the sizes of stored blocks
	OverheadBytes int64 `json:"overhead_bytes"` // record and file headers of live data
	DeadBytes     int64 `json:"dead_bytes"`     // space held by deleted or abandoned records, reclaimable by Compact
	DiskBytes     int64 `json:"disk_bytes"`     // real bytes on disk (block data files; not the index)
	Packs         int   `json:"packs"`          // pack files (0 for memory stores)
	PendingBlocks int   `json:"pending_blocks"` // blocks Put but not yet flushed
	PendingBytes  int64 `json:"pending_bytes"`  // their bytes
}

// ProblemKind classifies what Verify found wrong with a block.
type ProblemKind string

// Kinds of problem.
const (
	// Missing: the index names the block but its data is gone (pack file
	// missing or too short).
	Missing ProblemKind = "missing"
	// Unreadable: an I/O error, or the record at the indexed place is not
	// this block's record.
	Unreadable ProblemKind = "unreadable"
	// Corrupt: the bytes do not hash to the CID.
	Corrupt ProblemKind = "corrupt"
)

// Problem is one bad block found by Verify.
type Problem struct {
	CID  cid.CID     `json:"cid"`
	Kind ProblemKind `json:"kind"`
	Err  string      `json:"error"`
}

// VerifyReport is the result of a full verification.
type VerifyReport struct {
	Checked  int       `json:"checked"`  // blocks examined
	Bytes    int64     `json:"bytes"`    // block bytes read and hashed
	Problems []Problem `json:"problems"` // every bad block, in no particular order
}

// OK reports whether verification found no problem.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verifier is implemented by stores that can check every block at rest.
// Verify reads every stored block and lists each one that is missing,
// unreadable or fails its hash; such blocks are reported, not returned as
// an error. The error is for failures of the walk itself (context
// cancelled, store closed, index unreadable). progress, if non-nil, is
// called now and then with blocks done and the total.
type Verifier interface {
	Verify(ctx context.Context, progress func(done, total int)) (VerifyReport, error)
}

// CompactReport is the result of a compaction.
type CompactReport struct {
	PacksRewritten int      `json:"packs_rewritten"` // packs whose live records were copied, then removed
	PacksRemoved   int      `json:"packs_removed"`   // pack files deleted (rewritten or entirely dead)
	BlocksCopied   int      `json:"blocks_copied"`
	BytesCopied    int64    `json:"bytes_copied"`
	BytesFreed     int64    `json:"bytes_freed"`       // disk bytes before minus after
	PacksPunched   int      `json:"packs_punched"`     // packs too large to rewrite in the free space, whose dead records were punched out in place
	BytesPunched   int64    `json:"bytes_punched"`     // disk bytes those holes gave back
	Skipped        []string `json:"skipped,omitempty"` // packs left alone because of errors, with the reason
}

// Compacter is implemented by stores that return the space of deleted
// blocks to the file system. progress, if non-nil, is called with bytes
// processed and the total to process.
type Compacter interface {
	Compact(ctx context.Context, progress func(done, total int)) (CompactReport, error)
}

// CheckPut validates the arguments of Put: a CID we produce and a block no
// larger than MaxBlockSize. Backends call it first.
func CheckPut(c cid.CID, data []byte) error {
	if err := cid.Check(c); err != nil {
		return err
	}
	if len(data) > MaxBlockSize {
		return fmt.Errorf("%w: block %s is %d bytes (max %d)", ErrTooLarge, c, len(data), MaxBlockSize)
	}
	return nil
}

// NotFound returns an error wrapping ErrNotFound that names c.
func NotFound(c cid.CID) error {
	return fmt.Errorf("%w: %s", ErrNotFound, c)
}

// IsNotFound reports whether err wraps ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsIntegrity reports whether err wraps cid.ErrIntegrity.
func IsIntegrity(err error) bool { return errors.Is(err, cid.ErrIntegrity) }
