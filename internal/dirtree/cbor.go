package dirtree

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// Nodes are encoded in the deterministic CBOR of internal/codec (RFC 8949
// core deterministic encoding: shortest-form heads, definite lengths, no
// tags), but by hand: a full node (4 096 entries) is well over
// codec.MaxRecordSize, which bounds signed records, not blocks. The node
// shape uses four CBOR major types only — unsigned and negative integers,
// byte strings, text strings and arrays — so the encoder and the strict
// decoder below are short; a test checks that the encoder produces exactly
// codec.Marshal's bytes for nodes within codec's limits.

const (
	majorUint  = 0
	majorNeg   = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
)

type encoder struct{ b []byte }

func (e *encoder) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		e.b = append(e.b, m|byte(n))
	case n <= math.MaxUint8:
		e.b = append(e.b, m|24, byte(n))
	case n <= math.MaxUint16:
		e.b = binary.BigEndian.AppendUint16(append(e.b, m|25), uint16(n))
	case n <= math.MaxUint32:
		e.b = binary.BigEndian.AppendUint32(append(e.b, m|26), uint32(n))
	default:
		e.b = binary.BigEndian.AppendUint64(append(e.b, m|27), n)
	}
}

func (e *encoder) uint(n uint64) { e.head(majorUint, n) }

func (e *encoder) int(v int64) {
	if v >= 0 {
		e.head(majorUint, uint64(v))
	} else {
		e.head(majorNeg, uint64(-(v + 1)))
	}
}

func (e *encoder) bytes(b []byte) { e.head(majorBytes, uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) text(s string)  { e.head(majorText, uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) array(n int)    { e.head(majorArray, uint64(n)) }

// decoder reads the same subset strictly: it accepts only shortest-form
// heads and definite lengths, so every value has exactly one encoding.
// Errors wrap ErrMalformed and name the field being read.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) rest() int { return len(d.b) - d.off }

func (d *decoder) head(what string) (major byte, arg uint64, err error) {
	if d.rest() < 1 {
		return 0, 0, malformed("%s: unexpected end of input", what)
	}
	ib := d.b[d.off]
	d.off++
	major, info := ib>>5, ib&31
	var n int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, 0, malformed("%s: indefinite length or reserved head 0x%02x", what, ib)
	}
	if d.rest() < n {
		return 0, 0, malformed("%s: unexpected end of input", what)
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	var min uint64
	switch n {
	case 1:
		arg, min = uint64(p[0]), 24
	case 2:
		arg, min = uint64(binary.BigEndian.Uint16(p)), math.MaxUint8+1
	case 4:
		arg, min = uint64(binary.BigEndian.Uint32(p)), math.MaxUint16+1
	default:
		arg, min = binary.BigEndian.Uint64(p), math.MaxUint32+1
	}
	if arg < min {
		return 0, 0, malformed("%s: integer or length %d not in shortest form", what, arg)
	}
	return major, arg, nil
}

func (d *decoder) expect(what string, want byte) (uint64, error) {
	major, arg, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if major != want {
		return 0, malformed("%s: CBOR major type %d, want %d", what, major, want)
	}
	return arg, nil
}

func (d *decoder) uint(what string) (uint64, error) { return d.expect(what, majorUint) }

func (d *decoder) int(what string) (int64, error) {
	major, arg, err := d.head(what)
	if err != nil {
		return 0, err
	}
	if (major != majorUint && major != majorNeg) || arg > math.MaxInt64 {
		return 0, malformed("%s: not a 64-bit integer", what)
	}
	if major == majorNeg {
		return -1 - int64(arg), nil
	}
	return int64(arg), nil
}

// array reads an array head of at most max elements (each takes at least
// one byte, so a count beyond the input is refused before anything is
// allocated for it).
func (d *decoder) array(what string, max int) (int, error) {
	n, err := d.expect(what, majorArray)
	if err != nil {
		return 0, err
	}
	if n > uint64(max) {
		return 0, malformed("%s: %d elements, at most %d allowed", what, n, max)
	}
	if n > uint64(d.rest()) {
		return 0, malformed("%s: %d elements in %d bytes", what, n, d.rest())
	}
	return int(n), nil
}

func (d *decoder) str(what string, major byte, max int) ([]byte, error) {
	n, err := d.expect(what, major)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, malformed("%s: %d bytes, at most %d allowed", what, n, max)
	}
	if n > uint64(d.rest()) {
		return nil, malformed("%s: unexpected end of input", what)
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

func (d *decoder) text(what string, max int) (string, error) {
	p, err := d.str(what, majorText, max)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(p) {
		return "", malformed("%s: invalid UTF-8", what)
	}
	return string(p), nil
}

func (d *decoder) bytes(what string, max int) ([]byte, error) {
	return d.str(what, majorBytes, max)
}

func (d *decoder) end() error {
	if d.rest() != 0 {
		return malformed("%d trailing bytes", d.rest())
	}
	return nil
}
