package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/kv/memkv"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
)

// await polls cond until it holds or 5 s have passed.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type event struct {
	kind string
	data map[string]any
}

// tnode is one device of a persona on a memnet, with its own store, clock
// and Service.
type tnode struct {
	party
	name  string // the persona's name
	id    netport.PeerID
	node  *memnet.Node
	store *Store
	clk   *clock
	svc   *Service

	mu      sync.Mutex
	events  []event
	blocked []netport.PeerID
	learned []netport.PeerID
	own     []string
}

// newNode starts a device of the persona made from seed, named name, on n.
// edit changes the Service's config before it is built.
func newNode(t *testing.T, n *memnet.Net, seed byte, name string, edit ...func(*tnode, *ServiceConfig)) *tnode {
	t.Helper()
	tn := &tnode{party: newParty(t, seed), name: name, clk: &clock{t: t0}}
	tn.id = netport.PeerID(tn.peer)
	tn.node = n.Node(tn.id)
	var err error
	if tn.store, err = Open(memkv.New(), tn.clk.now); err != nil {
		t.Fatal(err)
	}
	cfg := ServiceConfig{
		Net:   tn.node,
		Store: tn.store,
		Self: func() (Self, error) {
			return Self{ID: tn.did, Name: tn.name, DeviceKey: tn.device, Cert: tn.cert}, nil
		},
		Advertised: func(int) []string { return []string{"/memnet/" + string(tn.id)} },
		OwnDevices: func() []string { tn.mu.Lock(); defer tn.mu.Unlock(); return slices.Clone(tn.own) },
		OnBlocked: func(ds []netport.PeerID) {
			tn.mu.Lock()
			defer tn.mu.Unlock()
			tn.blocked = append(tn.blocked, ds...)
		},
		Learned: func(_ context.Context, p netport.PeerID) {
			tn.mu.Lock()
			defer tn.mu.Unlock()
			tn.learned = append(tn.learned, p)
		},
		Event: func(kind string, data any) {
			tn.mu.Lock()
			defer tn.mu.Unlock()
			tn.events = append(tn.events, event{kind, data.(map[string]any)})
		},
		Now:              tn.clk.now,
		HandshakeTimeout: 5 * time.Second,
	}
	for _, e := range edit {
		e(tn, &cfg)
	}
	if tn.svc, err = NewService(cfg); err != nil {
		t.Fatal(err)
	}
	if err := tn.svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.svc.Close() })
	return tn
}

func newNet(t *testing.T) *memnet.Net {
	n := memnet.New()
	t.Cleanup(n.Close)
	return n
}

// eventsOf returns the events of kind whose persona is persona.
func (tn *tnode) eventsOf(kind, persona string) []event {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	var out []event
	for _, e := range tn.events {
		if e.kind == kind && e.data["persona"] == persona {
			out = append(out, e)
		}
	}
	return out
}

func (tn *tnode) countEvents(prefix string) int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	n := 0
	for _, e := range tn.events {
		if strings.HasPrefix(e.kind, prefix) {
			n++
		}
	}
	return n
}

func (tn *tnode) blockedCalls() []netport.PeerID {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.blocked)
}

func (tn *tnode) invite(t *testing.T, o InviteOptions) string {
	t.Helper()
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	inv, err := tn.svc.CreateInvite(o)
	if err != nil {
		t.Fatal(err)
	}
	return inv.String()
}

// contactName returns the pet name tn gave persona, or "".
func (tn *tnode) contactName(persona string) string {
	c, err := tn.store.Get(persona)
	if err != nil {
		return ""
	}
	return c.Name
}

func TestServiceInviteAccepted(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	link := alice.invite(t, InviteOptions{})
	c, err := bob.svc.Accept(context.Background(), link, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Persona != alice.did || c.Name != "Alice" || !slices.Equal(c.Devices, []string{alice.peer}) {
		t.Errorf("bob's new contact = %+v, want alice named Alice with her device", c)
	}
	await(t, "alice's contact.added", func() bool { return len(alice.eventsOf("contact.added", bob.did)) == 1 })
	ca, err := alice.store.Get(bob.did)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Name != "Bob" || !slices.Equal(ca.Devices, []string{bob.peer}) || !ca.Added.Equal(t0) {
		t.Errorf("alice's new contact = %+v, want bob named Bob with his device, added at t0", ca)
	}
	if e := alice.eventsOf("contact.added", bob.did)[0]; e.data["by"] != "invite" || e.data["name"] != "Bob" {
		t.Errorf("alice's event = %v", e.data)
	}
	if e := bob.eventsOf("contact.added", alice.did); len(e) != 1 || e[0].data["by"] != "accept" || e[0].data["name"] != "Alice" {
		t.Errorf("bob's events = %v", e)
	}
	// Both directories know the other's device now.
	if alice.svc.PersonaOf(bob.id) != bob.did || !alice.svc.IsContact(bob.id) || !slices.Equal(alice.svc.ContactDevices(), []netport.PeerID{bob.id}) {
		t.Errorf("alice's directory does not know bob's device")
	}
	if bob.svc.PersonaOf(alice.id) != alice.did || !bob.svc.IsContact(alice.id) {
		t.Errorf("bob's directory does not know alice's device")
	}
	// Connected now: both report the other online.
	await(t, "contact.online on both sides", func() bool {
		return len(alice.eventsOf("contact.online", bob.did)) == 1 && len(bob.eventsOf("contact.online", alice.did)) == 1
	})
	if !bob.svc.Online(c) {
		t.Error("Online(alice) is false on bob's side")
	}
	bob.mu.Lock()
	learned := slices.Clone(bob.learned)
	bob.mu.Unlock()
	if !slices.Equal(learned, []netport.PeerID{alice.id}) {
		t.Errorf("bob learned %v, want alice's device", learned)
	}
	if p, _ := alice.store.PendingInvites(); len(p) != 0 {
		t.Errorf("invite still pending after use: %v", p)
	}
}

func TestServiceInviteRefused(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, alice, bob *tnode, link string) // before carol accepts link
		carol   func(carol *tnode)
		want    []error
	}{
		{"used", func(t *testing.T, alice, bob *tnode, link string) {
			if _, err := bob.svc.Accept(context.Background(), link, ""); err != nil {
				t.Fatal(err)
			}
		}, nil, []error{ErrInviteRefused, ErrInviteUsed}},
		{"expired on the inviter's clock", func(t *testing.T, alice, bob *tnode, link string) {
			alice.clk.add(2 * time.Hour)
		}, nil, []error{ErrInviteRefused, ErrInviteExpired}},
		{"revoked", func(t *testing.T, alice, bob *tnode, link string) {
			p, _ := alice.store.PendingInvites()
			if err := alice.store.RevokeInvite(p[0].ID); err != nil {
				t.Fatal(err)
			}
		}, nil, []error{ErrInviteRefused, ErrInviteUnknown}},
		{"expired on the acceptor's clock", nil, func(carol *tnode) { carol.clk.add(2 * time.Hour) }, []error{ErrInviteExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNet(t)
			alice, bob, carol := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob"), newNode(t, n, 3, "Carol")
			link := alice.invite(t, InviteOptions{TTL: time.Hour})
			if tt.prepare != nil {
				tt.prepare(t, alice, bob, link)
			}
			if tt.carol != nil {
				tt.carol(carol)
			}
			_, err := carol.svc.Accept(context.Background(), link, "")
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("Accept: %v, want %v", err, want)
				}
			}
			if errors.Is(err, netport.ErrUnreachable) {
				t.Errorf("a refusal reads as unreachable: %v", err)
			}
			if carol.contactName(alice.did) != "" || alice.contactName(carol.did) != "" {
				t.Error("a contact was added despite the refusal")
			}
		})
	}
}

func TestServiceExpiredInviteNotSent(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	link := alice.invite(t, InviteOptions{TTL: time.Minute})
	bob.clk.add(time.Minute)
	if _, err := bob.svc.Accept(context.Background(), link, ""); !errors.Is(err, ErrInviteExpired) {
		t.Fatalf("Accept: %v, want ErrInviteExpired", err)
	}
	if s := n.Streams(bob.id, alice.id); s != 0 {
		t.Errorf("an expired invite opened %d streams", s)
	}
}

// TestServiceWrongDevice: a device that presents a certificate (and
// signatures) of another device is refused, on either side.
func TestServiceWrongDevice(t *testing.T) {
	// impostor makes a node speak with the key and certificate of the
	// persona made from seed 9's device instead of its own.
	impostor := func(tn *tnode, cfg *ServiceConfig) {
		other := newParty(t, 9)
		cfg.Self = func() (Self, error) {
			return Self{ID: other.did, Name: "Mallory", DeviceKey: other.device, Cert: other.cert}, nil
		}
	}
	t.Run("hello", func(t *testing.T) {
		n := newNet(t)
		alice := newNode(t, n, 1, "Alice")
		mallory := newNode(t, n, 2, "Mallory", impostor)
		link := alice.invite(t, InviteOptions{})
		_, err := mallory.svc.Accept(context.Background(), link, "")
		if !errors.Is(err, ErrInviteRefused) || !strings.Contains(err.Error(), "not signed by the connecting device") {
			t.Fatalf("Accept: %v, want a refusal for the wrong device", err)
		}
		if l, _ := alice.store.List(); len(l) != 0 {
			t.Errorf("alice added %v", l)
		}
		if p, _ := alice.store.PendingInvites(); len(p) != 1 {
			t.Errorf("the refused attempt used the invite up: pending %v", p)
		}
	})
	t.Run("welcome", func(t *testing.T) {
		n := newNet(t)
		mallory := newNode(t, n, 1, "Mallory", impostor)
		bob := newNode(t, n, 2, "Bob")
		// The invite is signed by persona 9's device but names mallory's
		// node, which then answers with persona 9's certificate.
		link := mallory.invite(t, InviteOptions{})
		_, err := bob.svc.Accept(context.Background(), link, "")
		if !errors.Is(err, ErrBadInvite) || !errors.Is(err, netport.ErrUnreachable) {
			t.Fatalf("Accept: %v, want ErrBadInvite within ErrUnreachable", err)
		}
		if l, _ := bob.store.List(); len(l) != 0 {
			t.Errorf("bob added %v", l)
		}
		if l, _ := mallory.store.List(); len(l) != 0 {
			t.Errorf("mallory added %v without a confirmation", l)
		}
	})
}

func TestServiceInviterUnreachable(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	link := alice.invite(t, InviteOptions{})
	n.Partition([]netport.PeerID{alice.id}, []netport.PeerID{bob.id})
	_, err := bob.svc.Accept(context.Background(), link, "")
	if !errors.Is(err, netport.ErrUnreachable) || errors.Is(err, ErrInviteRefused) {
		t.Fatalf("Accept across a partition: %v, want netport.ErrUnreachable", err)
	}
	if bob.contactName(alice.did) != "" {
		t.Fatal("bob added alice across a partition")
	}
	n.Heal()
	if _, err := bob.svc.Accept(context.Background(), link, ""); err != nil {
		t.Fatalf("Accept after the partition healed: %v", err)
	}
	await(t, "alice adds bob", func() bool { return alice.contactName(bob.did) == "Bob" })
}

func TestServiceInviterUnreachableNoHandler(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	link := alice.invite(t, InviteOptions{})
	alice.svc.Close() // alice's node is up but no longer serves invites
	_, err := bob.svc.Accept(context.Background(), link, "")
	if !errors.Is(err, netport.ErrUnreachable) || !errors.Is(err, netport.ErrNoHandler) {
		t.Fatalf("Accept: %v, want ErrUnreachable wrapping ErrNoHandler", err)
	}
}

// TestServiceInviteeNames: each new contact on the inviter's side gets a
// distinct name even when every invitee calls themselves "default".
func TestServiceInviteeNames(t *testing.T) {
	tests := []struct {
		name     string
		invitees []string // persona names of the invitees, seeds 2, 3, …
		want     func(dids []string) []string
	}{
		{"placeholder names", []string{"default", "default"}, func(d []string) []string {
			return []string{DefaultContactName(d[0]), DefaultContactName(d[1])}
		}},
		{"placeholder in another case", []string{"Default"}, func(d []string) []string {
			return []string{DefaultContactName(d[0])}
		}},
		{"chosen names", []string{"Bob", "Carol"}, func([]string) []string { return []string{"Bob", "Carol"} }},
		{"same chosen name", []string{"Sam", "sam"}, func([]string) []string { return []string{"Sam", "sam-2"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNet(t)
			alice := newNode(t, n, 1, "Alice")
			var dids, got []string
			for i, pn := range tt.invitees {
				inv := newNode(t, n, byte(2+i), pn)
				if _, err := inv.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), ""); err != nil {
					t.Fatal(err)
				}
				dids = append(dids, inv.did)
				await(t, "alice adds the invitee", func() bool { return alice.contactName(inv.did) != "" })
				got = append(got, alice.contactName(inv.did))
			}
			if want := tt.want(dids); !slices.Equal(got, want) {
				t.Errorf("alice named her contacts %q, want %q", got, want)
			}
		})
	}
	if a, b := DefaultContactName(didOf(2)), DefaultContactName(didOf(3)); a == b || !strings.HasPrefix(a, "contact-") || len(a) != len("contact-")+6 {
		t.Errorf("default names %q and %q", a, b)
	}
}

func TestServiceInviterChosenName(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "default")
	link := alice.invite(t, InviteOptions{ContactName: "bobby"})
	if p, _ := alice.store.PendingInvites(); len(p) != 1 || p[0].ContactName != "bobby" {
		t.Fatalf("pending invites %+v, want one naming bobby", p)
	}
	if strings.Contains(link, "bobby") {
		t.Fatal("the chosen name is in the link")
	}
	c, err := bob.svc.Accept(context.Background(), link, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Alice" {
		t.Errorf("bob calls alice %q, want the name she suggests", c.Name)
	}
	await(t, "alice's contact.added", func() bool { return len(alice.eventsOf("contact.added", bob.did)) == 1 })
	if got := alice.contactName(bob.did); got != "bobby" {
		t.Errorf("alice calls bob %q, want bobby", got)
	}
	if e := alice.eventsOf("contact.added", bob.did); len(e) != 1 || e[0].data["name"] != "bobby" {
		t.Errorf("events %v", e)
	}

	// Taken names are refused before an invite is made.
	if _, err := alice.svc.CreateInvite(InviteOptions{TTL: time.Hour, ContactName: "Bobby"}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("CreateInvite for a contact's name: %v, want ErrNameTaken", err)
	}
	alice.invite(t, InviteOptions{ContactName: "carol"})
	if _, err := alice.svc.CreateInvite(InviteOptions{TTL: time.Hour, ContactName: "CAROL"}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("CreateInvite for a pending invite's name: %v, want ErrNameTaken", err)
	}
	if _, err := alice.svc.CreateInvite(InviteOptions{TTL: time.Hour, ContactName: "did:key:x"}); !errors.Is(err, ErrBadName) {
		t.Errorf("CreateInvite for a bad name: %v, want ErrBadName", err)
	}
}

func TestServiceAcceptorNames(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "default"), newNode(t, n, 2, "Bob")
	carol := newNode(t, n, 3, "Carol")
	// Bob already has a contact called "ann": naming alice so is refused
	// before anything is sent.
	if err := bob.store.Add(Contact{Persona: carol.did, Name: "ann", Added: t0}); err != nil {
		t.Fatal(err)
	}
	link := alice.invite(t, InviteOptions{})
	if _, err := bob.svc.Accept(context.Background(), link, "ANN"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("Accept with a taken name: %v, want ErrNameTaken", err)
	}
	if s := n.Streams(bob.id, alice.id); s != 0 {
		t.Errorf("a refused name still opened %d streams", s)
	}
	// Alice's persona is called "default": neither the invite nor the
	// Welcome suggest it, so bob's node picks the default name.
	c, err := bob.svc.Accept(context.Background(), link, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != DefaultContactName(alice.did) {
		t.Errorf("bob calls alice %q, want %q", c.Name, DefaultContactName(alice.did))
	}
	// An explicit name wins.
	link = carol.invite(t, InviteOptions{})
	if c, err := bob.svc.Accept(context.Background(), link, "Caroline"); err != nil || c.Name != "ann" {
		// carol was already bob's contact "ann": her name stays, her device is added.
		t.Errorf("Accept of an existing contact: %+v, %v", c, err)
	} else if !slices.Equal(c.Devices, []string{carol.peer}) {
		t.Errorf("devices %v, want carol's device", c.Devices)
	}
}

func TestServicePresence(t *testing.T) {
	n := newNet(t)
	alice := newNode(t, n, 1, "Alice", func(tn *tnode, _ *ServiceConfig) { tn.own = []string{peerID(211)} })
	alice2 := newNode(t, n, 111, "Alice") // alice's other device
	bob := newNode(t, n, 2, "Bob")
	stranger := newNode(t, n, 3, "Stranger")
	if _, err := bob.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), ""); err != nil {
		t.Fatal(err)
	}
	await(t, "both online after the accept", func() bool {
		return len(alice.eventsOf("contact.online", bob.did)) == 1 && len(bob.eventsOf("contact.online", alice.did)) == 1
	})
	if got := alice.svc.PersonaOf(alice2.id); got != alice.did {
		t.Errorf("PersonaOf(own device) = %q, want our persona", got)
	}

	n.DropLink(alice.id, bob.id)
	await(t, "contact.offline on both sides", func() bool {
		return len(alice.eventsOf("contact.offline", bob.did)) == 1 && len(bob.eventsOf("contact.offline", alice.did)) == 1
	})
	if e := alice.eventsOf("contact.offline", bob.did)[0]; e.data["peer"] != bob.peer {
		t.Errorf("offline event %v, want bob's device", e.data)
	}
	alice.clk.add(time.Minute)
	if err := bob.node.Connect(context.Background(), alice.id, nil); err != nil {
		t.Fatal(err)
	}
	await(t, "contact.online on both sides again", func() bool {
		return len(alice.eventsOf("contact.online", bob.did)) == 2 && len(bob.eventsOf("contact.online", alice.did)) == 2
	})
	await(t, "alice records bob as seen", func() bool {
		c, err := alice.store.Get(bob.did)
		return err == nil && c.LastSeen.Equal(t0.Add(time.Minute))
	})
	await(t, "alice learns bob's record", func() bool {
		alice.mu.Lock()
		defer alice.mu.Unlock()
		return slices.Contains(alice.learned, bob.id)
	})

	// Own devices and strangers come and go without contact events.
	before := alice.countEvents("contact.")
	for _, other := range []*tnode{alice2, stranger} {
		if err := other.node.Connect(context.Background(), alice.id, nil); err != nil {
			t.Fatal(err)
		}
		await(t, "connected", func() bool { return alice.node.Connected(other.id) })
		n.DropLink(alice.id, other.id)
		await(t, "disconnected", func() bool { return !alice.node.Connected(other.id) })
	}
	// A marker event after them: Watch delivers in order, so once bob's
	// offline is in, the others would have been too.
	n.DropLink(alice.id, bob.id)
	await(t, "bob's second offline", func() bool { return len(alice.eventsOf("contact.offline", bob.did)) == 2 })
	if got := alice.countEvents("contact."); got != before+1 {
		alice.mu.Lock()
		t.Errorf("own device or stranger produced contact events: %v", alice.events)
		alice.mu.Unlock()
	}
}

func TestServiceBlocked(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	if _, err := bob.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), ""); err != nil {
		t.Fatal(err)
	}
	await(t, "alice adds bob", func() bool { return alice.svc.IsContact(bob.id) })
	// The accept's online event is delivered in the background.
	await(t, "bob online at alice", func() bool { return len(alice.eventsOf("contact.online", bob.did)) == 1 })
	if got := alice.blockedCalls(); len(got) != 0 {
		t.Fatalf("OnBlocked(%v) before any block", got)
	}
	if err := alice.store.Block("Bob"); err != nil {
		t.Fatal(err)
	}
	if got := alice.blockedCalls(); !slices.Equal(got, []netport.PeerID{bob.id}) {
		t.Fatalf("OnBlocked calls %v, want bob's device once", got)
	}
	if !alice.svc.IsBlocked(bob.id) || alice.svc.IsContact(bob.id) || alice.svc.PersonaOf(bob.id) != "" {
		t.Error("bob's device is still a contact in alice's directory")
	}
	// A change elsewhere does not report bob again.
	if err := alice.store.Block(peerID(50)); err != nil {
		t.Fatal(err)
	}
	if got := alice.blockedCalls(); !slices.Equal(got, []netport.PeerID{bob.id, netport.PeerID(peerID(50))}) {
		t.Fatalf("OnBlocked calls %v, want bob then the new peer", got)
	}
	// memnet has no gater: bob's device gets through, and is reported.
	n.DropLink(alice.id, bob.id)
	await(t, "disconnected", func() bool { return !alice.node.Connected(bob.id) })
	if err := bob.node.Connect(context.Background(), alice.id, nil); err != nil {
		t.Fatal(err)
	}
	await(t, "OnBlocked for the connecting blocked device", func() bool { return len(alice.blockedCalls()) == 3 })
	if got := alice.blockedCalls()[2]; got != bob.id {
		t.Errorf("OnBlocked(%v), want bob's device", got)
	}
	if got := alice.eventsOf("contact.online", bob.did); len(got) != 1 { // the one from the accept
		t.Errorf("a blocked contact came online: %v", got)
	}
	// Its invite streams are cut.
	_, err := bob.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), "")
	if !errors.Is(err, netport.ErrUnreachable) {
		t.Errorf("blocked device's Accept: %v, want unreachable", err)
	}
	// A service started with blocks in the store reports them at once.
	alice.svc.Close()
	again := newNode(t, n, 1, "Alice", func(tn *tnode, cfg *ServiceConfig) {
		cfg.Store = alice.store
	})
	if got := again.blockedCalls(); len(got) != 2 {
		t.Errorf("OnBlocked at Start: %v, want both blocked devices", got)
	}
}

// TestServiceAcceptBlockedInviter: an invite from a blocked persona is not
// followed.
func TestServiceAcceptBlockedInviter(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	if err := bob.store.Block(alice.did); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), ""); !errors.Is(err, ErrBadInvite) {
		t.Fatalf("Accept of a blocked inviter: %v", err)
	}
	if s := n.Streams(bob.id, alice.id); s != 0 {
		t.Errorf("%d streams to a blocked inviter", s)
	}
}

// TestServiceInviteBlockedAcceptor: the inviter refuses a persona it blocked,
// even from a device it has never seen.
func TestServiceInviteBlockedAcceptor(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	if err := alice.store.Block(bob.did); err != nil {
		t.Fatal(err)
	}
	_, err := bob.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), "")
	if !errors.Is(err, ErrInviteRefused) {
		t.Fatalf("Accept by a blocked persona: %v, want a refusal", err)
	}
	if p, _ := alice.store.PendingInvites(); len(p) != 1 {
		t.Error("the refused attempt used the invite up")
	}
}

func TestServiceOwnInvite(t *testing.T) {
	n := newNet(t)
	alice := newNode(t, n, 1, "Alice")
	if _, err := alice.svc.Accept(context.Background(), alice.invite(t, InviteOptions{}), ""); !errors.Is(err, ErrBadInvite) {
		t.Fatalf("Accept of our own invite: %v, want ErrBadInvite", err)
	}
}

func TestServiceInviteAddresses(t *testing.T) {
	n := newNet(t)
	var addrs []string
	for i := range 20 {
		addrs = append(addrs, fmt.Sprintf("/ip4/10.0.0.%d/udp/4001/quic-v1/%s", i, strings.Repeat("x", 200)))
	}
	alice := newNode(t, n, 1, "Alice", func(_ *tnode, cfg *ServiceConfig) {
		cfg.Advertised = func(max int) []string { return addrs[:min(max, len(addrs))] }
	})
	inv, err := alice.svc.CreateInvite(InviteOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d := inv.Devices
	if len(d) != 1 || d[0].PeerID != alice.peer || len(d[0].Addrs) == 0 || len(d[0].Addrs) > MaxInviteAddrs ||
		!slices.Equal(d[0].Addrs, addrs[:len(d[0].Addrs)]) {
		t.Errorf("invite devices %+v: want alice's device with the first addresses that fit", d)
	}
	if inv.Name != "Alice" {
		t.Errorf("invite name %q, want the persona's name", inv.Name)
	}
	if inv, err = newNode(t, n, 2, "default").svc.CreateInvite(InviteOptions{TTL: time.Hour}); err != nil || inv.Name != "" {
		t.Errorf("invite of a persona named default suggests %q (%v)", inv.Name, err)
	}
}

func TestServiceCloseAbortsHandshake(t *testing.T) {
	n := newNet(t)
	alice, bob := newNode(t, n, 1, "Alice"), newNode(t, n, 2, "Bob")
	link := alice.invite(t, InviteOptions{})
	// A stream that says nothing holds one of alice's handshakes open.
	st, err := bob.node.NewStream(context.Background(), alice.id, ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	done := make(chan error, 1)
	go func() { done <- alice.svc.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not abort the handshake under way")
	}
	if _, err := bob.svc.Accept(context.Background(), link, ""); !errors.Is(err, netport.ErrUnreachable) {
		t.Errorf("Accept after the inviter's Close: %v", err)
	}
}
