package persona

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// bootstrap has A write its own device entry and B's and C's on s.
func bootstrap(t tb, f *fixture, s *Store, names ...string) {
	t.Helper()
	write(t, s, f.dev["A"], KindDevice, f.pub("A"), f.deviceValue(t, "A"))
	for _, n := range names {
		write(t, s, f.dev["A"], KindDevice, f.pub(n), f.deviceValue(t, n))
	}
}

func mustApply(t tb, s *Store, e *Entry, want Result) {
	t.Helper()
	r, err := s.Apply(e)
	if err != nil || r != want {
		t.Fatalf("Apply %s %x/%d: %v, %v; want %v", e.Kind, e.Author[:4], e.Seq, r, err, want)
	}
}

func TestApplyChecks(t *testing.T) {
	f1, f2 := newFixture(t, 1), newFixture(t, 2)
	s := f2.open(t)
	bootstrap(t, f2, s, "B")
	tests := []struct {
		name string
		e    *Entry
		want error
	}{
		{"lower epoch", f1.entry(t, "A", 3, 9, KindRights, []byte("m"), nil), identity.ErrStaleEpoch},
		{"higher epoch", newFixture(t, 3).entry(t, "A", 3, 9, KindRights, []byte("m"), nil), ErrNewerEpoch},
		{"other seq 2 of A", f2.entry(t, "A", 2, 9, KindRights, []byte("m"), nil), ErrConflict},
		{"device cert of another epoch", f2.entry(t, "A", 3, 9, KindDevice, f1.pub("C"),
			mustEncode(t, DeviceValue{Cert: f1.certs["C"], Name: "c"})), identity.ErrEpochMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Apply(tc.e); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("other persona", func(t *testing.T) {
		e := f2.entry(t, "A", 3, 9, KindRights, []byte("m"), nil)
		e.Persona = identity.DID(f2.pub("D"))
		if err := e.Sign(f2.dev["A"]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(e); !errors.Is(err, ErrMalformed) {
			t.Fatalf("got %v, want ErrMalformed", err)
		}
	})
	if got := len(s.Devices()); got != 2 {
		t.Fatalf("%d devices after refusals, want 2", got)
	}
}

func TestUnknownAuthorWaits(t *testing.T) {
	f := newFixture(t, 1)
	src := f.open(t)
	bootstrap(t, f, src)
	write(t, src, f.dev["A"], KindDevice, f.pub("B"), f.deviceValue(t, "B"))
	// B learns of itself from A, then writes.
	b := f.open(t)
	for _, e := range src.Missing(Version{}, 0) {
		mustApply(t, b, e, Applied)
	}
	c1 := write(t, b, f.dev["B"], KindContact, contactKey(1), mustEncode(t, ContactValue{Name: "k", Added: 1}))
	c2 := write(t, b, f.dev["B"], KindProfile, nil, mustEncode(t, ProfileValue{Name: "P"}))

	dst := f.open(t)
	mustApply(t, dst, c2, Pending) // unknown author, and a gap
	mustApply(t, dst, c1, Pending)
	mustApply(t, dst, c1, Duplicate)
	if _, ok := dst.Get(KindContact, contactKey(1)); ok {
		t.Fatal("an entry of an unknown author was folded")
	}
	all := src.Missing(Version{}, 0)
	mustApply(t, dst, all[1], Pending) // A's device entry of B: A unknown yet
	mustApply(t, dst, all[0], Applied) // A's own device entry unblocks the rest
	if dst.PendingLen() != 0 {
		t.Fatalf("%d entries still pending", dst.PendingLen())
	}
	if _, ok := dst.Get(KindContact, contactKey(1)); !ok {
		t.Fatal("B's contact not applied once B became known")
	}
	if v := dst.Version(); v.Heads[string(f.pub("B"))] != 2 || v.Heads[string(f.pub("A"))] != 2 {
		t.Fatalf("version %v", v.Heads)
	}
}

func TestWriteNeedsDeviceEntry(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	if _, err := s.Write(f.dev["B"], KindProfile, nil, mustEncode(t, ProfileValue{Name: "x"})); !errors.Is(err, ErrUnknownAuthor) {
		t.Fatalf("got %v, want ErrUnknownAuthor", err)
	}
	if s.PendingLen() != 0 {
		t.Fatal("a refused write was kept")
	}
}

// TestRevokedAuthor: C's entries above the cutoff are refused or dropped,
// whether they arrive before or after the revoke, on every order tried.
func TestRevokedAuthor(t *testing.T) {
	f := newFixture(t, 1)
	a := f.open(t)
	bootstrap(t, f, a, "C")
	c := f.open(t)
	for _, e := range a.Missing(Version{}, 0) {
		mustApply(t, c, e, Applied)
	}
	var cs []*Entry
	for i := range 4 {
		cs = append(cs, write(t, c, f.dev["C"], KindContact, contactKey(i), mustEncode(t, ContactValue{Name: "x"})))
	}
	for _, e := range cs[:2] {
		mustApply(t, a, e, Applied)
	}
	rev := write(t, a, f.dev["A"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 2, At: 1}))
	if _, err := a.Apply(cs[2]); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("entry 3 of C after the revoke: %v, want ErrRevoked", err)
	}
	want := a.Fold()

	var aDev, cDev *Entry
	for _, e := range a.Missing(Version{}, 0) {
		if bytes.Equal(e.Author, f.pub("A")) && e.Seq == 1 {
			aDev = e
		}
		if bytes.Equal(e.Author, f.pub("A")) && e.Seq == 2 {
			cDev = e
		}
	}
	orders := map[string][]*Entry{
		"revoke last":           {aDev, cDev, cs[0], cs[1], cs[2], cs[3], rev},
		"revoke first":          {aDev, cDev, rev, cs[0], cs[1], cs[2], cs[3]},
		"reversed":              {rev, cs[3], cs[2], cs[1], cs[0], cDev, aDev},
		"C's device entry last": {cs[3], cs[0], cs[2], cs[1], rev, aDev, cDev},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			s := f.open(t)
			for _, e := range order {
				if _, err := s.Apply(e); err != nil && !errors.Is(err, identity.ErrRevoked) {
					t.Fatalf("apply: %v", err)
				}
			}
			if got := s.Fold(); !maps.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("fold differs: %d slots, want %d", len(got), len(want))
			}
			if s.PendingLen() != 0 {
				t.Fatalf("%d pending", s.PendingLen())
			}
			if h := s.Version().Heads[string(f.pub("C"))]; h != 2 {
				t.Fatalf("C's head %d, want 2", h)
			}
			if _, revoked, ok := s.Device(f.pub("C")); !ok || !revoked {
				t.Fatalf("C known %v revoked %v", ok, revoked)
			}
			if len(s.Devices()) != 1 {
				t.Fatalf("devices %d, want A only", len(s.Devices()))
			}
		})
	}
}

func TestLowerCutoffWins(t *testing.T) {
	f := newFixture(t, 1)
	a := f.open(t)
	bootstrap(t, f, a, "B", "C")
	for i := range 3 {
		e := f.entry(t, "C", uint64(i+1), uint64(10+i), KindContact, contactKey(i), mustEncode(t, ContactValue{Name: "c"}))
		mustApply(t, a, e, Applied)
	}
	write(t, a, f.dev["A"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 3}))
	write(t, a, f.dev["B"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 1}))
	if c, _ := a.Cutoff(f.pub("C")); c != 1 {
		t.Fatalf("cutoff %d, want 1", c)
	}
	if h := a.Version().Heads[string(f.pub("C"))]; h != 1 {
		t.Fatalf("C's head %d after the lower cutoff, want 1", h)
	}
	write(t, a, f.dev["A"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 2}))
	if c, _ := a.Cutoff(f.pub("C")); c != 1 {
		t.Fatalf("a higher cutoff raised it to %d", c)
	}
}

func TestLastWriterWins(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	bootstrap(t, f, s, "B")
	name := func(n string) []byte { return mustEncode(t, ProfileValue{Name: n}) }
	// A: clock 5; B: clock 5 → higher author key wins; then clock 6 wins.
	ea := f.entry(t, "A", 3, 5, KindProfile, nil, name("a"))
	eb := f.entry(t, "B", 1, 5, KindProfile, nil, name("b"))
	mustApply(t, s, ea, Applied)
	mustApply(t, s, eb, Applied)
	hi := ea
	if bytes.Compare(f.pub("B"), f.pub("A")) > 0 {
		hi = eb
	}
	if got, _ := s.Get(KindProfile, nil); !bytes.Equal(got.Sig, hi.Sig) {
		t.Fatal("tie on clock not broken by the author key")
	}
	e := write(t, s, f.dev["A"], KindProfile, nil, name("later"))
	if e.Clock != 6 {
		t.Fatalf("Lamport clock %d, want 6", e.Clock)
	}
	if got, _ := s.Get(KindProfile, nil); !bytes.Equal(got.Sig, e.Sig) {
		t.Fatal("later clock lost")
	}
	// Grow-only: two enckey entries of one generation with different key IDs both stay.
	v := mustEncode(t, EncKeyValue{Cert: []byte{1}, Escrow: []byte{2}})
	write(t, s, f.dev["A"], KindEncKey, EncKeyKey(1, 1, [8]byte{1}), v)
	write(t, s, f.dev["B"], KindEncKey, EncKeyKey(1, 1, [8]byte{2}), v)
	for _, id := range []byte{1, 2} {
		if _, ok := s.Get(KindEncKey, EncKeyKey(1, 1, [8]byte{id})); !ok {
			t.Fatalf("enckey %d lost", id)
		}
	}
}

func TestReopen(t *testing.T) {
	f := newFixture(t, 1)
	db := memkv.New()
	s, err := Open(db, 3, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	bootstrap(t, f, s, "B")
	write(t, s, f.dev["B"], KindContact, contactKey(1), mustEncode(t, ContactValue{Name: "k"}))
	pend := f.entry(t, "C", 1, 1, KindProfile, nil, mustEncode(t, ProfileValue{Name: "c"}))
	mustApply(t, s, pend, Pending)
	again, err := Open(db, 3, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(again.Fold(), s.Fold(), bytes.Equal) || again.PendingLen() != 1 {
		t.Fatal("reopened state differs")
	}
	// The folded values are stored under v/ for readers.
	if ok, _ := db.Has(append([]byte("ps/3/v/\x04"), contactKey(1)...)); !ok {
		t.Fatal("folded contact not stored under ps/3/v/")
	}
	if _, err := Open(db, 3, newFixture(t, 2).op, Options{}); !errors.Is(err, ErrNewerEpoch) {
		t.Fatalf("open with a newer epoch: %v", err)
	}
	db2 := memkv.New()
	if _, err := Open(db2, 0, newFixture(t, 2).op, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(db2, 0, f.op, Options{}); !errors.Is(err, identity.ErrStaleEpoch) {
		t.Fatalf("open with an older epoch: %v", err)
	}
}

// failing is a kv.Store whose batches fail to commit while fail is set.
type failing struct {
	kv.Store
	fail bool
}

type failingBatch struct {
	kv.Batch
	s *failing
}

func (f *failing) NewBatch() kv.Batch { return failingBatch{f.Store.NewBatch(), f} }

func (b failingBatch) Commit() error {
	if b.s.fail {
		b.Discard()
		return errors.New("disk full")
	}
	return b.Batch.Commit()
}

// TestOneBatch: when the batch of an entry fails, neither the entry nor
// its effect (nor the pending entries it would unblock) is stored, and the
// in-memory state does not run ahead of the store.
func TestOneBatch(t *testing.T) {
	f := newFixture(t, 1)
	db := &failing{Store: memkv.New()}
	s, err := Open(db, 0, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, f.dev["A"], KindDevice, f.pub("A"), f.deviceValue(t, "A"))
	mustApply(t, s, f.entry(t, "B", 1, 9, KindProfile, nil, mustEncode(t, ProfileValue{Name: "b"})), Pending)
	before := s.Fold()
	dump := func() map[string]string {
		out := map[string]string{}
		it := db.Iter(kv.IterOptions{})
		defer it.Close()
		for it.Next() {
			out[string(it.Key())] = string(it.Value())
		}
		return out
	}
	stored := dump()
	db.fail = true
	if _, err := s.Write(f.dev["A"], KindDevice, f.pub("B"), f.deviceValue(t, "B")); err == nil {
		t.Fatal("write succeeded on a failing store")
	}
	if !maps.Equal(dump(), stored) {
		t.Fatal("a failed batch changed the store")
	}
	if !maps.EqualFunc(s.Fold(), before, bytes.Equal) || s.PendingLen() != 1 {
		t.Fatal("the in-memory state ran ahead of the store")
	}
	db.fail = false
	write(t, s, f.dev["A"], KindDevice, f.pub("B"), f.deviceValue(t, "B"))
	if s.PendingLen() != 0 {
		t.Fatal("B's entry not applied after its device entry")
	}
}

func TestMissing(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	bootstrap(t, f, s, "B", "C")
	write(t, s, f.dev["B"], KindProfile, nil, mustEncode(t, ProfileValue{Name: "b"}))
	have := Version{Heads: map[string]uint64{string(f.pub("A")): 2}}
	got := s.Missing(have, 0)
	if len(got) != 2 || got[0].Seq != 3 {
		t.Fatalf("missing %d entries", len(got))
	}
	if len(s.Missing(Version{}, 2)) != 2 {
		t.Fatal("limit not applied")
	}
}

// TestPebbleReopen: the state written on Pebble reads back the same after
// the store is closed and opened again.
func TestPebbleReopen(t *testing.T) {
	f := newFixture(t, 1)
	dir := t.TempDir()
	db, err := pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, 0, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	bootstrap(t, f, s, "B", "C")
	write(t, s, f.dev["C"], KindProfile, nil, mustEncode(t, ProfileValue{Name: "c"}))
	write(t, s, f.dev["B"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 0}))
	want, wantV := s.Fold(), s.Version()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := Open(db, 0, f.op, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(again.Fold(), want, bytes.Equal) || !maps.Equal(again.Version().Heads, wantV.Heads) {
		t.Fatal("state differs after reopening")
	}
	if _, ok := again.Get(KindProfile, nil); ok {
		t.Fatal("C's profile above cutoff 0 survived")
	}
	if c, ok := again.Cutoff(f.pub("C")); !ok || c != 0 {
		t.Fatalf("cutoff %d %v", c, ok)
	}
}

func TestPendingBounded(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	bootstrap(t, f, s)
	v := mustEncode(t, ProfileValue{Name: "d"})
	for i := range MaxPending {
		mustApply(t, s, f.entry(t, "D", uint64(i+1), 1, KindProfile, nil, v), Pending)
	}
	if _, err := s.Apply(f.entry(t, "D", MaxPending+1, 1, KindProfile, nil, v)); !errors.Is(err, ErrUnknownAuthor) {
		t.Fatalf("entry beyond the pending bound: %v, want ErrUnknownAuthor", err)
	}
	// D's device entry lets every waiting entry apply.
	write(t, s, f.dev["A"], KindDevice, f.pub("D"), f.deviceValue(t, "D"))
	if s.PendingLen() != 0 || s.Version().Heads[string(f.pub("D"))] != MaxPending {
		t.Fatalf("%d pending, D's head %d", s.PendingLen(), s.Version().Heads[string(f.pub("D"))])
	}
}

func TestExpiredDeviceCert(t *testing.T) {
	f := newFixture(t, 1)
	k := f.dev["D"]
	c, err := identity.IssueDeviceCert(f.opKey, f.op, f.pub("D"), t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := f.open(t) // now() is an hour after t0
	_, err = s.Write(k, KindDevice, f.pub("D"), mustEncode(t, DeviceValue{Cert: enc, Name: "d"}))
	if !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("got %v, want identity.ErrExpired", err)
	}
}

// TestRevokeCascades: a device introduced by a revoked device's entry
// above the cutoff loses its authority, and its entries wait again until
// a current device introduces it.
func TestRevokeCascades(t *testing.T) {
	f := newFixture(t, 1)
	s := f.open(t)
	bootstrap(t, f, s, "C")
	write(t, s, f.dev["C"], KindProfile, nil, mustEncode(t, ProfileValue{Name: "c"}))
	write(t, s, f.dev["C"], KindDevice, f.pub("D"), f.deviceValue(t, "D"))
	d := write(t, s, f.dev["D"], KindContact, contactKey(1), mustEncode(t, ContactValue{Name: "d"}))
	write(t, s, f.dev["A"], KindRevoke, f.pub("C"), mustEncode(t, RevokeValue{Cutoff: 1}))
	if _, _, ok := s.Device(f.pub("D")); ok {
		t.Fatal("D keeps the device entry C wrote after its cutoff")
	}
	if _, ok := s.Get(KindContact, contactKey(1)); ok || s.PendingLen() != 1 {
		t.Fatalf("D's entry still applied (pending %d)", s.PendingLen())
	}
	if _, ok := s.Get(KindProfile, nil); !ok {
		t.Fatal("C's entry below the cutoff was dropped")
	}
	write(t, s, f.dev["A"], KindDevice, f.pub("D"), f.deviceValue(t, "D"))
	if got, ok := s.Get(KindContact, contactKey(1)); !ok || !bytes.Equal(got.Sig, d.Sig) {
		t.Fatal("D's entry not applied once A introduced D")
	}
}
