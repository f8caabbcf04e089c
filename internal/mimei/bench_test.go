package mimei

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/peer-node/peer/internal/blockstore/packstore"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// benchStore is a store as the node builds it: Pebble for the index and
// metadata, pack files for blocks.
func benchStore(b *testing.B) *fixture {
	dir := b.TempDir()
	db, err := pebblekv.Open(filepath.Join(dir, "store"), pebblekv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ps, err := packstore.Open(filepath.Join(dir, "blocks"), db, packstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ps.Close() })
	f := newFixture(b, ps)
	f.Store.kv, f.Store.reg.kv, f.kv = db, db, db
	return f
}

func smallFilesTar(n, size int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	r := rand.NewChaCha8([32]byte{9})
	data := make([]byte, size)
	for i := range n {
		if i%100 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%03d/", i/100), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		r.Read(data)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%03d/f%05d", i/100, i), Typeflag: tar.TypeReg, Size: int64(size), Mode: 0o644})
		tw.Write(data)
	}
	tw.Close()
	return buf.Bytes()
}

// BenchmarkImport10k imports 10,000 files of 4 KiB from a tar in memory
// into a Pebble + pack-file store (the node's path minus HTTP).
func BenchmarkImport10k(b *testing.B) {
	tb := smallFilesTar(10_000, 4096)
	for b.Loop() {
		b.StopTimer()
		f := benchStore(b)
		m, err := f.Create(Spec{Author: f.author, AppType: "bench", Mark: AutoMark}, Rights{}, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := f.Import(context.Background(), m.ID, "", bytes.NewReader(tb), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "files/s")
}
