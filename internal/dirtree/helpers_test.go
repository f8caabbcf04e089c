package dirtree

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/memstore"
	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/filetree"
)

// smallChunks makes files of a few hundred bytes into multi-block trees.
var smallChunks = chunker.Params{Min: 64, Avg: 128, Max: 256}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// countingGetter counts the blocks fetched through it.
type countingGetter struct {
	filetree.Getter
	n atomic.Int64
}

func (g *countingGetter) Get(ctx context.Context, c cid.CID) ([]byte, error) {
	g.n.Add(1)
	return g.Getter.Get(ctx, c)
}

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
}

// setMaxEntries lowers the paging threshold for one test.
func setMaxEntries(t testing.TB, n int) {
	t.Helper()
	old := maxEntries
	maxEntries = n
	t.Cleanup(func() { maxEntries = old })
}

// writeFile stores data as a file and returns its entry (without a name).
func writeFile(t tb, store filetree.Putter, data string) Entry {
	t.Helper()
	root, size, err := filetree.Write(context.Background(), strings.NewReader(data), store, smallChunks, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Entry{Kind: KindFile, Root: root, Size: uint64(size), MIME: "text/plain", ModTime: epoch.Add(time.Duration(len(data)) * time.Millisecond)}
}

// spec describes a tree: file path → content; a path ending in "/" is an
// (otherwise empty) directory. Parent directories are implied.
type spec map[string]string

// lister turns a spec into Build's list function, storing the files in
// store. Entries come back in a shuffled order (reversed) to show that
// order does not matter.
func (s spec) lister(t testing.TB, store filetree.Putter) func(string) ([]Entry, error) {
	t.Helper()
	dirs := map[string]map[string]Entry{"": {}}
	var addDir func(p string)
	addDir = func(p string) {
		if _, ok := dirs[p]; ok {
			return
		}
		dirs[p] = map[string]Entry{}
		parent, name := path.Split(p)
		parent = strings.TrimSuffix(parent, "/")
		addDir(parent)
		dirs[parent][name] = Entry{Name: name, Kind: KindDir, ModTime: epoch}
	}
	for p, content := range s {
		if strings.HasSuffix(p, "/") {
			addDir(strings.TrimSuffix(p, "/"))
			continue
		}
		parent, name := path.Split(p)
		parent = strings.TrimSuffix(parent, "/")
		addDir(parent)
		e := writeFile(t, store, content)
		e.Name = name
		dirs[parent][name] = e
	}
	return func(dir string) ([]Entry, error) {
		m, ok := dirs[dir]
		if !ok {
			return nil, fmt.Errorf("no directory %q in spec", dir)
		}
		var out []Entry
		for _, e := range m {
			out = append(out, e)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
		return out, nil
	}
}

func build(t testing.TB, store filetree.Putter, s spec) cid.CID {
	t.Helper()
	root, _, err := Build(context.Background(), store, s.lister(t, store))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type walked struct {
	Path string
	E    Entry
}

func walkAll(t tb, get filetree.Getter, root cid.CID) []walked {
	t.Helper()
	var out []walked
	if err := Walk(context.Background(), get, root, func(p string, e Entry) error {
		out = append(out, walked{p, e})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func paths(ws []walked) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path)
	}
	return out
}

func newStore() *memstore.Store { return memstore.New() }

func readFile(t testing.TB, get filetree.Getter, root cid.CID) string {
	t.Helper()
	r, err := filetree.Open(context.Background(), get, root)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func allBlocks(t testing.TB, s *memstore.Store) map[cid.CID]bool {
	t.Helper()
	out := map[cid.CID]bool{}
	if err := s.Enumerate(context.Background(), func(c cid.CID, _ int) error {
		out[c] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
