package httpapi

import (
	"math"
	"strconv"
	"strings"
)

// rangeResult is what a Range header asks of a file of a given size.
type rangeResult int

const (
	rangeIgnore        rangeResult = iota // no header, another unit or bad syntax: send the whole file (200)
	rangeOK                               // send [start, end] (206)
	rangeUnsatisfiable                    // no range overlaps the file (416)
)

// parseRange reads a Range header as RFC 9110 §14.1.2 and §14.2 define it,
// for a file of size bytes. Syntax it cannot parse, a unit other than
// bytes and a range whose end comes before its start make the whole header
// ignored (the file is sent whole). A range ending past the file is
// clamped to its end; a suffix range "-N" longer than the file is the
// whole file; "-0" and ranges starting at or past the end are
// unsatisfiable. Of several ranges only the first that overlaps the file
// is served (the API never answers multipart/byteranges). start and end
// are inclusive and set only with rangeOK.
func parseRange(hdr string, size int64) (start, end int64, res rangeResult) {
	unit, set, ok := strings.Cut(hdr, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return 0, 0, rangeIgnore
	}
	type span struct{ first, last int64 } // first -1: a suffix of last bytes
	var spans []span
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // empty list elements are allowed (RFC 9110 §5.6.1.2)
		}
		a, b, ok := strings.Cut(spec, "-")
		if !ok {
			return 0, 0, rangeIgnore
		}
		if a == "" { // suffix-range: the last b bytes
			n, ok := digits(b)
			if !ok {
				return 0, 0, rangeIgnore
			}
			spans = append(spans, span{-1, n})
			continue
		}
		first, ok := digits(a)
		if !ok {
			return 0, 0, rangeIgnore
		}
		last := int64(math.MaxInt64)
		if b != "" {
			if last, ok = digits(b); !ok || last < first {
				return 0, 0, rangeIgnore
			}
		}
		spans = append(spans, span{first, last})
	}
	if len(spans) == 0 {
		return 0, 0, rangeIgnore
	}
	for _, s := range spans {
		if s.first < 0 { // suffix of s.last bytes
			if s.last == 0 || size == 0 {
				continue
			}
			return max(size-s.last, 0), size - 1, rangeOK
		}
		if s.first >= size {
			continue
		}
		return s.first, min(s.last, size-1), rangeOK
	}
	return 0, 0, rangeUnsatisfiable
}

// digits parses 1*DIGIT; a number too large for int64 is math.MaxInt64
// (still past any file's end, which is all that matters here).
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // only overflow is left
	}
	return n, true
}
