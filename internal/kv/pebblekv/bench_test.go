package pebblekv_test

import (
	"crypto/rand"
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

const (
	benchBatch    = 1000
	benchKeySize  = 32
	benchValSize  = 100
	benchPreload  = 20000
	benchPairSize = benchKeySize + benchValSize
)

func randomKey() []byte {
	k := make([]byte, benchKeySize)
	rand.Read(k)
	k[0] |= 0x01 // keep clear of the reserved 0x00 range
	return k
}

// preload fills a store with benchPreload random keys and returns them.
func preload(b *testing.B, s kv.Store) [][]byte {
	b.Helper()
	keys := make([][]byte, benchPreload)
	val := make([]byte, benchValSize)
	for i := 0; i < benchPreload; i += benchBatch {
		bt := s.NewBatch()
		for j := i; j < i+benchBatch; j++ {
			keys[j] = randomKey()
			bt.Set(keys[j], val)
		}
		if err := bt.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkSet: one op is a synced batch of 1000 random 32-byte keys with
// 100-byte values.
func BenchmarkSet(b *testing.B) {
	s := open(b, b.TempDir(), pebblekv.Options{})
	val := make([]byte, benchValSize)
	keys := make([][]byte, benchBatch)
	b.SetBytes(benchBatch * benchPairSize)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range keys {
			keys[i] = randomKey()
		}
		b.StartTimer()
		bt := s.NewBatch()
		for _, k := range keys {
			bt.Set(k, val)
		}
		if err := bt.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkGet: one op is a Get of a random existing key (of 20000).
func BenchmarkGet(b *testing.B) {
	s := open(b, b.TempDir(), pebblekv.Options{})
	keys := preload(b, s)
	b.SetBytes(benchValSize)
	i := 0
	for b.Loop() {
		if _, err := s.Get(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i += 7919 // a prime stride: a scattered, repeatable order
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}

// BenchmarkIter: one op is a full forward scan of 20000 keys, reading every
// key and value.
func BenchmarkIter(b *testing.B) {
	s := open(b, b.TempDir(), pebblekv.Options{})
	preload(b, s)
	b.SetBytes(benchPreload * benchPairSize)
	for b.Loop() {
		it := s.Iter(kv.IterOptions{})
		n := 0
		for it.Next() {
			_ = it.Key()
			_ = it.Value()
			n++
		}
		if err := it.Close(); err != nil || n != benchPreload {
			b.Fatalf("scanned %d keys: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*benchPreload)/b.Elapsed().Seconds(), "keys/s")
}
