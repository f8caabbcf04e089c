package mimeidb

import (
	"strconv"
	"testing"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// Run: go test -run '^$' -bench . -benchtime 2s ./internal/mimeidb/
// Each benchmark reports ops/s for one typed command on memkv and on
// pebblekv with NoSync (one kv batch per command).
func benchStores(b *testing.B, fn func(b *testing.B, db *DB)) {
	for _, bk := range []struct {
		name string
		open func(b *testing.B) kv.Store
	}{
		{"memkv", func(b *testing.B) kv.Store { return memkv.New() }},
		{"pebblekv-nosync", func(b *testing.B) kv.Store {
			s, err := pebblekv.Open(b.TempDir(), pebblekv.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	} {
		b.Run(bk.name, func(b *testing.B) {
			s := bk.open(b)
			defer s.Close()
			db, err := Open(s, []byte("bench/"))
			if err != nil {
				b.Fatal(err)
			}
			fn(b, db)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

const benchKeys = 10000

func benchKey(i int) []byte { return strconv.AppendInt([]byte("key:"), int64(i%benchKeys), 10) }

var benchVal = make([]byte, 100)

func BenchmarkSET(b *testing.B) {
	benchStores(b, func(b *testing.B, db *DB) {
		for i := 0; b.Loop(); i++ {
			if err := db.Set(benchKey(i), benchVal); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGET(b *testing.B) {
	benchStores(b, func(b *testing.B, db *DB) {
		for i := 0; i < benchKeys; i++ {
			db.Set(benchKey(i), benchVal)
		}
		for i := 0; b.Loop(); i++ {
			if _, ok, err := db.Get(benchKey(i)); err != nil || !ok {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHSET(b *testing.B) {
	benchStores(b, func(b *testing.B, db *DB) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.HSet([]byte("hash"), benchKey(i), benchVal); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkZADD(b *testing.B) {
	benchStores(b, func(b *testing.B, db *DB) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.ZAdd([]byte("zset"), ZMember{benchKey(i), float64(i % 977)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
