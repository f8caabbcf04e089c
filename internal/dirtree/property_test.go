package dirtree

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/cid"
	"pgregory.net/rapid"
)

// tnode is the model of a directory in the property tests.
type tnode struct {
	mod   time.Time
	files map[string]Entry
	dirs  map[string]*tnode
}

// Names chosen so that bytewise name order and full-path order differ
// ('-' < '.' < '/' < 'b').
var propNames = []string{"a", "a-b", "a.b", "ab", "b", "B", "ä", "a b", "..x", "z1", "z10", "z2"}

var propContents = []string{"", "x", "hello", strings.Repeat("chunky ", 100)}

type propGen struct {
	store *memstore.Store
	roots map[string]cid.CID // file content → root
}

func (g *propGen) file(t *rapid.T, name string) Entry {
	content := rapid.SampledFrom(propContents).Draw(t, "content")
	root, ok := g.roots[content]
	if !ok {
		e := writeFile(t, g.store, content)
		root, g.roots[content] = e.Root, e.Root
	}
	return Entry{
		Name: name, Kind: KindFile, Root: root, Size: uint64(len(content)),
		MIME:    rapid.SampledFrom([]string{"", "text/plain", "application/octet-stream"}).Draw(t, "mime"),
		ModTime: time.UnixMilli(rapid.Int64Range(-2, 2).Draw(t, "ms")).UTC(),
	}
}

func (g *propGen) tree(t *rapid.T, depth int) *tnode {
	n := &tnode{mod: time.UnixMilli(rapid.Int64Range(0, 1).Draw(t, "dirms")).UTC(), files: map[string]Entry{}, dirs: map[string]*tnode{}}
	for range rapid.IntRange(0, len(propNames)).Draw(t, "entries") {
		g.add(t, n, depth)
	}
	return n
}

func (g *propGen) add(t *rapid.T, n *tnode, depth int) {
	name := rapid.SampledFrom(propNames).Draw(t, "name")
	delete(n.files, name)
	delete(n.dirs, name)
	if depth < 3 && rapid.IntRange(0, 2).Draw(t, "isDir") == 0 {
		n.dirs[name] = g.tree(t, depth+1)
	} else {
		n.files[name] = g.file(t, name)
	}
}

// mutate returns a copy of n with a few random edits.
func (g *propGen) mutate(t *rapid.T, n *tnode, depth int) *tnode {
	m := &tnode{mod: n.mod, files: maps.Clone(n.files), dirs: maps.Clone(n.dirs)}
	for _, name := range slices.Sorted(maps.Keys(n.files)) {
		switch rapid.IntRange(0, 9).Draw(t, "fileEdit") {
		case 0:
			delete(m.files, name)
		case 1:
			m.files[name] = g.file(t, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(n.dirs)) {
		switch rapid.IntRange(0, 9).Draw(t, "dirEdit") {
		case 0:
			delete(m.dirs, name)
		case 1, 2, 3:
			m.dirs[name] = g.mutate(t, n.dirs[name], depth+1)
		}
	}
	if rapid.IntRange(0, 3).Draw(t, "addOne") == 0 {
		g.add(t, m, depth)
	}
	return m
}

func (n *tnode) lister() func(string) ([]Entry, error) {
	return func(dir string) ([]Entry, error) {
		d := n
		if dir != "" {
			for _, seg := range strings.Split(dir, "/") {
				if d = d.dirs[seg]; d == nil {
					return nil, fmt.Errorf("no directory %q", dir)
				}
			}
		}
		var out []Entry
		for _, e := range d.files {
			out = append(out, e)
		}
		for name, sub := range d.dirs {
			out = append(out, Entry{Name: name, Kind: KindDir, ModTime: sub.mod})
		}
		return out, nil
	}
}

// expect is what Walk must give for the model, in walk order; directory
// entries carry their Size but not their Root.
func (n *tnode) expect(prefix string, out *[]walked) uint64 {
	names := slices.Collect(maps.Keys(n.files))
	names = append(names, slices.Collect(maps.Keys(n.dirs))...)
	slices.Sort(names)
	var total uint64
	for _, name := range names {
		p := join(prefix, name)
		if e, ok := n.files[name]; ok {
			*out = append(*out, walked{p, e})
			total += e.Size
			continue
		}
		i := len(*out)
		*out = append(*out, walked{p, Entry{Name: name, Kind: KindDir, ModTime: n.dirs[name].mod}})
		size := n.dirs[name].expect(p, out)
		(*out)[i].E.Size = size
		total += size
	}
	return total
}

func comparable(ws []walked) []walked {
	out := slices.Clone(ws)
	for i := range out {
		if out[i].E.Kind == KindDir {
			out[i].E.Root = cid.Undef
		}
	}
	return out
}

func TestPropertyBuildWalkDiff(t *testing.T) {
	setMaxEntries(t, 4) // directories of 5..12 entries are paged
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		g := &propGen{store: memstore.New(), roots: map[string]cid.CID{}}
		ta := g.tree(t, 0)
		var tb *tnode
		if rapid.Bool().Draw(t, "related") {
			tb = g.mutate(t, ta, 0)
		} else {
			tb = g.tree(t, 0)
		}
		ra, sizeA, err := Build(ctx, g.store, ta.lister())
		if err != nil {
			t.Fatal(err)
		}
		rb, _, err := Build(ctx, g.store, tb.lister())
		if err != nil {
			t.Fatal(err)
		}

		var wantA []walked
		if total := ta.expect("", &wantA); total != sizeA {
			t.Fatalf("Build size %d, model %d", sizeA, total)
		}
		gotA := walkAll(t, g.store, ra)
		if !slices.Equal(comparable(gotA), wantA) {
			t.Fatalf("Walk gives\n%v\nmodel\n%v", gotA, wantA)
		}
		for _, w := range gotA {
			e, err := Lookup(ctx, g.store, ra, w.Path)
			if err != nil || e != w.E {
				t.Fatalf("Lookup(%s) = %+v, %v; Walk gave %+v", w.Path, e, err, w.E)
			}
		}

		// Diff(a, b) applied to a's entries gives b's.
		state := map[string]Entry{}
		for _, w := range gotA {
			state[w.Path] = w.E
		}
		err = Diff(ctx, g.store, ra, rb, func(c Change) error {
			old, had := state[c.Path]
			switch c.Op {
			case Added:
				if had {
					t.Fatalf("Added %s, which exists", c.Path)
				}
				state[c.Path] = c.New
			case Removed:
				if !had || old != c.Old {
					t.Fatalf("Removed %s: had %v %+v, change says %+v", c.Path, had, old, c.Old)
				}
				delete(state, c.Path)
			case Changed:
				if !had || old != c.Old || c.Old.Kind != KindFile || c.New.Kind != KindFile || c.Old == c.New {
					t.Fatalf("Changed %s: had %v %+v, change %+v", c.Path, had, old, c)
				}
				state[c.Path] = c.New
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		gotB := walkAll(t, g.store, rb)
		if len(state) != len(gotB) {
			t.Fatalf("after Diff: %d paths, b has %d", len(state), len(gotB))
		}
		for _, w := range gotB {
			s, ok := state[w.Path]
			if !ok || s.Kind != w.E.Kind || (w.E.Kind == KindFile && s != w.E) {
				t.Fatalf("after Diff, %s is %+v (present %v), b has %+v", w.Path, s, ok, w.E)
			}
		}
		if (ra == rb) != slices.Equal(gotA, gotB) {
			t.Fatalf("roots equal %v, walks equal %v", ra == rb, !(ra == rb))
		}
	})
}
