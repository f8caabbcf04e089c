package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/netport"
)

// Tests run on loopback only, with mDNS and port mapping off.
var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

const waitLong = 30 * time.Second // generous: the CI machine has 2 shared cores

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// newTestHost starts a loopback host; DHT "off" unless o says otherwise.
func newTestHost(t *testing.T, o Options) *Host {
	t.Helper()
	if o.ListenAddrs == nil {
		o.ListenAddrs = loopback
	}
	if o.DHT == "" {
		o.DHT = "off"
	}
	h, err := New(t.Context(), newKey(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	})
	return h
}

// info is h's listen addresses (not the advertised ones, which a test may
// rewrite) as an AddrInfo.
func info(h *Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Host().Network().ListenAddresses()}
}

// p2pAddr is h's first loopback listen address of the given transport
// ("tcp" or "quic-v1") with /p2p/<id>.
func p2pAddr(t *testing.T, h *Host, transport string) string {
	t.Helper()
	for _, a := range h.Host().Network().ListenAddresses() {
		if strings.Contains(a.String(), "/"+transport) {
			return a.String() + "/p2p/" + h.ID().String()
		}
	}
	t.Fatalf("%s has no %s listen address", h.ID(), transport)
	return ""
}

// await polls cond until it holds or the timeout passes.
func await(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func connsTo(st Status, p peer.ID) []ConnInfo {
	var out []ConnInfo
	for _, c := range st.Conns {
		if c.Peer == p.String() {
			out = append(out, c)
		}
	}
	return out
}

func TestConnectPingStatus(t *testing.T) {
	a := newTestHost(t, Options{})
	b := newTestHost(t, Options{})
	ctx := ctxTimeout(t, waitLong)

	if err := a.Connect(ctx, info(b)); err != nil {
		t.Fatal(err)
	}
	rtt, err := a.Ping(ctx, b.Port().Self())
	if err != nil {
		t.Fatal(err)
	}
	if rtt <= 0 {
		t.Fatalf("rtt %v", rtt)
	}

	st := a.Status()
	direct := slices.DeleteFunc(slices.Clone(st.ListenAddrs), func(a string) bool { return strings.Contains(a, "p2p-circuit") })
	if st.PeerID != a.ID().String() || st.DHTMode != "off" || len(direct) != 2 {
		t.Fatalf("status %+v", st)
	}
	cs := connsTo(st, b.ID())
	if len(cs) == 0 {
		t.Fatalf("no connection to b in %+v", st.Conns)
	}
	for _, c := range cs {
		if c.Relayed || (c.Transport != "tcp" && c.Transport != "quic") || c.Direction != "outbound" || c.Opened.IsZero() {
			t.Fatalf("connection %+v", c)
		}
	}
	if in := connsTo(b.Status(), a.ID()); len(in) == 0 || in[0].Direction != "inbound" {
		t.Fatalf("b's view %+v", in)
	}
	if err := a.Connect(ctx, info(a)); err == nil {
		t.Fatal("connecting to ourselves succeeded")
	}
}

// TestConnectByText: the forms the node uses, which name devices as
// netport.PeerID and addresses as text.
func TestConnectByText(t *testing.T) {
	a := newTestHost(t, Options{})
	b := newTestHost(t, Options{})
	c := newTestHost(t, Options{})
	ctx := ctxTimeout(t, waitLong)
	bid, cid := b.Port().Self(), c.Port().Self()

	for _, s := range []string{"", "bob", "/ip4/127.0.0.1/tcp/1"} {
		if _, err := ParsePeerID(s); !errors.Is(err, ErrBadAddr) {
			t.Errorf("ParsePeerID(%q): %v", s, err)
		}
		if _, err := a.ConnectAddr(ctx, s); !errors.Is(err, ErrBadAddr) {
			t.Errorf("ConnectAddr(%q): %v", s, err)
		}
	}
	if id, err := ParsePeerID(bid.String()); err != nil || id != bid {
		t.Fatalf("ParsePeerID(%s) = %q, %v", bid, id, err)
	}
	if _, err := a.ConnectAddr(ctx, p2pAddr(t, a, "tcp")); !errors.Is(err, ErrDialSelf) {
		t.Fatalf("ConnectAddr to ourselves: %v", err)
	}
	id, err := a.ConnectAddr(ctx, p2pAddr(t, b, "tcp"))
	if err != nil || id != bid {
		t.Fatalf("ConnectAddr = %q, %v", id, err)
	}
	if !a.Port().Connected(bid) || a.RelayedTo(bid) || a.RelayedTo("bob") {
		t.Fatal("a direct connection to b, and none to a bad ID")
	}
	if _, err := a.Ping(ctx, bid); err != nil {
		t.Fatal(err)
	}
	if err := a.ClosePeer(bid); err != nil {
		t.Fatal(err)
	}
	await(t, waitLong, "a closes its connection to b", func() bool { return !a.Port().Connected(bid) })

	// ConnectPeer dials at the addresses the host knows.
	a.Host().Peerstore().AddAddrs(c.ID(), info(c).Addrs, time.Hour)
	if err := a.ConnectPeer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if err := a.ConnectPeer(ctx, "bob"); !errors.Is(err, ErrBadAddr) {
		t.Fatalf("ConnectPeer(bob): %v", err)
	}
	a.DropPath(ctx, cid)
	await(t, waitLong, "DropPath closes the connection to c", func() bool { return !a.Port().Connected(cid) })
}

func TestContactsProtectedAndAnnounce(t *testing.T) {
	var friend atomic.Value
	a := newTestHost(t, Options{
		IsContact:     func(p netport.PeerID) bool { id, _ := friend.Load().(peer.ID); return p == portID(id) },
		AnnounceAddrs: []string{"/ip4/203.0.113.7/tcp/4001"},
	})
	b := newTestHost(t, Options{})
	c := newTestHost(t, Options{})
	friend.Store(b.ID())
	ctx := ctxTimeout(t, waitLong)
	for _, x := range []*Host{b, c} {
		if err := a.Connect(ctx, info(x)); err != nil {
			t.Fatal(err)
		}
	}
	cm := a.Host().ConnManager()
	if !cm.IsProtected(b.ID(), contactTag) || cm.IsProtected(c.ID(), contactTag) {
		t.Fatal("only contacts are protected from trimming")
	}
	if got := a.Status().Addrs; !slices.Equal(got, []string{"/ip4/203.0.113.7/tcp/4001"}) {
		t.Fatalf("advertised %v", got)
	}
}

func TestGaterBlocksPeer(t *testing.T) {
	var blockB atomic.Bool
	blockB.Store(true)
	var bID atomic.Value // peer.ID, set once b exists
	a := newTestHost(t, Options{Blocked: func(p netport.PeerID) bool {
		id, _ := bID.Load().(peer.ID)
		return blockB.Load() && p == portID(id)
	}})
	b := newTestHost(t, Options{})
	bID.Store(b.ID())
	ctx := ctxTimeout(t, waitLong)

	// B dials A: A refuses after the handshake, when it learns B's ID. Over
	// QUIC the dialler's handshake can finish before A's gater runs; B's
	// Connect still reports the refusal (it confirms the connection with a
	// ping), the connection does not stay, and no stream opens (checked
	// below).
	if err := b.Connect(ctx, info(a)); !errors.Is(err, ErrRefused) {
		t.Fatalf("b connected to a, which blocks it: %v", err)
	}
	await(t, waitLong, "A closes the blocked peer's connection", func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected &&
			b.Host().Network().Connectedness(a.ID()) != network.Connected
	})
	// A refuses to dial B, both through our API and through libp2p's.
	if err := a.Connect(ctx, info(b)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("a dialled blocked b: %v", err)
	}
	if err := a.Host().Connect(ctx, info(b)); err == nil {
		t.Fatal("gater let a dial b")
	}
	// No stream either way.
	b.Host().Peerstore().AddAddrs(a.ID(), info(a).Addrs, time.Hour)
	clearBackoff(b, a.ID())
	if s, err := b.Host().NewStream(ctx, a.ID(), ping.ID); err == nil {
		s.Reset()
		t.Fatal("blocked peer opened a stream")
	}
	await(t, waitLong, "no connection between a and b", func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected &&
			b.Host().Network().Connectedness(a.ID()) != network.Connected
	})

	// Unblocked: they connect and ping.
	blockB.Store(false)
	clearBackoff(b, a.ID())
	if err := b.Connect(ctx, info(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ping(ctx, a.Port().Self()); err != nil {
		t.Fatal(err)
	}
}

// TestConnectToBlockingPeerRefused: B blocks A. A's Connect, over TCP and
// over QUIC, fails with ErrRefused on every try (a dial that completes
// before B's gater runs must not be reported as a connection, nor one
// already open that B is about to close), and no connection stays. B's gater is slow, as on a busy machine, so that A's
// dial completes before B refuses.
func TestConnectToBlockingPeerRefused(t *testing.T) {
	a := newTestHost(t, Options{})
	aID := a.Port().Self()
	b := newTestHost(t, Options{Blocked: func(p netport.PeerID) bool {
		if p != aID {
			return false
		}
		time.Sleep(100 * time.Millisecond) // a slow gater, not a wait for an event
		return true
	}})
	ctx := ctxTimeout(t, waitLong)
	for _, transport := range []string{"tcp", "quic-v1"} {
		t.Run(transport, func(t *testing.T) {
			addr := p2pAddr(t, b, transport)
			ai, err := peer.AddrInfoFromString(addr)
			if err != nil {
				t.Fatal(err)
			}
			for try := range 6 {
				clearBackoff(a, b.ID())
				if try%2 == 1 && transport == "quic-v1" {
					// A dial under way elsewhere (a background dial of the
					// node's) has a QUIC connection that looks open until
					// B's gater closes it: Connect must not take it for an
					// accepted one.
					// (Should the connection come and go between two
					// looks, this try is an ordinary one.)
					dialed := make(chan struct{})
					go func() { _ = a.Host().Connect(ctx, *ai); close(dialed) }()
					await(t, waitLong, "the other dial's connection", func() bool {
						select {
						case <-dialed:
							return true
						default:
							return a.Host().Network().Connectedness(b.ID()) == network.Connected
						}
					})
					defer func() { <-dialed }()
				}
				if _, err := a.ConnectAddr(ctx, addr); !errors.Is(err, ErrRefused) {
					t.Fatalf("try %d: connect to a peer that blocks us: %v, want ErrRefused", try, err)
				}
			}
			await(t, waitLong, "no connection between a and b", func() bool {
				return a.Host().Network().Connectedness(b.ID()) != network.Connected &&
					b.Host().Network().Connectedness(a.ID()) != network.Connected
			})
		})
	}
}

// clearBackoff forgets h's failed dials to p so a test can redial at once.
func clearBackoff(h *Host, p peer.ID) {
	if sw, ok := h.Host().Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}

// prefixValidator accepts values starting with "ok:" and prefers the
// greatest.
type prefixValidator struct{}

func (prefixValidator) Validate(_ string, v []byte) error {
	if !bytes.HasPrefix(v, []byte("ok:")) {
		return errors.New("bad value")
	}
	return nil
}

func (prefixValidator) Select(_ string, vals [][]byte) (int, error) {
	if len(vals) == 0 {
		return 0, errors.New("no values")
	}
	best := 0
	for i, v := range vals {
		if bytes.Compare(v, vals[best]) > 0 {
			best = i
		}
	}
	return best, nil
}

func TestDHTPutGet(t *testing.T) {
	vals := map[string]Validator{"test": prefixValidator{}}
	first := newTestHost(t, Options{DHT: "server", Validators: vals})
	hosts := []*Host{first}
	boot := []string{p2pAddr(t, first, "tcp")}
	for range 4 {
		hosts = append(hosts, newTestHost(t, Options{DHT: "server", Validators: vals, Bootstrap: boot}))
	}
	ctx := ctxTimeout(t, 2*waitLong)
	for _, h := range hosts {
		if err := h.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range hosts {
		await(t, waitLong, fmt.Sprintf("routing table of host %d", i+1), func() bool {
			return h.Status().RoutingTable > 0
		})
	}

	if err := hosts[1].PutValue(ctx, "/test/k", []byte("ok:1")); err != nil {
		t.Fatal(err)
	}
	got, err := hosts[4].GetValue(ctx, "/test/k")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "ok:1" {
		t.Fatalf("got %q", got)
	}
	if err := hosts[2].PutValue(ctx, "/test/k", []byte("bad")); err == nil {
		t.Fatal("invalid record accepted")
	}
	if err := hosts[2].PutValue(ctx, "/ipns/k", []byte("ok:1")); err == nil {
		t.Fatal("record in an unregistered namespace accepted")
	}
	if _, err := hosts[3].GetValue(ctx, "/test/missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	st := hosts[4].Status()
	if st.DHTMode != "server" || st.RoutingTable == 0 {
		t.Fatalf("status %+v", st)
	}
	// Our DHT speaks only /peer/kad/1.0.0, never IPFS's protocol.
	protos, err := first.Host().Peerstore().GetProtocols(hosts[1].ID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(protos, "/peer/kad/1.0.0") || slices.Contains(protos, "/ipfs/kad/1.0.0") {
		t.Fatalf("protocols %v", protos)
	}

	off := newTestHost(t, Options{DHT: "off"})
	if err := off.PutValue(ctx, "/test/k", []byte("ok:1")); !errors.Is(err, ErrNoDHT) {
		t.Fatalf("put without DHT: %v", err)
	}
	if _, err := off.GetValue(ctx, "/test/k"); !errors.Is(err, ErrNoDHT) {
		t.Fatalf("get without DHT: %v", err)
	}
	if off.Status().DHTMode != "off" {
		t.Fatal("DHT mode")
	}
}

func TestBootstrapUnreachable(t *testing.T) {
	gone := newTestHost(t, Options{})
	addr := p2pAddr(t, gone, "tcp")
	gone.Close()
	h := newTestHost(t, Options{DHT: "client", Bootstrap: []string{addr}})
	if err := h.Bootstrap(ctxTimeout(t, waitLong)); !errors.Is(err, ErrNoBootstrap) {
		t.Fatalf("bootstrap with no peer up: %v", err)
	}
	if err := newTestHost(t, Options{DHT: "client"}).Bootstrap(t.Context()); err != nil {
		t.Fatalf("bootstrap with none configured: %v", err)
	}
}

// publicLoopback makes loopback addresses look public to autorelay, which
// only builds circuit addresses from a relay's public addresses. ".internal"
// names count as public; nothing resolves them in the test.
func publicLoopback(addrs []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		s := a.String()
		if rest, ok := strings.CutPrefix(s, "/ip4/127.0.0.1/"); ok {
			a = ma.StringCast("/dns4/relay.internal/" + rest)
		}
		out = append(out, a)
	}
	return out
}

func TestRelay(t *testing.T) {
	var bID atomic.Value
	isContact := func(p netport.PeerID) bool { id, _ := bID.Load().(peer.ID); return p == portID(id) }
	limit := RelayLimit{Duration: 10 * time.Minute, Data: 1 << 20}
	r := newTestHost(t, Options{
		RelayService: true, IsContact: isContact, RelayLimit: limit,
		Reachability: "public", addrsFactory: publicLoopback,
	})
	rAddr := p2pAddr(t, r, "tcp")
	b := newTestHost(t, Options{StaticRelays: []string{rAddr}, Reachability: "private"})
	bID.Store(b.ID())

	await(t, waitLong, "forced reachability", func() bool {
		return r.Status().Reachability == "public" && b.Status().Reachability == "private"
	})
	await(t, waitLong, "b's reservation on r", func() bool {
		st := b.Status()
		return slices.Contains(st.Relays, r.ID().String()) &&
			slices.ContainsFunc(st.Addrs, func(a string) bool { return strings.Contains(a, "/p2p-circuit") })
	})

	// C knows b only through r.
	c := newTestHost(t, Options{})
	circuit := ma.StringCast(rAddr + "/p2p-circuit")
	ctx := ctxTimeout(t, waitLong)
	if err := c.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{circuit}}); err != nil {
		t.Fatal(err)
	}
	if rtt, err := c.Ping(ctx, b.Port().Self()); err != nil || rtt <= 0 {
		t.Fatalf("ping through relay: %v %v", rtt, err)
	}
	cs := connsTo(c.Status(), b.ID())
	if len(cs) == 0 || !cs[0].Relayed || cs[0].Transport != "relay" {
		t.Fatalf("c's connections to b: %+v", cs)
	}

	// The relay hands out our limits, and refuses strangers.
	rsvp, err := client.Reserve(ctx, b.Host(), info(r))
	if err != nil {
		t.Fatal(err)
	}
	if rsvp.LimitDuration != limit.Duration || rsvp.LimitData != uint64(limit.Data) {
		t.Fatalf("reservation limits %v %d", rsvp.LimitDuration, rsvp.LimitData)
	}
	stranger := newTestHost(t, Options{})
	_, err = client.Reserve(ctx, stranger.Host(), info(r))
	var rerr client.ReservationError
	if !errors.As(err, &rerr) || rerr.Status != pbv2.Status_PERMISSION_DENIED {
		t.Fatalf("stranger's reservation: %v", err)
	}
}

func TestRelayACL(t *testing.T) {
	friend, stranger, other := peer.ID("friend"), peer.ID("stranger"), peer.ID("other")
	isContact := func(p netport.PeerID) bool { return p == portID(friend) }
	acl := relayACL{isContact: isContact}
	if !acl.AllowReserve(friend, nil) || acl.AllowReserve(stranger, nil) {
		t.Fatal("reserve: contacts only")
	}
	if !acl.AllowConnect(stranger, nil, friend) || !acl.AllowConnect(friend, nil, stranger) || acl.AllowConnect(stranger, nil, other) {
		t.Fatal("connect: either end a contact")
	}
	open := relayACL{isContact: isContact, strangers: true}
	if !open.AllowReserve(stranger, nil) || !open.AllowConnect(stranger, nil, other) {
		t.Fatal("strangers allowed")
	}
	if (relayACL{}).AllowReserve(friend, nil) {
		t.Fatal("no contact function: nobody reserves")
	}
}

func TestRelaySource(t *testing.T) {
	static := []peer.AddrInfo{{ID: "s1"}, {ID: "s2"}}
	extra := func(ctx context.Context, num int) <-chan peer.AddrInfo {
		ch := make(chan peer.AddrInfo, 3)
		for _, id := range []peer.ID{"e1", "e2", "e3"} {
			ch <- peer.AddrInfo{ID: id}
		}
		close(ch)
		return ch
	}
	var got []peer.ID
	for ai := range relaySource(static, extra)(t.Context(), 3) {
		got = append(got, ai.ID)
	}
	if !slices.Equal(got, []peer.ID{"s1", "s2", "e1"}) {
		t.Fatalf("got %v", got)
	}
}

func TestPeerFound(t *testing.T) {
	a := newTestHost(t, Options{})
	b := newTestHost(t, Options{})
	found := make(chan peer.AddrInfo, 1)
	a.OnPeerFound(func(ai peer.AddrInfo) { found <- ai })
	a.HandlePeerFound(info(a)) // ourselves: ignored
	a.HandlePeerFound(info(b))
	select {
	case ai := <-found:
		if ai.ID != b.ID() {
			t.Fatalf("found %s", ai.ID)
		}
	case <-time.After(waitLong):
		t.Fatal("callback not called")
	}
	// The host connected before telling the callbacks.
	if a.Host().Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("not connected to the found peer")
	}
}

func TestOptionsValidation(t *testing.T) {
	key := newKey(t)
	cases := []struct {
		name, want string
		o          Options
	}{
		{"listen", "not-an-addr", Options{ListenAddrs: []string{"not-an-addr"}}},
		{"listen ip", "/ip4/300.1.1.1/tcp/1", Options{ListenAddrs: []string{"/ip4/300.1.1.1/tcp/1"}}},
		{"bootstrap without id", "/ip4/127.0.0.1/tcp/4001", Options{Bootstrap: []string{"/ip4/127.0.0.1/tcp/4001"}}},
		{"bootstrap garbage", "bootstrap address", Options{Bootstrap: []string{"x"}}},
		{"static relay", "static relay", Options{StaticRelays: []string{"/ip4/1.2.3.4/tcp/1"}}},
		{"announce", "announce address", Options{AnnounceAddrs: []string{"/dns4"}}},
		{"dht mode", "DHT mode", Options{DHT: "maybe"}},
		{"reachability", "reachability", Options{Reachability: "sometimes"}},
		{"water marks", "water marks", Options{ConnLow: 100, ConnHigh: 50}},
		{"above rcmgr", "resource manager", Options{ConnHigh: 10000}},
		{"nil validator", "validator", Options{Validators: map[string]Validator{"x": nil}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(t.Context(), key, tc.o)
			if err == nil {
				h.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrInvalidOptions mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := New(t.Context(), key[:10], Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("short key: %v", err)
	}
}

func TestIdentityIsDeviceKey(t *testing.T) {
	key := newKey(t)
	h, err := New(t.Context(), key, Options{ListenAddrs: loopback, DHT: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want, err := PeerID(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if h.ID() != want {
		t.Fatalf("host ID %s, device peer ID %s", h.ID(), want)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal("second close:", err)
	}
}
