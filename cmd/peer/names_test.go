package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiclient"
)

func TestShownName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"notes.txt", "notes.txt"},
		{"dir/Résumé 日本 🙂.pdf", "dir/Résumé 日本 🙂.pdf"},
		{`back\slash`, `back\slash`},
		{"", ""},
		{"a\x1b[31mred", `"a\x1b[31mred"`},
		{"line\nfake", `"line\nfake"`},
		{"tab\there", `"tab\there"`},
		{"del\x7f", `"del\x7f"`},
		{"nel\u0085", `"nel\u0085"`},
		{"bad\xff", `"bad\xff"`},
		{"rtl\u202etxt.exe", `"rtl\u202etxt.exe"`},
		{`esc"and\slash` + "\x1b", `"esc\"and\\slash\x1b"`},
		{`"looks quoted"`, `"\"looks quoted\""`},
	} {
		if got := shownName(c.in); got != c.want {
			t.Errorf("shownName(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestErrorTextEscapesNodeMessages(t *testing.T) {
	api := fmt.Errorf("move: %w", &apiclient.Error{Status: 404, Code: "not_found", Message: "no such file: a\x1b]0;x\a\u0085\xff"})
	if got, want := errorText(api), `move: no such file: a\x1b]0;x\x07\u0085\xff (not_found, HTTP 404)`; got != want {
		t.Errorf("API error: %q, want %q", got, want)
	}
	own := errors.New("two\nlines")
	if got := errorText(own); got != "two\nlines" {
		t.Errorf("own error: %q", got)
	}
}

// TestReceivedNamesShownEscaped: a name with control characters (as a
// contact's version or an old store may hold; the fake store behind the
// CLI does not check names) never reaches the terminal raw.
func TestReceivedNamesShownEscaped(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	evil := "x\x1b[2J\x1b]0;pwned\a.txt"
	shown := `"x\x1b[2J\x1b]0;pwned\a.txt"`
	c.ok("put", m, "-", "plain.txt")
	c.ok("backup", m)
	out, errOut, err := c.run("data", "put", m, "-", evil)
	if err != nil {
		t.Fatalf("put: %v %s", err, errOut)
	}
	if !strings.Contains(out, shown) {
		t.Errorf("put printed %q, want %s", out, shown)
	}
	if got := c.ok("ls", m); got != "plain.txt\n"+shown+"\n" {
		t.Errorf("ls: %q", got)
	}
	if got := c.ok("ls", "-l", m); !strings.Contains(got, shown+"\n") {
		t.Errorf("ls -l: %q", got)
	}
	if got := c.ok("stat", m, evil); !strings.Contains(got, `"/x\x1b[2J`) {
		t.Errorf("stat: %q", got)
	}
	if got := c.ok("diff", m, "1"); got != "+ "+shown+"\n" {
		t.Errorf("diff: %q", got)
	}
	local := filepath.Join(t.TempDir(), "got")
	if got := c.ok("get", m, evil, local); got != local+"  4 B\n" {
		t.Errorf("get: %q", got)
	}
	for _, cmd := range [][]string{{"ls", m}, {"ls", "-l", m}, {"stat", m, evil}, {"diff", m, "1"}} {
		out, errOut, _ := c.run("", cmd...)
		if strings.ContainsAny(out+errOut, "\x1b\a") {
			t.Errorf("peer %s wrote a raw control character: %q %q", strings.Join(cmd, " "), out, errOut)
		}
	}
}

// TestPutDirectorySkipsBadNames: a local file or directory whose name the
// node would refuse is skipped with a note, like a symbolic link, and the
// rest is uploaded.
func TestPutDirectorySkipsBadNames(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{src, filepath.Join(src, "bad\x1bdir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"good.txt", "bad\nname.txt", "bad\x1bdir/inner.txt"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := c.run("", "put", m, src)
	if err != nil {
		t.Fatalf("put: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "1 file, 0 directories, 1 B; 2 bad names skipped") {
		t.Errorf("summary: %q", out)
	}
	if !strings.Contains(errOut, `bad\nname.txt`) || !strings.Contains(errOut, "control character U+000A") ||
		strings.ContainsAny(errOut, "\x1b") {
		t.Errorf("notes: %q", errOut)
	}
	if got := c.ok("ls", m, "src"); got != "good.txt\n" {
		t.Errorf("ls: %q", got)
	}
}
