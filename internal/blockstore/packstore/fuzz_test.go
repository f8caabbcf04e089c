package packstore

import (
	"bytes"
	"testing"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record header decoder: it
// must never panic, must accept only headers that re-encode to the same
// bytes, and must bound the lengths it reports.
func FuzzDecodeRecord(f *testing.F) {
	c := cid.Sum(cid.Raw, []byte("hello"))
	f.Add(appendRecordHeader(nil, c.Bytes(), 5))
	f.Add(append(appendRecordHeader(nil, cid.Sum(cid.DagCBOR, nil).Bytes(), 0), 1, 2, 3))
	f.Add([]byte("PBLK"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeRecordHeader(b)
		if err != nil {
			return
		}
		if h.DataLen < 0 || h.DataLen > blockstore.MaxBlockSize || h.Len > MaxRecordHeaderSize || h.Len > len(b) {
			t.Fatalf("out-of-bounds header %+v from %d bytes", h, len(b))
		}
		if re := appendRecordHeader(nil, h.CID.Bytes(), h.DataLen); !bytes.Equal(re, b[:h.Len]) {
			t.Fatalf("header does not round-trip: %x vs %x", re, b[:h.Len])
		}
	})
}

// TestDecodeRecordAllocs: decoding costs a few small allocations (the CID)
// whatever the input claims or holds.
func TestDecodeRecordAllocs(t *testing.T) {
	c := cid.Sum(cid.Raw, nil)
	big := append(appendRecordHeader(nil, c.Bytes(), blockstore.MaxBlockSize), make([]byte, 1<<20)...)
	var h RecordHeader
	allocs := testing.AllocsPerRun(100, func() { h, _ = DecodeRecordHeader(big) })
	if allocs > 4 || h.CID != c {
		t.Fatalf("%v allocations per decode (cid %s)", allocs, h.CID)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, blockstore.MaxBlockSize} {
		c := cid.Sum(cid.Raw, make([]byte, n))
		b := appendRecordHeader(nil, c.Bytes(), n)
		h, err := DecodeRecordHeader(b)
		if err != nil || h.CID != c || h.DataLen != n || h.Len != len(b) {
			t.Fatalf("round trip of %d: %+v %v", n, h, err)
		}
		for i := range b { // every truncation fails cleanly
			if _, err := DecodeRecordHeader(b[:i]); err == nil {
				t.Fatalf("truncated header (%d of %d bytes) accepted", i, len(b))
			}
		}
	}
	c := cid.Sum(cid.Raw, nil)
	b := appendRecordHeader(nil, c.Bytes(), 0)
	b[6] = 0x7f // data length far over MaxBlockSize
	if _, err := DecodeRecordHeader(b); err == nil {
		t.Fatal("oversized data length accepted")
	}
}
