package share

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
	"github.com/peer-node/peer/internal/sealing"
)

func testCID(codecID uint64, s string) cid.CID { return cid.Sum(codecID, []byte(s)) }

func testMiMei(b byte) [MiMeiLen]byte {
	var m [MiMeiLen]byte
	for i := range m {
		m[i] = b + byte(i)
	}
	return m
}

func testHead(m [MiMeiLen]byte, n uint64) Head {
	return Head{
		MiMei: m, Number: n, Time: time.UnixMilli(1_700_000_000_123 + int64(n)).UTC(),
		Record: testCID(cid.DagCBOR, "record"), Manifest: testCID(cid.DagCBOR, "manifest"),
		Epoch: 0, Blocks: 3, Bytes: 7,
	}
}

func testCatalog() *Catalog {
	m := testMiMei(1)
	sealed := testHead(m, 9)
	sealed.Epoch, sealed.Record = 2, testCID(cid.Raw, "sealed record")
	return &Catalog{
		MiMei: m, Author: "alice", AppType: "notes", Ext: "md", Mark: "✓",
		Rights: WireRights{Owner: "alice", Writers: []string{"bob"}, Readers: []string{"carol", "dave"}},
		Heads:  []Head{testHead(m, 1), testHead(m, 2), sealed},
		Last:   []byte("last pointer"), Release: []byte("release pointer"), Epoch: 5,
	}
}

func testManifest() *Manifest {
	return &Manifest{
		Next:   testCID(cid.DagCBOR, "next"),
		Blocks: []cid.CID{testCID(cid.Raw, "a"), testCID(cid.DagCBOR, "b"), testCID(cid.Raw, "sealed")},
		Codecs: []byte("rcc"),
	}
}

func frame(b []byte) []byte {
	var buf bytes.Buffer
	if err := codec.WriteFrame(&buf, b); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nonCanonicalTail re-encodes the final one-byte head of b (a small
// integer, or a short string or byte-string header followed by its
// content) with a needless extra length byte.
func nonCanonicalTail(b []byte, contentLen int) []byte {
	i := len(b) - 1 - contentLen
	out := append([]byte{}, b[:i]...)
	major, n := b[i]&0xe0, b[i]&0x1f
	out = append(out, major|24, n)
	return append(out, b[i+1:]...)
}

func TestRequestRoundTrip(t *testing.T) {
	for _, q := range []*Request{
		{Kind: KindCatalog, MiMei: testMiMei(1)},
		{Kind: KindKeyRecord, MiMei: testMiMei(2), Epoch: 1<<32 - 1},
		{Kind: KindNotify, MiMei: testMiMei(3), Payload: []byte("head")},
		{Kind: KindOffer, MiMei: testMiMei(4), Payload: make([]byte, MaxRequestPayload)},
		{Kind: KindSubscribe, MiMei: testMiMei(5)},
		{Kind: KindUnsubscribe, MiMei: testMiMei(6)},
	} {
		t.Run(q.Kind.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteRequest(&buf, q); err != nil {
				t.Fatal(err)
			}
			got, err := ReadRequest(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, q) {
				t.Fatalf("got %+v, want %+v", got, q)
			}
			if buf.Len() != 0 {
				t.Fatalf("%d bytes left after the frame", buf.Len())
			}
		})
	}
}

func TestRequestKnownEncoding(t *testing.T) {
	b, err := EncodeRequest(&Request{Kind: KindKeyRecord, MiMei: testMiMei(0), Epoch: 3, Payload: []byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	m := testMiMei(0)
	want := append([]byte{0x84, 0x02, 0x54}, m[:]...)
	want = append(want, 0x03, 0x41, 0x09)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding %x, want %x", b, want)
	}
}

type requestRaw struct {
	_       struct{} `cbor:",toarray"`
	Kind    uint8
	MiMei   []byte
	Epoch   uint32
	Payload []byte
}

func TestParseRequestRejects(t *testing.T) {
	m := testMiMei(1)
	ok, _ := EncodeRequest(&Request{Kind: KindCatalog, MiMei: m, Epoch: 7})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not an array", []byte{0x40}},
		{"trailing byte", append(append([]byte{}, ok...), 0)},
		{"truncated", ok[:len(ok)-1]},
		{"non-canonical", nonCanonicalTail(ok, 0)},
		{"kind 0", mustMarshal(t, &requestRaw{Kind: 0, MiMei: m[:]})},
		{"kind 10", mustMarshal(t, &requestRaw{Kind: 10, MiMei: m[:]})},
		{"short MiMei", mustMarshal(t, &requestRaw{Kind: 1, MiMei: m[:19]})},
		{"long MiMei", mustMarshal(t, &requestRaw{Kind: 1, MiMei: append(m[:], 0)})},
		{"payload too long", mustMarshal(t, &requestRaw{Kind: 3, MiMei: m[:], Payload: make([]byte, MaxRequestPayload+1)})},
		{"extra field", mustMarshal(t, []any{1, m[:], 0, []byte{}, 0})},
		{"indefinite array", append(append([]byte{0x9f, 0x01, 0x54}, m[:]...), 0x00, 0x40, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRequest(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestEncodeRequestRejects(t *testing.T) {
	for _, q := range []*Request{
		{Kind: 0},
		{Kind: KindRevoke + 1},
		{Kind: KindNotify, Payload: make([]byte, MaxRequestPayload+1)},
	} {
		if _, err := EncodeRequest(q); !errors.Is(err, ErrMalformed) {
			t.Errorf("kind %d, %d payload bytes: got %v, want ErrMalformed", q.Kind, len(q.Payload), err)
		}
		if err := WriteRequest(io.Discard, q); !errors.Is(err, ErrMalformed) {
			t.Errorf("WriteRequest: got %v, want ErrMalformed", err)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, p := range []*Reply{
		{Status: StatusOK},
		{Status: StatusDenied, Message: "not a reader"},
		{Status: StatusNotFound},
		{Status: StatusBadRequest, Message: strings.Repeat("é", MaxMessageLen/2)},
		{Status: StatusUnavailable, Message: "busy"},
	} {
		var buf bytes.Buffer
		if err := WriteReply(&buf, p); err != nil {
			t.Fatalf("%s: %v", p.Status, err)
		}
		got, err := ReadReply(&buf)
		if err != nil {
			t.Fatalf("%s: %v", p.Status, err)
		}
		if *got != *p {
			t.Fatalf("got %+v, want %+v", got, p)
		}
	}
}

type replyRaw struct {
	_       struct{} `cbor:",toarray"`
	Status  uint8
	Message string
}

func TestParseReplyRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown status", mustMarshal(t, &replyRaw{Status: 5})},
		{"message with ok", mustMarshal(t, &replyRaw{Status: 0, Message: "x"})},
		{"message too long", mustMarshal(t, &replyRaw{Status: 1, Message: strings.Repeat("x", MaxMessageLen+1)})},
		{"non-minimal status", []byte{0x82, 0x18, 0x01, 0x60}},
		{"non-minimal message length", []byte{0x82, 0x01, 0x78, 0x01, 'x'}},
		{"invalid UTF-8", []byte{0x82, 0x01, 0x61, 0xff}},
		{"over the frame bound", append([]byte{0x82, 0x01, 0x79, 0x04, 0x01}, make([]byte, 0x401)...)},
		{"one field", []byte{0x81, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseReply(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	for _, p := range []*Reply{
		{Status: 5},
		{Status: StatusOK, Message: "x"},
		{Status: StatusDenied, Message: strings.Repeat("x", MaxMessageLen+1)},
		{Status: StatusDenied, Message: "\xff"},
	} {
		if _, err := EncodeReply(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("EncodeReply(%+v): got %v, want ErrMalformed", p, err)
		}
	}
}

func TestReplyErr(t *testing.T) {
	for _, tc := range []struct {
		r    Reply
		want error
		text string
	}{
		{Reply{Status: StatusDenied, Message: "not a reader"}, ErrDenied, "share: denied: not a reader"},
		{Reply{Status: StatusNotFound}, ErrNotFound, "share: not found"},
		{Reply{Status: StatusBadRequest, Message: "x"}, ErrBadRequest, "share: bad request: x"},
		{Reply{Status: StatusUnavailable, Message: "busy"}, ErrUnavailable, "share: unavailable: busy"},
		{Reply{Status: 9}, ErrMalformed, ""},
	} {
		err := tc.r.Err()
		if !errors.Is(err, tc.want) {
			t.Errorf("%+v: Err() = %v, want %v", tc.r, err, tc.want)
		}
		if tc.text != "" && err.Error() != tc.text {
			t.Errorf("%+v: Err() text %q, want %q", tc.r, err, tc.text)
		}
	}
	if err := (Reply{Status: StatusOK}).Err(); err != nil {
		t.Fatalf("OK reply: Err() = %v", err)
	}
}

func TestStrings(t *testing.T) {
	for k, want := range map[Kind]string{KindCatalog: "catalog", KindKeyRecord: "key-record", KindNotify: "notify",
		KindOffer: "offer", KindSubscribe: "subscribe", KindUnsubscribe: "unsubscribe", 0: "kind(0)", 200: "kind(200)"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), k, want)
		}
	}
	for s, want := range map[Status]string{StatusOK: "ok", StatusDenied: "denied", StatusNotFound: "not found",
		StatusBadRequest: "bad request", StatusUnavailable: "unavailable", 5: "status(5)"} {
		if s.String() != want {
			t.Errorf("Status(%d).String() = %q, want %q", uint8(s), s, want)
		}
	}
	if !KindCatalog.HasPayload() || !KindKeyRecord.HasPayload() || KindNotify.HasPayload() || KindOffer.HasPayload() {
		t.Error("HasPayload: only catalog and key-record requests get a payload answer")
	}
}

func TestPayloadFrames(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MaxPayloadFrame} {
		data := bytes.Repeat([]byte{3}, n)
		var buf bytes.Buffer
		if err := WritePayload(&buf, data); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := ReadPayload(&buf)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d bytes, %v", n, len(got), err)
		}
	}
	if err := WritePayload(io.Discard, make([]byte, MaxPayloadFrame+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("WritePayload over the bound: %v", err)
	}
}

// hugeFrame is a frame header declaring n bytes, with no body behind it.
func hugeFrame(n uint64) []byte {
	var buf []byte
	for n >= 0x80 {
		buf = append(buf, byte(n)|0x80)
		n >>= 7
	}
	return append(buf, byte(n))
}

func TestFrameTooLargeRejectedBeforeAllocating(t *testing.T) {
	readers := []struct {
		name  string
		bound int
		read  func(io.Reader) error
	}{
		{"request", MaxRequestFrame, func(r io.Reader) error { _, err := ReadRequest(r); return err }},
		{"reply", MaxReplyFrame, func(r io.Reader) error { _, err := ReadReply(r); return err }},
		{"payload", MaxPayloadFrame, func(r io.Reader) error { _, err := ReadPayload(r); return err }},
	}
	for _, rd := range readers {
		for _, n := range []uint64{uint64(rd.bound) + 1, 1 << 40, 1<<64 - 1} {
			var err error
			allocs := testing.AllocsPerRun(10, func() { err = rd.read(bytes.NewReader(hugeFrame(n))) })
			if !errors.Is(err, codec.ErrFrameTooLarge) {
				t.Fatalf("%s frame of %d bytes: got %v, want codec.ErrFrameTooLarge", rd.name, n, err)
			}
			// A few small allocations for the reader and the error; never
			// the declared length.
			if allocs > 10 {
				t.Fatalf("%s frame of %d bytes: %.0f allocations", rd.name, n, allocs)
			}
		}
	}
	// A frame at the bound is read (and then fails to parse, being empty
	// bytes).
	in := append(hugeFrame(MaxReplyFrame), make([]byte, MaxReplyFrame)...)
	if _, err := ReadReply(bytes.NewReader(in)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("reply frame at the bound: got %v, want ErrMalformed", err)
	}
}

func TestHeadRoundTrip(t *testing.T) {
	m := testMiMei(7)
	for _, h := range []Head{
		testHead(m, 0),
		{MiMei: m, Number: 1<<64 - 1, Time: time.UnixMilli(-1).UTC(), Record: testCID(cid.Raw, "r"),
			Manifest: testCID(cid.Raw, "m"), Epoch: 1<<32 - 1, Blocks: 1<<64 - 1, Bytes: 1<<64 - 1},
	} {
		b, err := EncodeHead(&h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseHead(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, h) {
			t.Fatalf("got %+v, want %+v", got, h)
		}
	}
	// Time is carried in milliseconds.
	h := testHead(m, 1)
	h.Time = time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("x", 3600))
	b, _ := EncodeHead(&h)
	got, err := ParseHead(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := h.Time.Truncate(time.Millisecond); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
		t.Fatalf("time %v, want %v in UTC", got.Time, want)
	}
}

type headRaw struct {
	_        struct{} `cbor:",toarray"`
	MiMei    []byte
	Number   uint64
	Time     int64
	Record   []byte
	Manifest []byte
	Epoch    uint32
	Blocks   uint64
	Bytes    uint64
}

func rawHead(h Head) headRaw {
	return headRaw{MiMei: h.MiMei[:], Number: h.Number, Time: h.Time.UnixMilli(), Record: h.Record.Bytes(),
		Manifest: h.Manifest.Bytes(), Epoch: h.Epoch, Blocks: h.Blocks, Bytes: h.Bytes}
}

// foreignCID is a valid CID that is not one we produce (sha2-256, CIDv0).
var foreignCID = []byte{0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

func TestParseHeadRejects(t *testing.T) {
	h := testHead(testMiMei(1), 4)
	ok, _ := EncodeHead(&h)
	mod := func(f func(*headRaw)) []byte {
		r := rawHead(h)
		f(&r)
		return mustMarshal(t, &r)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"non-canonical", nonCanonicalTail(ok, 0)},
		{"short MiMei", mod(func(r *headRaw) { r.MiMei = r.MiMei[:5] })},
		{"no record", mod(func(r *headRaw) { r.Record = nil })},
		{"no manifest", mod(func(r *headRaw) { r.Manifest = nil })},
		{"garbage record", mod(func(r *headRaw) { r.Record = []byte{1, 2, 3} })},
		{"foreign manifest", mod(func(r *headRaw) { r.Manifest = foreignCID })},
		{"record with trailing byte", mod(func(r *headRaw) { r.Record = append(r.Record, 0) })},
		{"epoch over 32 bits", mustMarshal(t, []any{h.MiMei[:], 4, 0, h.Record.Bytes(), h.Manifest.Bytes(), uint64(1) << 32, 3, 7})},
		{"seven fields", mustMarshal(t, []any{h.MiMei[:], 4, 0, h.Record.Bytes(), h.Manifest.Bytes(), 0, 3})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHead(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	for _, bad := range []Head{{MiMei: h.MiMei, Manifest: h.Manifest}, {MiMei: h.MiMei, Record: h.Record}} {
		if _, err := EncodeHead(&bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("EncodeHead without a CID: got %v, want ErrMalformed", err)
		}
	}
}

func TestCatalogRoundTrip(t *testing.T) {
	full := testCatalog()
	full.Rights.Writers = nil
	full.Rights.Readers = make([]string, MaxRightsEntries)
	for i := range full.Rights.Readers {
		full.Rights.Readers[i] = strings.Repeat("r", MaxPersonaLen-3) + string(rune('a'+i%26)) + "xy"
	}
	full.Heads = nil
	for i := range MaxHeads {
		full.Heads = append(full.Heads, testHead(full.MiMei, uint64(10*i)))
	}
	full.Last, full.Release = make([]byte, MaxPointerLen), make([]byte, MaxPointerLen)
	for _, c := range []*Catalog{
		testCatalog(),
		{MiMei: testMiMei(3), Rights: WireRights{Owner: "o", Public: true}},
		full,
	} {
		b, err := EncodeCatalog(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCatalog(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("got %+v, want %+v", got, c)
		}
		// A catalog travels as a payload frame.
		var buf bytes.Buffer
		if err := WritePayload(&buf, b); err != nil {
			t.Fatal(err)
		}
		if p, err := ReadPayload(&buf); err != nil || !bytes.Equal(p, b) {
			t.Fatalf("payload frame: %v", err)
		}
	}
}

type rightsRaw struct {
	_       struct{} `cbor:",toarray"`
	Owner   string
	Writers []string
	Readers []string
	Public  bool
}

type catalogRaw struct {
	_       struct{} `cbor:",toarray"`
	Format  uint16
	MiMei   []byte
	Author  string
	AppType string
	Ext     string
	Mark    string
	Rights  rightsRaw
	Heads   []headRaw
	Last    []byte
	Release []byte
	Epoch   uint32
}

func rawCatalog(c *Catalog) catalogRaw {
	r := catalogRaw{Format: 1, MiMei: c.MiMei[:], Author: c.Author, AppType: c.AppType, Ext: c.Ext, Mark: c.Mark,
		Rights: rightsRaw{Owner: c.Rights.Owner, Writers: c.Rights.Writers, Readers: c.Rights.Readers, Public: c.Rights.Public},
		Last:   c.Last, Release: c.Release, Epoch: c.Epoch}
	for _, h := range c.Heads {
		r.Heads = append(r.Heads, rawHead(h))
	}
	return r
}

func TestParseCatalogRejects(t *testing.T) {
	c := testCatalog()
	ok, err := EncodeCatalog(c)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*catalogRaw)) []byte {
		r := rawCatalog(c)
		f(&r)
		return mustMarshal(t, &r)
	}
	long := strings.Repeat("x", MaxTextLen+1)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"non-canonical", nonCanonicalTail(ok, 0)},
		{"long author", mod(func(r *catalogRaw) { r.Author = long })},
		{"long app type", mod(func(r *catalogRaw) { r.AppType = long })},
		{"long ext", mod(func(r *catalogRaw) { r.Ext = long })},
		{"long mark", mod(func(r *catalogRaw) { r.Mark = long })},
		{"long owner", mod(func(r *catalogRaw) { r.Rights.Owner = long })},
		{"long writer", mod(func(r *catalogRaw) { r.Rights.Writers = []string{long} })},
		{"too many rights", mod(func(r *catalogRaw) {
			r.Rights.Writers = make([]string, MaxRightsEntries/2+1)
			r.Rights.Readers = make([]string, MaxRightsEntries/2)
		})},
		{"short MiMei", mod(func(r *catalogRaw) { r.MiMei = r.MiMei[1:] })},
		{"too many heads", mod(func(r *catalogRaw) {
			r.Heads = nil
			for i := range MaxHeads + 1 {
				r.Heads = append(r.Heads, rawHead(testHead(c.MiMei, uint64(i))))
			}
		})},
		{"heads descending", mod(func(r *catalogRaw) { r.Heads[0], r.Heads[1] = r.Heads[1], r.Heads[0] })},
		{"heads repeated", mod(func(r *catalogRaw) { r.Heads[1] = r.Heads[0] })},
		{"head of another MiMei", mod(func(r *catalogRaw) {
			other := testMiMei(99)
			r.Heads[1].MiMei = other[:]
		})},
		{"head without manifest", mod(func(r *catalogRaw) { r.Heads[2].Manifest = nil })},
		{"long last", mod(func(r *catalogRaw) { r.Last = make([]byte, MaxPointerLen+1) })},
		{"long release", mod(func(r *catalogRaw) { r.Release = make([]byte, MaxPointerLen+1) })},
		{"rights not an array", mustMarshal(t, []any{1, c.MiMei[:], "", "", "", "", "owner", []any{}, []byte{}, []byte{}, 0})},
		{"too large", make([]byte, MaxPayloadFrame+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCatalog(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	for _, f := range []uint16{0, 2, 1000} {
		b := mod(func(r *catalogRaw) { r.Format = f })
		if _, err := ParseCatalog(b); !errors.Is(err, ErrUnknownFormat) {
			t.Fatalf("format %d: got %v, want ErrUnknownFormat", f, err)
		}
	}
}

func TestEncodeCatalogRejects(t *testing.T) {
	for name, f := range map[string]func(*Catalog){
		"long author":     func(c *Catalog) { c.Author = strings.Repeat("a", MaxTextLen+1) },
		"invalid UTF-8":   func(c *Catalog) { c.Mark = "\xc3" },
		"heads unordered": func(c *Catalog) { c.Heads[0].Number = 100 },
		"head MiMei":      func(c *Catalog) { c.Heads[2].MiMei = testMiMei(50) },
		"head no record":  func(c *Catalog) { c.Heads[0].Record = cid.Undef },
		"long release":    func(c *Catalog) { c.Release = make([]byte, MaxPointerLen+1) },
	} {
		c := testCatalog()
		f(c)
		if _, err := EncodeCatalog(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestOfferRoundTrip(t *testing.T) {
	for _, o := range []*Offer{
		{MiMei: testMiMei(1)},
		{MiMei: testMiMei(2), Author: "alice", AppType: "photos", Ext: "jpg", Mark: "holiday", Write: true,
			Note: strings.Repeat("n", MaxMessageLen)},
	} {
		b, err := EncodeOffer(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseOffer(b)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *o {
			t.Fatalf("got %+v, want %+v", got, o)
		}
	}
}

type offerRaw struct {
	_       struct{} `cbor:",toarray"`
	MiMei   []byte
	Author  string
	AppType string
	Ext     string
	Mark    string
	Write   bool
	Note    string
}

func TestParseOfferRejects(t *testing.T) {
	m := testMiMei(1)
	ok, _ := EncodeOffer(&Offer{MiMei: m, Note: "hi"})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"non-canonical", nonCanonicalTail(ok, 2)},
		{"long note", mustMarshal(t, &offerRaw{MiMei: m[:], Note: strings.Repeat("x", MaxMessageLen+1)})},
		{"long author", mustMarshal(t, &offerRaw{MiMei: m[:], Author: strings.Repeat("x", MaxTextLen+1)})},
		{"no MiMei", mustMarshal(t, &offerRaw{})},
		{"write not a bool", mustMarshal(t, []any{m[:], "", "", "", "", 1, ""})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseOffer(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := EncodeOffer(&Offer{Note: strings.Repeat("x", MaxMessageLen+1)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeOffer with a long note: %v", err)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	many := &Manifest{}
	for i := range MaxManifestEntries {
		many.Blocks = append(many.Blocks, testCID(cid.Raw, strings.Repeat("x", i)))
		many.Codecs = append(many.Codecs, CodecRaw)
	}
	for _, m := range []*Manifest{testManifest(), {Blocks: []cid.CID{testCID(cid.DagCBOR, "x")}, Codecs: []byte{'c'}}, many} {
		b, err := EncodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("got %+v, want %+v", got, m)
		}
		links := got.Links()
		want := len(m.Blocks)
		if m.Next.Defined() {
			want++
			if links[len(links)-1] != m.Next {
				t.Fatal("Links does not end with Next")
			}
		}
		if len(links) != want {
			t.Fatalf("%d links, want %d", len(links), want)
		}
	}
}

type manifestRaw struct {
	_      struct{} `cbor:",toarray"`
	Format uint16
	Next   []byte
	Blocks [][]byte
	Codecs []byte
	Checks []byte
}

func rawManifest(m *Manifest) manifestRaw {
	r := manifestRaw{Format: ManifestFormat, Next: m.Next.Bytes(), Codecs: m.Codecs, Checks: m.Checks}
	for _, c := range m.Blocks {
		r.Blocks = append(r.Blocks, c.Bytes())
	}
	return r
}

func TestParseManifestRejects(t *testing.T) {
	m := testManifest()
	ok, _ := EncodeManifest(m)
	mod := func(f func(*manifestRaw)) []byte {
		r := rawManifest(m)
		f(&r)
		return mustMarshal(t, &r)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"non-canonical", nonCanonicalTail(ok, 3)},
		{"no blocks", mod(func(r *manifestRaw) { r.Blocks, r.Codecs = nil, nil })},
		{"too many blocks", mod(func(r *manifestRaw) {
			r.Blocks = make([][]byte, MaxManifestEntries+1)
			for i := range r.Blocks {
				r.Blocks[i] = m.Blocks[0].Bytes()
			}
			r.Codecs = bytes.Repeat([]byte{'r'}, MaxManifestEntries+1)
		})},
		{"codecs too short", mod(func(r *manifestRaw) { r.Codecs = r.Codecs[:2] })},
		{"codecs too long", mod(func(r *manifestRaw) { r.Codecs = append(r.Codecs, 'r') })},
		{"bad codec byte", mod(func(r *manifestRaw) { r.Codecs[1] = 'x' })},
		{"codec byte 0", mod(func(r *manifestRaw) { r.Codecs[0] = 0 })},
		{"bad block CID", mod(func(r *manifestRaw) { r.Blocks[1] = []byte{1, 0x55} })},
		{"foreign block CID", mod(func(r *manifestRaw) { r.Blocks[0] = foreignCID })},
		{"bad next", mod(func(r *manifestRaw) { r.Next = []byte{0} })},
		{"codecs as text", mustMarshal(t, []any{ManifestFormat, []byte{}, [][]byte{m.Blocks[0].Bytes()}, "r", []byte{}})},
		{"format 1's four fields", mustMarshal(t, []any{ManifestFormat, []byte{}, [][]byte{m.Blocks[0].Bytes()}, []byte("r")})},
		{"checks too short", mod(func(r *manifestRaw) { r.Checks = make([]byte, 3*sealing.CheckSize-1) })},
		{"checks too long", mod(func(r *manifestRaw) { r.Checks = make([]byte, 3*sealing.CheckSize+1) })},
		{"checks for one block of three", mod(func(r *manifestRaw) { r.Checks = make([]byte, sealing.CheckSize) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseManifest(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	b := mod(func(r *manifestRaw) { r.Format = 1 })
	if _, err := ParseManifest(b); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("format 1: got %v, want ErrUnknownFormat", err)
	}
	for name, bad := range map[string]*Manifest{
		"no blocks":       {},
		"codecs mismatch": {Blocks: m.Blocks, Codecs: []byte("rc")},
		"bad codec byte":  {Blocks: m.Blocks[:1], Codecs: []byte("R")},
		"undefined block": {Blocks: []cid.CID{cid.Undef}, Codecs: []byte("r")},
		"checks mismatch": {Blocks: m.Blocks[:1], Codecs: []byte("r"), Checks: make([]byte, 2*sealing.CheckSize)},
	} {
		if _, err := EncodeManifest(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("EncodeManifest %s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestManifestBlockCID(t *testing.T) {
	b, err := EncodeManifest(testManifest())
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum(cid.DagCBOR, b)
	if err := cid.Verify(c, b); err != nil {
		t.Fatal(err)
	}
	// The chain is walked by Next: a manifest pointing at this one.
	prev := &Manifest{Next: c, Blocks: []cid.CID{testCID(cid.Raw, "z")}, Codecs: []byte("r")}
	pb, err := EncodeManifest(prev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(pb)
	if err != nil || got.Next != c {
		t.Fatalf("Next %v, %v; want %v", got.Next, err, c)
	}
}

// TestNonCanonicalRejected checks that each message, re-encoded with one
// needless length byte, decodes but is refused as non-canonical.
func TestNonCanonicalRejected(t *testing.T) {
	req, _ := EncodeRequest(&Request{Kind: KindCatalog, MiMei: testMiMei(1)})
	rep, _ := EncodeReply(&Reply{Status: StatusDenied, Message: "no"})
	h := testHead(testMiMei(1), 4)
	head, _ := EncodeHead(&h)
	cat, _ := EncodeCatalog(testCatalog())
	off, _ := EncodeOffer(&Offer{MiMei: testMiMei(1), Note: "hi"})
	man, _ := EncodeManifest(testManifest())
	for _, tc := range []struct {
		name  string
		b     []byte
		parse func([]byte) error
	}{
		{"request", nonCanonicalTail(req, 0), func(b []byte) error { _, err := ParseRequest(b); return err }},
		{"reply", nonCanonicalTail(rep, 2), func(b []byte) error { _, err := ParseReply(b); return err }},
		{"head", nonCanonicalTail(head, 0), func(b []byte) error { _, err := ParseHead(b); return err }},
		{"catalog", nonCanonicalTail(cat, 0), func(b []byte) error { _, err := ParseCatalog(b); return err }},
		{"offer", nonCanonicalTail(off, 2), func(b []byte) error { _, err := ParseOffer(b); return err }},
		{"manifest", nonCanonicalTail(man, 0), func(b []byte) error { _, err := ParseManifest(b); return err }},
	} {
		err := tc.parse(tc.b)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, codec.ErrNonCanonical) {
			t.Errorf("%s: got %v, want ErrMalformed wrapping codec.ErrNonCanonical", tc.name, err)
		}
	}
}

func TestOwnListLimits(t *testing.T) {
	full := &OwnList{Entries: make([]OwnEntry, MaxListEntries)}
	for i := range full.Entries {
		full.Entries[i] = OwnEntry{MiMei: testMiMei(byte(i)), Versions: 1 << 40}
	}
	b, err := EncodeOwnList(full)
	if err != nil {
		t.Fatalf("a full page does not encode: %v", err)
	}
	if got, err := ParseOwnList(b); err != nil || len(got.Entries) != MaxListEntries {
		t.Fatalf("round trip: %v", err)
	}
	full.Entries = append(full.Entries, OwnEntry{})
	if _, err := EncodeOwnList(full); !errors.Is(err, ErrMalformed) {
		t.Fatalf("over-long list: %v", err)
	}
	if _, err := ParseOwnList([]byte{0x83, 0x02, 0x80, 0xf4}); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("format 2: %v", err)
	}
}

// A sealed manifest of the most entries, each with its check, fits in a
// record; its checks come back in order.
func TestSealedManifestChecks(t *testing.T) {
	m := &Manifest{Next: testCID(cid.DagCBOR, "next")}
	for i := range MaxManifestEntries {
		m.Blocks = append(m.Blocks, testCID(cid.Raw, fmt.Sprint("sealed ", i)))
		m.Codecs = append(m.Codecs, CodecRaw)
		check := bytes.Repeat([]byte{byte(i)}, sealing.CheckSize)
		m.Checks = append(m.Checks, check...)
	}
	b, err := EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, MaxManifestEntries - 1} {
		c, ok := got.Check(i)
		if !ok || c != [sealing.CheckSize]byte(bytes.Repeat([]byte{byte(i)}, sealing.CheckSize)) {
			t.Fatalf("check %d: %x %v", i, c, ok)
		}
	}
	if _, ok := testManifest().Check(0); ok {
		t.Fatal("a manifest without checks gave one")
	}
	t.Logf("%d entries with checks: %d bytes of %d", MaxManifestEntries, len(b), codec.MaxRecordSize)
}
