package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// quantity renders n with its noun in the right number: "1 file", "2 files",
// "0 directories".
func quantity[N ~int | ~int64 | ~uint64 | ~uint32](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %s", n, plural(noun))
}

// plural is the plural of an English noun of the CLI's vocabulary (the
// last word of noun): "directory" gives "directories", "block" "blocks".
func plural(noun string) string {
	if strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])) {
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

// skipShown is how many skipped entries of each kind a directory upload
// names one by one; the rest are counted on one line at the end.
const skipShown = 3

// skipNotes reports what a directory upload leaves out: the first
// skipShown of each kind by name as they are met, then, at the end, one
// line saying how many more of that kind were skipped. A nil *skipNotes
// reports nothing.
type skipNotes struct {
	say func(string) // prints one line (a progress bar clears itself first)

	mu     sync.Mutex
	counts map[string]int // kind ("symbolic link") → number skipped
	kinds  []string       // in the order first met
}

func newSkipNotes(w io.Writer, p *progress) *skipNotes {
	say := func(s string) { fmt.Fprintln(w, s) }
	if p != nil {
		say = p.note
	}
	return &skipNotes{say: say, counts: map[string]int{}}
}

// skip records that path, of kind, was left out; why is said after its
// name for the first few ("" for nothing).
func (s *skipNotes) skip(kind, path, why string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[kind] == 0 {
		s.kinds = append(s.kinds, kind)
	}
	s.counts[kind]++
	if s.counts[kind] <= skipShown {
		line := "peer: skipping " + kind + " " + path
		if why != "" {
			line += ": " + why
		}
		s.say(line)
	}
}

// finish says, for each kind of which more were skipped than named, how
// many more, e.g. "peer: … and 282 more symbolic links skipped (285 in all)".
func (s *skipNotes) finish() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kinds {
		if n := s.counts[k]; n > skipShown {
			s.say(fmt.Sprintf("peer: … and %s skipped (%d in all)", quantity(n-skipShown, "more "+k), n))
		}
	}
}

// summary lists what was skipped for the upload's closing line, e.g.
// "285 symbolic links and 1 special file skipped"; "" if nothing was.
func (s *skipNotes) summary() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, k := range s.kinds {
		parts = append(parts, quantity(s.counts[k], k))
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0] + " skipped"
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1] + " skipped"
}
