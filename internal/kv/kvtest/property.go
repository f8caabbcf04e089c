package kvtest

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/peer-node/peer/internal/kv"
)

// A small alphabet crowded at the edges, so that random keys collide, share
// prefixes and exercise 0xff carries.
var (
	genKey   = rapid.SliceOfN(rapid.SampledFrom([]byte{0x01, 0x02, 'a', 'b', 0xfe, 0xff}), 1, 4)
	genBound = rapid.OneOf(rapid.Just([]byte(nil)), rapid.SliceOfN(rapid.SampledFrom([]byte{0x00, 0x01, 'a', 'b', 0xfe, 0xff}), 1, 3))
	genValue = rapid.SliceOfN(rapid.Byte(), 0, 16)
)

type model map[string]string

// testProperty applies random operation sequences to a store and to a Go map
// and compares them after every step.
func testProperty(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		s := open(t)
		defer s.Close()
		m := model{}

		rt.Repeat(map[string]func(*rapid.T){
			"set": func(rt *rapid.T) {
				k, v := genKey.Draw(rt, "key"), genValue.Draw(rt, "value")
				if err := s.Set(k, v); err != nil {
					rt.Fatalf("Set: %v", err)
				}
				m[string(k)] = string(v)
			},
			"delete": func(rt *rapid.T) {
				k := genKey.Draw(rt, "key")
				if err := s.Delete(k); err != nil {
					rt.Fatalf("Delete: %v", err)
				}
				delete(m, string(k))
			},
			"batch": func(rt *rapid.T) {
				b := s.NewBatch()
				next := maps.Clone(m)
				n := rapid.IntRange(0, 8).Draw(rt, "ops")
				for i := 0; i < n; i++ {
					k := genKey.Draw(rt, "key")
					if rapid.Bool().Draw(rt, "delete") {
						if err := b.Delete(k); err != nil {
							rt.Fatalf("Batch.Delete: %v", err)
						}
						delete(next, string(k))
					} else {
						v := genValue.Draw(rt, "value")
						if err := b.Set(k, v); err != nil {
							rt.Fatalf("Batch.Set: %v", err)
						}
						next[string(k)] = string(v)
					}
				}
				if b.Len() != n {
					rt.Fatalf("Batch.Len = %d; want %d", b.Len(), n)
				}
				if rapid.Bool().Draw(rt, "discard") {
					b.Discard()
					return
				}
				if err := b.Commit(); err != nil {
					rt.Fatalf("Commit: %v", err)
				}
				m = next
			},
			"get": func(rt *rapid.T) {
				k := genKey.Draw(rt, "key")
				checkGet(rt, s, m, k)
			},
			"scan": func(rt *rapid.T) {
				o := kv.IterOptions{
					Prefix:  genBound.Draw(rt, "prefix"),
					Start:   genBound.Draw(rt, "start"),
					End:     genBound.Draw(rt, "end"),
					Reverse: rapid.Bool().Draw(rt, "reverse"),
				}
				checkScan(rt, s, m, o)
			},
			"snapshot": func(rt *rapid.T) {
				sn, err := s.Snapshot()
				if err != nil {
					rt.Fatalf("Snapshot: %v", err)
				}
				defer sn.Close()
				frozen := maps.Clone(m)
				// Change the store after the snapshot...
				for i := rapid.IntRange(1, 4).Draw(rt, "writes"); i > 0; i-- {
					k := genKey.Draw(rt, "key")
					if rapid.Bool().Draw(rt, "delete") {
						if err := s.Delete(k); err != nil {
							rt.Fatal(err)
						}
						delete(m, string(k))
					} else {
						v := genValue.Draw(rt, "value")
						if err := s.Set(k, v); err != nil {
							rt.Fatal(err)
						}
						m[string(k)] = string(v)
					}
				}
				// ...and the snapshot still shows the old state.
				checkScan(rt, sn, frozen, kv.IterOptions{})
				checkScan(rt, sn, frozen, kv.IterOptions{Reverse: true})
				checkGet(rt, sn, frozen, genKey.Draw(rt, "key"))
			},
			"": func(rt *rapid.T) {
				checkScan(rt, s, m, kv.IterOptions{})
			},
		})
	})
}

func checkGet(rt *rapid.T, r kv.Reader, m model, k []byte) {
	v, err := r.Get(k)
	want, ok := m[string(k)]
	switch {
	case ok && (err != nil || string(v) != want):
		rt.Fatalf("Get(%q) = %q, %v; want %q", k, v, err, want)
	case !ok && !errors.Is(err, kv.ErrNotFound):
		rt.Fatalf("Get(%q) = %q, %v; want ErrNotFound", k, v, err)
	}
	has, err := r.Has(k)
	if err != nil || has != ok {
		rt.Fatalf("Has(%q) = %v, %v; want %v", k, has, err, ok)
	}
}

func checkScan(rt *rapid.T, r kv.Reader, m model, o kv.IterOptions) {
	wantKeys := modelSelect(slices.Collect(maps.Keys(m)), o)
	it := r.Iter(o)
	defer it.Close()
	var i int
	for ; it.Next(); i++ {
		if i >= len(wantKeys) {
			rt.Fatalf("scan %s: extra key %q (want %q)", fmtOpts(o), it.Key(), wantKeys)
		}
		if k := string(it.Key()); k != wantKeys[i] || string(it.Value()) != m[k] {
			rt.Fatalf("scan %s: entry %d = %q=%q; want %q=%q", fmtOpts(o), i, k, it.Value(), wantKeys[i], m[wantKeys[i]])
		}
	}
	if err := it.Err(); err != nil {
		rt.Fatalf("scan %s: %v", fmtOpts(o), err)
	}
	if i != len(wantKeys) {
		rt.Fatalf("scan %s: got %d keys; want %q", fmtOpts(o), i, wantKeys)
	}
}
