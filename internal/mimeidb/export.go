package mimeidb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/peer-node/peer/internal/kv"
)

// ExportFormat is the version of the export stream (docs/formats-db.md,
// "Export stream").
const ExportFormat = 1

// exportMagic names the stream in its header item.
const exportMagic = "peer-mimeidb-export"

// ErrBadExport: an export stream is malformed, truncated, out of order,
// over a size limit or fails its trailer check. The wrapping error says
// where and why.
var ErrBadExport = errors.New("mimeidb: bad export stream")

// The stream is a CBOR sequence (RFC 8742) of small arrays, byte strings and
// floats. Only that subset is needed, so it is written and read here
// directly rather than through a general CBOR library: that lets a 16 MiB
// value be one item (internal/codec caps records at 64 KiB) and lets the
// reader bound every allocation by the bytes actually received. The writer
// produces RFC 8949 core deterministic encoding (shortest heads, shortest
// exact float, definite lengths); the reader accepts only that encoding, so
// a stream has exactly one valid form. export_test.go checks the bytes
// against fxamacker/cbor's deterministic encoder.

// CBOR major types used by the stream.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborFloat = 7
)

// Item shapes: array lengths.
const (
	headerLen  = 2 // [ExportFormat, exportMagic]
	keyItemLen = 3 // [key, type, count]
	trailerLen = 2 // [keyCount, digest]
	pairLen    = 2 // hash [field, value], zset [score, member]
)

// Export writes the canonical export stream of everything t sees to w and
// returns the number of keys written. Equal logical content gives
// byte-identical streams. It works on a read-only Tx (View) too.
func (t *Tx) Export(w io.Writer) (keys int, err error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	e := &exportWriter{w: bw}
	d := newDigester()
	e.header()
	err = t.Dump(func(key []byte, typ Type, value any) error {
		_ = d.add(key, typ, value)
		keys++
		e.keyItem(key, typ, value)
		return e.err
	})
	if err != nil {
		return 0, err
	}
	e.arrayHead(trailerLen)
	e.uint(uint64(keys))
	sum := d.sum()
	e.bytes(sum[:])
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return 0, e.err
	}
	return keys, nil
}

// Export writes the export stream of a consistent snapshot of db to w (see
// Tx.Export).
func (db *DB) Export(w io.Writer) (int, error) {
	var n int
	err := db.View(func(tx *Tx) (err error) {
		n, err = tx.Export(w)
		return err
	})
	return n, err
}

type exportWriter struct {
	w   *bufio.Writer
	buf [9]byte
	err error
}

func (e *exportWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// head writes a CBOR head in its shortest form.
func (e *exportWriter) head(major byte, n uint64) {
	e.write(appendHead(e.buf[:0], major, n))
}

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func (e *exportWriter) arrayHead(n int) { e.head(cborArray, uint64(n)) }
func (e *exportWriter) uint(n uint64)   { e.head(cborUint, n) }

func (e *exportWriter) bytes(b []byte) {
	e.head(cborBytes, uint64(len(b)))
	e.write(b)
}

func (e *exportWriter) header() {
	e.arrayHead(headerLen)
	e.uint(ExportFormat)
	e.head(cborText, uint64(len(exportMagic)))
	e.write([]byte(exportMagic))
}

func (e *exportWriter) keyItem(key []byte, typ Type, value any) {
	e.arrayHead(keyItemLen)
	e.bytes(key)
	e.uint(uint64(typ))
	switch v := value.(type) {
	case []byte:
		e.uint(1)
		e.bytes(v)
	case [][]byte: // list or set
		e.uint(uint64(len(v)))
		for _, b := range v {
			e.bytes(b)
		}
	case []FieldValue:
		e.uint(uint64(len(v)))
		for _, fv := range v {
			e.arrayHead(pairLen)
			e.bytes(fv.Field)
			e.bytes(fv.Value)
		}
	case []ZMember:
		e.uint(uint64(len(v)))
		for _, zm := range v {
			e.arrayHead(pairLen)
			e.write(appendFloat(e.buf[:0], zm.Score))
			e.bytes(zm.Member)
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("mimeidb: export: unexpected value %T for %s", value, typ)
		}
	}
}

// appendFloat appends f in the shortest of the CBOR float16/32/64 forms
// that holds it exactly (RFC 8949 §4.2.2; NaN is never stored).
func appendFloat(b []byte, f float64) []byte {
	if h, ok := toHalf(f); ok {
		return binary.BigEndian.AppendUint16(append(b, cborFloat<<5|25), h)
	}
	if f32 := float32(f); float64(f32) == f || math.IsInf(f, 0) {
		return binary.BigEndian.AppendUint32(append(b, cborFloat<<5|26), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(b, cborFloat<<5|27), math.Float64bits(f))
}

// toHalf returns the IEEE-754 binary16 bits of f if f is exactly
// representable as one (±0 and ±Inf included; NaN is not).
func toHalf(f float64) (uint16, bool) {
	var sign uint16
	if math.Signbit(f) {
		sign = 0x8000
	}
	a := math.Abs(f)
	switch {
	case a == 0:
		return sign, true
	case math.IsInf(a, 0):
		return sign | 0x7c00, true
	case math.IsNaN(a) || a > 65504:
		return 0, false
	}
	frac, exp := math.Frexp(a) // a = frac × 2^exp, frac in [0.5, 1)
	if exp-1 >= -14 {
		// Normal: 11 significant bits, biased exponent exp-1+15.
		m := frac * (1 << 11)
		if m != math.Trunc(m) {
			return 0, false
		}
		return sign | uint16(exp-1+15)<<10 | uint16(m)&0x3ff, true
	}
	// Subnormal: a = m × 2^-24 with m in [1, 1023].
	m := a * (1 << 24)
	if m != math.Trunc(m) {
		return 0, false
	}
	return sign | uint16(m), true
}

func fromHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+m, exp-25)
}

// ReadExport decodes an export stream and calls fn for every key in
// bytewise key order with the same (typ, value) shapes as Dump gives. fn
// owns the slices it is given.
//
// Everything is validated: a stream of another ExportFormat fails with an
// error wrapping ErrUnsupportedVersion; anything malformed (not canonical
// CBOR, keys not strictly increasing, a bad type, a wrong element count or
// order, an empty collection, a key, member or value over the size limits,
// truncation, a missing or wrong trailer, trailing bytes) fails with an
// error wrapping ErrBadExport (and ErrTooLarge for sizes). Memory use is
// bounded by the data actually received, never by a length a header claims.
// Errors from fn are returned as they are; errors reading r are wrapped.
//
// fn sees keys as they are decoded, before the trailer is checked: a caller
// that needs all or nothing (as Replace does) must hold on to them until
// ReadExport returns nil. Each value is handed whole, so a key holding a
// million fields costs their size in memory: StreamExport hands them one
// by one.
func ReadExport(r io.Reader, fn func(key []byte, typ Type, value any) error) error {
	var (
		key   []byte
		typ   Type
		value any
	)
	return readExport(r, exportSink{
		dupCheck: true,
		key: func(k []byte, t Type, count uint64) error {
			key, typ = k, t
			capHint := int(min(count, 1024)) // never trust count beyond a small start
			switch t {
			case TypeList, TypeSet:
				value = make([][]byte, 0, capHint)
			case TypeHash:
				value = make([]FieldValue, 0, capHint)
			case TypeZSet:
				value = make([]ZMember, 0, capHint)
			}
			return nil
		},
		elem: func(e ExportElem) error {
			switch typ {
			case TypeString:
				value = e.Value
			case TypeList:
				value = append(value.([][]byte), e.Value)
			case TypeSet:
				value = append(value.([][]byte), e.Member)
			case TypeHash:
				value = append(value.([]FieldValue), FieldValue{Field: e.Member, Value: e.Value})
			case TypeZSet:
				value = append(value.([]ZMember), ZMember{Member: e.Member, Score: e.Score})
			}
			return nil
		},
		end: func() error {
			v := value
			value = nil
			return fn(key, typ, v)
		},
	})
}

// ExportElem is one element of a key's value as StreamExport hands it.
type ExportElem struct {
	Member []byte  // hash field, set member, sorted-set member
	Value  []byte  // string value, hash value, list element
	Score  float64 // sorted-set score
}

// StreamExport decodes an export stream as ReadExport does, but hands each
// key's value element by element: key is called when a key item begins
// (with its type and element count, already checked against the limits),
// then elem once for each of its count elements, in stream order. Memory
// use is one element at a time, whatever the size of a value.
//
// It checks everything ReadExport checks but one: that a sorted set names
// no member twice (with different scores), which needs memory in the size
// of the set; a consumer that keeps sorted sets must check it itself (as
// LoadExport does against the store it writes). As with ReadExport, the
// trailer is checked last: nothing is known to be valid before StreamExport
// returns nil.
func StreamExport(r io.Reader, key func(key []byte, typ Type, count uint64) error, elem func(ExportElem) error) error {
	return readExport(r, exportSink{key: key, elem: elem})
}

// exportSink receives what readExport decodes.
type exportSink struct {
	key      func(key []byte, typ Type, count uint64) error
	elem     func(ExportElem) error
	end      func() error // after a key's last element; may be nil
	dupCheck bool         // check sorted sets for repeated members (memory: the set)
}

func readExport(r io.Reader, s exportSink) error {
	d := &exportReader{r: bufio.NewReaderSize(r, 64<<10)}
	if err := d.header(); err != nil {
		return err
	}
	dg := newDigester()
	var prev []byte
	keys := uint64(0)
	for {
		at := d.off
		n, err := d.arrayHead("key or trailer item")
		if err != nil {
			return err
		}
		if n == trailerLen {
			return d.trailer(keys, dg.sum())
		}
		if n != keyItemLen {
			return d.bad(at, "item is an array of %d, want a key item (3) or the trailer (2)", n)
		}
		key, err := d.keyItem(at, prev, keys == 0, dg, s)
		if err != nil {
			return err
		}
		prev = key
		keys++
		if s.end != nil {
			if err := s.end(); err != nil {
				return err
			}
		}
	}
}

type exportReader struct {
	r   *bufio.Reader
	off int64 // bytes consumed so far
	buf [8]byte
}

func (d *exportReader) bad(at int64, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrBadExport, at, fmt.Sprintf(format, args...))
}

// readErr turns a failed read into an error: the end of the input inside
// the stream is truncation, anything else is the reader's own failure.
func (d *exportReader) readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.bad(d.off, "truncated stream (reading %s)", what)
	}
	return fmt.Errorf("mimeidb: reading export stream: %w", err)
}

func (d *exportReader) readFull(b []byte, what string) error {
	n, err := io.ReadFull(d.r, b)
	d.off += int64(n)
	if err != nil {
		return d.readErr(err, what)
	}
	return nil
}

// head reads a CBOR head of the given major type and returns its argument.
// Only definite, shortest-form heads are accepted.
func (d *exportReader) head(major byte, what string) (uint64, error) {
	at := d.off
	ib, err := d.r.ReadByte()
	if err != nil {
		return 0, d.readErr(err, what)
	}
	d.off++
	if ib>>5 != major {
		return 0, d.bad(at, "%s: CBOR major type %d, want %d", what, ib>>5, major)
	}
	ai := ib & 0x1f
	var n, least uint64
	switch {
	case ai < 24:
		return uint64(ai), nil
	case ai == 24:
		err, least = d.readFull(d.buf[:1], what), 24
		n = uint64(d.buf[0])
	case ai == 25:
		err, least = d.readFull(d.buf[:2], what), math.MaxUint8+1
		n = uint64(binary.BigEndian.Uint16(d.buf[:2]))
	case ai == 26:
		err, least = d.readFull(d.buf[:4], what), math.MaxUint16+1
		n = uint64(binary.BigEndian.Uint32(d.buf[:4]))
	case ai == 27:
		err, least = d.readFull(d.buf[:8], what), math.MaxUint32+1
		n = binary.BigEndian.Uint64(d.buf[:8])
	default:
		return 0, d.bad(at, "%s: indefinite or reserved length (additional info %d)", what, ai)
	}
	if err != nil {
		return 0, err
	}
	if n < least {
		return 0, d.bad(at, "%s: non-shortest CBOR head", what)
	}
	return n, nil
}

func (d *exportReader) arrayHead(what string) (uint64, error) { return d.head(cborArray, what) }

func (d *exportReader) array(want uint64, what string) error {
	at := d.off
	n, err := d.arrayHead(what)
	if err == nil && n != want {
		err = d.bad(at, "%s: array of %d, want %d", what, n, want)
	}
	return err
}

func (d *exportReader) uint(what string) (uint64, error) { return d.head(cborUint, what) }

// bytes reads a byte string of at most max bytes. The buffer grows with the
// data received, so a huge claimed length costs nothing until it arrives.
func (d *exportReader) bytes(max int, what string) ([]byte, error) {
	at := d.off
	n, err := d.head(cborBytes, what)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %w", d.bad(at, "%s too large", what), tooLarge(what, int(min(n, math.MaxInt32)), max))
	}
	const chunk = 64 << 10
	out := make([]byte, 0, min(int(n), chunk))
	for len(out) < int(n) {
		c := min(int(n)-len(out), chunk)
		out = slices.Grow(out, c)
		if err := d.readFull(out[len(out):len(out)+c], what); err != nil {
			return nil, err
		}
		out = out[:len(out)+c]
	}
	return out, nil
}

// float reads a score: a CBOR float in its shortest exact form, not NaN.
func (d *exportReader) float(what string) (float64, error) {
	at := d.off
	ib, err := d.r.ReadByte()
	if err != nil {
		return 0, d.readErr(err, what)
	}
	d.off++
	var f float64
	switch ib {
	case cborFloat<<5 | 25:
		if err := d.readFull(d.buf[:2], what); err != nil {
			return 0, err
		}
		f = fromHalf(binary.BigEndian.Uint16(d.buf[:2]))
	case cborFloat<<5 | 26:
		if err := d.readFull(d.buf[:4], what); err != nil {
			return 0, err
		}
		f = float64(math.Float32frombits(binary.BigEndian.Uint32(d.buf[:4])))
	case cborFloat<<5 | 27:
		if err := d.readFull(d.buf[:8], what); err != nil {
			return 0, err
		}
		f = math.Float64frombits(binary.BigEndian.Uint64(d.buf[:8]))
	default:
		return 0, d.bad(at, "%s: not a CBOR float (initial byte 0x%02x)", what, ib)
	}
	if math.IsNaN(f) {
		return 0, d.bad(at, "%s is NaN", what)
	}
	if appendFloat(nil, f)[0] != ib {
		return 0, d.bad(at, "%s: float not in its shortest form", what)
	}
	return f, nil
}

func (d *exportReader) header() error {
	at := d.off
	if err := d.array(headerLen, "header"); err != nil {
		return err
	}
	vAt := d.off
	v, err := d.uint("format version")
	if err != nil {
		return err
	}
	n, err := d.head(cborText, "header name")
	if err != nil {
		return err
	}
	if n != uint64(len(exportMagic)) {
		return d.bad(at, "not a mimeidb export stream")
	}
	magic := make([]byte, n)
	if err := d.readFull(magic, "header name"); err != nil {
		return err
	}
	if string(magic) != exportMagic {
		return d.bad(at, "not a mimeidb export stream (header names %q)", magic)
	}
	if v != ExportFormat {
		return fmt.Errorf("%w: export format %d at byte %d (this build reads %d)", ErrUnsupportedVersion, v, vAt, ExportFormat)
	}
	return nil
}

// keyItem reads the rest of a key item (after its array head, which began
// at byte at) and its elements, hashes them into dg and hands them to s. It
// returns the key.
func (d *exportReader) keyItem(at int64, prev []byte, first bool, dg *digester, s exportSink) ([]byte, error) {
	key, err := d.bytes(MaxKeyLen, "key")
	if err != nil {
		return nil, err
	}
	if !first && bytes.Compare(key, prev) <= 0 {
		return nil, d.bad(at, "key %q does not sort after the previous key %q", trunc(key), trunc(prev))
	}
	tAt := d.off
	t, err := d.uint("type")
	if err != nil {
		return nil, err
	}
	typ := Type(t)
	if t < uint64(TypeString) || t > uint64(TypeZSet) {
		return nil, d.bad(tAt, "key %q: unknown type %d", trunc(key), t)
	}
	cAt := d.off
	count, err := d.uint("element count")
	if err != nil {
		return nil, err
	}
	switch {
	case typ == TypeString && count != 1:
		return nil, d.bad(cAt, "string key %q: element count %d, want 1", trunc(key), count)
	case count == 0:
		return nil, d.bad(cAt, "%s key %q: empty collection", typ, trunc(key))
	case count > math.MaxInt64:
		return nil, d.bad(cAt, "%s key %q: element count %d out of range", typ, trunc(key), count)
	}
	if err := s.key(key, typ, count); err != nil {
		return nil, err
	}
	dg.bytesField(key)
	dg.h.Write([]byte{byte(typ)})
	if typ == TypeString {
		v, err := d.bytes(MaxValueLen, "string value")
		if err != nil {
			return nil, err
		}
		dg.bytesField(v)
		return key, s.elem(ExportElem{Value: v})
	}
	dg.count(int(count))
	var (
		prevE ExportElem
		seen  map[string]struct{}
	)
	if typ == TypeZSet && s.dupCheck {
		seen = make(map[string]struct{}, min(count, 1024))
	}
	for i := uint64(0); i < count; i++ {
		eAt := d.off
		var e ExportElem
		switch typ {
		case TypeList:
			if e.Value, err = d.bytes(MaxValueLen, "list element"); err != nil {
				return nil, err
			}
			dg.bytesField(e.Value)
		case TypeSet:
			if e.Member, err = d.bytes(MaxKeyLen, "set member"); err != nil {
				return nil, err
			}
			if i > 0 && bytes.Compare(e.Member, prevE.Member) <= 0 {
				return nil, d.bad(eAt, "set %q: member %q does not sort after %q", trunc(key), trunc(e.Member), trunc(prevE.Member))
			}
			dg.bytesField(e.Member)
		case TypeHash:
			if err := d.array(pairLen, "hash entry"); err != nil {
				return nil, err
			}
			if e.Member, err = d.bytes(MaxKeyLen, "hash field"); err != nil {
				return nil, err
			}
			if i > 0 && bytes.Compare(e.Member, prevE.Member) <= 0 {
				return nil, d.bad(eAt, "hash %q: field %q does not sort after %q", trunc(key), trunc(e.Member), trunc(prevE.Member))
			}
			if e.Value, err = d.bytes(MaxValueLen, "hash value"); err != nil {
				return nil, err
			}
			dg.bytesField(e.Member)
			dg.bytesField(e.Value)
		case TypeZSet:
			if err := d.array(pairLen, "sorted set entry"); err != nil {
				return nil, err
			}
			if e.Score, err = d.float("score"); err != nil {
				return nil, err
			}
			if e.Member, err = d.bytes(MaxKeyLen, "sorted set member"); err != nil {
				return nil, err
			}
			zm := ZMember{Member: e.Member, Score: e.Score}
			if i > 0 && !zLess(ZMember{Member: prevE.Member, Score: prevE.Score}, zm) {
				return nil, d.bad(eAt, "sorted set %q: member %q does not sort after %q by (score, member)", trunc(key), trunc(e.Member), trunc(prevE.Member))
			}
			if seen != nil {
				if _, dup := seen[string(e.Member)]; dup {
					return nil, d.bad(eAt, "sorted set %q: member %q appears twice", trunc(key), trunc(e.Member))
				}
				seen[string(e.Member)] = struct{}{}
			}
			dg.bytesField(e.Member)
			dg.h.Write(binary.BigEndian.AppendUint64(dg.buf[:0], math.Float64bits(e.Score)))
		}
		if err := s.elem(e); err != nil {
			return nil, err
		}
		prevE = e
	}
	return key, nil
}

// zLess is the sorted-set order: by score (numerically, so -0 ties with +0),
// then by member bytewise.
func zLess(a, b ZMember) bool {
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return bytes.Compare(a.Member, b.Member) < 0
}

// trailer reads the rest of the trailer item (after its array head) and
// checks it against what was decoded, then that nothing follows it.
func (d *exportReader) trailer(keys uint64, sum [32]byte) error {
	at := d.off
	n, err := d.uint("trailer key count")
	if err != nil {
		return err
	}
	if n != keys {
		return d.bad(at, "trailer counts %d keys, stream has %d", n, keys)
	}
	at = d.off
	got, err := d.bytes(len(sum), "trailer digest")
	if err != nil {
		return err
	}
	if !bytes.Equal(got, sum[:]) {
		return d.bad(at, "trailer digest does not match the content")
	}
	if _, err := d.r.ReadByte(); err == nil {
		return d.bad(d.off, "trailing bytes after the trailer")
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("mimeidb: reading export stream: %w", err)
	}
	return nil
}

// trunc shortens a key or member quoted in an error message.
func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// exportEntry is one decoded key held by Replace until the stream checks out.
type exportEntry struct {
	key   []byte
	typ   Type
	value any
}

// Replace atomically replaces the entire content of db with the export
// stream read from r (an empty export clears the database) and returns the
// number of keys loaded. It reads and validates the whole stream first
// (holding it in memory), then deletes every existing key and writes the new
// ones in one commit, so readers never see a mix and a crash leaves either
// the old or the new content. On any error db is unchanged. ctx is checked
// while reading and before the commit.
func (db *DB) Replace(ctx context.Context, r io.Reader) (int, error) {
	return db.replace(ctx, r, nil)
}

// ReplaceIf is Replace that commits only if nothing was committed to db
// since Seq returned seq; otherwise it fails with ErrConflict and db is
// unchanged. A caller that checked the database's content after reading
// Seq thus replaces exactly what it checked.
func (db *DB) ReplaceIf(ctx context.Context, r io.Reader, seq uint64) (int, error) {
	return db.replace(ctx, r, &seq)
}

// Seq counts the commits made to db through this handle (every write
// command, transaction and Replace), for ReplaceIf.
func (db *DB) Seq() uint64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.seq
}

func (db *DB) replace(ctx context.Context, r io.Reader, seq *uint64) (int, error) {
	var entries []exportEntry
	err := ReadExport(r, func(key []byte, typ Type, value any) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries = append(entries, exportEntry{key, typ, value})
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	err = db.write(func(t *Tx) error {
		if seq != nil && db.seq != *seq {
			return fmt.Errorf("%w: the database changed since it was checked", ErrConflict)
		}
		if err := t.clear(); err != nil {
			return err
		}
		for _, e := range entries {
			if err := t.load(e.key, e.typ, e.value); err != nil {
				return fmt.Errorf("mimeidb: replace: key %q: %w", trunc(e.key), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// clear deletes every key t sees.
func (t *Tx) clear() error {
	if err := t.check(true); err != nil {
		return err
	}
	type old struct {
		key []byte
		m   meta
	}
	var olds []old
	mp := t.sub(tagMeta)
	err := t.iter(kv.IterOptions{Prefix: mp}, func(k, v []byte) (bool, error) {
		m, err := decodeMeta(v)
		if err != nil {
			return false, err
		}
		olds = append(olds, old{k[len(mp):], m})
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, o := range olds {
		if err := t.remove(o.key, o.m); err != nil {
			return err
		}
	}
	return nil
}

// load writes one key, absent from t, with a value of Dump's shape for typ.
func (t *Tx) load(key []byte, typ Type, value any) error {
	var err error
	switch typ {
	case TypeString:
		err = t.Set(key, value.([]byte))
	case TypeHash:
		fvs := value.([]FieldValue)
		args := make([][]byte, 0, 2*len(fvs))
		for _, fv := range fvs {
			args = append(args, fv.Field, fv.Value)
		}
		_, err = t.HSet(key, args...)
	case TypeList:
		_, err = t.RPush(key, value.([][]byte)...)
	case TypeSet:
		_, err = t.SAdd(key, value.([][]byte)...)
	case TypeZSet:
		_, err = t.ZAdd(key, value.([]ZMember)...)
	default:
		err = fmt.Errorf("unknown type %d", typ)
	}
	return err
}

// valueDigestDomain separates ValueDigest from Digest and anything else.
const valueDigestDomain = "peer mimeidb value digest v1\n"

// ValueDigest returns the BLAKE3-256 digest of one key's value, given as
// Dump and ReadExport give it (typ and the value shape for typ), for
// comparing keys between two databases. It hashes the type and the value in
// Digest's length-prefixed serialisation, under its own domain: equal
// (typ, value) give equal digests, and different ones (a list ["ab"] and a
// list ["a" "b"], or a set and a list with the same members) different ones.
func ValueDigest(typ Type, value any) [32]byte {
	d := newDomainDigester(valueDigestDomain)
	d.h.Write([]byte{byte(typ)})
	d.value(value)
	return d.sum()
}

// LoadBatchBytes is about how many bytes of writes LoadExport gathers
// before it commits them: with the stream's read buffer and one element
// (at most MaxValueLen), what a load holds in memory, whatever the size of
// the database.
var LoadBatchBytes = 1 << 20

// LoadExport writes the database of the export stream read from r under
// prefix of w, which must hold nothing under prefix, in the layout Open and
// OpenReadOnly read (docs/formats-db.md), and returns the number of keys.
// Unlike Replace it streams: elements are written as they are decoded and
// committed in batches of about LoadBatchBytes, so memory stays bounded
// however large a key's value is, and it is not atomic: on any error (a
// bad stream, a cancelled ctx, checked between elements, a failed write)
// whatever was written stays under prefix and the caller must delete it.
// The database is whole only when LoadExport returns nil, after the
// stream's trailer checked out; a caller that needs to know later writes
// its own marker then.
func LoadExport(ctx context.Context, w kv.Store, prefix []byte, r io.Reader) (int, error) {
	if err := checkPrefix(prefix); err != nil {
		return 0, err
	}
	it := w.Iter(kv.IterOptions{Prefix: prefix})
	used := it.Next()
	if err := it.Close(); err != nil {
		return 0, err
	}
	if used {
		return 0, fmt.Errorf("mimeidb: load export: prefix %q is not empty", trunc(prefix))
	}
	l := &loader{ctx: ctx, w: w, t: &Tx{prefix: bytes.Clone(prefix)}}
	l.b = w.NewBatch()
	defer func() { l.b.Discard() }()
	if err := l.set(l.t.sub(tagVersion), []byte(strconv.Itoa(FormatVersion))); err != nil {
		return 0, err
	}
	err := StreamExport(r, l.key, l.elem)
	if err != nil {
		return 0, err
	}
	if err := l.set(l.t.sub(tagCounter), u64(l.id+1)); err != nil {
		return 0, err
	}
	if err := l.b.Commit(); err != nil {
		return 0, err
	}
	return int(l.id), nil
}

// loader is LoadExport's state: the key being loaded and the open batch.
type loader struct {
	ctx   context.Context
	w     kv.Store
	t     *Tx // for the key layout only
	b     kv.Batch
	bytes int // written to b so far
	elems int // elements since the last context check

	id    uint64 // collection id of the current key (keys are numbered 1, 2, … in stream order)
	typ   Type
	cur   []byte              // the current key
	dp    []byte              // data prefix of the current key
	seq   uint64              // next list sequence number
	batch map[string]struct{} // sorted-set members of the current key in b (not yet committed)
}

func (l *loader) set(k, v []byte) error {
	if err := l.b.Set(k, v); err != nil {
		return err
	}
	l.bytes += len(k) + len(v)
	if l.bytes < LoadBatchBytes {
		return nil
	}
	if err := l.ctx.Err(); err != nil {
		return err
	}
	if err := l.b.Commit(); err != nil {
		return err
	}
	l.b, l.bytes = l.w.NewBatch(), 0
	clear(l.batch)
	return nil
}

func (l *loader) key(key []byte, typ Type, count uint64) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	l.id++
	l.typ, l.cur = typ, key
	if typ == TypeString {
		return nil // the meta record holds the value: written with it
	}
	l.dp = l.t.dataPrefix(l.id)
	l.seq = listOrigin
	if typ == TypeZSet {
		l.batch = map[string]struct{}{}
	}
	m := meta{typ: typ, id: l.id, n: int64(count), head: listOrigin}
	return l.set(l.t.metaKey(key), m.encode())
}

func (l *loader) elem(e ExportElem) error {
	if l.elems++; l.elems >= 1024 {
		l.elems = 0
		if err := l.ctx.Err(); err != nil {
			return err
		}
	}
	switch l.typ {
	case TypeString:
		return l.set(l.t.metaKey(l.cur), meta{typ: TypeString, str: e.Value}.encode())
	case TypeHash:
		return l.set(cat(l.dp, e.Member), e.Value)
	case TypeSet:
		return l.set(cat(l.dp, e.Member), []byte{})
	case TypeList:
		l.seq++
		return l.set(cat(l.dp, u64(l.seq-1)), e.Value)
	case TypeZSet:
		mk := cat(l.dp, []byte{zMember}, e.Member)
		dup := false
		if _, ok := l.batch[string(mk)]; ok {
			dup = true
		} else if ok, err := l.w.Has(mk); err != nil {
			return err
		} else {
			dup = ok
		}
		if dup {
			return fmt.Errorf("%w: sorted set %q: member %q appears twice", ErrBadExport, trunc(l.cur), trunc(e.Member))
		}
		if err := l.set(mk, scoreBytes(e.Score)); err != nil {
			return err
		}
		l.batch[string(mk)] = struct{}{}
		return l.set(cat(l.dp, []byte{zScore}, sortableScore(e.Score), e.Member), []byte{})
	}
	return fmt.Errorf("mimeidb: load export: unknown type %d", l.typ)
}

// ReadExportDigests decodes an export stream as StreamExport does and calls
// fn for each key, in key order, with its ValueDigest, computed element by
// element: a diff between two versions holds one digest a key, never a
// value. Like StreamExport it does not check sorted sets for a member named
// twice.
func ReadExportDigests(r io.Reader, fn func(key []byte, digest [32]byte) error) error {
	var (
		cur []byte
		typ Type
	)
	// One hasher, reset for each key: a new one a key costs more than
	// the rest of the decoding.
	d := newDomainDigester(valueDigestDomain)
	return readExport(r, exportSink{
		key: func(key []byte, t Type, count uint64) error {
			cur, typ = key, t
			d.h.Reset()
			d.h.WriteString(valueDigestDomain)
			d.h.Write([]byte{byte(t)})
			if t != TypeString {
				d.count(int(count))
			}
			return nil
		},
		elem: func(e ExportElem) error {
			switch typ {
			case TypeString, TypeList:
				d.bytesField(e.Value)
			case TypeSet:
				d.bytesField(e.Member)
			case TypeHash:
				d.bytesField(e.Member)
				d.bytesField(e.Value)
			case TypeZSet:
				d.bytesField(e.Member)
				d.h.Write(binary.BigEndian.AppendUint64(d.buf[:0], math.Float64bits(e.Score)))
			}
			return nil
		},
		end: func() error { return fn(cur, d.sum()) },
	})
}
