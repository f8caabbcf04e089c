package share

import (
	"bytes"
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
)

// The sharing flows on the in-memory network: several nodes in one
// process, each a persona with one device, a MiMei store, a Service and
// Flows over its memnet node. Nothing here uses libp2p.

// netWorld is the personas and their devices on one memnet.
type netWorld struct {
	*world
	net *memnet.Net

	mu      sync.Mutex
	devices map[string]netport.PeerID // persona -> its device
}

func newNetWorld(t *testing.T) *netWorld {
	w := &netWorld{world: newWorld(), net: memnet.New(), devices: map[string]netport.PeerID{}}
	t.Cleanup(w.net.Close)
	return w
}

// netNode is a testNode on the network.
type netNode struct {
	*testNode
	port  *memnet.Node
	flows *Flows

	mu       sync.Mutex
	events   []string
	progress []map[string]any
	knows    map[string]bool // personas this node knows (contacts); nil = everyone
}

type netNodeOptions struct {
	nodeOptions
	stranger   bool          // nobody knows this persona as a contact
	checkEvery time.Duration // the safety net's period (0: an hour, i.e. never in a test)
}

func (w *netWorld) node(t *testing.T, seed byte, o netNodeOptions) *netNode {
	t.Helper()
	tn := w.world.node(t, seed, o.nodeOptions)
	n := &netNode{testNode: tn, port: w.net.Node(netport.PeerID(tn.peer))}
	if !o.stranger {
		w.mu.Lock()
		w.devices[tn.persona] = n.port.Self()
		w.mu.Unlock()
	}
	if o.checkEvery == 0 {
		o.checkEvery = time.Hour
	}
	var err error
	n.flows, err = NewFlows(FlowsConfig{
		Service: tn.svc, Net: n.port, Providers: n.port, Directory: netDirectory{w, n}, CheckEvery: o.checkEvery,
		Event: func(kind string, data any) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.events = append(n.events, kind)
			if kind == "share.progress" {
				n.progress = append(n.progress, data.(map[string]any))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.flows.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.flows.Close() })
	return n
}

func (n *netNode) sawEvent(kind string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.events, kind)
}

// netDirectory answers for one node: every persona with a device in the
// world is its contact, strangers are not.
type netDirectory struct {
	w *netWorld
	n *netNode
}

func (d netDirectory) PersonaOf(p netport.PeerID) string {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	for persona, dev := range d.w.devices {
		if dev == p {
			return persona
		}
	}
	return ""
}

func (d netDirectory) ConnectPersona(ctx context.Context, persona string) (netport.PeerID, error) {
	d.w.mu.Lock()
	dev, ok := d.w.devices[persona]
	d.w.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %s unknown", netport.ErrUnreachable, persona)
	}
	return dev, d.n.port.Connect(ctx, dev, nil)
}

func (d netDirectory) EncryptionKey(ctx context.Context, persona string) (hpke.PublicKey, error) {
	return d.w.encKey(ctx, persona)
}

// await polls fn until it returns nil or the deadline passes.
func await(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *netNode) hasVersion(id mimei.ID, v uint64) error {
	_, _, err := n.store.Version(context.Background(), id, fmt.Sprint(v))
	return err
}

// newNotes creates a MiMei of n with one file and backs it up as version 0.
func (n *netNode) newNotes(t *testing.T, public bool, files map[string][]byte) mimei.ID {
	t.Helper()
	id := n.create(t, public)
	for p, b := range files {
		n.put(t, id, p, b)
	}
	n.backup(t, id)
	return id
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestFlowsShareSubscribeNotify: the owner shares, the offer reaches the
// reader, the reader subscribes and gets version 0; a backup on the owner
// reaches the reader by notification, with no fetch asked for.
func TestFlowsShareSubscribeNotify(t *testing.T) {
	w := newNetWorld(t)
	a, b := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{})
	ctx := ctxT(t)
	id := a.newNotes(t, false, map[string][]byte{"hello.txt": []byte("hello\n")})

	if _, err := a.flows.ShareWith(ctx, id, b.persona, false); err != nil {
		t.Fatal(err)
	}
	await(t, 5*time.Second, "offer on B", func() error {
		if _, ok, err := b.svc.Incoming(id); err != nil || !ok {
			return fmt.Errorf("no offer (%v)", err)
		}
		return nil
	})
	got, err := b.flows.Fetch(ctx, id, FetchOptions{Subscribe: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Head.Number != 0 {
		t.Fatalf("fetched %+v", got)
	}
	if s := b.read(t, id, "0", "hello.txt"); string(s) != "hello\n" {
		t.Fatalf("hello.txt = %q", s)
	}
	await(t, 5*time.Second, "B among A's subscribers", func() error {
		subs, err := a.svc.Subscribers(id)
		if err != nil || len(subs) != 1 || subs[0].Device != string(b.port.Self()) {
			return fmt.Errorf("subscribers %+v (%v)", subs, err)
		}
		return nil
	})

	a.put(t, id, "more.txt", []byte("more\n"))
	v := a.backup(t, id)
	a.flows.AfterBackup(id, v.Number)
	await(t, 10*time.Second, "version 1 pushed to B", func() error { return b.hasVersion(id, 1) })
	if s := b.read(t, id, "1", "more.txt"); string(s) != "more\n" {
		t.Fatalf("more.txt = %q", s)
	}
	if !b.sawEvent("share.notified") || !b.sawEvent("share.received") {
		t.Fatalf("B's events %v", b.events)
	}
}

// TestFlowsStrangerRefused: a persona the owner does not know gets the
// same denial for a MiMei the owner holds and for one it does not, and
// nothing arrives.
func TestFlowsStrangerRefused(t *testing.T) {
	w := newNetWorld(t)
	a := w.node(t, 1, netNodeOptions{})
	c := w.node(t, 3, netNodeOptions{stranger: true})
	ctx := ctxT(t)
	id := a.newNotes(t, false, map[string][]byte{"secret.txt": []byte("secret\n")})
	if _, err := a.svc.Publish(ctx, id, "0", w.encKey); err != nil {
		t.Fatal(err)
	}
	_, errHeld := c.flows.catalog(ctx, a.port.Self(), id)
	var missing mimei.ID
	missing[0] = 0xff
	_, errMissing := c.flows.catalog(ctx, a.port.Self(), missing)
	if !errors.Is(errHeld, ErrDenied) || !errors.Is(errMissing, ErrDenied) {
		t.Fatalf("stranger's catalogs: held %v, missing %v", errHeld, errMissing)
	}
	if errHeld.Error() != errMissing.Error() {
		t.Fatalf("a stranger can tell a held MiMei from a missing one:\n held:    %v\n missing: %v", errHeld, errMissing)
	}
	if _, err := c.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona}); err == nil {
		t.Fatal("a stranger fetched a private MiMei")
	}
	if err := c.hasVersion(id, 0); err == nil {
		t.Fatal("the stranger holds the version")
	}
}

// TestFlowsRevoke: after Unshare the reader is told (its offer shows the
// revocation, its subscription ends), its next fetch is denied and the
// version made after it never arrives.
func TestFlowsRevoke(t *testing.T) {
	w := newNetWorld(t)
	a, b := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{})
	ctx := ctxT(t)
	id := a.newNotes(t, false, map[string][]byte{"a.txt": []byte("a\n")})
	if _, err := a.flows.ShareWith(ctx, id, b.persona, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona, Subscribe: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.flows.Unshare(ctx, id, b.persona); err != nil {
		t.Fatal(err)
	}
	// B is told: the offer shows the revocation and the subscription ends.
	await(t, 5*time.Second, "B told of the revocation", func() error {
		in, ok, err := b.svc.Incoming(id)
		if err != nil || !ok || in.Revoked.IsZero() {
			return fmt.Errorf("offer %+v, %v, %v", in, ok, err)
		}
		if _, sub, _ := b.svc.Subscription(id); sub {
			return errors.New("still subscribed")
		}
		return nil
	})
	a.put(t, id, "after.txt", []byte("after the revocation\n"))
	v := a.backup(t, id)
	a.flows.AfterBackup(id, v.Number)
	_, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("fetch after unshare: %v, want denied", err)
	}
	if err := b.hasVersion(id, 1); err == nil {
		t.Fatal("the revoked reader got the new version")
	}
}

// TestFlowsResumeAfterDroppedLink: the link drops in the middle of a
// fetch; the next fetch takes only the blocks that had not arrived.
func TestFlowsResumeAfterDroppedLink(t *testing.T) {
	w := newNetWorld(t)
	a, b := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{})
	ctx := ctxT(t)
	id := a.create(t, false)
	a.put(t, id, "big.bin", randomBytes(7, 6<<20))
	v := a.backup(t, id)
	if _, err := a.flows.ShareWith(ctx, id, b.persona, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Publish(ctx, id, fmt.Sprint(v.Number), w.encKey); err != nil {
		t.Fatal(err)
	}
	// 2 MiB/s: the 6 MiB fetch takes about three seconds, long enough to
	// cut it in the middle.
	w.net.SetBandwidth(a.port.Self(), b.port.Self(), 2<<20)
	errc := make(chan error, 1)
	go func() {
		_, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona})
		errc <- err
	}()
	var doneBefore int
	await(t, 20*time.Second, "a third of the blocks", func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.progress) == 0 {
			return errors.New("no progress yet")
		}
		p := b.progress[len(b.progress)-1]
		done, total := p["done"].(int), p["total"].(uint64)
		if uint64(3*done) < total {
			return fmt.Errorf("%d of %d blocks", done, total)
		}
		doneBefore = done
		return nil
	})
	w.net.DropLink(a.port.Self(), b.port.Self())
	if err := <-errc; err == nil {
		t.Fatal("the fetch survived a dropped link")
	}
	if err := b.hasVersion(id, 0); err == nil {
		t.Fatal("version 0 complete after a dropped link")
	}
	w.net.SetBandwidth(a.port.Self(), b.port.Self(), 0)
	got, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona})
	if err != nil {
		t.Fatalf("second fetch: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("second fetch brought %d versions", len(got))
	}
	r := got[0].Result
	if r.Skipped < doneBefore-1 || r.Fetched == 0 {
		t.Fatalf("resume skipped %d and fetched %d blocks; %d had arrived before the drop", r.Skipped, r.Fetched, doneBefore)
	}
	t.Logf("before the drop %d blocks; resume skipped %d, fetched %d", doneBefore, r.Skipped, r.Fetched)
	if !bytes.Equal(b.read(t, id, "0", "big.bin"), randomBytes(7, 6<<20)) {
		t.Fatal("big.bin differs after the resumed fetch")
	}
}

// TestFlowsPartitionHeals: a notification lost to a partition is made
// good by the safety net once the partition heals.
func TestFlowsPartitionHeals(t *testing.T) {
	w := newNetWorld(t)
	a := w.node(t, 1, netNodeOptions{})
	b := w.node(t, 2, netNodeOptions{checkEvery: 100 * time.Millisecond})
	ctx := ctxT(t)
	id := a.newNotes(t, false, map[string][]byte{"a.txt": []byte("a\n")})
	if _, err := a.flows.ShareWith(ctx, id, b.persona, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona, Subscribe: true}); err != nil {
		t.Fatal(err)
	}
	w.net.Partition([]netport.PeerID{a.port.Self()}, []netport.PeerID{b.port.Self()})
	a.put(t, id, "b.txt", []byte("made during the partition\n"))
	v := a.backup(t, id)
	a.flows.AfterBackup(id, v.Number)  // the notification cannot get through
	time.Sleep(300 * time.Millisecond) // several safety-net rounds fail meanwhile
	if err := b.hasVersion(id, 1); err == nil {
		t.Fatal("version 1 crossed the partition")
	}
	w.net.Heal()
	await(t, 10*time.Second, "version 1 after healing", func() error { return b.hasVersion(id, 1) })
	if s := b.read(t, id, "1", "b.txt"); string(s) != "made during the partition\n" {
		t.Fatalf("b.txt = %q", s)
	}
}

// TestFlowsThreeProviders: a public MiMei held by its owner and by two
// readers who fetched it is fetched from all three at once.
func TestFlowsThreeProviders(t *testing.T) {
	w := newNetWorld(t)
	a := w.node(t, 1, netNodeOptions{})
	p1, p2 := w.node(t, 2, netNodeOptions{}), w.node(t, 3, netNodeOptions{})
	d := w.node(t, 4, netNodeOptions{})
	ctx := ctxT(t)
	id := a.create(t, true)
	a.put(t, id, "big.bin", randomBytes(9, 4<<20))
	a.backup(t, id)
	if err := a.flows.MakePublic(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*netNode{p1, p2} {
		if _, err := p.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona}); err != nil {
			t.Fatal(err)
		}
	}
	await(t, 5*time.Second, "three providers announced", func() error {
		ps, err := d.port.FindProviders(ctx, ProviderKey(id), 8)
		if err != nil || len(ps) < 3 {
			return fmt.Errorf("providers %v (%v)", ps, err)
		}
		return nil
	})
	// Home uplinks: each provider alone is slow, so the fetch spreads.
	for _, p := range []*netNode{a, p1, p2} {
		w.net.SetBandwidth(p.port.Self(), d.port.Self(), 4<<20)
	}
	got, err := d.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("fetched %d versions", len(got))
	}
	per := got[0].PerProvider
	if len(per) != 3 {
		t.Fatalf("blocks per provider %v, want three providers", per)
	}
	for p, n := range per {
		if n == 0 {
			t.Fatalf("provider %s served nothing: %v", p, per)
		}
	}
	if !bytes.Equal(d.read(t, id, "0", "big.bin"), randomBytes(9, 4<<20)) {
		t.Fatal("big.bin differs")
	}
}

// TestFlowsWriterPush: a writer's backup reaches the owner by push, and
// the owner passes it on to its other subscribers.
func TestFlowsWriterPush(t *testing.T) {
	w := newNetWorld(t)
	a, b, c := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{}), w.node(t, 3, netNodeOptions{})
	ctx := ctxT(t)
	id := a.newNotes(t, false, map[string][]byte{"a.txt": []byte("from A\n")})
	if _, err := a.flows.ShareWith(ctx, id, b.persona, true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.flows.ShareWith(ctx, id, c.persona, false); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*netNode{b, c} {
		if _, err := n.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona, Subscribe: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.store.Restore(ctx, id, "0"); err != nil {
		t.Fatal(err)
	}
	b.put(t, id, "b.txt", []byte("from B\n"))
	v := b.backup(t, id)
	b.flows.AfterBackup(id, v.Number)
	for _, n := range []*netNode{a, c} {
		await(t, 10*time.Second, "B's version on "+n.peer, func() error { return n.hasVersion(id, v.Number) })
		if s := n.read(t, id, fmt.Sprint(v.Number), "b.txt"); string(s) != "from B\n" {
			t.Fatalf("b.txt on %s = %q", n.peer, s)
		}
	}
	if !a.sawEvent("share.pushed") || !b.sawEvent("share.push_sent") {
		t.Fatalf("events: A %v, B %v", a.events, b.events)
	}
}

// TestFlowsStrangerBlocksUniform: a stranger asking the block exchange
// for a block of a private MiMei the owner holds, for a block of a MiMei
// it does not hold, and for a random CID, gets the same answer (denied):
// the exchange tells nothing of what exists.
func TestFlowsStrangerBlocksUniform(t *testing.T) {
	w := newNetWorld(t)
	a := w.node(t, 1, netNodeOptions{})
	id := a.newNotes(t, false, map[string][]byte{"secret.txt": []byte("secret\n")})
	h := a.publish(t, w.world, id, "0")
	var missing mimei.ID
	missing[0] = 0xfe
	random := cid.Sum(cid.Raw, []byte("nothing here"))
	for _, tc := range []struct {
		name string
		mid  mimei.ID
		c    cid.CID
	}{
		{"held private MiMei, its manifest", id, h.Manifest},
		{"held private MiMei, a random CID", id, random},
		{"MiMei not held", missing, h.Manifest},
	} {
		err := a.svc.Authorize("", "stranger-peer", tc.mid.String(), tc.c)
		if !errors.Is(err, ErrNotShared) {
			t.Errorf("%s: %v, want ErrNotShared (denied)", tc.name, err)
		}
	}
}
