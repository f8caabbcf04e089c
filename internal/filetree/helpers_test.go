package filetree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/zeebo/blake3"
)

var errNotFound = errors.New("block not found")

// memStore is a trivial in-memory block store satisfying Getter and Putter.
// It verifies on Get (as a real store does) and counts Gets by codec.
type memStore struct {
	mu         sync.Mutex
	blocks     map[cid.CID][]byte
	leafGets   atomic.Int64
	nodeGets   atomic.Int64
	putBytes   atomic.Int64
	keepNoData bool // record CIDs and sizes only (for big tests)
}

func newMemStore() *memStore { return &memStore{blocks: make(map[cid.CID][]byte)} }

func (s *memStore) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	if c.Prefix().Codec == cid.Raw {
		s.leafGets.Add(1)
	} else {
		s.nodeGets.Add(1)
	}
	s.mu.Lock()
	data, ok := s.blocks[c]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNotFound, c)
	}
	if err := cid.Verify(c, data); err != nil {
		return nil, err
	}
	return bytes.Clone(data), nil
}

func (s *memStore) Put(ctx context.Context, c cid.CID, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.putBytes.Add(int64(len(data)))
	var keep []byte
	if s.keepNoData {
		keep = make([]byte, 0, 0)
		keep = append(keep, byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data)))
	} else {
		keep = bytes.Clone(data)
		if keep == nil {
			keep = []byte{}
		}
	}
	s.mu.Lock()
	s.blocks[c] = keep
	s.mu.Unlock()
	return nil
}

// set overwrites a block without checking (to plant corruption).
func (s *memStore) set(c cid.CID, data []byte) {
	s.mu.Lock()
	s.blocks[c] = data
	s.mu.Unlock()
}

func (s *memStore) resetCounts() {
	s.leafGets.Store(0)
	s.nodeGets.Store(0)
}

// sizeOf returns a stored block's length (also in keepNoData mode).
func (s *memStore) sizeOf(c cid.CID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blocks[c]
	if s.keepNoData {
		return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	}
	return len(b)
}

// stream returns a deterministic endless pseudo-random stream (BLAKE3 XOF).
func stream(seed string) io.ReadSeeker {
	h := blake3.New()
	h.WriteString(seed)
	return h.Digest()
}

func pseudoRandom(seed string, n int) []byte {
	out := make([]byte, n)
	if _, err := io.ReadFull(stream(seed), out); err != nil {
		panic(err)
	}
	return out
}

// smallParams reach every boundary case with a few hundred bytes per chunk.
var smallParams = chunker.Params{Min: 64, Avg: 128, Max: 256}

// boundaries returns the chunk lengths of data under p.
func boundaries(data []byte, p chunker.Params) []int {
	c, err := chunker.New(bytes.NewReader(data), p)
	if err != nil {
		panic(err)
	}
	var sizes []int
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return sizes
		}
		if err != nil {
			panic(err)
		}
		sizes = append(sizes, len(chunk))
	}
}

// setFanout lowers the writer's fan-out for one test.
func setFanout(t interface{ Cleanup(func()) }, n int) {
	old := fanout
	fanout = n
	t.Cleanup(func() { fanout = old })
}
