package packstore

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/peer-node/peer/internal/cid"
)

// Run with, e.g.:
//
//	go test -run '^$' -bench . -benchtime 1024x ./internal/blockstore/packstore/
//
// BenchmarkBLAKE3 is the single-core hashing baseline: state Put
// throughput as a ratio of it.

const benchBlock = 1 << 20

func benchData() []byte {
	b := make([]byte, benchBlock)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

// BenchmarkBLAKE3 hashes 1 MiB blocks into CIDs on one core.
func BenchmarkBLAKE3(b *testing.B) {
	data := benchData()
	b.SetBytes(benchBlock)
	for i := 0; b.Loop(); i++ {
		binary.LittleEndian.PutUint64(data, uint64(i))
		_ = cid.Sum(cid.Raw, data)
	}
}

// BenchmarkPut puts distinct 1 MiB blocks (CIDs computed beforehand) into a
// store indexed by Pebble, flushing every 64 MiB; the final Flush is timed.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, true, Options{})
	s := e.open(b)
	data := benchData()
	cids := make([]cid.CID, b.N)
	for i := range cids {
		binary.LittleEndian.PutUint64(data, uint64(i))
		cids[i] = cid.Sum(cid.Raw, data)
	}
	b.SetBytes(benchBlock)
	b.ResetTimer()
	for i := range b.N {
		binary.LittleEndian.PutUint64(data, uint64(i))
		if err := s.Put(ctx, cids[i], data); err != nil {
			b.Fatal(err)
		}
		if (i+1)%64 == 0 {
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGet reads (and verifies) random 1 MiB blocks from 64 MiB of
// flushed data, from several goroutines.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, true, Options{})
	s := e.open(b)
	data := benchData()
	var cids []cid.CID
	for i := range 64 {
		binary.LittleEndian.PutUint64(data, uint64(i))
		c := cid.Sum(cid.Raw, data)
		if err := s.Put(ctx, c, data); err != nil {
			b.Fatal(err)
		}
		cids = append(cids, c)
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchBlock)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			if _, err := s.Get(ctx, cids[r.IntN(len(cids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutSmall puts distinct 4 KiB blocks (the small-file case), with
// the store's own auto-flush and a final Flush.
func BenchmarkPutSmall(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, true, Options{})
	s := e.open(b)
	data := benchData()[:4096]
	cids := make([]cid.CID, b.N)
	for i := range cids {
		binary.LittleEndian.PutUint64(data, uint64(i))
		cids[i] = cid.Sum(cid.Raw, data)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		binary.LittleEndian.PutUint64(data, uint64(i))
		if err := s.Put(ctx, cids[i], data); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}
