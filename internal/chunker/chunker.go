// Package chunker splits a byte stream into content-defined chunks, so that an
// insertion or an overwrite in the middle of a file changes only the chunks
// around the edit and every other chunk (and so every other block) is re-used.
//
// It implements FastCDC exactly as github.com/PlakarKorp/go-cdc-chunkers
// v1.1.0 does, under a frozen, versioned algorithm name (see Algorithm and
// KeyedAlgorithm): chunk boundaries are part of the on-disk format, a golden
// test fails if they ever change, and a differential test checks them
// against the library (which also supplies the Gear table).
//
// chunker is a storage-layer leaf (standard library, the CDC library's Gear
// table and BLAKE3 only); any package may import it. File trees built from
// chunks live in internal/filetree.
package chunker

import (
	"errors"
	"fmt"
	"io"
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

// errBadRead reports a reader that returned an impossible count.
var errBadRead = errors.New("chunker: reader returned an invalid count")

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
//
// It reproduces go-cdc-chunkers' Chunker.Next and FastCDC.Algorithm exactly
// (see cut.go and gear.go), with its own buffering and a cut-point search
// that hashes four stretches of the input at once; the library stays the
// reference in the tests.
type Chunker struct {
	r   io.Reader
	buf []byte
	// Unconsumed data is buf[rpos:wpos]; buf[rpos:rpos+last] was returned by
	// the previous Next and is consumed on the next call.
	rpos, wpos int
	err        error // sticky error from r (io.EOF at the end)
	done       bool
	bufCap     int // the size buf grows to

	min, avg, max int
	maskS, maskL  uint64
	gear          *[256]uint64
}

// initialBuffer is the first buffer size for large Max: small files never
// need more, and the buffer grows (at a point where it would otherwise have
// been compacted, so at no extra copying) up to Chunker.bufCap.
const initialBuffer = 256 << 10

// bufferFactor sets the full buffer size as a multiple of Max. Every cut
// needs Max bytes of look-ahead, so compacting a buffer of k×Max moves up to
// Max bytes per (k-1)×Max chunked; with reads of at most maxRead, that data
// is still in cache and 2 measures as fast as 4 or 8.
const bufferFactor = 2

// maxRead caps one Read, so that bytes are hashed soon after they are read,
// while they are still in the CPU's cache (about 10% faster on 1 MiB Max
// than reading into all the free space).
const maxRead = 256 << 10

// maxConsecutiveEmptyReads bounds the (0, nil) reads tolerated from the
// stream before io.ErrNoProgress, as in go-cdc-chunkers (and bufio).
const maxConsecutiveEmptyReads = 100

// New returns a Chunker reading r with p. Its memory is one buffer of at
// most 2×p.Max bytes, allocated as the stream needs it (a short stream gets
// a smaller one).
func New(r io.Reader, p Params) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	gear, err := gearTable(p.Key)
	if err != nil {
		return nil, fmt.Errorf("chunker: %w", err)
	}
	maskS, maskL := masks(p.Min, p.Avg, p.Max)
	c := &Chunker{
		r:      r,
		bufCap: bufferFactor * p.Max,
		min:    p.Min,
		avg:    p.Avg,
		max:    p.Max,
		maskS:  maskS,
		maskL:  maskL,
		gear:   gear,
	}
	return c, nil
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
	// Like the library, look Max bytes ahead: a chunk is cut only once Max
	// bytes are buffered or the stream has ended. A read error is reported
	// as soon as fewer than Max bytes are left, dropping them.
	if c.wpos-c.rpos < c.max && c.err == nil {
		c.fill()
	}
	avail := c.wpos - c.rpos
	if avail < c.max && c.err != io.EOF {
		c.done = true
		return nil, c.err
	}
	if avail == 0 {
		c.done = true
		return nil, io.EOF
	}
	data := c.buf[c.rpos : c.rpos+min(avail, c.max)]
	n := cut(c.gear, c.maskS, c.maskL, c.min, c.avg, data)
	c.rpos += n
	return data[:n:n], nil
}

// fill reads until Max bytes are buffered or the stream fails or ends,
// exactly as the library's bufReader.peek does (the boundaries do not depend
// on how the stream splits its data between reads, but which chunks come
// before a read error does depend on this look-ahead).
func (c *Chunker) fill() {
	if c.rpos == c.wpos {
		c.rpos, c.wpos = 0, 0
	}
	for c.wpos-c.rpos < c.max && c.err == nil {
		if c.wpos == len(c.buf) {
			c.makeRoom()
		}
		for tries := maxConsecutiveEmptyReads; ; tries-- {
			want := min(len(c.buf)-c.wpos, maxRead)
			m, err := c.r.Read(c.buf[c.wpos : c.wpos+want])
			if m < 0 || m > want {
				c.err = errBadRead
				break
			}
			c.wpos += m
			if err != nil {
				c.err = err
				break
			}
			if m > 0 {
				break
			}
			if tries <= 1 {
				c.err = io.ErrNoProgress
				break
			}
		}
	}
}

// makeRoom frees space at the end of a full buffer: it grows the buffer
// until it reaches bufCap, and then moves the unconsumed data to the front.
func (c *Chunker) makeRoom() {
	avail := c.wpos - c.rpos
	if len(c.buf) < c.bufCap {
		size := min(2*len(c.buf), c.bufCap)
		if len(c.buf) == 0 {
			size = min(initialBuffer, c.bufCap)
		}
		buf := make([]byte, size)
		copy(buf, c.buf[c.rpos:c.wpos])
		c.buf = buf
	} else {
		copy(c.buf, c.buf[c.rpos:c.wpos])
	}
	c.rpos, c.wpos = 0, avail
}

// Cutter finds chunk boundaries in data the caller buffers itself, for
// callers that read the stream into their own (large) buffers and hand out
// chunks without copying them. A Chunker and a Cutter with the same Params
// cut every stream at the same offsets. A Cutter holds no state between
// calls and is safe for concurrent use.
type Cutter struct {
	min, avg, max int
	maskS, maskL  uint64
	gear          *[256]uint64
}

// NewCutter returns a Cutter for p.
func NewCutter(p Params) (*Cutter, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	gear, err := gearTable(p.Key)
	if err != nil {
		return nil, fmt.Errorf("chunker: %w", err)
	}
	maskS, maskL := masks(p.Min, p.Avg, p.Max)
	return &Cutter{min: p.Min, avg: p.Avg, max: p.Max, maskS: maskS, maskL: maskL, gear: gear}, nil
}

// Max is the largest chunk, and so the look-ahead Cut needs.
func (c *Cutter) Max() int { return c.max }

// Cut returns the length of the chunk that starts at data[0]. data must hold
// at least Max bytes of the stream from there, or else everything up to the
// end of the stream; bytes beyond Max are ignored. An empty data gives 0.
func (c *Cutter) Cut(data []byte) int {
	if len(data) > c.max {
		data = data[:c.max]
	}
	return cut(c.gear, c.maskS, c.maskL, c.min, c.avg, data)
}
