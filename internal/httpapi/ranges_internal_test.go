package httpapi

import "testing"

// FuzzParseRange checks parseRange's promises on any header and size: it
// never panics, and a range it accepts lies within the file.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-0", "bytes=-5", "bytes=5-", "bytes=3-1", "bytes=abc",
		"bytes=0-1,2-3", "bytes=,,", "BYTES = 1-2", "bytes=99999999999999999999-", "bytes=-99999999999999999999", ""} {
		f.Add(s, int64(6))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, hdr string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, end, res := parseRange(hdr, size)
		switch res {
		case rangeOK:
			if start < 0 || start > end || end >= size {
				t.Fatalf("parseRange(%q, %d) = %d-%d: outside the file", hdr, size, start, end)
			}
		case rangeIgnore, rangeUnsatisfiable:
		default:
			t.Fatalf("parseRange(%q, %d): result %d", hdr, size, res)
		}
	})
}
