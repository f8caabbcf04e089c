package mimeidb

import (
	"encoding/binary"
	"math"

	"github.com/peer-node/peer/internal/kv"
)

// FormatVersion is the version of the storage layout written by this build
// (docs/formats-db.md).
const FormatVersion = 1

// Size limits. A key, hash field or set/sorted-set member may be up to
// MaxKeyLen bytes (64 KiB less room for the prefix and the layout's own
// bytes, so the whole kv key stays within kv.MaxKeySize); a string or hash
// value up to MaxValueLen bytes.
const (
	MaxPrefixLen = 512
	MaxKeyLen    = 64<<10 - 1024
	MaxValueLen  = 16 << 20
)

// Type is the type of the value held by a key.
type Type uint8

const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeHash   Type = 2
	TypeList   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return "none"
}

// Sub-spaces under the database prefix.
const (
	tagVersion byte = 'v' // prefix 'v' -> decimal format version
	tagCounter byte = 'c' // prefix 'c' -> next collection id (8 bytes BE)
	tagMeta    byte = 'k' // prefix 'k' key -> meta record
	tagData    byte = 'd' // prefix 'd' id(8) ... -> collection entries
)

const (
	zMember byte = 'm' // data(id) 'm' member -> score (8 bytes, IEEE bits)
	zScore  byte = 's' // data(id) 's' sortable(score) member -> ""
)

// listOrigin is the sequence number of the first element pushed onto an
// empty list; LPUSH counts down from it and RPUSH up.
const listOrigin uint64 = 1 << 63

// meta is the per-key record: its type, and for collections the id that
// names their entries, their length and (lists) the head sequence number.
// A string keeps its value inline.
type meta struct {
	typ  Type
	id   uint64
	n    int64
	head uint64
	str  []byte
}

func (m meta) encode() []byte {
	if m.typ == TypeString {
		b := make([]byte, 1+len(m.str))
		b[0] = byte(m.typ)
		copy(b[1:], m.str)
		return b
	}
	b := make([]byte, 0, 1+8+10+8)
	b = append(b, byte(m.typ))
	b = binary.BigEndian.AppendUint64(b, m.id)
	b = binary.AppendUvarint(b, uint64(m.n))
	if m.typ == TypeList {
		b = binary.BigEndian.AppendUint64(b, m.head)
	}
	return b
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) == 0 {
		return meta{}, corrupt("empty meta record")
	}
	m := meta{typ: Type(b[0])}
	switch m.typ {
	case TypeString:
		m.str = b[1:]
		return m, nil
	case TypeHash, TypeList, TypeSet, TypeZSet:
	default:
		return meta{}, corrupt("unknown type %d", b[0])
	}
	b = b[1:]
	if len(b) < 8 {
		return meta{}, corrupt("short meta record")
	}
	m.id = binary.BigEndian.Uint64(b)
	n, k := binary.Uvarint(b[8:])
	if k <= 0 || n > math.MaxInt64 {
		return meta{}, corrupt("bad length in meta record")
	}
	m.n = int64(n)
	b = b[8+k:]
	if m.typ == TypeList {
		if len(b) != 8 {
			return meta{}, corrupt("bad list meta record")
		}
		m.head = binary.BigEndian.Uint64(b)
	} else if len(b) != 0 {
		return meta{}, corrupt("trailing bytes in meta record")
	}
	return m, nil
}

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func (t *Tx) sub(tag byte) []byte {
	return append(append(make([]byte, 0, len(t.prefix)+1), t.prefix...), tag)
}

func (t *Tx) metaKey(key []byte) []byte { return cat(t.prefix, []byte{tagMeta}, key) }

func (t *Tx) dataPrefix(id uint64) []byte {
	b := make([]byte, 0, len(t.prefix)+9)
	b = append(b, t.prefix...)
	b = append(b, tagData)
	return binary.BigEndian.AppendUint64(b, id)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// sortableScore maps a float64 to 8 bytes whose bytewise order is the
// numeric order: flip the sign bit of non-negative numbers, all bits of
// negative ones. -0 is stored as +0 so that ties with 0 break by member.
func sortableScore(f float64) []byte {
	if f == 0 {
		f = 0
	}
	bits := math.Float64bits(f)
	if bits>>63 == 0 {
		bits ^= 1 << 63
	} else {
		bits = ^bits
	}
	return u64(bits)
}

func scoreBytes(f float64) []byte { return u64(math.Float64bits(f)) }

func decodeScore(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, corrupt("bad score")
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func prefixEnd(p []byte) []byte { return kv.PrefixEnd(p) }
