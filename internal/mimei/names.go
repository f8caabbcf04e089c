package mimei

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/dirtree"
)

// ErrBadName is the error of a file or directory name that may not be
// made: see CheckName. It wraps ErrBadPath, so callers that only know
// ErrBadPath treat it as a bad path.
var ErrBadName = fmt.Errorf("%w: bad name", ErrBadPath)

// MaxNameLen is the most bytes one path segment may have.
const MaxNameLen = dirtree.MaxNameLen

// NameError says which rule a name breaks and, for a character rule, at
// which byte. It matches ErrBadName (and so ErrBadPath) with errors.Is.
type NameError struct {
	Name   string
	Rule   string // "empty", "dot", "too long", "slash", "control character", "invalid UTF-8"
	Offset int    // byte offset of the offending byte; -1 if the rule is about the whole name
}

func (e *NameError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%v: %q: %s at byte %d (names are 1–%d bytes of UTF-8 without '/', control characters or DEL, and not . or ..)",
			ErrBadName, e.Name, e.Rule, e.Offset, MaxNameLen)
	}
	return fmt.Sprintf("%v: %q: %s (names are 1–%d bytes of UTF-8 without '/', control characters or DEL, and not . or ..)",
		ErrBadName, e.Name, e.Rule, MaxNameLen)
}

func (e *NameError) Unwrap() error { return ErrBadName }

// CheckName checks one path segment that is about to be made (by Put,
// Mkdir, Move or Import): 1 to MaxNameLen bytes of valid UTF-8, not "."
// or "..", without '/', C0 controls (U+0000–U+001F, NUL, tab and newline
// included), DEL (U+007F) or C1 controls (U+0080–U+009F). The name is
// kept byte for byte: it is not normalised (NFC or otherwise), so names
// that differ only in normalisation or case are different names.
//
// Names already stored, or received in others' versions, are only held
// to the weaker rule of dirtree.ValidName, so they can still be read,
// moved and removed; displays escape them.
func CheckName(s string) error {
	switch {
	case s == "":
		return &NameError{Name: s, Rule: "empty", Offset: -1}
	case s == "." || s == "..":
		return &NameError{Name: s, Rule: "dot", Offset: -1}
	case len(s) > MaxNameLen:
		return &NameError{Name: s, Rule: fmt.Sprintf("too long: %d bytes", len(s)), Offset: -1}
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return &NameError{Name: s, Rule: "invalid UTF-8", Offset: i}
		case r == '/':
			return &NameError{Name: s, Rule: "slash", Offset: i}
		case IsControl(r):
			return &NameError{Name: s, Rule: fmt.Sprintf("control character %U", r), Offset: i}
		}
		i += n
	}
	return nil
}

// IsControl reports whether r is a C0 control, DEL or a C1 control: the
// characters a name may not hold.
func IsControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// checkNewPath checks each segment of a clean, non-root path p (see
// CleanPath) with CheckName: for paths whose every segment is new, as the
// names in an archive.
func checkNewPath(p string) error {
	for _, seg := range strings.Split(p, "/") {
		if err := CheckName(seg); err != nil {
			return err
		}
	}
	return nil
}

// checkNewName checks the last segment of a clean path p: the name an
// operation is about to make. The root ("") makes no name.
func checkNewName(p string) error {
	if p == "" {
		return nil
	}
	_, name := splitPath(p)
	return CheckName(name)
}
