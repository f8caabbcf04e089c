package filetree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/peer-node/peer/internal/chunker"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/codec"
)

func leafLink(data []byte) Link { return Link{CID: cid.Sum(cid.Raw, data), Size: uint64(len(data))} }

func mustEncodeWire(t *testing.T, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeNodeRejects(t *testing.T) {
	a, b := leafLink([]byte("aaaa")), leafLink([]byte("bb"))
	good := Node{Size: 6, Children: []Link{a, b}}
	enc, err := EncodeNode(good)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := DecodeNode(enc); err != nil || n.Size != 6 || len(n.Children) != 2 || n.Children[1] != b {
		t.Fatalf("DecodeNode(good) = %+v, %v", n, err)
	}
	nodeCID := cid.Sum(cid.DagCBOR, enc)
	many := make([]linkWire, MaxFanout+1)
	for i := range many {
		many[i] = a.wire()
	}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty input":     {nil, ErrMalformed},
		"garbage":         {[]byte("not cbor at all"), ErrMalformed},
		"not an array":    {mustEncodeWire(t, map[string]int{"v": 1}), ErrMalformed},
		"empty array":     {mustEncodeWire(t, []int{}), ErrMalformed},
		"version 2":       {mustEncodeWire(t, nodeWire{Version: 2, Size: 6, Children: []linkWire{a.wire(), b.wire()}}), ErrUnsupportedVersion},
		"version 0":       {mustEncodeWire(t, nodeWire{Version: 0, Size: 6, Children: []linkWire{a.wire(), b.wire()}}), ErrUnsupportedVersion},
		"future shape":    {mustEncodeWire(t, []any{7, "something new"}), ErrUnsupportedVersion},
		"sizes disagree":  {mustEncodeWire(t, nodeWire{Version: 1, Size: 7, Children: []linkWire{a.wire(), b.wire()}}), ErrMalformed},
		"no children":     {mustEncodeWire(t, nodeWire{Version: 1, Size: 0}), ErrMalformed},
		"too many":        {mustEncodeWire(t, nodeWire{Version: 1, Size: 4 * uint64(len(many)), Children: many}), ErrMalformed},
		"empty child":     {mustEncodeWire(t, nodeWire{Version: 1, Size: 4, Children: []linkWire{a.wire(), leafLink(nil).wire()}}), ErrMalformed},
		"mixed kinds":     {mustEncodeWire(t, nodeWire{Version: 1, Size: 10, Children: []linkWire{a.wire(), {CID: nodeCID.Bytes(), Size: 6}}}), ErrMalformed},
		"bad CID":         {mustEncodeWire(t, nodeWire{Version: 1, Size: 4, Children: []linkWire{{CID: []byte("nope"), Size: 4}}}), ErrMalformed},
		"huge leaf":       {mustEncodeWire(t, nodeWire{Version: 1, Size: 1 << 30, Children: []linkWire{{CID: a.CID.Bytes(), Size: 1 << 30}}}), ErrMalformed},
		"size overflow":   {mustEncodeWire(t, nodeWire{Version: 1, Size: 1, Children: []linkWire{{CID: nodeCID.Bytes(), Size: 1 << 63}, {CID: nodeCID.Bytes(), Size: 1 << 63}}}), ErrMalformed},
		"extra field":     {mustEncodeWire(t, []any{1, 6, []linkWire{a.wire(), b.wire()}, 0}), ErrMalformed},
		"trailing bytes":  {append(bytes.Clone(enc), 0), ErrMalformed},
		"non-canonical":   {nonCanonical(enc), ErrMalformed},
		"file root bytes": {mustEncodeWire(t, rootWire{Version: 1, Algorithm: "x", Min: 64, Avg: 128, Max: 256, Root: linkWire{CID: nodeCID.Bytes(), Size: 6}}), ErrMalformed},
	}
	for name, tc := range cases {
		if _, err := DecodeNode(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: DecodeNode = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := EncodeNode(Node{Size: 7, Children: []Link{a, b}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeNode accepted a bad node: %v", err)
	}
}

// nonCanonical re-encodes the node's leading array header in a longer form.
func nonCanonical(enc []byte) []byte {
	if enc[0] != 0x83 {
		panic("expected a 3-element array")
	}
	return append([]byte{0x98, 0x03}, enc[1:]...)
}

func TestDecodeFileRootRejects(t *testing.T) {
	node, _ := EncodeNode(Node{Size: 4, Children: []Link{leafLink([]byte("aaaa"))}})
	nl := Link{CID: cid.Sum(cid.DagCBOR, node), Size: 4}
	good := FileRoot{Algorithm: chunker.Algorithm, Min: 64, Avg: 128, Max: 256, Root: nl}
	enc, err := EncodeFileRoot(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeFileRoot(enc); err != nil || got != good {
		t.Fatalf("DecodeFileRoot(good) = %+v, %v", got, err)
	}
	w := func(v uint16, alg string, minSize, avg, maxSize uint32, root Link) []byte {
		return mustEncodeWire(t, rootWire{Version: v, Algorithm: alg, Min: minSize, Avg: avg, Max: maxSize, Root: root.wire()})
	}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"version 9":        {w(9, "a", 64, 128, 256, nl), ErrUnsupportedVersion},
		"no algorithm":     {w(1, "", 64, 128, 256, nl), ErrMalformed},
		"long algorithm":   {w(1, string(make([]byte, 65)), 64, 128, 256, nl), ErrMalformed},
		"bad params":       {w(1, "a", 64, 100, 256, nl), ErrMalformed},
		"leaf root":        {w(1, "a", 64, 128, 256, leafLink([]byte("aaaa"))), ErrMalformed},
		"zero size":        {w(1, "a", 64, 128, 256, Link{CID: nl.CID}), ErrMalformed},
		"node bytes":       {node, ErrMalformed},
		"garbage":          {[]byte{0xff}, ErrMalformed},
		"future root":      {mustEncodeWire(t, []any{2}), ErrUnsupportedVersion},
		"missing root":     {mustEncodeWire(t, []any{1, "a", 64, 128, 256}), ErrMalformed},
		"text for version": {mustEncodeWire(t, []any{"1", "a", 64, 128, 256, nl.wire()}), ErrMalformed},
	}
	for name, tc := range cases {
		if _, err := DecodeFileRoot(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: DecodeFileRoot = %v, want %v", name, err, tc.want)
		}
	}
}

// plant stores a hand-made tree: FileRoot -> nodes..., returning the root.
func plant(t *testing.T, s *memStore, top Link) cid.CID {
	t.Helper()
	enc, err := EncodeFileRoot(FileRoot{Algorithm: chunker.Algorithm, Min: 64, Avg: 128, Max: 256, Root: top})
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum(cid.DagCBOR, enc)
	s.set(c, enc)
	return c
}

func putNode(t *testing.T, s *memStore, n Node) Link {
	t.Helper()
	enc, err := EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.Sum(cid.DagCBOR, enc)
	s.set(c, enc)
	return Link{CID: c, Size: n.Size}
}

func readAll(ctx context.Context, s *memStore, root cid.CID) error {
	r, err := Open(ctx, s, root)
	if err != nil {
		return err
	}
	_, err = io.ReadAll(r)
	return err
}

func TestCorruptTrees(t *testing.T) {
	ctx := context.Background()
	walkAll := func(s *memStore, root cid.CID) error {
		return Walk(ctx, s, root, func(cid.CID) error { return nil })
	}

	t.Run("leaf shorter than its link", func(t *testing.T) {
		s := newMemStore()
		leaf := []byte("0123456789")
		l := leafLink(leaf)
		s.set(l.CID, leaf)
		l.Size = 11 // claims one byte more
		n := putNode(t, s, Node{Size: 22, Children: []Link{l, l}})
		root := plant(t, s, n)
		if err := readAll(ctx, s, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("node size differs from its link", func(t *testing.T) {
		s := newMemStore()
		leaf := []byte("0123456789")
		l := leafLink(leaf)
		s.set(l.CID, leaf)
		n := putNode(t, s, Node{Size: 10, Children: []Link{l}})
		n.Size = 20
		root := plant(t, s, putNode(t, s, Node{Size: 20, Children: []Link{n}}))
		if err := readAll(ctx, s, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("read: %v", err)
		}
		if err := walkAll(s, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("walk: %v", err)
		}
	})
	t.Run("too deep", func(t *testing.T) {
		s := newMemStore()
		leaf := []byte("x")
		l := leafLink(leaf)
		s.set(l.CID, leaf)
		for range MaxDepth + 1 {
			l = putNode(t, s, Node{Size: 1, Children: []Link{l}})
		}
		root := plant(t, s, l)
		if err := readAll(ctx, s, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("read: %v", err)
		}
		if err := walkAll(s, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("walk: %v", err)
		}
	})
	t.Run("corrupted blocks", func(t *testing.T) {
		data := pseudoRandom("corrupt", 20000)
		s, root := roundTrip(t, data, smallParams)
		for c, b := range s.blocks {
			bad := bytes.Clone(b)
			bad[len(bad)/2] ^= 1
			s.set(c, bad)
			err := readAll(ctx, s, root)
			if !errors.Is(err, cid.ErrIntegrity) {
				t.Fatalf("block %s corrupted: read gives %v", c, err)
			}
			s.set(c, b)
		}
	})
	t.Run("unknown version", func(t *testing.T) {
		s := newMemStore()
		enc := mustEncodeWire(t, []any{2, "a new kind of root"})
		c := cid.Sum(cid.DagCBOR, enc)
		s.set(c, enc)
		if _, err := Open(ctx, s, c); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("Open: %v", err)
		}
		if err := walkAll(s, c); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("Walk: %v", err)
		}
	})
	t.Run("node is not a file root", func(t *testing.T) {
		data := pseudoRandom("not root", 20000)
		s, root := roundTrip(t, data, smallParams)
		r, _ := Open(ctx, s, root)
		info, _ := r.Info()
		if _, err := Open(ctx, s, info.Root.CID); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Open(node): %v", err)
		}
	})
	t.Run("missing block", func(t *testing.T) {
		data := pseudoRandom("missing", 20000)
		s, root := roundTrip(t, data, smallParams)
		delete(s.blocks, cid.Sum(cid.Raw, data[:boundaries(data, smallParams)[0]]))
		if err := readAll(ctx, s, root); !errors.Is(err, errNotFound) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("walk stops on fn error", func(t *testing.T) {
		data := pseudoRandom("walk stop", 20000)
		s, root := roundTrip(t, data, smallParams)
		stop := errors.New("stop")
		calls := 0
		err := Walk(ctx, s, root, func(cid.CID) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Fatalf("Walk = %v after %d calls", err, calls)
		}
	})
}

// FuzzDecodeNode: the node decoder never panics, and whatever it accepts
// re-encodes to the same bytes.
func FuzzDecodeNode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		again, err := EncodeNode(n)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted node does not re-encode: %v", err)
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzDecodeNode when
// PEER_WRITE_FUZZ_SEEDS=1 (and otherwise checks the seeds are present).
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeNode")
	if os.Getenv("PEER_WRITE_FUZZ_SEEDS") == "" {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) == 0 {
			t.Fatalf("no fuzz seeds in %s: %v", dir, err)
		}
		return
	}
	a, b := leafLink([]byte("aaaa")), leafLink([]byte("bb"))
	good, _ := EncodeNode(Node{Size: 6, Children: []Link{a, b}})
	inner, _ := EncodeNode(Node{Size: 6, Children: []Link{{CID: cid.Sum(cid.DagCBOR, good), Size: 6}}})
	seeds := map[string][]byte{
		"leaves":         good,
		"nodes":          inner,
		"version2":       mustEncodeWire(t, nodeWire{Version: 2, Size: 6, Children: []linkWire{a.wire(), b.wire()}}),
		"sizes-disagree": mustEncodeWire(t, nodeWire{Version: 1, Size: 7, Children: []linkWire{a.wire(), b.wire()}}),
		"empty":          mustEncodeWire(t, nodeWire{Version: 1}),
		"noncanonical":   nonCanonical(good),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
