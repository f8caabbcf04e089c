package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

// blockCBOR is Block as a codec record, to check that the hand-written
// encoding is the one codec.Marshal gives.
type blockCBOR struct {
	_      struct{} `cbor:",toarray"`
	CID    []byte
	Data   []byte
	Status uint8
}

func testCID(s string) []byte { return cid.Sum(cid.Raw, []byte(s)).Bytes() }

func TestBlockEncodingMatchesCodec(t *testing.T) {
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20} {
		data := bytes.Repeat([]byte{7}, n)
		blk := &Block{CID: testCID("x"), Data: data}
		b, err := EncodeBlock(blk)
		if err != nil {
			t.Fatal(err)
		}
		if n+100 < codec.MaxRecordSize {
			want, err := codec.Marshal(&blockCBOR{CID: blk.CID, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("%d bytes: encoding differs from codec", n)
			}
		}
		got, err := ParseBlock(b)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got.Data, data) || !bytes.Equal(got.CID, blk.CID) || got.Status != StatusOK {
			t.Fatalf("%d bytes: round trip differs", n)
		}
		var frame bytes.Buffer
		if err := WriteBlock(&frame, blk); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadBlock(&frame); err != nil || !bytes.Equal(got.Data, data) {
			t.Fatalf("%d bytes: frame round trip: %v", n, err)
		}
	}
}

func TestParseBlockRejects(t *testing.T) {
	c := testCID("x")
	ok, _ := EncodeBlock(&Block{CID: c, Data: []byte("abc")})
	nonMinimal := append([]byte{0x83, 0x40 | byte(len(c))}, c...)
	nonMinimal = append(nonMinimal, 0x58, 3, 'a', 'b', 'c', 0)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not an array", []byte{0x40}},
		{"trailing byte", append(append([]byte{}, ok...), 0)},
		{"truncated", ok[:len(ok)-2]},
		{"non-minimal length", nonMinimal},
		{"unknown status", mustBlockBytes(t, c, nil, 3)},
		{"data with status missing", mustBlockBytes(t, c, []byte{1}, StatusMissing)},
		{"bad CID", mustBlockBytes(t, []byte{1, 2, 3}, nil, StatusMissing)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseBlock(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

// mustBlockBytes encodes fields with codec, bypassing EncodeBlock's checks.
func mustBlockBytes(t testing.TB, c, data []byte, status uint8) []byte {
	b, err := codec.Marshal(&blockCBOR{CID: c, Data: data, Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadBlockBoundsFrame(t *testing.T) {
	var buf bytes.Buffer
	// A frame header declaring more than MaxBlockFrame: refused before any
	// allocation.
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	if _, err := ReadBlock(&buf); !errors.Is(err, codec.ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	if _, _, err := readBlockFrame(newReader(&buf)); !errors.Is(err, codec.ErrFrameTooLarge) {
		t.Fatalf("readBlockFrame: got %v", err)
	}
	big := make([]byte, blockstore.MaxBlockSize+1)
	if err := WriteBlock(io.Discard, &Block{CID: testCID("x"), Data: big}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("writing an oversized block: %v", err)
	}
}

func TestWantLimits(t *testing.T) {
	c := testCID("x")
	many := make([][]byte, MaxWantCIDs)
	for i := range many {
		many[i] = testCID(fmt.Sprint(i))
	}
	long := make([]byte, MaxMiMei+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		w    Want
		ok   bool
	}{
		{"one", Want{MiMei: "m", CIDs: [][]byte{c}}, true},
		{"most", Want{CIDs: many}, true},
		{"none", Want{MiMei: "m"}, false},
		{"too many", Want{CIDs: append(many, c)}, false},
		{"repeated CID", Want{CIDs: [][]byte{c, testCID("y"), c}}, false},
		{"one CID many times", Want{CIDs: slices.Repeat([][]byte{c}, MaxWantCIDs)}, false},
		{"long MiMei", Want{MiMei: string(long), CIDs: [][]byte{c}}, false},
		{"bad CID", Want{CIDs: [][]byte{{0x01, 0x55}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeWant(&tc.w)
			if (err == nil) != tc.ok {
				t.Fatalf("encode: %v", err)
			}
			if !tc.ok {
				// The reader refuses it too.
				raw, _ := codec.Marshal(&tc.w)
				if _, err := ParseWant(raw); !errors.Is(err, ErrMalformed) {
					t.Fatalf("parse: %v", err)
				}
				return
			}
			if len(b) > MaxWantFrame {
				t.Fatalf("%d bytes exceeds MaxWantFrame", len(b))
			}
			got, err := ParseWant(b)
			if err != nil || got.MiMei != tc.w.MiMei || len(got.CIDs) != len(tc.w.CIDs) {
				t.Fatalf("parse: %v", err)
			}
		})
	}
}

func frame(b []byte) []byte {
	var buf bytes.Buffer
	codec.WriteFrame(&buf, b)
	return buf.Bytes()
}

func FuzzWant(f *testing.F) {
	c := testCID("x")
	for _, w := range []*Want{{MiMei: "obj", CIDs: [][]byte{c}}, {CIDs: [][]byte{c, testCID("y")}}} {
		b, _ := EncodeWant(w)
		f.Add(frame(b))
	}
	f.Add([]byte{0x05, 0x82, 0x60, 0x81, 0x41, 0x00})
	f.Add([]byte{0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, in []byte) {
		w, err := ReadWant(bytes.NewReader(in))
		if err != nil {
			return
		}
		b, err := EncodeWant(w)
		if err != nil {
			t.Fatalf("accepted a want it cannot encode: %v", err)
		}
		if !bytes.HasPrefix(in, frame(b)) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzBlock(f *testing.F) {
	c := testCID("x")
	for _, blk := range []*Block{{CID: c, Data: []byte("hello")}, {CID: c, Status: StatusDenied}, {CID: c, Data: make([]byte, 300)}} {
		b, _ := EncodeBlock(blk)
		f.Add(frame(b))
	}
	f.Add(frame(mustBlockBytes(f, c, []byte{1}, StatusMissing)))
	f.Add([]byte{0x04, 0x83, 0x41, 0x01, 0x40})
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		blk, err := ReadBlock(bytes.NewReader(in))
		// The pooled reader Fetch uses accepts exactly the same frames.
		pblk, buf, perr := readBlockFrame(newReader(bytes.NewReader(in)))
		if (err == nil) != (perr == nil) {
			t.Fatalf("ReadBlock: %v; readBlockFrame: %v", err, perr)
		}
		if perr == nil {
			if !bytes.Equal(pblk.CID, blk.CID) || !bytes.Equal(pblk.Data, blk.Data) || pblk.Status != blk.Status {
				t.Fatal("readBlockFrame decodes different fields")
			}
			putBuf(buf)
		}
		if err != nil {
			return
		}
		b, err := EncodeBlock(blk)
		if err != nil {
			t.Fatalf("accepted a block it cannot encode: %v", err)
		}
		if !bytes.HasPrefix(in, frame(b)) {
			t.Fatal("re-encoding differs")
		}
		// What ParseBlock accepts, codec accepts with the same fields.
		var rec blockCBOR
		if err := codec.Unmarshal(b, &rec); err != nil {
			t.Fatalf("codec refuses an accepted block: %v", err)
		}
		if !bytes.Equal(rec.CID, blk.CID) || !bytes.Equal(rec.Data, blk.Data) || rec.Status != blk.Status {
			t.Fatal("codec decodes different fields")
		}
	})
}
