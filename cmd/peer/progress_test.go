package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPutDirectoryProgress: the bar of a directory upload counts the
// files' bytes, ends at 100% and shows the total the closing line gives;
// of many symbolic links the first few are named and the rest counted.
func TestPutDirectoryProgress(t *testing.T) {
	c := newCLI(t)
	c.tty = true
	m := c.mimei()
	src := filepath.Join(t.TempDir(), "photos")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	// Many small files, so that tar headers would be a visible share.
	data := bytes.Repeat([]byte("p"), 4200)
	for i := range 1100 {
		os.WriteFile(filepath.Join(src, "sub", fmt.Sprintf("f%04d.jpg", i)), data, 0o644)
	}
	for i := range 7 {
		if err := os.Symlink("sub/f0000.jpg", filepath.Join(src, fmt.Sprintf("link%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, err := c.run("", "put", m, src)
	if err != nil {
		t.Fatalf("put: %v\n%s", err, errOut)
	}
	want := fmtBytes(1100 * 4200)
	if !strings.Contains(out, "1100 files, 1 directory, "+want+"; 7 symbolic links skipped") {
		t.Fatalf("closing line %q, want %s in 1100 files", out, want)
	}
	lines := strings.Split(errOut, "\n")
	var bar string // the last state of the bar
	for _, l := range lines {
		if i := strings.LastIndex(l, "\r"); i >= 0 && strings.Contains(l[i:], "photos/") {
			bar = strings.TrimSpace(l[i+1:])
		}
	}
	if !strings.HasPrefix(bar, "photos/  "+want+" / "+want+"  100%") {
		t.Errorf("final bar %q, want %s / %s  100%%", bar, want, want)
	}
	if n := strings.Count(errOut, "skipping symbolic link"); n != skipShown {
		t.Errorf("%d symbolic links named, want %d:\n%s", n, skipShown, errOut)
	}
	if !strings.Contains(errOut, "peer: … and 4 more symbolic links skipped (7 in all)\n") {
		t.Errorf("no count of the symbolic links not named:\n%q", errOut)
	}
}
