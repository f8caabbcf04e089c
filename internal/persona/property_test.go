package persona

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"pgregory.net/rapid"
)

// simulate runs devices A, B, C and D of one persona writing on their own
// stores and syncing with each other in an order rapid draws, with at most
// one revoke of C by A and one by B on the way, and C introducing D (so a
// revoke of C below that entry takes D's authority away), and returns
// every entry any of them wrote.
func simulate(t *rapid.T, f *fixture) []*Entry {
	names := []string{"A", "B", "C", "D"}
	stores := map[string]*Store{}
	for _, n := range names {
		stores[n] = f.open(t)
	}
	var all []*Entry
	keep := func(e *Entry, err error) {
		if err == nil {
			all = append(all, e)
		}
	}
	keep(stores["A"].Write(f.dev["A"], KindDevice, f.pub("A"), f.deviceValue(t, "A")))
	keep(stores["A"].Write(f.dev["A"], KindDevice, f.pub("B"), f.deviceValue(t, "B")))
	keep(stores["A"].Write(f.dev["A"], KindDevice, f.pub("C"), f.deviceValue(t, "C")))
	sync := func(from, to string) {
		for _, e := range stores[from].Missing(stores[to].Version(), 0) {
			if _, err := stores[to].Apply(e); err != nil && !errors.Is(err, identity.ErrRevoked) {
				t.Fatalf("sync %s→%s: %v", from, to, err)
			}
		}
	}
	sync("A", "B")
	sync("A", "C")
	revoked := map[string]bool{}
	steps := rapid.IntRange(1, 40).Draw(t, "steps")
	for range steps {
		switch rapid.IntRange(0, 9).Draw(t, "action") {
		case 0, 1, 2:
			from := rapid.SampledFrom(names).Draw(t, "from")
			to := rapid.SampledFrom(names).Draw(t, "to")
			if from != to {
				sync(from, to)
			}
		case 9:
			if revoked["D"] {
				continue
			}
			revoked["D"] = true // introduced
			e, err := stores["C"].Write(f.dev["C"], KindDevice, f.pub("D"), f.deviceValue(t, "D"))
			if err != nil && !errors.Is(err, identity.ErrRevoked) {
				t.Fatalf("C introduces D: %v", err)
			}
			keep(e, err)
		case 3:
			by := rapid.SampledFrom([]string{"A", "B"}).Draw(t, "revoker")
			if revoked[by] {
				continue
			}
			revoked[by] = true
			cut := stores[by].Version().Heads[string(f.pub("C"))]
			keep(stores[by].Write(f.dev[by], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: cut})))
		default: // 4 to 8
			n := rapid.SampledFrom(names).Draw(t, "writer")
			var kind Kind
			var key, value []byte
			switch rapid.IntRange(0, 3).Draw(t, "kind") {
			case 0:
				kind, key = KindContact, contactKey(rapid.IntRange(0, 2).Draw(t, "contact"))
				if rapid.Bool().Draw(t, "delete") {
					value = nil
				} else {
					value = mustEncode(t, ContactValue{Name: n, Added: int64(len(all))})
				}
			case 1:
				kind, key, value = KindBlock, []byte{byte(rapid.IntRange(1, 3).Draw(t, "blocked"))}, BlockedValue
			case 2:
				kind, value = KindProfile, mustEncode(t, ProfileValue{Name: n, About: string(rune('a' + len(all)%26))})
			default:
				var id [8]byte
				id[0] = byte(rapid.IntRange(0, 3).Draw(t, "keyid"))
				kind, key = KindEncKey, EncKeyKey(1, 1, id)
				value = mustEncode(t, EncKeyValue{Cert: []byte(n), Escrow: []byte{1}})
			}
			e, err := stores[n].Write(f.dev[n], kind, key, value)
			if err != nil && !errors.Is(err, identity.ErrRevoked) && !errors.Is(err, ErrUnknownAuthor) {
				t.Fatalf("write by %s: %v", n, err)
			}
			keep(e, err)
		}
	}
	return all
}

// TestAnyOrderSameFold: any delivery order of a set of entries gives the
// same fold, version and pending set on two stores, and no entry of C
// above its cutoff is held.
func TestAnyOrderSameFold(t *testing.T) {
	f := newFixture(t, 1)
	rapid.Check(t, func(t *rapid.T) {
		all := simulate(t, f)
		var results []*Store
		for _, label := range []string{"first", "second"} {
			order := rapid.Permutation(all).Draw(t, label)
			db := memkv.New()
			s, err := Open(db, 0, f.op, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range order {
				if _, err := s.Apply(e); err != nil && !errors.Is(err, identity.ErrRevoked) {
					t.Fatalf("apply: %v", err)
				}
			}
			// What is stored folds to what is in memory.
			again, err := Open(db, 0, f.op, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(again.Fold(), s.Fold(), bytes.Equal) || !maps.Equal(again.Version().Heads, s.Version().Heads) {
				t.Fatal("the stored state reads back different from the one in memory")
			}
			stored := map[string][]byte{}
			it := db.Iter(kv.IterOptions{Prefix: []byte("ps/0/v/")})
			for it.Next() {
				stored[string(it.Key()[len("ps/0/v/"):])] = bytes.Clone(it.Value())
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(stored, s.Fold(), bytes.Equal) {
				t.Fatalf("ps/0/v/ holds %d slots, the fold %d", len(stored), len(s.Fold()))
			}
			results = append(results, s)
		}
		a, b := results[0], results[1]
		if !maps.EqualFunc(a.Fold(), b.Fold(), bytes.Equal) {
			t.Fatal("two delivery orders give different folds")
		}
		if !maps.Equal(a.Version().Heads, b.Version().Heads) || a.PendingLen() != b.PendingLen() {
			t.Fatalf("versions differ: %v / %v", a.Version().Heads, b.Version().Heads)
		}
		// Only D's entries can wait for good: D was introduced by C, and a
		// revoke of C below that entry takes D's authority away.
		if _, _, known := a.Device(f.pub("D")); a.PendingLen() != 0 && known {
			t.Fatalf("%d entries pending after all were delivered", a.PendingLen())
		}
		if cut, ok := a.Cutoff(f.pub("C")); ok {
			for _, e := range a.Missing(Version{}, 0) {
				if bytes.Equal(e.Author, f.pub("C")) && e.Seq > cut {
					t.Fatalf("entry %d of C held above cutoff %d", e.Seq, cut)
				}
			}
		}
	})
}
