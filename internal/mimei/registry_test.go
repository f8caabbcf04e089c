package mimei

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

func TestRegistry(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) kv.Store{
		"memkv": func(t *testing.T) kv.Store { return memkv.New() },
		"pebblekv": func(t *testing.T) kv.Store {
			s, err := pebblekv.Open(t.TempDir(), pebblekv.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			defer store.Close()
			r := NewRegistry(store)
			tick := time.Unix(1_800_000_000, 0)
			r.now = func() time.Time { tick = tick.Add(time.Second); return tick }
			_, a := author(t)
			reader := identity.DID(ed25519.NewKeyFromSeed(append(make([]byte, 31), 5)).Public().(ed25519.PublicKey))
			m1, err := r.Create(Spec{Author: a, AppType: "files", Mark: "home"}, Rights{Readers: []string{reader}})
			if err != nil {
				t.Fatal(err)
			}
			if m1.Rights.Owner != a {
				t.Fatalf("owner %q", m1.Rights.Owner)
			}
			if _, err := r.Create(Spec{Author: a, AppType: "files", Mark: "home"}, Rights{}); !errors.Is(err, ErrExists) {
				t.Fatalf("duplicate: %v", err)
			}
			m2, err := r.Create(Spec{Author: a, AppType: "notes", Mark: AutoMark}, Rights{Public: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Create(Spec{Author: a, AppType: "x"}, Rights{Readers: []string{"bob"}}); !errors.Is(err, ErrBadRights) {
				t.Fatalf("bad reader: %v", err)
			}
			got, err := r.Get(m1.ID)
			if err != nil || got.Spec != m1.Spec || got.Rights.Readers[0] != reader || !got.Created.Equal(m1.Created) {
				t.Fatalf("get: %+v %v", got, err)
			}
			// Something else kept under the MiMei's prefix goes with it.
			store.Set(append(mmPrefix(m1.ID), "/f/a.txt"...), []byte("x"))
			list, err := r.List()
			if err != nil || len(list) != 2 || list[0].ID != m1.ID || list[1].ID != m2.ID {
				t.Fatalf("list: %+v %v", list, err)
			}
			if _, err := r.SetRights(m2.ID, Rights{Owner: a}); err != nil {
				t.Fatal(err)
			}
			if got, _ := r.Get(m2.ID); got.Rights.Public {
				t.Fatal("rights not replaced")
			}
			if err := r.Delete(m1.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Get(m1.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			if ok, _ := store.Has(append(mmPrefix(m1.ID), "/f/a.txt"...)); ok {
				t.Fatal("delete left data under the prefix")
			}
			if err := r.Delete(m1.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			if list, _ := r.List(); len(list) != 1 {
				t.Fatalf("list after delete: %d", len(list))
			}
		})
	}
}
