package chunker

import (
	"bytes"
	"io"
	"testing"

	"github.com/peer-node/peer/internal/cid"
)

// Chunking throughput beside BLAKE3 (cid.Sum) throughput on the same 64 MiB,
// so the figures can be read as a ratio:
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/chunker/
const benchSize = 64 << 20

var benchData []byte

func benchInput() []byte {
	if benchData == nil {
		benchData = pseudoRandom("peer chunker benchmark", benchSize)
	}
	return benchData
}

func benchChunk(b *testing.B, p Params) {
	data := benchInput()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	chunks := 0
	for b.Loop() {
		c, err := New(bytes.NewReader(data), p)
		if err != nil {
			b.Fatal(err)
		}
		chunks = 0
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks++
		}
	}
	b.ReportMetric(float64(chunks), "chunks")
}

func BenchmarkChunk(b *testing.B) {
	b.Run("fastcdc", func(b *testing.B) { benchChunk(b, DefaultParams()) })
	b.Run("fastcdc-keyed", func(b *testing.B) {
		p := DefaultParams()
		p.Key = testKey()
		benchChunk(b, p)
	})
}

// BenchmarkCIDSum is the baseline: cid.Sum over the same data in 256 KiB
// pieces (the average chunk), one core.
func BenchmarkCIDSum(b *testing.B) {
	data := benchInput()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		for off := 0; off < len(data); off += 256 << 10 {
			cid.Sum(cid.Raw, data[off:off+256<<10])
		}
	}
}
