package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// File names come from others too (versions fetched from contacts, stores
// made before names were checked), so the CLI never writes one to the
// terminal raw: a control character in it could move the cursor, retitle
// the window or fake a line of output.

// unsafeRune reports whether r must not reach a terminal as it is: C0
// controls, DEL, C1 controls, the line and paragraph separators and the
// bidirectional controls (which reorder what is shown).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029, r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// needsEscape reports whether s holds invalid UTF-8 or an unsafe rune.
func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

// shownName renders a file name or path for the terminal: as it is when
// it is printable UTF-8, otherwise as a Go string literal in double
// quotes ("evil\x1b[2J"), which escapes control characters, DEL, C1,
// invalid bytes, quotes and backslashes. A printable name that itself
// starts with a double quote is quoted too, so it cannot pass for an
// escaped one.
func shownName(s string) string {
	if !needsEscape(s) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// escapeControls replaces, in a message, each unsafe rune and invalid
// byte by its Go escape (\x1b, \u0085, \xff) and leaves the rest alone:
// for error messages, which may quote names the node was given.
func escapeControls(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// nameProblem says why the node would refuse s as a new file or directory
// name, or "" if it would not. It repeats the rules of mimei.CheckName
// (docs/formats-dirs.md), which the command may not import: it reaches
// the node only through the API.
func nameProblem(s string) string {
	switch {
	case s == "":
		return "empty name"
	case s == "." || s == "..":
		return "not a name"
	case len(s) > 255:
		return fmt.Sprintf("too long: %d bytes (at most 255)", len(s))
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return fmt.Sprintf("invalid UTF-8 at byte %d", i)
		case r == '/':
			return fmt.Sprintf("slash at byte %d", i)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Sprintf("control character %U at byte %d", r, i)
		}
		i += n
	}
	return ""
}
