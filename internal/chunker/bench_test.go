package chunker

import (
	"bytes"
	"io"
	"testing"
	"time"

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

// benchChunk chunks the benchmark input with a chunker from mk and returns
// the time per pass.
func benchChunk(b *testing.B, mk func(io.Reader) (nexter, error)) time.Duration {
	data := benchInput()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	chunks := 0
	for b.Loop() {
		c, err := mk(bytes.NewReader(data))
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
	return b.Elapsed() / time.Duration(b.N)
}

// BenchmarkChunk compares this package's chunker with the library it
// reproduces ("library", as wrapped before); "speedup" is the library's time
// over ours in the same run.
func BenchmarkChunk(b *testing.B) {
	keyed := DefaultParams()
	keyed.Key = testKey()
	for _, tc := range []struct {
		name string
		p    Params
	}{{"fastcdc", DefaultParams()}, {"fastcdc-keyed", keyed}} {
		b.Run(tc.name, func(b *testing.B) {
			var lib time.Duration
			b.Run("library", func(b *testing.B) {
				lib = benchChunk(b, func(r io.Reader) (nexter, error) { return newRef(r, tc.p) })
			})
			b.Run("ours", func(b *testing.B) {
				ours := benchChunk(b, func(r io.Reader) (nexter, error) { return New(r, tc.p) })
				if lib > 0 && ours > 0 {
					b.ReportMetric(float64(lib)/float64(ours), "speedup")
				}
			})
		})
	}
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
