package mimeidb

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ReplyKind says which variant a Reply holds.
type ReplyKind uint8

const (
	KindNil    ReplyKind = iota // (nil)
	KindInt                     // (integer) 3
	KindBulk                    // "v"
	KindFloat                   // a score, sent as a bulk string as Redis (RESP2) does
	KindStatus                  // OK
	KindArray                   // 1) "a"
)

// Reply is the result of a command: a small sum type mirroring RESP2.
// Only the field matching Kind is meaningful.
type Reply struct {
	Kind   ReplyKind
	Int    int64
	Bulk   []byte
	Float  float64
	Status string
	Array  []Reply
}

// Reply constructors.
func NilReply() Reply                 { return Reply{Kind: KindNil} }
func IntReply(n int64) Reply          { return Reply{Kind: KindInt, Int: n} }
func BulkReply(b []byte) Reply        { return Reply{Kind: KindBulk, Bulk: b} }
func FloatReply(f float64) Reply      { return Reply{Kind: KindFloat, Float: f} }
func StatusReply(s string) Reply      { return Reply{Kind: KindStatus, Status: s} }
func ArrayReply(items ...Reply) Reply { return Reply{Kind: KindArray, Array: items} }

// OK is the status reply of successful writes such as SET.
var OK = StatusReply("OK")

func bulkArray(items [][]byte) Reply {
	r := Reply{Kind: KindArray, Array: make([]Reply, len(items))}
	for i, it := range items {
		if it == nil {
			r.Array[i] = NilReply()
		} else {
			r.Array[i] = BulkReply(it)
		}
	}
	return r
}

// FormatFloat renders a score as Redis 7.2 does: the shortest representation
// that reads back exactly, in plain notation for exponents in [-4, 17) and
// exponent notation otherwise; "inf" and "-inf" for infinities.
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	if exp < -4 || exp >= 17 {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Text returns the bytes a client sees for a scalar reply: the bulk bytes,
// the rendered float, the decimal integer or the status. Nil and arrays give
// nil.
func (r Reply) Text() []byte {
	switch r.Kind {
	case KindBulk:
		return r.Bulk
	case KindFloat:
		return []byte(FormatFloat(r.Float))
	case KindInt:
		return []byte(strconv.FormatInt(r.Int, 10))
	case KindStatus:
		return []byte(r.Status)
	}
	return nil
}

// String renders the reply as redis-cli does: (integer) 3, "v", (nil),
// OK, numbered array lines, (empty array).
func (r Reply) String() string {
	var sb strings.Builder
	r.format(&sb, "")
	return sb.String()
}

func (r Reply) format(sb *strings.Builder, indent string) {
	switch r.Kind {
	case KindNil:
		sb.WriteString("(nil)")
	case KindInt:
		fmt.Fprintf(sb, "(integer) %d", r.Int)
	case KindBulk:
		sb.WriteString(quote(r.Bulk))
	case KindFloat:
		sb.WriteString(quote([]byte(FormatFloat(r.Float))))
	case KindStatus:
		sb.WriteString(r.Status)
	case KindArray:
		if len(r.Array) == 0 {
			sb.WriteString("(empty array)")
			return
		}
		width := len(strconv.Itoa(len(r.Array)))
		for i, it := range r.Array {
			if i > 0 {
				sb.WriteString("\n")
				sb.WriteString(indent)
			}
			num := fmt.Sprintf("%*d) ", width, i+1)
			sb.WriteString(num)
			it.format(sb, indent+strings.Repeat(" ", len(num)))
		}
	}
}

// quote escapes like redis-cli (sdscatrepr).
func quote(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch c {
		case '\\', '"':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\a':
			sb.WriteString(`\a`)
		case '\b':
			sb.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				fmt.Fprintf(&sb, `\x%02x`, c)
			}
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// MarshalJSON gives the JSON form: nil -> null, integer -> number, bulk ->
// string (or {"base64": "..."} when not valid UTF-8), float -> the string
// Redis renders ("1.5", "inf"), status -> {"status": "OK"}, array -> array.
func (r Reply) MarshalJSON() ([]byte, error) {
	switch r.Kind {
	case KindNil:
		return []byte("null"), nil
	case KindInt:
		return []byte(strconv.FormatInt(r.Int, 10)), nil
	case KindBulk:
		if utf8.Valid(r.Bulk) {
			return json.Marshal(string(r.Bulk))
		}
		return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString(r.Bulk)})
	case KindFloat:
		return json.Marshal(FormatFloat(r.Float))
	case KindStatus:
		return json.Marshal(map[string]string{"status": r.Status})
	case KindArray:
		if r.Array == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(r.Array)
	}
	return nil, fmt.Errorf("mimeidb: unknown reply kind %d", r.Kind)
}
