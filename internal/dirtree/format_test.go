package dirtree

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multiformats/go-multihash"
	"github.com/peer-node/peer/internal/blockstore"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

// Wire structs as internal/codec would encode them: the encoder must give
// exactly codec.Marshal's bytes for them (TestEncodingMatchesCodec).
type entryWire struct {
	_       struct{} `cbor:",toarray"`
	Name    string
	Kind    uint64
	CID     []byte
	Size    uint64
	MIME    string
	ModTime int64
}

type pageWire struct {
	_         struct{} `cbor:",toarray"`
	FirstName string
	CID       []byte
	Count     uint64
	Size      uint64
}

type nodeWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint64
	Entries []entryWire
	Pages   []pageWire
}

var (
	fileCID = cid.Sum(cid.Raw, []byte("file"))
	treeCID = cid.Sum(cid.DagCBOR, []byte("a file root or a node"))
)

func fileEntry(name string, size uint64) Entry {
	return Entry{Name: name, Kind: KindFile, Root: fileCID, Size: size, MIME: "text/plain", ModTime: epoch}
}

func dirEntry(name string, size uint64) Entry {
	return Entry{Name: name, Kind: KindDir, Root: treeCID, Size: size, ModTime: epoch}
}

func (e Entry) wire() entryWire {
	return entryWire{Name: e.Name, Kind: uint64(e.Kind), CID: e.Root.Bytes(), Size: e.Size, MIME: e.MIME, ModTime: e.ModTime.UnixMilli()}
}

func (p Page) wire() pageWire {
	return pageWire{FirstName: p.FirstName, CID: p.CID.Bytes(), Count: uint64(p.Count), Size: p.Size}
}

func (n Node) wire() nodeWire {
	w := nodeWire{Version: Version}
	for _, e := range n.Entries {
		w.Entries = append(w.Entries, e.wire())
	}
	for _, p := range n.Pages {
		w.Pages = append(w.Pages, p.wire())
	}
	return w
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodingMatchesCodec(t *testing.T) {
	setMaxEntries(t, 3)
	nodes := map[string]Node{
		"empty": {},
		"entries": {Entries: []Entry{
			fileEntry("a", 0),
			{Name: "b", Kind: KindFile, Root: treeCID, Size: math.MaxInt64 - 300, ModTime: time.UnixMilli(-1).UTC()},
			{Name: "c", Kind: KindDir, Root: treeCID, Size: 300, ModTime: time.Time{}},
		}},
		"pages": {Pages: []Page{
			{FirstName: "a", CID: treeCID, Count: 3, Size: 1 << 40},
			{FirstName: "m" + strings.Repeat("x", 300/2), CID: treeCID, Count: 1, Size: 70000},
		}},
	}
	for name, n := range nodes {
		got, err := EncodeNode(n)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := marshal(t, n.wire()); !bytes.Equal(got, want) {
			t.Errorf("%s: EncodeNode = %x\ncodec gives %x", name, got, want)
		}
		back, err := DecodeNode(got)
		if err != nil {
			t.Fatalf("%s: DecodeNode: %v", name, err)
		}
		var w nodeWire
		if err := codec.Unmarshal(got, &w); err != nil {
			t.Errorf("%s: codec refuses the encoding: %v", name, err)
		}
		again, _ := EncodeNode(back)
		if !bytes.Equal(again, got) {
			t.Errorf("%s: decode and re-encode changed the bytes", name)
		}
	}
	// The zero time survives the trip (as -62135596800000 ms).
	n, _ := DecodeNode(must(EncodeNode(nodes["entries"])))
	if !n.Entries[2].ModTime.IsZero() || n.Entries[2].ModTime != (time.Time{}) {
		t.Errorf("zero ModTime decodes as %v", n.Entries[2].ModTime)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// hand encodes arbitrary values with the node encoder, for inputs codec
// will not produce (invalid UTF-8, out-of-range integers).
func hand(build func(e *encoder)) []byte {
	var e encoder
	build(&e)
	return e.b
}

func TestDecodeNodeRejects(t *testing.T) {
	setMaxEntries(t, 2)
	a, b := fileEntry("a", 1), fileEntry("b", 2)
	good := Node{Entries: []Entry{a, b}}
	enc := must(EncodeNode(good))
	if n, err := DecodeNode(enc); err != nil || len(n.Entries) != 2 || n.Entries[1].Name != "b" || n.Entries[1].Root != fileCID {
		t.Fatalf("DecodeNode(good) = %+v, %v", n, err)
	}
	nw := func(ents ...Entry) []byte { return marshal(t, Node{Entries: ents}.wire()) }
	pw := func(pages ...Page) []byte { return marshal(t, Node{Pages: pages}.wire()) }
	with := func(e Entry, f func(*Entry)) Entry { f(&e); return e }
	ew := func(f func(*entryWire)) []byte {
		w := nodeWire{Version: Version, Entries: []entryWire{a.wire()}}
		f(&w.Entries[0])
		return marshal(t, w)
	}
	page := func(first string, count int) Page { return Page{FirstName: first, CID: treeCID, Count: count, Size: 5} }
	sha, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, -1)
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty input":          {nil, ErrMalformed},
		"garbage":              {[]byte("not cbor at all"), ErrMalformed},
		"not an array":         {marshal(t, map[string]int{"v": 1}), ErrMalformed},
		"empty array":          {marshal(t, []int{}), ErrMalformed},
		"version not a number": {marshal(t, []any{"1", []int{}, []int{}}), ErrMalformed},
		"version 2":            {marshal(t, []any{2, []int{}, []int{}}), ErrUnsupportedVersion},
		"version 0":            {marshal(t, []any{0, []int{}, []int{}}), ErrUnsupportedVersion},
		"future shape":         {marshal(t, []any{7, "something new"}), ErrUnsupportedVersion},
		"two fields":           {marshal(t, []any{1, []int{}}), ErrMalformed},
		"four fields":          {marshal(t, []any{1, []int{}, []int{}, 0}), ErrMalformed},
		"trailing bytes":       {append(bytes.Clone(enc), 0), ErrMalformed},
		"truncated":            {enc[:len(enc)-1], ErrMalformed},
		"long-form head":       {append([]byte{0x98, 0x03}, enc[1:]...), ErrMalformed},
		"long-form version":    {append([]byte{0x83, 0x18, 0x01}, enc[2:]...), ErrMalformed},
		"indefinite array":     {append([]byte{0x9f}, append(bytes.Clone(enc[1:]), 0xff)...), ErrMalformed},
		"tagged":               {append([]byte{0xc0}, enc...), ErrMalformed},
		"huge array count":     {[]byte{0x83, 0x01, 0x9b, 0, 0, 0, 1, 0, 0, 0, 0}, ErrMalformed},
		"too large":            {make([]byte, blockstore.MaxBlockSize+1), ErrMalformed},

		"unsorted":          {nw(b, a), ErrMalformed},
		"duplicate name":    {nw(a, a), ErrMalformed},
		"too many entries":  {nw(a, b, fileEntry("c", 1)), ErrMalformed},
		"empty name":        {nw(with(a, func(e *Entry) { e.Name = "" })), ErrMalformed},
		"dot":               {nw(with(a, func(e *Entry) { e.Name = "." })), ErrMalformed},
		"slash in name":     {nw(with(a, func(e *Entry) { e.Name = "x/y" })), ErrMalformed},
		"NUL in name":       {nw(with(a, func(e *Entry) { e.Name = "x\x00" })), ErrMalformed},
		"long name":         {nw(with(a, func(e *Entry) { e.Name = strings.Repeat("n", MaxNameLen+1) })), ErrMalformed},
		"long MIME":         {nw(with(a, func(e *Entry) { e.MIME = strings.Repeat("m", MaxMIMELen+1) })), ErrMalformed},
		"dir with MIME":     {nw(with(dirEntry("d", 0), func(e *Entry) { e.MIME = "x" })), ErrMalformed},
		"dir with raw root": {nw(with(dirEntry("d", 0), func(e *Entry) { e.Root = fileCID })), ErrMalformed},
		"size beyond int64": {nw(with(a, func(e *Entry) { e.Size = 1 << 63 })), ErrMalformed},
		"sizes overflow":    {nw(with(a, func(e *Entry) { e.Size = 1 << 62 }), with(b, func(e *Entry) { e.Size = 1 << 62 })), ErrMalformed},
		"kind 0":            {ew(func(w *entryWire) { w.Kind = 0 }), ErrMalformed},
		"kind 3":            {ew(func(w *entryWire) { w.Kind = 3 }), ErrMalformed},
		"kind 257":          {ew(func(w *entryWire) { w.Kind = 257 }), ErrMalformed},
		"bad CID":           {ew(func(w *entryWire) { w.CID = []byte("nope") }), ErrMalformed},
		"empty CID":         {ew(func(w *entryWire) { w.CID = nil }), ErrMalformed},
		"sha-256 CID":       {ew(func(w *entryWire) { w.CID = append([]byte{0x01, 0x55}, sha...) }), ErrMalformed},
		"entry of 5 fields": {marshal(t, []any{1, []any{[]any{"a", 1, fileCID.Bytes(), 1, ""}}, []int{}}), ErrMalformed},
		"entry of 7 fields": {marshal(t, []any{1, []any{[]any{"a", 1, fileCID.Bytes(), 1, "", 0, 0}}, []int{}}), ErrMalformed},
		"text time":         {marshal(t, []any{1, []any{[]any{"a", 1, fileCID.Bytes(), 1, "", "now"}}, []int{}}), ErrMalformed},
		"CID as text":       {marshal(t, []any{1, []any{[]any{"a", 1, string(fileCID.Bytes()), 1, "", 0}}, []int{}}), ErrMalformed},
		"name as bytes":     {marshal(t, []any{1, []any{[]any{[]byte("a"), 1, fileCID.Bytes(), 1, "", 0}}, []int{}}), ErrMalformed},
		"time below int64": {hand(func(e *encoder) {
			e.array(3)
			e.uint(1)
			e.array(1)
			e.array(6)
			e.text("a")
			e.uint(1)
			e.bytes(fileCID.Bytes())
			e.uint(1)
			e.text("")
			e.head(majorNeg, 1<<63)
			e.array(0)
		}), ErrMalformed},
		"invalid UTF-8 name": {hand(func(e *encoder) {
			e.array(3)
			e.uint(1)
			e.array(1)
			e.array(6)
			e.text("\xff")
			e.uint(1)
			e.bytes(fileCID.Bytes())
			e.uint(1)
			e.text("")
			e.int(0)
			e.array(0)
		}), ErrMalformed},
		"invalid UTF-8 MIME": {hand(func(e *encoder) {
			e.array(3)
			e.uint(1)
			e.array(1)
			e.array(6)
			e.text("a")
			e.uint(1)
			e.bytes(fileCID.Bytes())
			e.uint(1)
			e.text("\xc3")
			e.int(0)
			e.array(0)
		}), ErrMalformed},

		"entries and pages":   {marshal(t, nodeWire{Version: 1, Entries: []entryWire{a.wire()}, Pages: []pageWire{page("a", 2).wire(), page("b", 1).wire()}}), ErrMalformed},
		"single page":         {pw(page("a", 2)), ErrMalformed},
		"first page not full": {pw(page("a", 1), page("b", 1)), ErrMalformed},
		"empty last page":     {pw(page("a", 2), page("b", 0)), ErrMalformed},
		"overfull page":       {pw(page("a", 2), page("b", 3)), ErrMalformed},
		"too many pages":      {pw(page("a", 2), page("b", 2), page("c", 1)), ErrMalformed},
		"pages unsorted":      {pw(page("b", 2), page("a", 1)), ErrMalformed},
		"pages same name":     {pw(page("a", 2), page("a", 1)), ErrMalformed},
		"page with bad name":  {pw(page("a", 2), page("..", 1)), ErrMalformed},
		"page with raw CID":   {pw(page("a", 2), with2(page("b", 1), func(p *Page) { p.CID = fileCID })), ErrMalformed},
		"page sizes overflow": {pw(with2(page("a", 2), func(p *Page) { p.Size = 1 << 62 }), with2(page("b", 1), func(p *Page) { p.Size = 1 << 62 })), ErrMalformed},
		"page of 3 fields":    {marshal(t, []any{1, []int{}, []any{[]any{"a", treeCID.Bytes(), 2}, []any{"b", treeCID.Bytes(), 1}}}), ErrMalformed},
		"page count huge":     {marshal(t, []any{1, []int{}, []any{[]any{"a", treeCID.Bytes(), uint64(1) << 40, 0}, []any{"b", treeCID.Bytes(), 1, 0}}}), ErrMalformed},
	}
	for name, tc := range cases {
		_, err := DecodeNode(tc.data)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: DecodeNode = %v, want %v", name, err, tc.want)
		} else if tc.want == ErrMalformed && errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s: both malformed and unsupported: %v", name, err)
		}
	}
	if _, err := EncodeNode(Node{Entries: []Entry{b, a}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeNode accepted unsorted entries: %v", err)
	}
	if _, err := EncodeNode(Node{Entries: []Entry{with(a, func(e *Entry) { e.MIME = "\xff" })}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeNode accepted an invalid UTF-8 MIME type: %v", err)
	}
}

func with2(p Page, f func(*Page)) Page { f(&p); return p }

// TestFullNodeFitsABlock shows why nodes are not codec records: the largest
// node is far over codec.MaxRecordSize but within blockstore.MaxBlockSize.
func TestFullNodeFitsABlock(t *testing.T) {
	n := Node{Entries: make([]Entry, MaxEntriesPerNode)}
	for i := range n.Entries {
		name := fmt.Sprintf("%04d", i) + strings.Repeat("n", MaxNameLen-4)
		n.Entries[i] = Entry{Name: name, Kind: KindFile, Root: treeCID, Size: math.MaxInt64 / MaxEntriesPerNode,
			MIME: strings.Repeat("m", MaxMIMELen), ModTime: time.UnixMilli(math.MinInt64).UTC()}
	}
	data, err := EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= codec.MaxRecordSize || len(data) > blockstore.MaxBlockSize*3/4 {
		t.Errorf("full node of longest names is %d bytes", len(data))
	}
	back, err := DecodeNode(data)
	if err != nil || len(back.Entries) != MaxEntriesPerNode || back.Entries[7] != n.Entries[7] {
		t.Errorf("DecodeNode(full) = %d entries, %v", len(back.Entries), err)
	}
	n.Entries = append(n.Entries, n.Entries[0])
	if _, err := EncodeNode(n); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeNode of %d entries = %v", len(n.Entries), err)
	}
}

func FuzzDecodeNode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x83, 0x01, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := EncodeNode(n)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted node does not re-encode: %v", err)
		}
		// Whatever codec can hold, it must read the same way.
		if len(data) <= codec.MaxRecordSize {
			var w nodeWire
			if err := codec.Unmarshal(data, &w); err != nil {
				t.Fatalf("accepted node refused by codec: %v", err)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzDecodeNode when
// PEER_WRITE_FUZZ_SEEDS=1 (and otherwise checks the seeds are present).
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeNode")
	if os.Getenv("PEER_WRITE_FUZZ_SEEDS") == "" {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
			t.Fatalf("no fuzz seeds in %s: %v", dir, err)
		}
		return
	}
	entries := must(EncodeNode(Node{Entries: []Entry{fileEntry("a.txt", 5), dirEntry("sub", 7),
		{Name: "z", Kind: KindFile, Root: treeCID, Size: 300000, ModTime: time.UnixMilli(-5).UTC()}}}))
	pages := make([]Page, 3)
	for i := range pages {
		pages[i] = Page{FirstName: fmt.Sprint("p", i), CID: treeCID, Count: MaxEntriesPerNode, Size: 10}
	}
	pages[2].Count = 1
	seeds := map[string][]byte{
		"empty":    must(EncodeNode(Node{})),
		"entries":  entries,
		"pages":    must(EncodeNode(Node{Pages: pages})),
		"version2": append([]byte{0x83, 0x02}, entries[2:]...),
		"unsorted": must(codec.Marshal(nodeWire{Version: 1, Entries: []entryWire{dirEntry("b", 1).wire(), fileEntry("a", 1).wire()}})),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
