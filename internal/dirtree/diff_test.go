package dirtree

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

func diffAll(t testing.TB, get filetree.Getter, a, b cid.CID) []string {
	t.Helper()
	var out []string
	if err := Diff(ctx, get, a, b, func(c Change) error {
		switch c.Op {
		case Added:
			if c.Old != (Entry{}) || c.New.Name == "" {
				t.Errorf("Added %s with Old %+v, New %+v", c.Path, c.Old, c.New)
			}
		case Removed:
			if c.New != (Entry{}) || c.Old.Name == "" {
				t.Errorf("Removed %s with Old %+v, New %+v", c.Path, c.Old, c.New)
			}
		case Changed:
			if c.Old.Name == "" || c.New.Name == "" {
				t.Errorf("Changed %s with Old %+v, New %+v", c.Path, c.Old, c.New)
			}
		}
		out = append(out, string(c.Op)+" "+c.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func edit(s spec, f func(spec)) spec {
	out := maps.Clone(s)
	f(out)
	return out
}

func TestDiff(t *testing.T) {
	base := spec{
		"a.txt":         "a",
		"dir/x":         "x",
		"dir/sub/y":     "y",
		"keep/deep/z":   "z",
		"thing":         "was a file",
		"tree/one":      "1",
		"tree/two/2":    "2",
		"emptydir/":     "",
		"mime/file.bin": "bin",
	}
	tests := []struct {
		name string
		b    spec
		want []string
	}{
		{"same", base, nil},
		{"add file", edit(base, func(s spec) { s["dir/new"] = "n" }), []string{"added dir/new"}},
		{"remove file", edit(base, func(s spec) { delete(s, "dir/x") }), []string{"removed dir/x"}},
		{"change content", edit(base, func(s spec) { s["dir/sub/y"] = "Y" }), []string{"changed dir/sub/y"}},
		{"change content, same size", edit(base, func(s spec) { s["a.txt"] = "b" }), []string{"changed a.txt"}},
		{"add directory", edit(base, func(s spec) { s["new/a"] = "1"; s["new/b/c"] = "2" }),
			[]string{"added new", "added new/a", "added new/b", "added new/b/c"}},
		{"remove directory", edit(base, func(s spec) { delete(s, "tree/one"); delete(s, "tree/two/2") }),
			[]string{"removed tree", "removed tree/one", "removed tree/two", "removed tree/two/2"}},
		{"file becomes directory", edit(base, func(s spec) { delete(s, "thing"); s["thing/inside"] = "i" }),
			[]string{"removed thing", "added thing", "added thing/inside"}},
		{"directory becomes file", edit(base, func(s spec) { delete(s, "tree/one"); delete(s, "tree/two/2"); s["tree"] = "t" }),
			[]string{"removed tree", "removed tree/one", "removed tree/two", "removed tree/two/2", "added tree"}},
		{"empty directory filled", edit(base, func(s spec) { delete(s, "emptydir/"); s["emptydir/f"] = "f" }), []string{"added emptydir/f"}},
		{"several", edit(base, func(s spec) { delete(s, "a.txt"); s["dir/sub/w"] = "w"; s["zzz"] = "" }),
			[]string{"removed a.txt", "added dir/sub/w", "added zzz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			a, b := build(t, store, base), build(t, store, tc.b)
			if got := diffAll(t, store, a, b); !slices.Equal(got, tc.want) {
				t.Errorf("Diff(a, b) = %q\nwant %q", got, tc.want)
			}
			// The reverse diff swaps Added and Removed.
			var rev []string
			for _, c := range diffAll(t, store, b, a) {
				switch op, p, _ := strings.Cut(c, " "); op {
				case "added":
					rev = append(rev, "removed "+p)
				case "removed":
					rev = append(rev, "added "+p)
				default:
					rev = append(rev, c)
				}
			}
			if !sameSet(rev, tc.want) {
				t.Errorf("Diff(b, a) = %q, not the reverse of %q", rev, tc.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDiffChangedEntries(t *testing.T) {
	store := newStore()
	base := spec{"f": "content"}
	a := build(t, store, base)
	b := build(t, store, spec{"f": "CONTENT"})
	var got []Change
	if err := Diff(ctx, store, a, b, func(c Change) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Op != Changed || got[0].Old.Root == got[0].New.Root || got[0].Old.Name != "f" || got[0].New.Name != "f" {
		t.Fatalf("Diff = %+v", got)
	}
	// ModTime alone.
	f := writeFile(t, store, "same")
	f.Name = "f"
	at := func(e Entry) cid.CID {
		root, _, err := Build(ctx, store, func(string) ([]Entry, error) { return []Entry{e}, nil })
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	g := f
	g.ModTime = g.ModTime.Add(time.Millisecond)
	if got := diffAll(t, store, at(f), at(g)); !slices.Equal(got, []string{"changed f"}) {
		t.Errorf("ModTime change: %q", got)
	}
	// MIME type alone.
	mime := func(m string) cid.CID {
		f := writeFile(t, store, "same")
		f.Name, f.MIME = "f", m
		root, _, err := Build(ctx, store, func(string) ([]Entry, error) { return []Entry{f}, nil })
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	if got := diffAll(t, store, mime("text/plain"), mime("text/html")); !slices.Equal(got, []string{"changed f"}) {
		t.Errorf("MIME change: %q", got)
	}
	// A directory's ModTime alone is not reported.
	dirAt := func(ms int64) cid.CID {
		root, _, err := Build(ctx, store, func(d string) ([]Entry, error) {
			if d == "" {
				return []Entry{{Name: "d", Kind: KindDir, ModTime: epoch.Add(time.Duration(ms) * time.Millisecond)}}, nil
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	if got := diffAll(t, store, dirAt(1), dirAt(2)); len(got) != 0 {
		t.Errorf("directory ModTime change reported: %q", got)
	}
}

func TestDiffEmptyTrees(t *testing.T) {
	store := newStore()
	a := build(t, store, spec{"x/y": "1", "z": "2"})
	empty := build(t, store, spec{})
	want := []string{"added x", "added x/y", "added z"}
	for _, from := range []cid.CID{cid.Undef, empty} {
		if got := diffAll(t, store, from, a); !slices.Equal(got, want) {
			t.Errorf("Diff(%v, a) = %q", from, got)
		}
	}
	if got := diffAll(t, store, a, cid.Undef); !slices.Equal(got, []string{"removed x", "removed x/y", "removed z"}) {
		t.Errorf("Diff(a, Undef) = %q", got)
	}
	if got := diffAll(t, store, cid.Undef, empty); len(got) != 0 {
		t.Errorf("Diff(Undef, empty) = %q", got)
	}
	if got := diffAll(t, newStore(), cid.Undef, cid.Undef); len(got) != 0 {
		t.Errorf("Diff(Undef, Undef) = %q", got)
	}
}

// TestDiffReadsOnlyChangedBranches counts the blocks Diff fetches: two
// roots and the two nodes of each directory on the changed path.
func TestDiffReadsOnlyChangedBranches(t *testing.T) {
	store := newStore()
	base := spec{}
	for i := range 20 {
		base[fmt.Sprintf("big/d%d/e/f/file%d", i, i)] = fmt.Sprint(i)
	}
	base["path/to/changed.txt"] = "old"
	base["path/to/other.txt"] = "same"
	a := build(t, store, base)
	b := build(t, store, edit(base, func(s spec) { s["path/to/changed.txt"] = "new" }))
	g := &countingGetter{Getter: store}
	if got := diffAll(t, g, a, b); !slices.Equal(got, []string{"changed path/to/changed.txt"}) {
		t.Fatalf("Diff = %q", got)
	}
	if n := g.n.Load(); n != 6 { // roots, path, path/to on both sides
		t.Errorf("Diff read %d blocks, want 6", n)
	}
	g.n.Store(0)
	if got := diffAll(t, g, a, a); len(got) != 0 || g.n.Load() != 0 {
		t.Errorf("Diff(a, a) = %q after %d reads", got, g.n.Load())
	}
}

// TestDiffSkipsEqualPages: in a paged directory, pages that are the same
// on both sides are not read.
func TestDiffSkipsEqualPages(t *testing.T) {
	setMaxEntries(t, 10)
	store := newStore()
	base := spec{}
	for i := range 95 {
		base[fmt.Sprintf("f%03d", i)] = fmt.Sprint(i)
	}
	a := build(t, store, base)
	b := build(t, store, edit(base, func(s spec) { s["f094"] = "changed" }))
	g := &countingGetter{Getter: store}
	if got := diffAll(t, g, a, b); !slices.Equal(got, []string{"changed f094"}) {
		t.Fatalf("Diff = %q", got)
	}
	if n := g.n.Load(); n != 4 { // both index nodes, both last pages
		t.Errorf("Diff read %d blocks, want 4", n)
	}
	// An insertion at the front shifts every page: all are read, and the
	// one change is still all that is reported.
	c := build(t, store, edit(base, func(s spec) { s["a"] = "first" }))
	if got := diffAll(t, store, a, c); !slices.Equal(got, []string{"added a"}) {
		t.Errorf("Diff = %q", got)
	}
}

func TestDiffStopsOnError(t *testing.T) {
	store := newStore()
	a := build(t, store, spec{"x": "1"})
	b := build(t, store, spec{"y/z": "2", "y/w": "3"})
	stop := errors.New("stop")
	for _, want := range []error{stop, SkipDir} {
		n := 0
		err := Diff(ctx, store, a, b, func(c Change) error {
			n++
			if c.Path == "y" {
				return want
			}
			return nil
		})
		if err != want || n != 2 {
			t.Errorf("Diff returned %v after %d changes, want %v after 2", err, n, want)
		}
	}
	// A missing block is an error, not an empty directory.
	y, _ := Lookup(ctx, store, b, "y")
	if err := store.Delete(ctx, y.Root); err != nil {
		t.Fatal(err)
	}
	if err := Diff(ctx, store, a, b, func(Change) error { return nil }); err == nil {
		t.Error("Diff over a missing block succeeded")
	}
}
