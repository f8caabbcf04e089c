package dirtree

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/cid"
)

var ctx = context.Background()

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"hello world.txt", true},
		{"ünïcødé 日本", true},
		{"...", true},
		{".hidden", true},
		{strings.Repeat("x", MaxNameLen), true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"/", false},
		{"nul\x00byte", false},
		{"bad\xffutf8", false},
		{strings.Repeat("x", MaxNameLen+1), false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.name); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestKindString(t *testing.T) {
	if KindFile.String() != "file" || KindDir.String() != "dir" || Kind(9).String() != "Kind(9)" {
		t.Errorf("Kind strings: %s %s %s", KindFile, KindDir, Kind(9))
	}
}

var sample = spec{
	"README":            "hello",
	"docs/guide.md":     strings.Repeat("guide ", 300), // several chunks: a dag-cbor root
	"docs/img/logo.png": "\x89PNG",
	"docs/img/empty":    "",
	"src/main.go":       "package main",
	"empty/":            "",
	"z/y/x/w/deep.txt":  "deep",
}

func TestBuildRoundTrip(t *testing.T) {
	store := newStore()
	root, size, err := Build(ctx, store, sample.lister(t, store))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, c := range sample {
		want += uint64(len(c))
	}
	if size != want {
		t.Errorf("Build size = %d, want %d", size, want)
	}

	got := paths(walkAll(t, store, root))
	wantPaths := []string{"README", "docs", "docs/guide.md", "docs/img", "docs/img/empty", "docs/img/logo.png",
		"empty", "src", "src/main.go", "z", "z/y", "z/y/x", "z/y/x/w", "z/y/x/w/deep.txt"}
	if !slices.Equal(got, wantPaths) {
		t.Errorf("Walk paths = %q\nwant %q", got, wantPaths)
	}

	for p, content := range sample {
		if strings.HasSuffix(p, "/") {
			continue
		}
		e, err := Lookup(ctx, store, root, p)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", p, err)
		}
		if e.Kind != KindFile || e.Size != uint64(len(content)) || e.MIME != "text/plain" || e.Name != p[strings.LastIndexByte(p, '/')+1:] {
			t.Errorf("Lookup(%q) = %+v", p, e)
		}
		if !e.ModTime.Equal(epoch.Add(time.Duration(len(content))*time.Millisecond)) || e.ModTime.Location() != time.UTC {
			t.Errorf("Lookup(%q).ModTime = %v", p, e.ModTime)
		}
		if got := readFile(t, store, e.Root); got != content {
			t.Errorf("file %q reads back %d bytes, want %d", p, len(got), len(content))
		}
	}

	top, err := Lookup(ctx, store, root, "")
	if err != nil || top.Kind != KindDir || top.Name != "" || top.Root != root || top.Size != want {
		t.Errorf("Lookup(root) = %+v, %v", top, err)
	}
	docs, err := Lookup(ctx, store, root, "docs")
	if err != nil || docs.Kind != KindDir || docs.Size != uint64(len(sample["docs/guide.md"])+4) || !docs.ModTime.Equal(epoch) {
		t.Errorf("Lookup(docs) = %+v, %v", docs, err)
	}

	ents, err := List(ctx, store, root, "docs/img")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Name != "empty" || ents[1].Name != "logo.png" || ents[0].Size != 0 {
		t.Errorf("List(docs/img) = %+v", ents)
	}
	if ents, err := List(ctx, store, root, "empty"); err != nil || len(ents) != 0 {
		t.Errorf("List(empty) = %+v, %v", ents, err)
	}
	if ents, err := List(ctx, store, root, ""); err != nil || len(ents) != 5 {
		t.Errorf("List(root) = %d entries, %v", len(ents), err)
	}
}

func TestLookupErrors(t *testing.T) {
	store := newStore()
	root := build(t, store, sample)
	tests := []struct {
		path string
		want error
	}{
		{"nope", ErrNotFound},
		{"docs/nope", ErrNotFound},
		{"docs/img/nope/deeper", ErrNotFound},
		{"README/x", ErrNotDir},
		{"docs/guide.md/x/y", ErrNotDir},
		{"/README", ErrNotFound},
		{"README/", ErrNotDir},
		{"docs//img", ErrNotFound},
		{"docs/./img", ErrNotFound},
		{"docs/../README", ErrNotFound},
		{"docs/", ErrNotFound},
	}
	for _, tc := range tests {
		if _, err := Lookup(ctx, store, root, tc.path); !errors.Is(err, tc.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tc.path, err, tc.want)
		}
	}
	if _, err := List(ctx, store, root, "README"); !errors.Is(err, ErrNotDir) {
		t.Errorf("List(file) = %v, want ErrNotDir", err)
	}
	if _, err := List(ctx, store, root, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("List(missing) = %v, want ErrNotFound", err)
	}
	// A root that is not a directory node.
	raw := cid.Sum(cid.Raw, []byte("x"))
	if _, err := Lookup(ctx, store, raw, "a"); !errors.Is(err, ErrMalformed) {
		t.Errorf("Lookup(raw root) = %v, want ErrMalformed", err)
	}
}

func TestUndefIsEmptyTree(t *testing.T) {
	store := newStore()
	if e, err := Lookup(ctx, store, cid.Undef, ""); err != nil || e.Kind != KindDir || e.Size != 0 {
		t.Errorf("Lookup(Undef, \"\") = %+v, %v", e, err)
	}
	if _, err := Lookup(ctx, store, cid.Undef, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(Undef, a) = %v", err)
	}
	if ents, err := List(ctx, store, cid.Undef, ""); err != nil || len(ents) != 0 {
		t.Errorf("List(Undef) = %v, %v", ents, err)
	}
	if got := walkAll(t, store, cid.Undef); len(got) != 0 {
		t.Errorf("Walk(Undef) = %v", got)
	}
	if err := Blocks(ctx, store, cid.Undef, func(cid.CID) error { return errors.New("called") }); err != nil {
		t.Errorf("Blocks(Undef) = %v", err)
	}
}

func TestEmptyRootIsANode(t *testing.T) {
	store := newStore()
	root, size, err := Build(ctx, store, func(string) ([]Entry, error) { return nil, nil })
	if err != nil || size != 0 {
		t.Fatalf("Build(empty) = %v, %d, %v", root, size, err)
	}
	data, err := store.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "\x83\x01\x80\x80" {
		t.Errorf("empty node = %x, want 83018080", data)
	}
	if ents, err := List(ctx, store, root, ""); err != nil || len(ents) != 0 {
		t.Errorf("List(empty root) = %v, %v", ents, err)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	s1, s2 := newStore(), newStore()
	a := build(t, s1, sample)
	// The same tree listed in name order rather than reversed, with
	// ModTimes in another zone and with sub-millisecond noise.
	list := sample.lister(t, s2)
	b, _, err := Build(ctx, s2, func(dir string) ([]Entry, error) {
		ents, err := list(dir)
		slices.Reverse(ents)
		for i := range ents {
			ents[i].ModTime = ents[i].ModTime.In(time.FixedZone("X", 3600)).Add(999 * time.Microsecond)
		}
		return ents, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same tree, different roots: %s, %s", a, b)
	}
	if len(allBlocks(t, s1)) != len(allBlocks(t, s2)) {
		t.Errorf("stores hold %d and %d blocks", len(allBlocks(t, s1)), len(allBlocks(t, s2)))
	}
	// Any change moves the root.
	other := spec{}
	for k, v := range sample {
		other[k] = v
	}
	other["src/main.go"] = "package main // changed"
	if c := build(t, newStore(), other); c == a {
		t.Error("a changed file kept the root CID")
	}
}

func TestBuildRejects(t *testing.T) {
	store := newStore()
	f := writeFile(t, store, "x")
	named := func(name string) Entry { e := f; e.Name = name; return e }
	dir := func(name string) Entry { return Entry{Name: name, Kind: KindDir} }
	tests := []struct {
		name string
		ents []Entry
		want error
	}{
		{"duplicate file", []Entry{named("a"), named("a")}, ErrMalformed},
		{"file and dir of one name", []Entry{named("a"), dir("a")}, ErrMalformed},
		{"empty name", []Entry{named("")}, ErrMalformed},
		{"slash", []Entry{named("a/b")}, ErrMalformed},
		{"dot dot", []Entry{named("..")}, ErrMalformed},
		{"no kind", []Entry{{Name: "a", Root: f.Root}}, ErrMalformed},
		{"file without root", []Entry{{Name: "a", Kind: KindFile}}, ErrMalformed},
		{"long MIME", []Entry{func() Entry { e := named("a"); e.MIME = strings.Repeat("m", MaxMIMELen+1); return e }()}, ErrMalformed},
		{"dir with MIME", []Entry{{Name: "a", Kind: KindDir, MIME: "x"}}, ErrMalformed},
		{"huge file", []Entry{func() Entry { e := named("a"); e.Size = 1 << 63; return e }()}, ErrMalformed},
		{"sizes overflow", []Entry{
			func() Entry { e := named("a"); e.Size = 1 << 62; return e }(),
			func() Entry { e := named("b"); e.Size = 1 << 62; return e }(),
		}, ErrTooLarge},
	}
	for _, tc := range tests {
		_, _, err := Build(ctx, store, func(d string) ([]Entry, error) {
			if d == "" {
				return tc.ents, nil
			}
			return nil, nil
		})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Build = %v, want %v", tc.name, err, tc.want)
		}
	}

	listErr := errors.New("disk on fire")
	if _, _, err := Build(ctx, store, func(d string) ([]Entry, error) {
		if d == "sub" {
			return nil, listErr
		}
		return []Entry{dir("sub")}, nil
	}); !errors.Is(err, listErr) || !strings.Contains(err.Error(), `"sub"`) {
		t.Errorf("Build with failing list = %v", err)
	}

	// Depth: 256 segments are allowed, 257 are not.
	deep := func(levels int) func(string) ([]Entry, error) {
		return func(d string) ([]Entry, error) {
			n := 0
			if d != "" {
				n = strings.Count(d, "/") + 1
			}
			if n < levels {
				return []Entry{dir("d")}, nil
			}
			return nil, nil
		}
	}
	if _, _, err := Build(ctx, store, deep(maxDepth)); err != nil {
		t.Errorf("Build of %d levels: %v", maxDepth, err)
	}
	if _, _, err := Build(ctx, store, deep(maxDepth+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Build of %d levels = %v, want ErrTooLarge", maxDepth+1, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Build(cancelled, store, deep(3)); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with cancelled context = %v", err)
	}
}

func TestBuildTooManyEntries(t *testing.T) {
	setMaxEntries(t, 3)
	store := newStore()
	f := writeFile(t, store, "x")
	list := func(n int) func(string) ([]Entry, error) {
		return func(string) ([]Entry, error) {
			var out []Entry
			for i := range n {
				e := f
				e.Name = fmt.Sprint("f", i)
				out = append(out, e)
			}
			return out, nil
		}
	}
	if _, _, err := Build(ctx, store, list(9)); err != nil {
		t.Errorf("Build of 3×3 entries: %v", err)
	}
	if _, _, err := Build(ctx, store, list(10)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Build of 10 entries at 3 per node = %v, want ErrTooLarge", err)
	}
}

func TestWalkSkipDir(t *testing.T) {
	store := newStore()
	root := build(t, store, sample)
	var got []string
	err := Walk(ctx, store, root, func(p string, e Entry) error {
		got = append(got, p)
		switch p {
		case "docs", "z/y":
			return SkipDir // skip contents
		case "README":
			return nil
		case "src/main.go":
			return SkipDir // skip the rest of src (nothing left)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"README", "docs", "empty", "src", "src/main.go", "z", "z/y"}
	if !slices.Equal(got, want) {
		t.Errorf("Walk with SkipDir = %q, want %q", got, want)
	}
	// SkipDir on a file in the root ends the walk without error.
	got = nil
	if err := Walk(ctx, store, root, func(p string, e Entry) error {
		got = append(got, p)
		return SkipDir
	}); err != nil || !slices.Equal(got, []string{"README"}) {
		t.Errorf("SkipDir on the first file: %q, %v", got, err)
	}
	stop := errors.New("stop")
	if err := Walk(ctx, store, root, func(p string, e Entry) error {
		if p == "docs/img" {
			return stop
		}
		return nil
	}); err != stop {
		t.Errorf("Walk error from fn = %v, want it unchanged", err)
	}
}

func TestMissingBlock(t *testing.T) {
	store := newStore()
	root := build(t, store, sample)
	docs, err := Lookup(ctx, store, root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, docs.Root); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(ctx, store, root, "docs/guide.md"); err == nil {
		t.Error("Lookup through a missing block succeeded")
	}
	if err := Walk(ctx, store, root, func(string, Entry) error { return nil }); err == nil {
		t.Error("Walk over a missing block succeeded")
	}
}
