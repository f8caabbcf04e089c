package mimeidb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"pgregory.net/rapid"
)

// renderKey renders one dumped key exactly (scores by their bits, so -0 and
// +0 differ), for comparing Dump and ReadExport output.
func renderKey(sb *strings.Builder, k []byte, typ Type, v any) {
	fmt.Fprintf(sb, "%q %s", k, typ)
	switch v := v.(type) {
	case []byte:
		fmt.Fprintf(sb, " %q", v)
	case [][]byte:
		fmt.Fprintf(sb, " %d[", len(v))
		for _, e := range v {
			fmt.Fprintf(sb, " %q", e)
		}
		sb.WriteString(" ]")
	case []FieldValue:
		fmt.Fprintf(sb, " %d[", len(v))
		for _, fv := range v {
			fmt.Fprintf(sb, " %q=%q", fv.Field, fv.Value)
		}
		sb.WriteString(" ]")
	case []ZMember:
		fmt.Fprintf(sb, " %d[", len(v))
		for _, zm := range v {
			fmt.Fprintf(sb, " %q@%x", zm.Member, math.Float64bits(zm.Score))
		}
		sb.WriteString(" ]")
	default:
		fmt.Fprintf(sb, " ?%T", v)
	}
	sb.WriteString("\n")
}

func dumpExact(t testing.TB, db *DB) string {
	t.Helper()
	var sb strings.Builder
	if err := db.Dump(func(k []byte, typ Type, v any) error { renderKey(&sb, k, typ, v); return nil }); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func readExact(stream []byte) (string, error) {
	var sb strings.Builder
	err := ReadExport(bytes.NewReader(stream), func(k []byte, typ Type, v any) error {
		renderKey(&sb, k, typ, v)
		return nil
	})
	return sb.String(), err
}

func export(t testing.TB, db *DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := db.Export(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func b(s string) []byte { return []byte(s) }

// fillAllTypes writes one of everything, with the awkward cases.
func fillAllTypes(t testing.TB, db *DB) {
	t.Helper()
	var big [][]byte
	for i := range 3000 {
		big = append(big, b(strconv.Itoa(i)))
	}
	try := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	try(nil, db.Set(b(""), b("empty key")))
	try(nil, db.Set(b("s"), b("")))
	try(nil, db.Set([]byte{0, 0xff, 0x80}, []byte{0, 1, 2, 0xff}))
	try(db.HSet(b("h"), b(""), b(""), b("f"), b("v"), []byte{0xff}, []byte{0}))
	try(db.RPush(b("l"), b("a"), b(""), b("a"), b("\x00")))
	try(db.RPush(b("lab"), b("ab")))
	try(db.RPush(b("big"), big...))
	try(db.SAdd(b("set"), b("x"), b(""), b("\xff\x00"), b("a")))
	try(db.ZAdd(b("z"),
		ZMember{b("negzero"), math.Copysign(0, -1)}, ZMember{b("zero"), 0}, ZMember{b("a"), 0},
		ZMember{b("inf"), math.Inf(1)}, ZMember{b("-inf"), math.Inf(-1)}, ZMember{b("neg"), -1.5},
		ZMember{b("tiny"), 5e-324}, ZMember{b("half"), 65504}, ZMember{b("f32"), 0.15625e-7},
		ZMember{b("pi"), math.Pi}, ZMember{b("huge"), -1e300}, ZMember{b(""), 1}))
}

func TestExportRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		src := openDB(t, s, "src/")
		fillAllTypes(t, src)
		want := dumpExact(t, src)
		var buf bytes.Buffer
		n, err := src.Export(&buf)
		if err != nil || n != 8+1 {
			t.Fatalf("Export = %d, %v; want 9 keys", n, err)
		}
		stream := buf.Bytes()
		got, err := readExact(stream)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("ReadExport gave\n%s\nDump gave\n%s", got, want)
		}

		dst := openDB(t, s, "dst/")
		n, err = dst.Replace(context.Background(), bytes.NewReader(stream))
		if err != nil || n != 9 {
			t.Fatalf("Replace = %d, %v", n, err)
		}
		if got := dumpExact(t, dst); got != want {
			t.Fatalf("after Replace:\n%s\nwant\n%s", got, want)
		}
		d1, _ := src.Digest()
		d2, _ := dst.Digest()
		if d1 != d2 {
			t.Fatal("digest differs after Replace")
		}
		if again := export(t, dst); !bytes.Equal(again, stream) {
			t.Fatal("re-export differs")
		}
		// The restored database is a normal one: -0 kept its sign and the
		// list still works.
		if f, _, _ := dst.ZScore(b("z"), b("negzero")); !math.Signbit(f) || f != 0 {
			t.Fatalf("-0 came back as %v", f)
		}
		if n, _ := dst.RPush(b("big"), b("more")); n != 3001 {
			t.Fatalf("RPush after restore = %d", n)
		}
	})
}

func TestExportLimits(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	bigKey := bytes.Repeat([]byte{0xfe}, MaxKeyLen)
	bigVal := bytes.Repeat([]byte{'v'}, MaxValueLen)
	if err := db.Set(bigKey, bigVal); err != nil {
		t.Fatal(err)
	}
	if _, err := db.HSet(b("h"), bigKey, bigVal); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ZAdd(b("z"), ZMember{bigKey, 1}); err != nil {
		t.Fatal(err)
	}
	stream := export(t, db)
	dst := openDB(t, memkv.New(), "q")
	if _, err := dst.Replace(context.Background(), bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	d1, _ := db.Digest()
	d2, _ := dst.Digest()
	if d1 != d2 {
		t.Fatal("digest differs")
	}
	v, _, _ := dst.Get(bigKey)
	if !bytes.Equal(v, bigVal) {
		t.Fatal("big value lost")
	}
}

func TestExportEmpty(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	stream := export(t, db)
	want := "82 01 73 " + hex.EncodeToString([]byte(exportMagic)) + " 82 00 5820"
	if got := hex.EncodeToString(stream); !strings.HasPrefix(got, strings.ReplaceAll(want, " ", "")) || len(stream) != 1+1+1+19+1+1+2+32 {
		t.Fatalf("empty export = %x", stream)
	}
	n := 0
	if err := ReadExport(bytes.NewReader(stream), func([]byte, Type, any) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("ReadExport = %d keys, %v", n, err)
	}
}

// TestExportDeterministic builds the same content along different histories
// (and through a View of a snapshot) and expects identical bytes.
func TestExportDeterministic(t *testing.T) {
	s := memkv.New()
	a := openDB(t, s, "a/")
	fillAllTypes(t, a)

	c := openDB(t, s, "c/")
	// Other order, other ids and list sequence numbers, detours.
	if _, err := c.ZAdd(b("z"), ZMember{b("x"), 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LPush(b("big"), b("gone")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Del(b("big")); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(b("l"), b("was a string")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Del(b("l")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LPush(b("l"), b("\x00"), b("a")); err != nil { // l = [a \x00]
		t.Fatal(err)
	}
	fillAllTypes(t, c) // appends a "" a \x00 to l, so fix l up below
	if _, _, err := c.LPopCount(b("l"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ZRem(b("z"), b("x")); err != nil {
		t.Fatal(err)
	}
	ea, ec := export(t, a), export(t, c)
	if !bytes.Equal(ea, ec) {
		t.Fatalf("exports differ:\n%s\n%s", dumpExact(t, a), dumpExact(t, c))
	}

	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	v, err := OpenReadOnly(snap, []byte("a/"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := v.Export(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), ea) {
		t.Fatal("View export differs")
	}
}

// TestExportIsDeterministicCBOR checks the hand-written encoding against a
// general CBOR library: the stream is a CBOR sequence whose items each
// re-encode, under RFC 8949 core deterministic rules, to the same bytes.
func TestExportIsDeterministicCBOR(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	fillAllTypes(t, db)
	stream := export(t, db)
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	dec := cbor.NewDecoder(bytes.NewReader(stream))
	var again []byte
	items := 0
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		items++
		again = append(again, must(em.Marshal(v))...)
	}
	if !bytes.Equal(again, stream) {
		t.Fatal("stream is not in CBOR core deterministic encoding")
	}
	if items < 3000 {
		t.Fatalf("only %d items", items)
	}

	// Floats: the shortest exact form, as the library picks it.
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 1.5, 65504, 65505, 65536, 1e-7, 5.960464477539063e-08,
		6.103515625e-05, 6.097555160522461e-05, math.Inf(1), math.Inf(-1), 0.1, 1e300, 5e-324,
		math.MaxFloat32, 1.401298464324817e-45, 3.4028235677973366e+38, 100000, 0.333251953125}
	rapid.Check(t, func(rt *rapid.T) {
		f := rapid.Float64().Draw(rt, "f")
		if math.IsNaN(f) {
			return
		}
		checkFloat(rt, em, f)
	})
	for _, f := range floats {
		checkFloat(t, em, f)
	}
	for i := range 1 << 16 {
		f := fromHalf(uint16(i))
		if math.IsNaN(f) {
			continue
		}
		checkFloat(t, em, f)
		checkFloat(t, em, float64(math.Nextafter32(float32(f), float32(math.Inf(1)))))
	}
}

func checkFloat(t interface{ Fatalf(string, ...any) }, em cbor.EncMode, f float64) {
	want := must(em.Marshal(f))
	if got := appendFloat(nil, f); !bytes.Equal(got, want) {
		t.Fatalf("appendFloat(%v) = %x, library %x", f, got, want)
	}
	d := &exportReader{r: bufio.NewReader(bytes.NewReader(want))}
	if g, err := d.float("f"); err != nil || math.Float64bits(g) != math.Float64bits(f) {
		t.Fatalf("float(%x) = %v, %v; want %v", want, g, err, f)
	}
}

func TestReplace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		src := openDB(t, s, "src/")
		if err := src.Set(b("b"), b("new")); err != nil {
			t.Fatal(err)
		}
		if _, err := src.SAdd(b("d"), b("m")); err != nil {
			t.Fatal(err)
		}
		stream := export(t, src)

		db := openDB(t, s, "db/")
		fillAllTypes(t, db)
		if _, err := db.HSet(b("b"), b("f"), b("old hash")); err != nil {
			t.Fatal(err)
		}
		before := dumpExact(t, db)

		// A broken stream leaves everything as it was.
		for _, broken := range [][]byte{stream[:len(stream)-1], append(bytes.Clone(stream), 0), nil} {
			if _, err := db.Replace(context.Background(), bytes.NewReader(broken)); !errors.Is(err, ErrBadExport) {
				t.Fatalf("Replace(broken) = %v", err)
			}
			if got := dumpExact(t, db); got != before {
				t.Fatal("a failed Replace changed the database")
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := db.Replace(ctx, bytes.NewReader(stream)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Replace(cancelled) = %v", err)
		}
		if got := dumpExact(t, db); got != before {
			t.Fatal("a cancelled Replace changed the database")
		}

		if n, err := db.Replace(context.Background(), bytes.NewReader(stream)); err != nil || n != 2 {
			t.Fatalf("Replace = %d, %v", n, err)
		}
		if got, want := dumpExact(t, db), dumpExact(t, src); got != want {
			t.Fatalf("after Replace:\n%s\nwant\n%s", got, want)
		}
		// No entry of the old collections is left behind in the store.
		if n := countKeys(t, s, "db/d"); n != 1 {
			t.Fatalf("%d collection entries left, want 1 (the new set's)", n)
		}

		// An empty export clears the database.
		empty := export(t, openDB(t, s, "empty/"))
		if n, err := db.Replace(context.Background(), bytes.NewReader(empty)); err != nil || n != 0 {
			t.Fatalf("Replace(empty) = %d, %v", n, err)
		}
		if got := dumpExact(t, db); got != "" {
			t.Fatalf("after clearing:\n%s", got)
		}
		if n := countKeys(t, s, "db/d") + countKeys(t, s, "db/k"); n != 0 {
			t.Fatalf("%d keys left after clearing", n)
		}
	})
}

func countKeys(t *testing.T, s kv.Store, prefix string) int {
	t.Helper()
	it := s.Iter(kv.IterOptions{Prefix: []byte(prefix)})
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplaceConflicts: a transaction that read a key Replace changed
// cannot commit on stale data.
func TestReplaceConflicts(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	if err := db.Set(b("k"), b("1")); err != nil {
		t.Fatal(err)
	}
	src := openDB(t, memkv.New(), "p")
	if err := src.Set(b("k"), b("2")); err != nil {
		t.Fatal(err)
	}
	stream := export(t, src)
	err := db.Update(func(tx *Tx) error {
		if _, _, err := tx.Get(b("k")); err != nil {
			return err
		}
		if _, err := db.Replace(context.Background(), bytes.NewReader(stream)); err != nil {
			return err
		}
		return tx.Set(b("k"), b("3"))
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
}

// ReplaceIf replaces only a database nothing was committed to since Seq:
// a write in between makes it fail with ErrConflict and change nothing.
func TestReplaceIf(t *testing.T) {
	src := openDB(t, memkv.New(), "p")
	if err := src.Set(b("k"), b("new")); err != nil {
		t.Fatal(err)
	}
	stream := export(t, src)
	cases := []struct {
		name    string
		between func(db *DB) error // after Seq, before ReplaceIf
		want    error
		get     string
	}{
		{"nothing committed", func(*DB) error { return nil }, nil, "new"},
		{"a key set", func(db *DB) error { return db.Set(b("other"), b("x")) }, ErrConflict, "old"},
		{"a transaction", func(db *DB) error {
			return db.Update(func(tx *Tx) error { return tx.Set(b("k"), b("tx")) })
		}, ErrConflict, "tx"},
		{"a read", func(db *DB) error { _, _, err := db.Get(b("k")); return err }, nil, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t, memkv.New(), "p")
			if err := db.Set(b("k"), b("old")); err != nil {
				t.Fatal(err)
			}
			seq := db.Seq()
			if err := tc.between(db); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ReplaceIf(context.Background(), bytes.NewReader(stream), seq); !errors.Is(err, tc.want) {
				t.Fatalf("ReplaceIf = %v, want %v", err, tc.want)
			}
			if v, _, err := db.Get(b("k")); err != nil || string(v) != tc.get {
				t.Fatalf("k = %q %v, want %q", v, err, tc.get)
			}
		})
	}
}

// craft writes a stream by hand: header, the items fn writes, and a
// trailer counting keys with the digest of the given content.
type crafter struct {
	buf bytes.Buffer
	e   *exportWriter
	bw  *bufio.Writer
}

func newCrafter() *crafter {
	c := &crafter{}
	c.bw = bufio.NewWriter(&c.buf)
	c.e = &exportWriter{w: c.bw}
	return c
}

func (c *crafter) raw(b ...byte) *crafter { c.e.write(b); return c }
func (c *crafter) header() *crafter       { c.e.header(); return c }
func (c *crafter) key(k string, typ Type, v any) *crafter {
	c.e.keyItem([]byte(k), typ, v)
	return c
}

// trailer appends a trailer that counts n keys with the digest of keys.
func (c *crafter) trailer(n int, keys ...exportEntry) *crafter {
	d := newDigester()
	for _, k := range keys {
		_ = d.add(k.key, k.typ, k.value)
	}
	c.e.arrayHead(trailerLen)
	c.e.uint(uint64(n))
	s := d.sum()
	c.e.bytes(s[:])
	return c
}

func (c *crafter) bytes() []byte {
	if err := c.bw.Flush(); err != nil {
		panic(err)
	}
	return c.buf.Bytes()
}

func ent(k string, typ Type, v any) exportEntry { return exportEntry{[]byte(k), typ, v} }

func TestReadExportRejects(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	if err := db.Set(b("s"), b("v")); err != nil {
		t.Fatal(err)
	}
	must(db.HSet(b("h"), b("f"), b("v")))
	must(db.RPush(b("l"), b("a"), b("b")))
	must(db.SAdd(b("set"), b("m")))
	must(db.ZAdd(b("z"), ZMember{b("m"), 1.5}))
	valid := export(t, db)
	if _, err := readExact(valid); err != nil {
		t.Fatal(err)
	}

	// Truncation anywhere is caught.
	for i := range len(valid) {
		if _, err := readExact(valid[:i]); !errors.Is(err, ErrBadExport) {
			t.Fatalf("truncated at %d of %d: %v", i, len(valid), err)
		}
	}

	flipped := bytes.Clone(valid)
	flipped[len(flipped)-1] ^= 1
	l1 := []byte("1")
	sOne := ent("a", TypeString, l1)
	cases := []struct {
		name   string
		stream []byte
		reason string
		is     error
	}{
		{"empty input", nil, "truncated", ErrBadExport},
		{"flipped digest", flipped, "digest does not match", ErrBadExport},
		{"trailing bytes", append(bytes.Clone(valid), 0xf6), "trailing bytes", ErrBadExport},
		{"trailing second stream", append(bytes.Clone(valid), valid...), "trailing bytes", ErrBadExport},
		{"unknown format", newCrafter().raw(0x82, 0x02, 0x73).raw([]byte(exportMagic)...).trailer(0).bytes(),
			"export format 2", ErrUnsupportedVersion},
		{"not an export", newCrafter().raw(0x82, 0x01, 0x63, 'a', 'b', 'c').bytes(), "not a mimeidb export", ErrBadExport},
		{"header not an array", []byte{0xa0}, "header: CBOR major type 5", ErrBadExport},
		{"indefinite array", newCrafter().header().raw(0x9f).bytes(), "indefinite", ErrBadExport},
		{"non-shortest head", newCrafter().header().raw(0x98, 0x03).bytes(), "non-shortest", ErrBadExport},
		{"item of 4", newCrafter().header().raw(0x84).bytes(), "array of 4", ErrBadExport},
		{"missing trailer", newCrafter().header().key("a", TypeString, l1).bytes(), "truncated", ErrBadExport},
		{"unsorted keys", newCrafter().header().key("b", TypeString, l1).key("a", TypeString, l1).
			trailer(2, ent("b", TypeString, l1), sOne).bytes(), `key "a" does not sort after`, ErrBadExport},
		{"duplicate key", newCrafter().header().key("a", TypeString, l1).key("a", TypeString, l1).
			trailer(2, sOne, sOne).bytes(), "does not sort after", ErrBadExport},
		{"type 0", newCrafter().header().raw(0x83, 0x41, 'a', 0x00, 0x01, 0x41, '1').trailer(1, sOne).bytes(),
			"unknown type 0", ErrBadExport},
		{"type 6", newCrafter().header().raw(0x83, 0x41, 'a', 0x06, 0x01, 0x41, '1').trailer(1, sOne).bytes(),
			"unknown type 6", ErrBadExport},
		{"string count 2", newCrafter().header().raw(0x83, 0x41, 'a', 0x01, 0x02, 0x41, '1', 0x41, '1').trailer(1, sOne).bytes(),
			"element count 2, want 1", ErrBadExport},
		{"empty list", newCrafter().header().raw(0x83, 0x41, 'a', 0x03, 0x00).trailer(1, ent("a", TypeList, [][]byte{})).bytes(),
			"empty collection", ErrBadExport},
		{"list count too high", newCrafter().header().raw(0x83, 0x41, 'a', 0x03, 0x03, 0x41, '1', 0x41, '2').
			trailer(1, ent("a", TypeList, [][]byte{l1, l1})).bytes(), "list element: CBOR major type 4", ErrBadExport},
		{"list count too low", newCrafter().header().raw(0x83, 0x41, 'a', 0x03, 0x01, 0x41, '1', 0x41, '2').
			trailer(1, ent("a", TypeList, [][]byte{l1})).bytes(), "item: CBOR major type 2", ErrBadExport},
		{"key count wrong", newCrafter().header().key("a", TypeString, l1).trailer(2, sOne).bytes(),
			"trailer counts 2 keys, stream has 1", ErrBadExport},
		{"digest wrong", newCrafter().header().key("a", TypeString, l1).trailer(1, ent("a", TypeString, []byte("2"))).bytes(),
			"digest does not match", ErrBadExport},
		{"short digest", newCrafter().header().raw(0x82, 0x00, 0x41, 0x00).bytes(), "digest does not match", ErrBadExport},
		{"long digest", newCrafter().header().raw(0x82, 0x00, 0x58, 33).raw(make([]byte, 33)...).bytes(),
			"trailer digest too large", ErrTooLarge},
		{"unsorted set", newCrafter().header().key("a", TypeSet, [][]byte{b("y"), b("x")}).
			trailer(1, ent("a", TypeSet, [][]byte{b("y"), b("x")})).bytes(), `member "x" does not sort after "y"`, ErrBadExport},
		{"duplicate set member", newCrafter().header().key("a", TypeSet, [][]byte{b("x"), b("x")}).
			trailer(1, ent("a", TypeSet, [][]byte{b("x"), b("x")})).bytes(), "does not sort after", ErrBadExport},
		{"unsorted hash", newCrafter().header().key("a", TypeHash, []FieldValue{{b("g"), l1}, {b("f"), l1}}).
			trailer(1, ent("a", TypeHash, []FieldValue{{b("g"), l1}, {b("f"), l1}})).bytes(), `field "f" does not sort`, ErrBadExport},
		{"hash entry of 3", newCrafter().header().raw(0x83, 0x41, 'a', 0x02, 0x01, 0x83).bytes(), "hash entry: array of 3", ErrBadExport},
		{"unsorted zset", newCrafter().header().key("a", TypeZSet, []ZMember{{b("x"), 2}, {b("y"), 1}}).
			trailer(1, ent("a", TypeZSet, []ZMember{{b("x"), 2}, {b("y"), 1}})).bytes(), "by (score, member)", ErrBadExport},
		{"zset tie unsorted", newCrafter().header().key("a", TypeZSet, []ZMember{{b("y"), 0}, {b("x"), math.Copysign(0, -1)}}).
			trailer(1, ent("a", TypeZSet, []ZMember{{b("y"), 0}, {b("x"), math.Copysign(0, -1)}})).bytes(), "by (score, member)", ErrBadExport},
		{"zset duplicate member", newCrafter().header().key("a", TypeZSet, []ZMember{{b("x"), 1}, {b("x"), 2}}).
			trailer(1, ent("a", TypeZSet, []ZMember{{b("x"), 1}, {b("x"), 2}})).bytes(), "appears twice", ErrBadExport},
		{"NaN score", newCrafter().header().raw(0x83, 0x41, 'a', 0x05, 0x01, 0x82, 0xf9, 0x7e, 0x00, 0x41, 'x').bytes(),
			"score is NaN", ErrBadExport},
		{"long float", newCrafter().header().raw(0x83, 0x41, 'a', 0x05, 0x01, 0x82, 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x41, 'x').bytes(),
			"not in its shortest form", ErrBadExport},
		{"score not a float", newCrafter().header().raw(0x83, 0x41, 'a', 0x05, 0x01, 0x82, 0x01, 0x41, 'x').bytes(),
			"not a CBOR float", ErrBadExport},
		{"key as text", newCrafter().header().raw(0x83, 0x61, 'a', 0x01, 0x01, 0x41, '1').bytes(), "key: CBOR major type 3", ErrBadExport},
		{"key too large", newCrafter().header().raw(0x83, 0x59, 0xfc, 0x01).bytes(), "key too large", ErrTooLarge},
		{"member too large", newCrafter().header().raw(0x83, 0x41, 'a', 0x04, 0x01, 0x59, 0xfc, 0x01).bytes(), "set member too large", ErrTooLarge},
		{"value of 1 GB", newCrafter().header().raw(0x83, 0x41, 'a', 0x01, 0x01, 0x5a, 0x40, 0, 0, 0).bytes(), "string value too large", ErrTooLarge},
		{"count of 2^64-1", newCrafter().header().raw(0x83, 0x41, 'a', 0x03, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).bytes(),
			"out of range", ErrBadExport},
		{"huge count, little data", newCrafter().header().raw(0x83, 0x41, 'a', 0x03, 0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40).bytes(),
			"truncated", ErrBadExport},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readExact(c.stream)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("ReadExport = %v; want %v mentioning %q", err, c.is, c.reason)
			}
			if c.is == ErrTooLarge && !errors.Is(err, ErrBadExport) {
				t.Fatalf("%v does not wrap ErrBadExport", err)
			}
			if c.is == ErrUnsupportedVersion && errors.Is(err, ErrBadExport) {
				t.Fatalf("%v: a newer format is not a bad stream", err)
			}
		})
	}

	// fn's error comes back unchanged and stops the walk.
	stop := errors.New("stop")
	n := 0
	if err := ReadExport(bytes.NewReader(valid), func([]byte, Type, any) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("ReadExport with failing fn = %v after %d keys", err, n)
	}
	// Reader errors are reported as such, not as a bad stream.
	ioErr := errors.New("disk on fire")
	if err := ReadExport(io.MultiReader(bytes.NewReader(valid[:10]), errReader{ioErr}), func([]byte, Type, any) error { return nil }); !errors.Is(err, ioErr) || errors.Is(err, ErrBadExport) {
		t.Fatalf("ReadExport over failing reader = %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestReadExportBoundedAllocation: a length prefix claiming the largest
// allowed value costs memory only for the bytes that actually arrive.
func TestReadExportBoundedAllocation(t *testing.T) {
	stream := newCrafter().header().raw(0x83, 0x41, 'a', 0x01, 0x01, 0x5a, 0x01, 0x00, 0x00, 0x00, 'x').bytes() // claims 16 MiB
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range 10 {
		if _, err := readExact(stream); !errors.Is(err, ErrBadExport) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 10; per > 512<<10 {
		t.Fatalf("a truncated 16 MiB claim allocated %d bytes per read", per)
	}
}

func TestValueDigest(t *testing.T) {
	distinct := []struct {
		typ Type
		v   any
	}{
		{TypeList, [][]byte{b("ab")}},
		{TypeList, [][]byte{b("a"), b("b")}},
		{TypeSet, [][]byte{b("a"), b("b")}},
		{TypeList, [][]byte{b("a"), b("b"), b("")}},
		{TypeString, b("ab")},
		{TypeString, b("")},
		{TypeHash, []FieldValue{{b("a"), b("b")}}},
		{TypeHash, []FieldValue{{b("ab"), b("")}}},
		{TypeZSet, []ZMember{{b("a"), 0}}},
		{TypeZSet, []ZMember{{b("a"), math.Copysign(0, -1)}}},
		{TypeZSet, []ZMember{{b("a"), 1}}},
	}
	seen := map[[32]byte]int{}
	for i, c := range distinct {
		d := ValueDigest(c.typ, c.v)
		if j, dup := seen[d]; dup {
			t.Fatalf("ValueDigest: case %d equals case %d", i, j)
		}
		seen[d] = i
	}
	if ValueDigest(TypeList, [][]byte{b("a"), b("b")}) != ValueDigest(TypeList, [][]byte{[]byte("a"), append([]byte(nil), 'b')}) {
		t.Fatal("equal values, different digests")
	}

	// The same key in two databases built differently digests the same;
	// a changed key digests differently.
	s := memkv.New()
	x, y := openDB(t, s, "x"), openDB(t, s, "y")
	fillAllTypes(t, x)
	fillAllTypes(t, y)
	must(y.RPush(b("l"), b("extra")))
	dx, dy := keyDigests(t, x), keyDigests(t, y)
	for k, d := range dx {
		if (k == "l") == (d == dy[k]) {
			t.Fatalf("key %q: digests equal = %v", k, d == dy[k])
		}
	}
}

func keyDigests(t *testing.T, db *DB) map[string][32]byte {
	out := map[string][32]byte{}
	if err := db.Dump(func(k []byte, typ Type, v any) error {
		out[string(k)] = ValueDigest(typ, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDigestGolden pins the Digest serialisation: stored versions and
// export trailers carry it, so it must not change.
func TestDigestGolden(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	fillAllTypes(t, db)
	d, err := db.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(d[:]); got != goldenDigest {
		t.Fatalf("Digest = %s, want %s", got, goldenDigest)
	}
	empty := must(openDB(t, memkv.New(), "p").Digest())
	if got := hex.EncodeToString(empty[:]); got != goldenEmptyDigest {
		t.Fatalf("empty Digest = %s, want %s", got, goldenEmptyDigest)
	}
}

const (
	goldenDigest      = "2a07000a84cea68947471126f43a552c683cba18119de961dfd1fdb6864343b2"
	goldenEmptyDigest = "46541fd39c2b8bdb0473e4b53e884d052ea3941b479b435a4348959788cc5b96"
)

// TestPropertyExportReplace: random command histories, exported and
// replaced into a fresh database (over other random content), give the
// same digest, the same dump and the same export bytes.
func TestPropertyExportReplace(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := memkv.New()
		defer s.Close()
		src := openDB(t, s, "src/")
		dst := openDB(t, s, "dst/")
		for _, db := range []*DB{src, dst} {
			steps := rapid.IntRange(0, 60).Draw(rt, "steps")
			for range steps {
				_, _ = db.ExecStrings(genCommand(rt)...)
			}
		}
		stream := export(t, src)
		n, err := dst.Replace(context.Background(), bytes.NewReader(stream))
		if err != nil {
			rt.Fatal(err)
		}
		var keys int
		_ = src.Dump(func([]byte, Type, any) error { keys++; return nil })
		if n != keys {
			rt.Fatalf("Replace loaded %d keys, source has %d", n, keys)
		}
		d1, _ := src.Digest()
		d2, _ := dst.Digest()
		if d1 != d2 {
			rt.Fatal("digest differs after Export/Replace")
		}
		if dumpExact(t, src) != dumpExact(t, dst) {
			rt.Fatal("content differs after Export/Replace")
		}
		if !bytes.Equal(export(t, dst), stream) {
			rt.Fatal("re-export differs")
		}
		ld := memkv.New()
		defer ld.Close()
		if n, err := LoadExport(context.Background(), ld, b("ld/"), bytes.NewReader(stream)); err != nil || n != keys {
			rt.Fatalf("LoadExport = %d, %v; want %d keys", n, err, keys)
		}
		v, err := OpenReadOnly(ld, b("ld/"))
		if err != nil {
			rt.Fatal(err)
		}
		if d3, _ := v.Digest(); d3 != d1 {
			rt.Fatal("digest differs after Export/LoadExport")
		}
	})
}

// FuzzReadExport feeds arbitrary bytes to ReadExport. It must never panic,
// and every stream it accepts must be exactly the canonical export of what
// it decoded: Replace loads it and Export gives back the same bytes.
// Seeds are in testdata/fuzz/FuzzReadExport.
func FuzzReadExport(f *testing.F) {
	f.Add(newCrafter().header().trailer(0).bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		keys := 0
		err := ReadExport(bytes.NewReader(data), func(k []byte, typ Type, v any) error {
			keys++
			_ = ValueDigest(typ, v)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrBadExport) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("ReadExport error wraps neither ErrBadExport nor ErrUnsupportedVersion: %v", err)
			}
			return
		}
		db := openDB(t, memkv.New(), "f")
		n, err := db.Replace(context.Background(), bytes.NewReader(data))
		if err != nil || n != keys {
			t.Fatalf("Replace of an accepted stream = %d, %v; ReadExport saw %d keys", n, err, keys)
		}
		if again := export(t, db); !bytes.Equal(again, data) {
			t.Fatalf("accepted stream is not canonical:\n in %x\nout %x", data, again)
		}
	})
}

func TestLoadExport(t *testing.T) {
	old := LoadBatchBytes
	LoadBatchBytes = 512 // many commits, keys split across them
	t.Cleanup(func() { LoadBatchBytes = old })
	forEachBackend(t, func(t *testing.T, s kv.Store) {
		src := openDB(t, s, "src/")
		fillAllTypes(t, src)
		want := dumpExact(t, src)
		stream := export(t, src)
		n, err := LoadExport(context.Background(), s, b("ld/"), bytes.NewReader(stream))
		if err != nil || n != 9 {
			t.Fatalf("LoadExport = %d, %v; want 9 keys", n, err)
		}
		v, err := OpenReadOnly(s, b("ld/"))
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		if err := v.Dump(func(k []byte, typ Type, val any) error { renderKey(&sb, k, typ, val); return nil }); err != nil {
			t.Fatal(err)
		}
		if sb.String() != want {
			t.Fatalf("after LoadExport:\n%s\nwant\n%s", sb.String(), want)
		}
		// A loaded database is a normal one: its id counter is past the
		// loaded keys, lists keep working at both ends.
		db := openDB(t, s, "ld/")
		if n, _ := db.RPush(b("big"), b("more")); n != 3001 {
			t.Fatalf("RPush after load = %d", n)
		}
		if n, _ := db.LPush(b("new"), b("x")); n != 1 {
			t.Fatalf("LPush of a new key after load = %d", n)
		}
		if got, _, _ := db.HGet(b("h"), b("f")); string(got) != "v" {
			t.Fatalf("HGET after load = %q", got)
		}
		if _, err := LoadExport(context.Background(), s, b("ld/"), bytes.NewReader(stream)); err == nil {
			t.Fatal("LoadExport into a used prefix succeeded")
		}
	})
}

func TestLoadExportRejects(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	fillAllTypes(t, db)
	valid := export(t, db)
	dupZ := newCrafter().header().key("a", TypeZSet, []ZMember{{b("x"), 1}, {b("x"), 2}}).
		trailer(1, ent("a", TypeZSet, []ZMember{{b("x"), 1}, {b("x"), 2}})).bytes()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		ctx    context.Context
		stream []byte
		is     error
	}{
		{"truncated", context.Background(), valid[:len(valid)/2], ErrBadExport},
		{"flipped digest", context.Background(), append(bytes.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1), ErrBadExport},
		{"sorted-set member twice", context.Background(), dupZ, ErrBadExport},
		{"cancelled", cancelled, valid, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := LoadExport(c.ctx, memkv.New(), b("ld/"), bytes.NewReader(c.stream)); !errors.Is(err, c.is) {
				t.Fatalf("LoadExport = %v, want %v", err, c.is)
			}
		})
	}
}

func TestStreamExportOneElementAtATime(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	fillAllTypes(t, db)
	var keys, elems int
	var counts uint64
	err := StreamExport(bytes.NewReader(export(t, db)),
		func(_ []byte, _ Type, count uint64) error { keys++; counts += count; return nil },
		func(ExportElem) error { elems++; return nil })
	if err != nil || keys != 9 || uint64(elems) != counts {
		t.Fatalf("StreamExport: %v, %d keys, %d elements of %d counted", err, keys, elems, counts)
	}
}

func TestReadExportDigests(t *testing.T) {
	db := openDB(t, memkv.New(), "p")
	fillAllTypes(t, db)
	stream := export(t, db)
	want := map[string][32]byte{}
	if err := ReadExport(bytes.NewReader(stream), func(k []byte, typ Type, v any) error {
		want[string(k)] = ValueDigest(typ, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string][32]byte{}
	if err := ReadExportDigests(bytes.NewReader(stream), func(k []byte, d [32]byte) error {
		got[string(k)] = d
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d digests, want %d", len(got), len(want))
	}
	for k, d := range want {
		if got[k] != d {
			t.Fatalf("key %q: streamed digest differs from ValueDigest", k)
		}
	}
}
