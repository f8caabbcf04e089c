package contacts

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Alice", true},
		{"a", true},
		{"Bob Smith", true},
		{"Zoë 🙂", true},
		{"日本語の名前", true},
		{strings.Repeat("x", MaxNameLen), true},
		{"did", true},
		{"my did: thing", true},
		{"", false},
		{strings.Repeat("x", MaxNameLen+1), false},
		{strings.Repeat("é", 33), false}, // 66 bytes
		{" Alice", false},
		{"Alice ", false},
		{"\tAlice", false},
		{"Alice\u00a0", false}, // no-break space trailing
		{"Al\nice", false},
		{"Al\x00ice", false},
		{"Al\x7fice", false},
		{"Al\u202eice", false}, // right-to-left override
		{"Al\u200bice", false}, // zero-width space (format)
		{"Al\u2028ice", false}, // line separator
		{"did:key:z6Mk", false},
		{"DID:alice", false},
		{"did:", false},
		{"\xff\xfe", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckName(tc.name)
			if tc.ok && err != nil {
				t.Fatalf("CheckName(%q) = %v, want ok", tc.name, err)
			}
			if !tc.ok && !errors.Is(err, ErrBadName) {
				t.Fatalf("CheckName(%q) = %v, want ErrBadName", tc.name, err)
			}
		})
	}
}

func TestFoldName(t *testing.T) {
	for _, pair := range [][2]string{{"Alice", "aLICE"}, {"ÉCOLE", "école"}, {"Kelvin", "\u212aelvin"}, {"ΣΑΣ", "σας"}} {
		if foldName(pair[0]) != foldName(pair[1]) || !strings.EqualFold(pair[0], pair[1]) {
			t.Errorf("%q and %q should fold equal", pair[0], pair[1])
		}
	}
	if foldName("alice") == foldName("alicia") {
		t.Error("different names fold equal")
	}
}

func TestAddGet(t *testing.T) {
	s, _, _ := newStore(t)
	alice := Contact{Persona: didOf(1), Name: "Alice", Devices: []string{peerID(11)}}
	if err := s.Add(alice); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"Alice", "alice", "ALICE", didOf(1)} {
		c, err := s.Get(ref)
		if err != nil {
			t.Fatalf("Get(%q): %v", ref, err)
		}
		if c.Persona != alice.Persona || c.Name != "Alice" || !c.Added.Equal(t0) || c.Blocked || !c.LastSeen.IsZero() ||
			!slices.Equal(c.Devices, alice.Devices) {
			t.Fatalf("Get(%q) = %+v", ref, c)
		}
	}
	for _, tc := range []struct {
		ref  string
		want error
	}{
		{"Bob", ErrNotFound},
		{didOf(2), ErrNotFound},
		{"did:key:nonsense", ErrBadPersona},
		{"", ErrNotFound},
	} {
		if _, err := s.Get(tc.ref); !errors.Is(err, tc.want) {
			t.Errorf("Get(%q) = %v, want %v", tc.ref, err, tc.want)
		}
	}
}

func TestAddErrors(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Add(Contact{Persona: didOf(1), Name: "Alice"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Contact
		want error
	}{
		{"same persona", Contact{Persona: didOf(1), Name: "Other"}, ErrExists},
		{"same name", Contact{Persona: didOf(2), Name: "Alice"}, ErrNameTaken},
		{"same name other case", Contact{Persona: didOf(2), Name: "aLiCe"}, ErrNameTaken},
		{"bad name", Contact{Persona: didOf(2), Name: " Bob"}, ErrBadName},
		{"name like did", Contact{Persona: didOf(2), Name: "did:bob"}, ErrBadName},
		{"bad persona", Contact{Persona: "did:key:zzz", Name: "Bob"}, ErrBadPersona},
		{"empty persona", Contact{Name: "Bob"}, ErrBadPersona},
		{"bad device", Contact{Persona: didOf(2), Name: "Bob", Devices: []string{"short"}}, ErrBadPeerID},
		{"too many devices", Contact{Persona: didOf(2), Name: "Bob", Devices: manyPeers(MaxDevices + 1)}, ErrTooMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Add(tc.c); !errors.Is(err, tc.want) {
				t.Fatalf("Add = %v, want %v", err, tc.want)
			}
		})
	}
	if l, _ := s.List(); len(l) != 1 {
		t.Fatalf("failed adds left %d contacts", len(l))
	}
}

func manyPeers(n int) []string {
	var out []string
	for i := range n {
		out = append(out, peerID(byte(150+i)))
	}
	return out
}

func TestListSortedByName(t *testing.T) {
	s, _, _ := newStore(t)
	for i, n := range []string{"carol", "Alice", "bob", "Dave"} {
		if err := s.Add(Contact{Persona: didOf(byte(i + 1)), Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range l {
		names = append(names, c.Name)
	}
	if want := []string{"Alice", "bob", "carol", "Dave"}; !slices.Equal(names, want) {
		t.Fatalf("List names = %v, want %v", names, want)
	}
}

func TestRename(t *testing.T) {
	s, _, _ := newStore(t)
	s.Add(Contact{Persona: didOf(1), Name: "Alice"})
	s.Add(Contact{Persona: didOf(2), Name: "Bob"})
	tests := []struct {
		ref, name string
		want      error
	}{
		{"alice", "Bob", ErrNameTaken},
		{"alice", "BOB", ErrNameTaken},
		{"alice", "", ErrBadName},
		{"nobody", "X", ErrNotFound},
		{"alice", "ALICE", nil}, // case change of own name
		{"ALICE", "Ally", nil},
		{didOf(2), "Robert", nil},
	}
	for _, tc := range tests {
		if err := s.Rename(tc.ref, tc.name); !errors.Is(err, tc.want) {
			t.Fatalf("Rename(%q, %q) = %v, want %v", tc.ref, tc.name, err, tc.want)
		}
	}
	for ref, want := range map[string]string{"ally": didOf(1), "robert": didOf(2)} {
		if c, err := s.Get(ref); err != nil || c.Persona != want {
			t.Fatalf("Get(%q) = %+v, %v", ref, c, err)
		}
	}
	for _, gone := range []string{"Alice", "Bob"} {
		if _, err := s.Get(gone); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old name %q still resolves: %v", gone, err)
		}
	}
	// the old names are free again
	if err := s.Add(Contact{Persona: didOf(3), Name: "Alice"}); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	s, _, _ := newStore(t)
	s.Add(Contact{Persona: didOf(1), Name: "Alice"})
	if err := s.Block("Alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("ALICE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(didOf(1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed contact still there: %v", err)
	}
	if err := s.Remove("Alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v", err)
	}
	if !s.IsBlockedPersona(didOf(1)) {
		t.Fatal("Remove dropped the block")
	}
	// name and persona free again
	if err := s.Add(Contact{Persona: didOf(1), Name: "Alice"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get("alice"); !c.Blocked {
		t.Fatal("re-added contact not shown as blocked")
	}
}

func TestBlock(t *testing.T) {
	s, _, _ := newStore(t)
	s.Add(Contact{Persona: didOf(1), Name: "Alice", Devices: []string{peerID(11), peerID(12)}})
	s.Add(Contact{Persona: didOf(2), Name: "Bob", Devices: []string{peerID(21)}})
	raw := peerID(99)

	tests := []struct {
		name string
		op   func(string) error
		ref  string
		want error
	}{
		{"block contact by name", s.Block, "alice", nil},
		{"block again", s.Block, didOf(1), nil},
		{"block non-contact did", s.Block, didOf(3), nil},
		{"block raw peer", s.Block, raw, nil},
		{"block garbage", s.Block, "nobody", ErrNotFound},
		{"block bad did", s.Block, "did:key:zBad", ErrBadPersona},
		{"unblock not blocked", s.Unblock, "Bob", ErrNotBlocked},
		{"unblock unknown peer", s.Unblock, peerID(98), ErrNotBlocked},
	}
	for _, tc := range tests {
		if err := tc.op(tc.ref); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	personas, peers, err := s.Blocked()
	if err != nil {
		t.Fatal(err)
	}
	wantP := []string{didOf(1), didOf(3)}
	slices.Sort(wantP)
	wantPeers := []string{peerID(11), peerID(12), raw}
	slices.Sort(wantPeers)
	if !slices.Equal(personas, wantP) || !slices.Equal(peers, wantPeers) {
		t.Fatalf("Blocked() = %v, %v; want %v, %v", personas, peers, wantP, wantPeers)
	}
	if c, _ := s.Get("alice"); !c.Blocked {
		t.Fatal("contact not marked blocked")
	}
	if c, _ := s.Get("bob"); c.Blocked {
		t.Fatal("bob marked blocked")
	}
	if !s.IsBlockedPersona(didOf(3)) || s.IsBlockedPersona(didOf(2)) {
		t.Fatal("IsBlockedPersona wrong")
	}

	for _, ref := range []string{"ALICE", didOf(3), raw} {
		if err := s.Unblock(ref); err != nil {
			t.Fatalf("Unblock(%q): %v", ref, err)
		}
	}
	personas, peers, _ = s.Blocked()
	if len(personas) != 0 || len(peers) != 0 {
		t.Fatalf("after unblock: %v %v", personas, peers)
	}
	if s.IsBlockedPersona(didOf(1)) {
		t.Fatal("still blocked")
	}
}

func TestBlockedOnAdd(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Add(Contact{Persona: didOf(1), Name: "Mallory", Blocked: true}); err != nil {
		t.Fatal(err)
	}
	if !s.IsBlockedPersona(didOf(1)) {
		t.Fatal("Add with Blocked did not block")
	}
}

func TestOnChange(t *testing.T) {
	s, _, clk := newStore(t)
	var n atomic.Int32
	s.OnChange(func() {
		n.Add(1)
		s.List() // the callback may read the store
	})
	steps := []struct {
		name   string
		op     func() error
		change bool
	}{
		{"add", func() error { return s.Add(Contact{Persona: didOf(1), Name: "Alice"}) }, true},
		{"failed add", func() error { s.Add(Contact{Persona: didOf(1), Name: "Alice"}); return nil }, false},
		{"rename", func() error { return s.Rename("alice", "Ally") }, true},
		{"rename same", func() error { return s.Rename("ally", "Ally") }, false},
		{"block", func() error { return s.Block("ally") }, true},
		{"block again", func() error { return s.Block("ally") }, false},
		{"unblock", func() error { return s.Unblock("ally") }, true},
		{"block peer", func() error { return s.Block(peerID(50)) }, true},
		{"set devices", func() error { return s.SetDevices(didOf(1), []string{peerID(11)}) }, true},
		{"set same devices", func() error { return s.SetDevices(didOf(1), []string{peerID(11)}) }, false},
		{"seen", func() error { return s.Seen(didOf(1), clk.now()) }, true},
		{"seen earlier", func() error { return s.Seen(didOf(1), clk.now().Add(-time.Hour)) }, false},
		{"remove", func() error { return s.Remove("ally") }, true},
	}
	for _, st := range steps {
		before := n.Load()
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := n.Load() - before; (got == 1) != st.change || got > 1 {
			t.Fatalf("%s: OnChange called %d times, want change=%v", st.name, got, st.change)
		}
	}
}

func TestSetDevicesAndSeen(t *testing.T) {
	s, _, _ := newStore(t)
	s.Add(Contact{Persona: didOf(1), Name: "Alice"})
	tests := []struct {
		name    string
		persona string
		ids     []string
		want    error
		stored  []string
	}{
		{"one", didOf(1), []string{peerID(11)}, nil, []string{peerID(11)}},
		{"duplicates dropped", didOf(1), []string{peerID(11), peerID(12), peerID(11)}, nil, []string{peerID(11), peerID(12)}},
		{"max", didOf(1), manyPeers(MaxDevices), nil, manyPeers(MaxDevices)},
		{"max with dups", didOf(1), append(manyPeers(MaxDevices), manyPeers(3)...), nil, manyPeers(MaxDevices)},
		{"too many", didOf(1), manyPeers(MaxDevices + 1), ErrTooMany, nil},
		{"bad id", didOf(1), []string{"not a peer id"}, ErrBadPeerID, nil},
		{"not contact", didOf(2), []string{peerID(11)}, ErrNotFound, nil},
		{"bad persona", "Alice", nil, ErrBadPersona, nil},
		{"clear", didOf(1), nil, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.SetDevices(tc.persona, tc.ids)
			if !errors.Is(err, tc.want) {
				t.Fatalf("SetDevices = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				c, _ := s.Get(tc.persona)
				if !slices.Equal(c.Devices, tc.stored) {
					t.Fatalf("devices = %v, want %v", c.Devices, tc.stored)
				}
			}
		})
	}

	at := t0.Add(time.Hour + 1500*time.Microsecond)
	if err := s.Seen(didOf(1), at); err != nil {
		t.Fatal(err)
	}
	s.Seen(didOf(1), at.Add(-time.Minute)) // ignored: older
	if c, _ := s.Get("alice"); !c.LastSeen.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("LastSeen = %v, want %v", c.LastSeen, at)
	}
	if err := s.Seen(didOf(2), at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Seen of non-contact = %v", err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	s, db, clk := newStore(t)
	s.Add(Contact{Persona: didOf(1), Name: "Alice", Devices: []string{peerID(11)}})
	s.Add(Contact{Persona: didOf(2), Name: "Bob"})
	s.Block("bob")
	s.Block(peerID(77))
	s.Seen(didOf(1), t0.Add(time.Minute))
	before, _ := s.List()

	s2, err := Open(db, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 {
		t.Fatalf("reopened store has %d contacts", len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.Persona != b.Persona || a.Name != b.Name || !a.Added.Equal(b.Added) || a.Blocked != b.Blocked ||
			!slices.Equal(a.Devices, b.Devices) || !a.LastSeen.Equal(b.LastSeen) {
			t.Fatalf("contact changed across reopen: %+v -> %+v", b, a)
		}
	}
	if _, err := s2.Get("BOB"); err != nil {
		t.Fatal(err)
	}
	if _, peers, _ := s2.Blocked(); !slices.Contains(peers, peerID(77)) {
		t.Fatal("blocked peer lost across reopen")
	}
	// Keys stay under ct/.
	it := db.Iter(kvAll())
	defer it.Close()
	for it.Next() {
		if !strings.HasPrefix(string(it.Key()), "ct/") {
			t.Fatalf("key %q outside ct/", it.Key())
		}
	}
}

func TestConcurrentAddSameName(t *testing.T) {
	s, _, _ := newStore(t)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() { errs <- s.Add(Contact{Persona: didOf(byte(i + 1)), Name: "Same"}) }()
	}
	ok := 0
	for range 8 {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrNameTaken) {
			t.Fatal(err)
		}
	}
	if l, _ := s.List(); ok != 1 || len(l) != 1 {
		t.Fatalf("%d adds succeeded, %d contacts", ok, len(l))
	}
}
