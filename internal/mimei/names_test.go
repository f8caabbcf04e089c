package mimei

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/dirtree"
)

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		rule   string // "" = accepted
		offset int
	}{
		{"plain", "notes.txt", "", 0},
		{"space and unicode", "Résumé 2024 — 日本.pdf", "", 0},
		{"emoji", "🙂.png", "", 0},
		{"backslash and quotes", `a\b"c'`, "", 0},
		{"255 bytes", strings.Repeat("a", 255), "", 0},
		{"255 bytes multibyte", strings.Repeat("é", 127) + "a", "", 0},
		{"NFD kept", "e\u0301", "", 0},
		{"256 bytes", strings.Repeat("a", 256), "too long: 256 bytes", -1},
		{"empty", "", "empty", -1},
		{"dot", ".", "dot", -1},
		{"dotdot", "..", "dot", -1},
		{"dots are fine inside", "...", "", 0},
		{"slash", "a/b", "slash", 1},
		{"NUL", "a\x00", "control character U+0000", 1},
		{"ESC", "x\x1b[31m", "control character U+001B", 1},
		{"newline", "a\nb", "control character U+000A", 1},
		{"carriage return", "a\rb", "control character U+000D", 1},
		{"tab", "\tx", "control character U+0009", 0},
		{"DEL", "ab\x7f", "control character U+007F", 2},
		{"C1 NEL", "a\u0085b", "control character U+0085", 1},
		{"C1 CSI", "é\u009b", "control character U+009B", 2},
		{"U+00A0 is not C1", "a\u00a0b", "", 0},
		{"invalid UTF-8", "a\xffb", "invalid UTF-8", 1},
		{"truncated UTF-8", "ab\xc3", "invalid UTF-8", 2},
		{"encoded surrogate", "\xed\xa0\x80", "invalid UTF-8", 0},
		{"raw C1 byte", "a\x85", "invalid UTF-8", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckName(c.in)
			if c.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ne *NameError
			if !errors.As(err, &ne) || !errors.Is(err, ErrBadName) || !errors.Is(err, ErrBadPath) {
				t.Fatalf("error %v (%T), want a NameError matching ErrBadName and ErrBadPath", err, err)
			}
			if ne.Rule != c.rule || ne.Offset != c.offset {
				t.Fatalf("rule %q at %d, want %q at %d", ne.Rule, ne.Offset, c.rule, c.offset)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsFunc(msg, IsControl) {
				t.Fatalf("message holds raw bytes of the name: %q", msg)
			}
		})
	}
}

// TestNewNamesRefused: Put, Mkdir, Move, the parents they make and Import
// refuse names that break CheckName, and make nothing.
func TestNewNamesRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	f.put(t, id, "ok/file", "x")
	long := strings.Repeat("n", 256)
	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"put ESC", func() error { _, err := f.Put(ctx, id, "a\x1b[2J", strings.NewReader("x"), PutOptions{}); return err }},
		{"put newline", func() error { _, err := f.Put(ctx, id, "ok/a\nb", strings.NewReader("x"), PutOptions{}); return err }},
		{"put long", func() error { _, err := f.Put(ctx, id, long, strings.NewReader("x"), PutOptions{}); return err }},
		{"put makes bad parent", func() error {
			_, err := f.Put(ctx, id, "bad\tdir/x", strings.NewReader("x"), PutOptions{Parents: true})
			return err
		}},
		{"mkdir DEL", func() error { _, err := f.Mkdir(id, "d\x7f", false); return err }},
		{"mkdir -p C1", func() error { _, err := f.Mkdir(id, "p\u0085/q", true); return err }},
		{"mkdir invalid UTF-8", func() error { _, err := f.Mkdir(id, "ok/\xff", false); return err }},
		{"move to tab", func() error { _, err := f.Move(id, "ok/file", "ok/fi\tle"); return err }},
		{"import ESC", func() error {
			_, err := f.Import(ctx, id, "in", tarOf(t, map[string]string{"good": "g", "sub/b\x1bad": "b"}), nil)
			return err
		}},
		{"import bad dir", func() error {
			_, err := f.Import(ctx, id, "in2", tarOf(t, nil, "d\ni"), nil)
			return err
		}},
		{"import into bad dest", func() error {
			_, err := f.Import(ctx, id, "in\x1b", tarOf(t, map[string]string{"a": "a"}), nil)
			return err
		}},
	} {
		if err := c.do(); !errors.Is(err, ErrBadName) {
			t.Errorf("%s: %v, want ErrBadName", c.name, err)
		}
	}
	var got []string
	err := dirtreeWalkCur(f, id, func(p string) { got = append(got, p) })
	if err != nil {
		t.Fatal(err)
	}
	// The import stops at the bad entry; what came before it may stay.
	for _, p := range got {
		if CheckName(p[strings.LastIndexByte(p, '/')+1:]) != nil {
			t.Errorf("a bad name was made: %q (all: %q)", p, got)
		}
	}
	if !slices.Contains(got, "ok/file") {
		t.Fatalf("ok/file is gone: %q", got)
	}
}

// dirtreeWalkCur calls fn with every path in the current file space.
func dirtreeWalkCur(f *fixture, id ID, fn func(p string)) error {
	var walk func(dir string) error
	walk = func(dir string) error {
		es, err := f.List(context.Background(), id, "", dir)
		if err != nil {
			return err
		}
		for _, e := range es {
			fn(e.Path)
			if e.Dir {
				if err := walk(e.Path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("")
}

// TestReceivedNamesUsable: a name stored before the rule, or restored from
// a version another device signed, may break CheckName; it can still be
// listed, read, frozen into a version, overwritten, moved to a good name
// and removed.
func TestReceivedNamesUsable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	id := f.create(t, 0)
	good := f.put(t, id, "good", "content")
	bad := "evil\x1b]0;pwned\a"
	if !dirtree.ValidName(bad) || CheckName(bad) == nil {
		t.Fatal("test name must pass dirtree.ValidName and fail CheckName")
	}
	// Bypass the validator, as an old store or a restored version would.
	enc, err := encodeEntry(Entry{Root: good.Root, Size: good.Size, ModTime: time.Unix(1_700_000_000, 0), Created: time.Unix(1_700_000_000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.kv.Set(fileKey(id, bad), enc); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, id, "", bad); got != "content" {
		t.Fatalf("read %q", got)
	}
	if _, err := f.Put(ctx, id, bad, strings.NewReader("new"), PutOptions{}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if _, err := f.Backup(ctx, id, "with a bad name"); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := f.read(t, id, "last", bad); got != "new" {
		t.Fatalf("read from the version: %q", got)
	}
	if _, err := f.Move(id, bad, "renamed"); err != nil {
		t.Fatalf("move to a good name: %v", err)
	}
	if err := f.Remove(id, "renamed", false); err != nil {
		t.Fatal(err)
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a", "notes.txt", "a\x1b", "..", "é\u0085", "a\xff", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckName(s)
		var ne *NameError
		if err != nil && (!errors.As(err, &ne) || ne.Name != s || ne.Offset >= len(s) || !errors.Is(err, ErrBadPath)) {
			t.Fatalf("%q: malformed error %#v", s, err)
		}
		ok := s != "" && s != "." && s != ".." && len(s) <= MaxNameLen && utf8.ValidString(s) &&
			!strings.ContainsRune(s, '/') && !strings.ContainsFunc(s, IsControl)
		if ok != (err == nil) {
			t.Fatalf("%q: CheckName says %v, the rules say ok=%v", s, err, ok)
		}
		if err == nil {
			if !dirtree.ValidName(s) {
				t.Fatalf("%q: accepted but not a valid dirtree name", s)
			}
			if p, err := CleanPath(s); err != nil || p != s {
				t.Fatalf("%q: accepted but CleanPath gives %q, %v", s, p, err)
			}
		}
		if msg := fmtErr(err); !utf8.ValidString(msg) || strings.ContainsFunc(msg, IsControl) {
			t.Fatalf("%q: message holds raw bytes: %q", s, msg)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
