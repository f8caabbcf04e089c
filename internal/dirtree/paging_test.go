package dirtree

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

// flatDir lists n files named f000…, all with the same content, in the root.
func flatDir(t testing.TB, store filetree.Putter, n int) func(string) ([]Entry, error) {
	f := writeFile(t, store, "same bytes")
	return func(dir string) ([]Entry, error) {
		if dir != "" {
			return nil, nil
		}
		out := make([]Entry, n)
		for i := range out {
			out[n-1-i] = f
			out[n-1-i].Name = fmt.Sprintf("f%04d", i)
		}
		return out, nil
	}
}

func TestPaging(t *testing.T) {
	setMaxEntries(t, 10)
	tests := []struct {
		n     int
		pages []int // counts; nil = not paged
	}{
		{0, nil},
		{9, nil},
		{10, nil},
		{11, []int{10, 1}},
		{35, []int{10, 10, 10, 5}},
		{100, slices.Repeat([]int{10}, 10)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			store := newStore()
			root, size, err := Build(ctx, store, flatDir(t, store, tc.n))
			if err != nil {
				t.Fatal(err)
			}
			if size != uint64(tc.n*len("same bytes")) {
				t.Errorf("size %d", size)
			}
			data, _ := store.Get(ctx, root)
			n, err := DecodeNode(data)
			if err != nil {
				t.Fatal(err)
			}
			var counts []int
			for _, p := range n.Pages {
				counts = append(counts, p.Count)
			}
			if !slices.Equal(counts, tc.pages) || (tc.pages != nil && len(n.Entries) != 0) {
				t.Fatalf("pages %v, want %v", counts, tc.pages)
			}
			ents, err := List(ctx, store, root, "")
			if err != nil || len(ents) != tc.n {
				t.Fatalf("List = %d entries, %v", len(ents), err)
			}
			for i, e := range ents {
				if e.Name != fmt.Sprintf("f%04d", i) {
					t.Fatalf("List[%d] = %q", i, e.Name)
				}
			}
			if got := walkAll(t, store, root); len(got) != tc.n {
				t.Errorf("Walk visited %d entries", len(got))
			}
			// Every name is found by reading the root and at most one page.
			g := &countingGetter{Getter: store}
			for i := range tc.n {
				g.n.Store(0)
				name := fmt.Sprintf("f%04d", i)
				if e, err := Lookup(ctx, g, root, name); err != nil || e.Name != name {
					t.Fatalf("Lookup(%s) = %+v, %v", name, e, err)
				}
				if want := int64(1 + min(len(tc.pages), 1)); g.n.Load() != want {
					t.Fatalf("Lookup(%s) read %d blocks, want %d", name, g.n.Load(), want)
				}
			}
			// Names before, between and after the pages.
			for _, name := range []string{"a", "f0003x", "f0010a", "g"} {
				if _, err := Lookup(ctx, store, root, name); !errors.Is(err, ErrNotFound) {
					t.Errorf("Lookup(%s) = %v", name, err)
				}
			}
		})
	}
}

func TestPagingRealLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds a directory of 2×4096+1 entries")
	}
	store := newStore()
	n := 2*MaxEntriesPerNode + 1
	root, _, err := Build(ctx, store, flatDir(t, store, n))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := store.Get(ctx, root)
	node, err := DecodeNode(data)
	if err != nil || len(node.Pages) != 3 || node.Pages[2].Count != 1 {
		t.Fatalf("root = %d pages, %v", len(node.Pages), err)
	}
	ents, err := List(ctx, store, root, "")
	if err != nil || len(ents) != n || ents[n-1].Name != fmt.Sprintf("f%04d", n-1) {
		t.Fatalf("List = %d entries, %v", len(ents), err)
	}
	if e, err := Lookup(ctx, store, root, "f4096"); err != nil || e.Name != "f4096" {
		t.Errorf("Lookup(f4096) = %+v, %v", e, err)
	}
}

// put stores a node and returns its CID.
func put(t testing.TB, store filetree.Putter, n Node) cid.CID {
	t.Helper()
	data, err := EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum(cid.DagCBOR, data)
	if err := store.Put(ctx, c, data); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInconsistentTrees plants blocks that are each valid but do not agree
// with the entries or pages pointing at them.
func TestInconsistentTrees(t *testing.T) {
	setMaxEntries(t, 2)
	store := newStore()
	a, b, c := fileEntry("a", 1), fileEntry("b", 2), fileEntry("c", 3)
	p1 := put(t, store, Node{Entries: []Entry{a, b}})
	p2 := put(t, store, Node{Entries: []Entry{c}})
	index := put(t, store, Node{Pages: []Page{{"a", p1, 2, 3}, {"c", p2, 1, 3}}})
	sub := put(t, store, Node{Entries: []Entry{a}})
	tests := []struct {
		name string
		root cid.CID
		path string
	}{
		{"page count", put(t, store, Node{Pages: []Page{{"a", p1, 2, 3}, {"c", p1, 1, 3}}}), "c"},
		{"page first name", put(t, store, Node{Pages: []Page{{"a", p1, 2, 3}, {"b", p2, 1, 3}}}), "c"},
		{"page size", put(t, store, Node{Pages: []Page{{"a", p1, 2, 4}, {"c", p2, 1, 3}}}), "a"},
		{"pages overlap", put(t, store, Node{Pages: []Page{{"a", p1, 2, 3}, {"ab", put(t, store, Node{Entries: []Entry{fileEntry("ab", 3)}}), 1, 3}}}), "a"},
		{"page is an index", put(t, store, Node{Pages: []Page{{"a", p1, 2, 3}, {"c", index, 1, 3}}}), "c"},
		{"directory size", put(t, store, Node{Entries: []Entry{{Name: "d", Kind: KindDir, Root: sub, Size: 2}}}), "d/a"},
		{"missing directory block", put(t, store, Node{Entries: []Entry{{Name: "d", Kind: KindDir, Root: cid.Sum(cid.DagCBOR, []byte("?")), Size: 0}}}), ""},
	}
	for _, tc := range tests {
		var err error
		if tc.path != "" {
			_, err = Lookup(ctx, store, tc.root, tc.path)
		} else {
			// the target block is missing: not malformed, but an error
			err = Walk(ctx, store, tc.root, func(string, Entry) error { return nil })
			if err == nil {
				t.Errorf("%s: Walk succeeded", tc.name)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Lookup(%s) = %v, want ErrMalformed", tc.name, tc.path, err)
		}
		if err := Walk(ctx, store, tc.root, func(string, Entry) error { return nil }); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Walk = %v, want ErrMalformed", tc.name, err)
		}
	}
	// The consistent index reads fine.
	if ents, err := List(ctx, store, index, ""); err != nil || len(ents) != 3 {
		t.Errorf("List(index) = %v, %v", ents, err)
	}
}

func TestBlocks(t *testing.T) {
	setMaxEntries(t, 3)
	store := newStore()
	s := spec{}
	for k, v := range sample {
		s[k] = v
	}
	for i := range 8 { // a paged directory, and a file that repeats
		s[fmt.Sprintf("many/f%d", i)] = fmt.Sprint("content ", i%3)
	}
	s["copy/guide.md"] = sample["docs/guide.md"]
	s["copy2/img/logo.png"] = sample["docs/img/logo.png"] // copy2/img is the same subtree as docs/img
	s["copy2/img/empty"] = ""
	root := build(t, store, s)
	want := allBlocks(t, store)

	got := map[cid.CID]int{}
	if err := Blocks(ctx, store, root, func(c cid.CID) error {
		got[c]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for c, n := range got {
		if n != 1 {
			t.Errorf("%s reported %d times", c, n)
		}
		if !want[c] {
			t.Errorf("%s reported but not stored", c)
		}
	}
	for c := range want {
		if got[c] == 0 {
			t.Errorf("%s stored but not reported", c)
		}
	}
	if len(got) < 20 {
		t.Errorf("only %d blocks", len(got))
	}

	stop := errors.New("stop")
	if err := Blocks(ctx, store, root, func(cid.CID) error { return stop }); err != stop {
		t.Errorf("Blocks error from fn = %v", err)
	}
}

// TestDepthLimit: Build writes 256 levels and Walk reads them; a tree one
// level deeper, planted by hand, is refused by every walker.
func TestDepthLimit(t *testing.T) {
	store := newStore()
	chain := func(levels int) cid.CID {
		c := put(t, store, Node{})
		for range levels {
			c = put(t, store, Node{Entries: []Entry{{Name: "d", Kind: KindDir, Root: c, ModTime: epoch}}})
		}
		return c
	}
	ok, deep := chain(maxDepth), chain(maxDepth+1)
	if n := len(walkAll(t, store, ok)); n != maxDepth {
		t.Errorf("Walk of %d levels visited %d", maxDepth, n)
	}
	built, _, err := Build(ctx, store, func(d string) ([]Entry, error) {
		if strings.Count(d, "/") < maxDepth-1 || d == "" {
			return []Entry{{Name: "d", Kind: KindDir, ModTime: epoch}}, nil
		}
		return nil, nil
	})
	if err != nil || built != ok {
		t.Errorf("Build of %d levels = %s, %v; planted %s", maxDepth, built, err, ok)
	}
	if err := Walk(ctx, store, deep, func(string, Entry) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Errorf("Walk of %d levels = %v", maxDepth+1, err)
	}
	if err := Blocks(ctx, store, deep, func(cid.CID) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Errorf("Blocks of %d levels = %v", maxDepth+1, err)
	}
	if err := Diff(ctx, store, cid.Undef, deep, func(Change) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Errorf("Diff of %d levels = %v", maxDepth+1, err)
	}
	if err := Diff(ctx, store, ok, deep, func(Change) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Errorf("Diff of %d against %d levels = %v", maxDepth, maxDepth+1, err)
	}
}

// TestListPage reads directories a page at a time, in unpaged and paged
// directories, with names after present and absent and limits across the
// node's page boundaries: each answer is the slice of List after after,
// and reading it fetches the directory's node and only the pages it needs.
func TestListPage(t *testing.T) {
	setMaxEntries(t, 10)
	for _, n := range []int{0, 7, 10, 35} {
		store := newStore()
		root, _, err := Build(ctx, store, flatDir(t, store, n))
		if err != nil {
			t.Fatal(err)
		}
		all, err := List(ctx, store, root, "")
		if err != nil {
			t.Fatal(err)
		}
		afters := []string{"", "a", "f0000", "f0006", "f0009", "f0009x", "f0010", "f0019", "f0020a", "f0034", "g"}
		for _, after := range afters {
			for _, limit := range []int{1, 3, 9, 10, 11, 20, 35, 100} {
				t.Run(fmt.Sprintf("n=%d/after=%q/limit=%d", n, after, limit), func(t *testing.T) {
					g := &countingGetter{Getter: store}
					got, more, err := ListPage(ctx, g, root, "", after, limit)
					if err != nil {
						t.Fatal(err)
					}
					rest := all[sort.Search(len(all), func(i int) bool { return all[i].Name > after }):]
					want, wantMore := rest, false
					if len(rest) > limit {
						want, wantMore = rest[:limit], true
					}
					if !slices.EqualFunc(got, want, func(a, b Entry) bool { return a.Name == b.Name && a.Root == b.Root }) || more != wantMore {
						t.Fatalf("got %d entries (more %v), want %d (more %v)", len(got), more, len(want), wantMore)
					}
					// The root, then the pages that hold the answer: at most
					// one more than the answer fills.
					if n > 10 {
						if most := int64(1 + (limit+9)/10 + 1); g.n.Load() > most {
							t.Fatalf("read %d blocks, want at most %d", g.n.Load(), most)
						}
					}
				})
			}
		}
	}
	store := newStore()
	root, _, _ := Build(ctx, store, flatDir(t, store, 3))
	if _, _, err := ListPage(ctx, store, root, "", "", 0); err == nil {
		t.Error("ListPage with limit 0 succeeded")
	}
	if _, _, err := ListPage(ctx, store, root, "f0000", "", 1); !errors.Is(err, ErrNotDir) {
		t.Errorf("ListPage of a file: %v", err)
	}
	if _, _, err := ListPage(ctx, store, root, "nope", "", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListPage of nothing: %v", err)
	}
}

// TestListPageBoundedMemory: a page of 1000 entries of a directory of
// 100,000 allocates a small part of what listing it whole does (it reads
// the index node and at most two of its 25 pages), wherever the page
// starts. Allocation is counted by the runtime, not timed.
func TestListPageBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds a directory of 100,000 entries")
	}
	const n = 100_000
	store := newStore()
	root, _, err := Build(ctx, store, flatDir(t, store, n))
	if err != nil {
		t.Fatal(err)
	}
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	whole := allocated(func() {
		if ents, err := List(ctx, store, root, ""); err != nil || len(ents) != n {
			t.Fatalf("List: %d entries, %v", len(ents), err)
		}
	})
	for _, after := range []string{"", "f04095", "f50000", "f99500"} {
		page := allocated(func() {
			if ents, _, err := ListPage(ctx, store, root, "", after, 1000); err != nil || len(ents) == 0 {
				t.Fatalf("ListPage after %q: %d entries, %v", after, len(ents), err)
			}
		})
		t.Logf("after %q: a page allocated %d KiB, the whole listing %d KiB", after, page>>10, whole>>10)
		if page > whole/8 {
			t.Errorf("after %q: a page of 1000 allocated %d KiB, more than 1/8 of the whole listing's %d KiB", after, page>>10, whole>>10)
		}
	}
}
