package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/netport"
)

// node is one test peer: a persona with one device and a discovery service.
type node struct {
	persona ed25519.PrivateKey
	did     string
	device  ed25519.PrivateKey
	cert    []byte
	h       host.Host
	svc     *Service
	seq     uint64
}

var seedMu sync.Mutex
var seedN byte

func nextSeed() []byte {
	seedMu.Lock()
	defer seedMu.Unlock()
	seedN++
	s := make([]byte, 32)
	s[0], s[1] = seedN, 0x5a
	return s
}

func newNode(t *testing.T, cfg Config) *node {
	t.Helper()
	n := &node{persona: ed25519.NewKeyFromSeed(nextSeed()), device: ed25519.NewKeyFromSeed(nextSeed())}
	n.did = identity.DID(n.persona.Public().(ed25519.PublicKey))
	c, err := identity.IssueDeviceCertV1(n.persona, n.device.Public().(ed25519.PublicKey), 1, time.Now().Add(-time.Minute), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n.cert, err = c.Marshal(); err != nil {
		t.Fatal(err)
	}
	pk, err := crypto.UnmarshalEd25519PrivateKey(n.device)
	if err != nil {
		t.Fatal(err)
	}
	n.h, err = libp2p.New(libp2p.Identity(pk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.NoTransports, libp2p.DefaultTransports)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.h.Close() })
	cfg.Host = n.h
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if n.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.svc.Close() })
	return n
}

// record signs a fresh record of n's device at its listen addresses.
func (n *node) record(t *testing.T) []byte {
	t.Helper()
	var addrs []string
	for _, a := range n.h.Addrs() {
		addrs = append(addrs, a.String())
	}
	return n.recordAt(t, addrs)
}

// recordAt signs a fresh record of n's device at addrs.
func (n *node) recordAt(t *testing.T, addrs []string) []byte {
	t.Helper()
	n.seq++
	now := time.Now()
	r := &idrecord.Record{Persona: n.did, Seq: n.seq, Issued: now, Expires: now.Add(time.Hour),
		Devices: []idrecord.Device{{Cert: n.cert, Addrs: addrs}}}
	if err := r.Sign(n.device); err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func info(n *node) peer.AddrInfo { return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()} }

func TestIndexPath(t *testing.T) {
	ctx := context.Background()
	ix1 := newNode(t, Config{ServeIndex: true})
	ix2 := newNode(t, Config{ServeIndex: true})
	indexes := []peer.AddrInfo{info(ix1), info(ix2)}
	a := newNode(t, Config{Indexes: indexes})
	b := newNode(t, Config{Indexes: indexes})

	rep, err := a.svc.Publish(ctx, a.record(t))
	if err != nil {
		t.Fatal(err)
	}
	for id, err := range rep.Indexes {
		if err != nil {
			t.Fatalf("register with %s: %v", id, err)
		}
	}
	if ix1.svc.IndexSize() != 1 || ix2.svc.IndexSize() != 1 {
		t.Fatalf("index sizes %d, %d", ix1.svc.IndexSize(), ix2.svc.IndexSize())
	}
	// With no DHT, B finds A through an index and connects.
	id, r, err := b.svc.Connect(ctx, a.did)
	if err != nil {
		t.Fatal(err)
	}
	if id != portID(a.h.ID()) || r.Source == "" {
		t.Fatalf("connected to %s via %q", id, r.Source)
	}
	// One index vanishes: lookups still succeed (through the other).
	ix1.h.Close()
	c := newNode(t, Config{Indexes: indexes})
	if _, r, err := c.svc.Connect(ctx, a.did); err != nil || r.Source != "index "+ix2.h.ID().String() {
		t.Fatalf("with one index gone: source %q, %v", r.Source, err)
	}
	// An unknown persona is not found.
	stranger := newNode(t, Config{})
	if _, err := c.svc.Resolve(ctx, stranger.did); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown persona: %v", err)
	}
}

// TestAwaitIDWaitsForTheRecord: a peer found a moment after its host
// started may have no record to serve yet, or not handle the identity
// protocol yet. FetchID's one question then fails; AwaitID asks again
// until the record is there. (The node asked once when mDNS found a peer,
// so a peer found in that moment stayed unknown: TestNetnsMDNS failed so.)
func TestAwaitIDWaitsForTheRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		// early answers A while B is not ready.
		early func(b *node, st network.Stream)
	}{
		{"no record yet", func(b *node, st network.Stream) { b.svc.handle(b.svc.serveID)(st) }},
		{"stream fails", func(_ *node, st network.Stream) { st.Reset() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a := newNode(t, Config{})
			b := newNode(t, Config{})
			// B answers as tc.early says, and counts A's questions,
			// until it is made ready.
			var ready atomic.Bool
			asked := make(chan struct{}, 100)
			b.h.SetStreamHandler(ProtoID, func(st network.Stream) {
				if ready.Load() {
					b.svc.handle(b.svc.serveID)(st)
					return
				}
				tc.early(b, st)
				asked <- struct{}{}
			})
			if err := a.h.Connect(ctx, info(b)); err != nil {
				t.Fatal(err)
			}
			if _, err := a.svc.FetchID(ctx, portID(b.h.ID())); err == nil {
				t.Fatal("FetchID got a record from a peer that is not ready")
			}
			<-asked
			got := make(chan error, 1)
			go func() {
				rec, err := a.svc.AwaitID(ctx, b.h.ID())
				if err == nil && rec.Persona != b.did {
					err = fmt.Errorf("record of %s, want %s", rec.Persona, b.did)
				}
				got <- err
			}()
			// Two questions answered while B is not ready, then B gets
			// its record: AwaitID's next question gets it.
			for range 2 {
				select {
				case <-asked:
				case err := <-got:
					t.Fatalf("AwaitID ended before B was ready: %v", err)
				case <-ctx.Done():
					t.Fatal("A did not ask again")
				}
			}
			if err := b.svc.SetOwnRecord(b.record(t)); err != nil {
				t.Fatal(err)
			}
			ready.Store(true)
			if err := <-got; err != nil {
				t.Fatalf("AwaitID: %v", err)
			}
			if r, ok := a.svc.Cached(b.did); !ok || r.Source != "peer "+b.h.ID().String() {
				t.Fatalf("B's record not cached at A: %+v %v", r, ok)
			}
		})
	}
}

// TestAwaitIDStops: a refusal ends AwaitID at once; a peer that never
// serves a record ends it when the context does.
func TestAwaitIDStops(t *testing.T) {
	a := newNode(t, Config{})
	b := newNode(t, Config{})
	refuse := make(chan bool, 1)
	refuse <- true
	b.h.SetStreamHandler(ProtoID, b.svc.handle(func(peer.ID, *Request) *Response {
		select {
		case <-refuse:
			return &Response{Status: StatusRefused, Error: "no"}
		default:
			return &Response{Status: StatusNotFound, Error: "no record yet"}
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.h.Connect(ctx, info(b)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.AwaitID(ctx, b.h.ID()); !errors.Is(err, errRefused) {
		t.Fatalf("refused: %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	if _, err := a.svc.AwaitID(short, b.h.ID()); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("never ready: %v", err)
	}
}

// TestConnectRefreshesStaleRecord: a cached record whose addresses no
// longer work (the persona moved) does not block Connect for the cache's
// freshness period: Connect asks the sources again and uses the newer one.
func TestConnectRefreshesStaleRecord(t *testing.T) {
	ctx := context.Background()
	ix := newNode(t, Config{ServeIndex: true})
	a := newNode(t, Config{Indexes: []peer.AddrInfo{info(ix)}})
	b := newNode(t, Config{Indexes: []peer.AddrInfo{info(ix)}, Timeout: 2 * time.Second})

	// A's first record lists an address where nobody listens; B caches it.
	if _, err := a.svc.Publish(ctx, a.recordAt(t, []string{"/ip4/127.0.0.1/tcp/1"})); err != nil {
		t.Fatal(err)
	}
	if r, err := b.svc.Resolve(ctx, a.did); err != nil || r.Record.Seq != a.seq {
		t.Fatalf("resolve: %v", err)
	}
	// A "moves" and publishes its real addresses.
	if _, err := a.svc.Publish(ctx, a.record(t)); err != nil {
		t.Fatal(err)
	}
	if r, ok := b.svc.Cached(a.did); !ok || r.Record.Seq != a.seq-1 {
		t.Fatal("B should still hold the stale record in its cache")
	}
	id, r, err := b.svc.Connect(ctx, a.did)
	if err != nil {
		t.Fatalf("connect with a stale cached record: %v", err)
	}
	if id != portID(a.h.ID()) || r.Record.Seq != a.seq {
		t.Fatalf("connected to %s with record seq %d, want %s seq %d", id, r.Record.Seq, a.h.ID(), a.seq)
	}
	if c, _ := b.svc.Cached(a.did); c.Record.Seq != a.seq {
		t.Fatalf("cache holds seq %d after the refresh, want %d", c.Record.Seq, a.seq)
	}

	// When there is nothing newer, Connect fails with the first error.
	a.h.Close()
	b.h.Network().ClosePeer(a.h.ID())
	if _, _, err := b.svc.Connect(ctx, a.did); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("connect to a closed host: %v, want ErrUnreachable", err)
	}
}

func TestIndexRefuses(t *testing.T) {
	ctx := context.Background()
	ix := newNode(t, Config{ServeIndex: true})
	a := newNode(t, Config{Indexes: []peer.AddrInfo{info(ix)}})
	other := newNode(t, Config{Indexes: []peer.AddrInfo{info(ix)}})
	newer := a.record(t)
	older := func() []byte { a.seq -= 2; defer func() { a.seq += 2 }(); return a.record(t) }()
	if _, err := a.svc.ask(ctx, info(ix), ProtoIndex, &Request{Version: WireVersion, Op: OpRegister, Record: newer}); err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), newer...)
	tampered[len(tampered)-10] ^= 1
	tests := []struct {
		name string
		from *node
		rec  []byte
	}{
		{"lower sequence", a, older},
		{"tampered", a, tampered},
		{"registered by a peer the record does not list", other, a.record(t)},
		{"garbage", a, []byte{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.from.svc.ask(ctx, info(ix), ProtoIndex, &Request{Version: WireVersion, Op: OpRegister, Record: tt.rec})
			if err == nil {
				t.Fatal("registration accepted")
			}
		})
	}
	// What is registered is still the newer record.
	raw, err := other.svc.lookup(ctx, info(ix), ProtoIndex, a.did)
	if err != nil || string(raw) != string(newer) {
		t.Fatalf("lookup after refusals: %v", err)
	}
}

func TestContactPath(t *testing.T) {
	ctx := context.Background()
	// C knows where B is (it is connected to B and fetched B's record); A
	// is C's contact and asks C.
	var a, b, c *node
	b = newNode(t, Config{})
	c = newNode(t, Config{IsContact: func(p netport.PeerID) bool { return a != nil && p == portID(a.h.ID()) }})
	a = newNode(t, Config{Contacts: func() []netport.PeerID { return []netport.PeerID{portID(c.h.ID())} }})
	if err := b.svc.SetOwnRecord(b.record(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.h.Connect(ctx, info(b)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.FetchID(ctx, portID(b.h.ID())); err != nil {
		t.Fatal(err)
	}
	if err := a.h.Connect(ctx, info(c)); err != nil {
		t.Fatal(err)
	}
	id, r, err := a.svc.Connect(ctx, b.did)
	if err != nil {
		t.Fatal(err)
	}
	if id != portID(b.h.ID()) || r.Source != "contact "+c.h.ID().String() {
		t.Fatalf("connected to %s via %q", id, r.Source)
	}
	// A stranger asking C is refused.
	s := newNode(t, Config{})
	if _, err := s.svc.lookup(ctx, info(c), ProtoWhereIs, b.did); err == nil {
		t.Fatal("whereis answered a stranger")
	}
	// The second resolve comes from the cache.
	if r, err := a.svc.Resolve(ctx, b.did); err != nil || r.Source != "cache" {
		t.Fatalf("second resolve: %q, %v", r.Source, err)
	}
}

// fakeDHT is a map with the DHT's validation: it keeps the best valid value.
type fakeDHT struct {
	mu sync.Mutex
	m  map[string][]byte
	v  idrecord.Validator
}

func (d *fakeDHT) PutValue(ctx context.Context, key string, val []byte) error {
	if err := d.v.Validate(key, val); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.m[key]; ok {
		if i, _ := d.v.Select(key, [][]byte{old, val}); i == 0 {
			return nil
		}
	}
	d.m[key] = val
	return nil
}

func (d *fakeDHT) GetValue(ctx context.Context, key string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.m[key]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("routing: not found")
}

func TestDHTPathAndNewerWins(t *testing.T) {
	ctx := context.Background()
	d := &fakeDHT{m: map[string][]byte{}}
	a := newNode(t, Config{DHT: d})
	b := newNode(t, Config{DHT: d})
	first := a.record(t)
	if _, err := a.svc.Publish(ctx, first); err != nil {
		t.Fatal(err)
	}
	r, err := b.svc.Resolve(ctx, a.did)
	if err != nil || r.Source != "dht" || r.Record.Seq != 1 {
		t.Fatalf("resolve: %+v, %v", r, err)
	}
	if _, err := a.svc.Publish(ctx, a.record(t)); err != nil {
		t.Fatal(err)
	}
	// An older record learnt later does not replace the newer one.
	if _, err := b.svc.Learn(first, "test"); err != nil {
		t.Fatal(err)
	}
	c, _ := b.svc.Cached(a.did)
	if c.Record.Seq != 1 {
		t.Fatalf("cached seq %d", c.Record.Seq)
	}
	nr, _ := b.svc.Learn(d.m[mustKey(t, a.did)], "test")
	if c, _ := b.svc.Cached(a.did); c.Record.Seq != 2 || nr.Seq != 2 {
		t.Fatalf("cached seq %d after learning seq 2", c.Record.Seq)
	}
}

func mustKey(t *testing.T, did string) string {
	k, err := idrecord.Key(did)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func FuzzParseRequest(f *testing.F) {
	for _, q := range []*Request{{Version: 1, Op: OpLookup, Persona: "did:key:z6Mk"}, {Version: 1, Op: OpRegister, Record: []byte{1, 2}}} {
		b, _ := marshal(q)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseRequest(b)
		if err != nil {
			return
		}
		if out, err := marshal(q); err != nil || string(out) != string(b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, p := range []*Response{{Version: 1, Record: []byte{9}}, {Version: 1, Status: StatusRefused, Error: "no"}} {
		b, _ := marshal(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseResponse(b)
		if err != nil {
			return
		}
		if out, err := marshal(p); err != nil || string(out) != string(b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func TestParseIndexes(t *testing.T) {
	const id = "12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE"
	tests := []struct {
		name    string
		addrs   []string
		want    int
		wantErr bool
	}{
		{"none", nil, 0, false},
		{"two", []string{"/ip4/127.0.0.1/tcp/4001/p2p/" + id, "/ip4/127.0.0.1/udp/4001/quic-v1/p2p/" + id}, 2, false},
		{"no peer ID", []string{"/ip4/127.0.0.1/tcp/4001"}, 0, true},
		{"not a multiaddr", []string{"index.example.org"}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIndexes(tc.addrs)
			if (err != nil) != tc.wantErr || len(got) != tc.want {
				t.Fatalf("ParseIndexes(%q) = %v, %v", tc.addrs, got, err)
			}
			for _, ai := range got {
				if ai.ID.String() != id || len(ai.Addrs) != 1 {
					t.Fatalf("parsed %v", ai)
				}
			}
		})
	}
}

// TestPeerFound: a peer met on the LAN is asked for its own record, which
// is cached under its persona.
func TestPeerFound(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, Config{}), newNode(t, Config{})
	if err := b.svc.SetOwnRecord(b.record(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.h.Connect(ctx, info(b)); err != nil {
		t.Fatal(err)
	}
	a.svc.PeerFound(info(b))
	if r, ok := a.svc.Cached(b.did); !ok || r.Source != "peer "+b.h.ID().String() {
		t.Fatalf("cached after PeerFound: %+v %v", r, ok)
	}
}
