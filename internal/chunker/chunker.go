// Package chunker splits a byte stream into content-defined chunks, so that an
// insertion or an overwrite in the middle of a file changes only the chunks
// around the edit and every other chunk (and so every other block) is re-used.
//
// It wraps FastCDC from github.com/PlakarKorp/go-cdc-chunkers under a frozen,
// versioned algorithm name (see Algorithm and KeyedAlgorithm): chunk
// boundaries are part of the on-disk format, and a golden test fails if they
// ever change.
//
// chunker is a storage-layer leaf (standard library and the CDC library
// only); any package may import it. File trees built from chunks live in
// internal/filetree.
package chunker

import (
	"errors"
	"fmt"
	"io"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers "fastcdc-v1.0.0"
)

// Algorithm names the unkeyed boundary algorithm: FastCDC as frozen in
// go-cdc-chunkers under the name "fastcdc-v1.0.0" (normalisation level 2,
// spread masks derived from Avg, the library's static Gear table). It is
// recorded in file roots; boundaries for a given name and Params never change.
const Algorithm = "fastcdc-v1.0.0"

// KeyedAlgorithm names the keyed variant: the same algorithm with the Gear
// table derived from a 32-byte secret (BLAKE3 keyed hash of the static table),
// so chunk sizes do not fingerprint file contents to anyone without the key.
// The key itself is never recorded.
const KeyedAlgorithm = "fastcdc-v1.0.0+blake3-keyed-gear"

// libraryName is the go-cdc-chunkers registration both variants use; the
// variant is selected by the presence of a key.
const libraryName = "fastcdc-v1.0.0"

// Bounds on Params.
const (
	// MinChunkSize is the smallest Min the algorithm accepts.
	MinChunkSize = 64
	// MaxChunkSize bounds Max: the largest chunk, and so the largest leaf
	// block, that a writer may produce and a reader must be ready to hold.
	MaxChunkSize = 4 << 20
	// KeySize is the length of Params.Key when set.
	KeySize = 32
)

// ErrInvalidParams says a Params value cannot be used.
var ErrInvalidParams = errors.New("chunker: invalid params")

// Params are the chunk-size bounds and optional key.
//
// Boundaries depend on every field: files chunked with different Params
// share no chunks except by accident.
type Params struct {
	// Min is the smallest chunk (except the last one of a stream).
	Min int
	// Avg is the normal chunk size the algorithm aims at; a power of two.
	Avg int
	// Max is the largest chunk; a chunk is cut here if no boundary was found.
	Max int
	// Key, when non-nil, is a 32-byte secret that makes boundaries depend on
	// it, so chunk sizes do not reveal which well-known file was stored.
	Key []byte
}

// DefaultParams returns Min 64 KiB, Avg 256 KiB, Max 1 MiB, unkeyed.
//
// Why these sizes: an edit of E bytes rewrites the chunks it touches. On each
// side of it, the chunk that straddles the edge is rewritten too (on average
// about half a chunk lies outside the edit), and after the edit the
// boundaries fall back into step with the old ones at the next cut point. So
// a 1 MiB edit costs about E + Avg ≈ 1.25–1.5 MiB of new chunks, and never
// more than E + 2×Max = 3 MiB. A 256 KiB average keeps the number of blocks
// (index entries, CIDs in tree nodes, round trips when fetching) at about
// 4 096 per GiB, and a 1 MiB Max bounds the memory a reader or a peer commits
// per block. Smaller chunks would dedupe better at a higher per-block cost;
// larger ones the reverse.
func DefaultParams() Params {
	return Params{Min: 64 << 10, Avg: 256 << 10, Max: 1 << 20}
}

// Validate reports whether p can be used, with an error wrapping
// ErrInvalidParams: MinChunkSize ≤ Min < Avg < Max ≤ MaxChunkSize, Avg a
// power of two, Key nil or KeySize bytes.
func (p Params) Validate() error {
	switch {
	case p.Min < MinChunkSize:
		return fmt.Errorf("%w: Min %d is below %d", ErrInvalidParams, p.Min, MinChunkSize)
	case p.Avg <= p.Min:
		return fmt.Errorf("%w: Avg %d must exceed Min %d", ErrInvalidParams, p.Avg, p.Min)
	case p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("%w: Avg %d is not a power of two", ErrInvalidParams, p.Avg)
	case p.Max <= p.Avg:
		return fmt.Errorf("%w: Max %d must exceed Avg %d", ErrInvalidParams, p.Max, p.Avg)
	case p.Max > MaxChunkSize:
		return fmt.Errorf("%w: Max %d is above %d", ErrInvalidParams, p.Max, MaxChunkSize)
	case p.Key != nil && len(p.Key) != KeySize:
		return fmt.Errorf("%w: key is %d bytes, want %d", ErrInvalidParams, len(p.Key), KeySize)
	}
	return nil
}

// AlgorithmName returns Algorithm, or KeyedAlgorithm if p has a key: the
// name to record beside the sizes so that a later writer can reproduce the
// same boundaries.
func (p Params) AlgorithmName() string {
	if p.Key != nil {
		return KeyedAlgorithm
	}
	return Algorithm
}

// Chunker cuts a stream into chunks. It is not safe for concurrent use.
type Chunker struct {
	c    *chunkers.Chunker
	done bool
}

// New returns a Chunker reading r with p. Its memory is one buffer of
// 2×p.Max bytes, allocated here.
func New(r io.Reader, p Params) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	opts := &chunkers.ChunkerOpts{MinSize: p.Min, NormalSize: p.Avg, MaxSize: p.Max}
	if p.Key != nil {
		opts.Key = append([]byte(nil), p.Key...)
	}
	c, err := chunkers.NewChunkerBuffer(libraryName, r, opts, make([]byte, 2*p.Max))
	if err != nil {
		return nil, fmt.Errorf("chunker: %w", err)
	}
	return &Chunker{c: c}, nil
}

// Next returns the next chunk: between Min and Max bytes, except that the
// last chunk of the stream may be shorter than Min. It never returns an empty
// chunk; after the last chunk it returns nil, io.EOF (so an empty stream gives
// io.EOF at once). A read error from the stream is returned as is and ends
// the stream.
//
// The returned slice aliases the Chunker's buffer: it is valid only until
// the next call to Next. Copy it to keep it.
func (c *Chunker) Next() ([]byte, error) {
	if c.done {
		return nil, io.EOF
	}
	chunk, err := c.c.Next()
	switch {
	case err == io.EOF:
		// The library returns the final short chunk together with io.EOF.
		c.done = true
		if len(chunk) == 0 {
			return nil, io.EOF
		}
		return chunk, nil
	case err != nil:
		c.done = true
		return nil, err
	case len(chunk) == 0:
		c.done = true
		return nil, io.EOF
	}
	return chunk, nil
}
