package share

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/netport"
)

// What others can make an owner keep of its subscribers: entries expire
// SubscriberTTL after the device last subscribed, and a MiMei keeps at
// most MaxSubscribers, MaxSubscriberDevices of one persona and
// MaxStrangerSubscribers of strangers; a stranger never evicts a contact.

func subscriberCounts(t *testing.T, s *Service, id mimei.ID) (total, strangers int, persona map[string]int) {
	t.Helper()
	subs, err := s.Subscribers(id)
	if err != nil {
		t.Fatal(err)
	}
	persona = map[string]int{}
	for _, sb := range subs {
		persona[sb.Persona]++
		if sb.Persona == "" {
			strangers++
		}
	}
	return len(subs), strangers, persona
}

func TestSubscriberBounds(t *testing.T) {
	tests := []struct {
		name  string
		add   func(add func(persona, device string))
		total int
		// strangers and per-persona device counts expected afterwards
		strangers int
		persona   map[string]int
	}{
		{
			name: "one persona's devices",
			add: func(add func(string, string)) {
				for i := range MaxSubscriberDevices + 10 {
					add("did:key:bob", fmt.Sprintf("bob-%d", i))
				}
			},
			total: MaxSubscriberDevices, persona: map[string]int{"did:key:bob": MaxSubscriberDevices},
		},
		{
			name: "strangers together",
			add: func(add func(string, string)) {
				add("did:key:bob", "bob")
				for i := range 1000 {
					add("", fmt.Sprintf("throwaway-%d", i))
				}
				add("did:key:carol", "carol")
			},
			total: MaxStrangerSubscribers + 2, strangers: MaxStrangerSubscribers,
			persona: map[string]int{"did:key:bob": 1, "did:key:carol": 1, "": MaxStrangerSubscribers},
		},
		{
			name: "contacts fill the MiMei, strangers cannot evict them",
			add: func(add func(string, string)) {
				for i := range 10 {
					add("", fmt.Sprintf("throwaway-%d", i))
				}
				for i := range MaxSubscribers {
					add(fmt.Sprintf("did:key:c%d", i), fmt.Sprintf("c%d", i))
				}
				for i := range 100 {
					add("", fmt.Sprintf("late-%d", i))
				}
			},
			total: MaxSubscribers, strangers: 0,
		},
		{
			name: "contacts over the total evict the oldest contact",
			add: func(add func(string, string)) {
				for i := range MaxSubscribers + 5 {
					add(fmt.Sprintf("did:key:c%d", i), fmt.Sprintf("c%d", i))
				}
			},
			total: MaxSubscribers,
		},
		{
			name: "a device subscribing again is one entry",
			add: func(add func(string, string)) {
				for range 50 {
					add("did:key:bob", "bob")
					add("", "stranger")
				}
			},
			total: 2, strangers: 1, persona: map[string]int{"did:key:bob": 1, "": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			a := w.node(t, 1, nodeOptions{})
			id := a.create(t, true)
			tc.add(func(persona, device string) {
				if err := a.svc.AddSubscriber(id, persona, device); err != nil && persona != "" {
					t.Fatalf("contact %s: %v", persona, err)
				}
			})
			total, strangers, persona := subscriberCounts(t, a.svc, id)
			if total != tc.total || strangers != tc.strangers {
				t.Fatalf("%d subscribers (%d strangers), want %d (%d)", total, strangers, tc.total, tc.strangers)
			}
			for p, n := range tc.persona {
				if persona[p] != n {
					t.Fatalf("persona %q has %d devices, want %d", p, persona[p], n)
				}
			}
			if n := kvCount(t, a, subscriberPrefix(id)); n != total {
				t.Fatalf("%d sh/sub/ keys stored, %d listed", n, total)
			}
		})
	}
}

func kvCount(t *testing.T, n *testNode, prefix []byte) int {
	t.Helper()
	it := n.kv.Iter(kv.IterOptions{Prefix: prefix})
	c := 0
	for it.Next() {
		c++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSubscriberExpiry: an entry lasts SubscriberTTL from the last
// subscription; subscribing again starts it over; expired entries are
// deleted, not just hidden. An entry of the old encoding (the persona
// alone) is read and given a full TTL.
func TestSubscriberExpiry(t *testing.T) {
	w := newWorld()
	a := w.node(t, 1, nodeOptions{})
	id := a.create(t, true)
	advance := func(d time.Duration) { w.clock.ms.Add(int64(d / time.Millisecond)) }
	devices := func() map[string]bool {
		subs, err := a.svc.Subscribers(id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, sb := range subs {
			out[sb.Device] = true
		}
		return out
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.svc.AddSubscriber(id, "did:key:bob", "bob"))
	must(a.svc.AddSubscriber(id, "", "stranger"))
	must(a.kv.Set(subscriberKey(id, "old"), []byte("did:key:carol"))) // before expiry existed
	if d := devices(); len(d) != 3 || !d["old"] {
		t.Fatalf("subscribers %v, want bob, stranger and old", d)
	}
	if e := decodeSubscriber("old", mustGet(t, a, subscriberKey(id, "old"))); e.persona != "did:key:carol" || e.since.IsZero() {
		t.Fatalf("old entry not rewritten: %+v", e)
	}
	advance(SubscriberTTL / 2)
	must(a.svc.AddSubscriber(id, "did:key:bob", "bob")) // bob renews
	advance(SubscriberTTL/2 + time.Hour)
	if d := devices(); len(d) != 1 || !d["bob"] {
		t.Fatalf("subscribers after the TTL %v, want only bob (renewed)", d)
	}
	if n := kvCount(t, a, subscriberPrefix(id)); n != 1 {
		t.Fatalf("%d sh/sub/ keys after expiry, want 1", n)
	}
	advance(SubscriberTTL)
	if d := devices(); len(d) != 0 {
		t.Fatalf("subscribers %v, want none", d)
	}
}

func mustGet(t *testing.T, n *testNode, k []byte) []byte {
	t.Helper()
	b, err := n.kv.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFlowsStrangerSubscribeFlood: 1000 throwaway stranger peers subscribe
// to a public MiMei over the network; the owner keeps at most
// MaxStrangerSubscribers of them, and its contact's subscription stays.
func TestFlowsStrangerSubscribeFlood(t *testing.T) {
	w := newNetWorld(t)
	a, b := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{})
	ctx := ctxT(t)
	id := a.newNotes(t, true, map[string][]byte{"pub.txt": []byte("public\n")})
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona, Subscribe: true}); err != nil {
		t.Fatal(err)
	}
	const flood = 1000
	for i := range flood {
		p := w.net.Node(netport.PeerID(fmt.Sprintf("throwaway-%04d", i)))
		st, err := p.NewStream(ctx, a.port.Self(), ProtocolID)
		if err != nil {
			t.Fatalf("stranger %d: %v", i, err)
		}
		st.SetDeadline(time.Now().Add(10 * time.Second))
		if err := WriteRequest(st, &Request{Kind: KindSubscribe, MiMei: id}); err != nil {
			t.Fatalf("stranger %d: %v", i, err)
		}
		st.CloseWrite()
		rep, err := ReadReply(st)
		st.Close()
		if err != nil || rep.Err() != nil {
			t.Fatalf("stranger %d: reply %+v %v", i, rep, err)
		}
		p.Close()
	}
	total, strangers, persona := subscriberCounts(t, a.svc, id)
	if strangers > MaxStrangerSubscribers || total > MaxSubscribers {
		t.Fatalf("after %d throwaway peers: %d subscribers, %d strangers (bounds %d, %d)", flood, total, strangers, MaxSubscribers, MaxStrangerSubscribers)
	}
	if persona[b.persona] != 1 {
		t.Fatalf("the contact's subscription was evicted by strangers: %v", persona)
	}
	if n := kvCount(t, a.testNode, subscriberPrefix(id)); n > MaxStrangerSubscribers+1 {
		t.Fatalf("%d sh/sub/ keys stored after the flood", n)
	}
}

// TestFlowsResubscribe: a subscriber's safety-net round (Fetch without
// Subscribe) renews its subscription at the owner once resubscribeEvery
// has passed, so the owner keeps it past SubscriberTTL.
func TestFlowsResubscribe(t *testing.T) {
	w := newNetWorld(t)
	a, b := w.node(t, 1, netNodeOptions{}), w.node(t, 2, netNodeOptions{})
	ctx := ctxT(t)
	id := a.newNotes(t, true, map[string][]byte{"pub.txt": []byte("public\n")})
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{Owner: a.persona, Subscribe: true}); err != nil {
		t.Fatal(err)
	}
	since := func() time.Time {
		subs, err := a.svc.Subscribers(id)
		if err != nil || len(subs) != 1 {
			t.Fatalf("subscribers %+v (%v)", subs, err)
		}
		return subs[0].Since
	}
	first := since()
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := since(); !got.Equal(first) {
		t.Fatalf("renewed at once (%v → %v), want after resubscribeEvery", first, got)
	}
	w.clock.ms.Add(int64((resubscribeEvery + time.Minute) / time.Millisecond))
	if _, err := b.flows.Fetch(ctx, id, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	renewed := since()
	if !renewed.After(first.Add(resubscribeEvery)) {
		t.Fatalf("not renewed: since %v, first %v", renewed, first)
	}
	w.clock.ms.Add(int64((SubscriberTTL - time.Hour) / time.Millisecond))
	since() // still there: SubscriberTTL from the renewal has not passed
}

// TestOfferBounds: offers are kept at most maxOffersPerPersona per persona
// and maxOffers in total, the oldest that was only offered going first (of
// the same persona, or of the persona with the most); an offer acted on
// (subscribed to) is never evicted.
func TestOfferBounds(t *testing.T) {
	oldPer, oldAll := maxOffersPerPersona, maxOffers
	maxOffersPerPersona, maxOffers = 5, 12
	t.Cleanup(func() { maxOffersPerPersona, maxOffers = oldPer, oldAll })
	w := newWorld()
	a := w.node(t, 1, nodeOptions{})
	persona := func() string {
		_, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		return identity.DID(k.Public().(ed25519.PublicKey))
	}
	n := 0
	offer := func(from string) mimei.ID {
		t.Helper()
		n++
		spec := mimei.Spec{Author: from, AppType: "files", Mark: fmt.Sprint(n)}
		id, err := mimei.DeriveID(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.svc.AddOffer(&Offer{MiMei: id, Author: from, AppType: "files", Mark: spec.Mark}, from); err != nil {
			t.Fatal(err)
		}
		return id
	}
	held := func() map[mimei.ID]string {
		t.Helper()
		all, err := a.svc.SharedWithMe()
		if err != nil {
			t.Fatal(err)
		}
		out := map[mimei.ID]string{}
		for _, in := range all {
			out[in.MiMei] = in.From
		}
		return out
	}
	perPersona := func() map[string]int {
		out := map[string]int{}
		for _, p := range held() {
			out[p]++
		}
		return out
	}

	bob, carol, dave := persona(), persona(), persona()
	kept := offer(bob)
	if _, err := a.svc.Subscribe(kept, bob); err != nil {
		t.Fatal(err)
	}
	var last mimei.ID
	for range 10 {
		last = offer(bob)
	}
	if got := perPersona()[bob]; got != 5 {
		t.Fatalf("bob has %d offers, want 5", got)
	}
	if h := held(); h[kept] == "" || h[last] == "" {
		t.Fatal("the subscribed or the newest offer was evicted")
	}
	newest := map[string]mimei.ID{}
	for range 5 {
		newest[carol] = offer(carol)
		newest[dave] = offer(dave)
	}
	h := held()
	if len(h) != 12 {
		t.Fatalf("%d offers kept, want 12 (%v)", len(h), perPersona())
	}
	if h[kept] == "" || h[newest[carol]] == "" || h[newest[dave]] == "" {
		t.Fatalf("evicted an offer acted on or a newest one: %v", perPersona())
	}
	if pp := perPersona(); pp[bob] > 5 || pp[carol] > 5 || pp[dave] > 5 {
		t.Fatalf("per persona %v, bound 5", pp)
	}
}
