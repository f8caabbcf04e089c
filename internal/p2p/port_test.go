package p2p

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/porttest"
)

// portHosts starts n loopback hosts that know each other's addresses but
// are not connected.
func portHosts(t *testing.T, n int, o Options) []*Host {
	t.Helper()
	hosts := make([]*Host, n)
	for i := range hosts {
		hosts[i] = newTestHost(t, o)
	}
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				a.Host().Peerstore().AddAddrs(b.ID(), b.Host().Network().ListenAddresses(), peerstore.PermanentAddrTTL)
			}
		}
	}
	return hosts
}

func TestPortConformance(t *testing.T) {
	porttest.Run(t, func(t *testing.T, n int) []netport.Network {
		var out []netport.Network
		for _, h := range portHosts(t, n, Options{}) {
			out = append(out, h.Port())
		}
		return out
	})
}

func echoHandler(s netport.Stream) {
	io.Copy(s, s)
	s.Close()
}

func portEcho(t *testing.T, p *Port, to netport.PeerID, ctxAllow bool) error {
	t.Helper()
	ctx := ctxTimeout(t, waitLong)
	if ctxAllow {
		ctx = netport.AllowLimited(ctx, "test")
	}
	s, err := p.NewStream(ctx, to, "/porttest/echo/1.0.0")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("hi")); err != nil {
		return err
	}
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if string(got) != "hi" {
		t.Fatalf("echo %q", got)
	}
	return nil
}

func TestPortUnreachableAndConnectAddrs(t *testing.T) {
	// TCP only: a dial to a closed TCP port fails at once, QUIC's waits for
	// a handshake timeout.
	hosts := portHosts(t, 2, Options{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	a, gone := hosts[0].Port(), hosts[1]
	goneID := gone.Port().Self()
	gone.Close()
	if err := portEcho(t, a, goneID, false); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("stream to a closed host: %v, want ErrUnreachable", err)
	}
	if err := portEcho(t, a, "not-a-peer-id", false); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("stream to a bad peer ID: %v, want ErrUnreachable", err)
	}
	if err := portEcho(t, a, a.Self(), false); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("stream to ourselves: %v, want ErrUnreachable", err)
	}

	// Connect skips bad addresses and those of other peers.
	b, c := newTestHost(t, Options{}), newTestHost(t, Options{})
	bp := b.Port()
	bp.Handle("/porttest/echo/1.0.0", echoHandler)
	addrs := []string{"garbage", p2pAddr(t, c, "tcp"), p2pAddr(t, b, "tcp")}
	if err := a.Connect(ctxTimeout(t, waitLong), bp.Self(), addrs); err != nil {
		t.Fatal(err)
	}
	if !a.Connected(bp.Self()) || a.Connected(c.Port().Self()) {
		t.Fatal("connected to the wrong peers")
	}
	if err := portEcho(t, a, bp.Self(), false); err != nil {
		t.Fatal(err)
	}
	if err := a.Connect(ctxTimeout(t, waitLong), c.Port().Self(), []string{"/ip4/127.0.0.1/tcp/1/p2p/" + b.ID().String()}); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("Connect with only another peer's address: %v, want ErrUnreachable", err)
	}
}

func TestPortWatchDisconnect(t *testing.T) {
	hosts := portHosts(t, 2, Options{})
	a, b := hosts[0].Port(), hosts[1]
	evs := make(chan netport.Event, 16)
	a.Watch(func(e netport.Event) { evs <- e })
	if err := a.Connect(ctxTimeout(t, waitLong), b.Port().Self(), nil); err != nil {
		t.Fatal(err)
	}
	next := func() netport.Event {
		select {
		case e := <-evs:
			return e
		case <-time.After(waitLong):
			t.Fatal("no event")
			return netport.Event{}
		}
	}
	if e := next(); !e.Connected || e.Peer != b.Port().Self() || e.Relayed || !strings.HasPrefix(e.Addr, "/ip4/127.0.0.1/") {
		t.Fatalf("event %+v", e)
	}
	b.Close()
	if e := next(); e.Connected || e.Peer != b.Port().Self() {
		t.Fatalf("event %+v, want the disconnection", e)
	}
	if a.Connected(b.Port().Self()) {
		t.Fatal("still connected")
	}
}

func TestPortLimited(t *testing.T) {
	var bID atomic.Value
	isContact := func(p netport.PeerID) bool { id, _ := bID.Load().(peer.ID); return p == portID(id) }
	r := newTestHost(t, Options{
		RelayService: true, IsContact: isContact, Reachability: "public", addrsFactory: publicLoopback,
	})
	rAddr := p2pAddr(t, r, "tcp")
	b := newTestHost(t, Options{StaticRelays: []string{rAddr}, Reachability: "private"})
	bID.Store(b.ID())
	b.Port().Handle("/porttest/echo/1.0.0", echoHandler)
	b.Port().Handle("/porttest/addr/1.0.0", func(s netport.Stream) {
		io.WriteString(s, s.RemoteAddr().String())
		s.Close()
	})
	await(t, waitLong, "b's reservation on r", func() bool {
		return slices.ContainsFunc(b.Status().Addrs, func(a string) bool { return strings.Contains(a, "/p2p-circuit") })
	})

	// C knows b only through r.
	c := newTestHost(t, Options{}).Port()
	evs := make(chan netport.Event, 16)
	c.Watch(func(e netport.Event) {
		if e.Peer == netport.PeerID(b.ID().String()) {
			evs <- e
		}
	})
	circuit := rAddr + "/p2p-circuit/p2p/" + b.ID().String()
	if err := c.Connect(netport.AllowLimited(ctxTimeout(t, waitLong), "test"), b.Port().Self(), []string{circuit}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-evs:
		if !e.Connected || !e.Relayed {
			t.Fatalf("event %+v, want a relayed connection", e)
		}
	case <-time.After(waitLong):
		t.Fatal("no connection event")
	}

	ctx := ctxTimeout(t, time.Second) // no hole punching here: do not wait for it
	if _, err := c.NewStream(ctx, b.Port().Self(), "/porttest/echo/1.0.0"); !errors.Is(err, netport.ErrLimited) {
		t.Fatalf("stream over a relay without AllowLimited: %v, want ErrLimited", err)
	}
	if err := portEcho(t, c, b.Port().Self(), true); err != nil {
		t.Fatalf("stream over a relay with AllowLimited: %v", err)
	}
	// Both ends see the relay's IP, marked relayed.
	s, err := c.NewStream(netport.AllowLimited(ctxTimeout(t, waitLong), "test"), b.Port().Self(), "/porttest/addr/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CloseWrite()
	seen, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.RemoteAddr(); !got.Relayed || !got.IP.IsLoopback() {
		t.Fatalf("c sees b at %v, want the relay's loopback IP, relayed", got)
	}
	if !strings.HasSuffix(string(seen), "(relayed)") {
		t.Fatalf("b sees c at %s, want relayed", seen)
	}
}

func TestPortAddr(t *testing.T) {
	for _, tc := range []struct {
		ma   string
		want netport.Addr
	}{
		{"/ip4/192.0.2.1/tcp/4001", netport.Addr{IP: netip.MustParseAddr("192.0.2.1")}},
		{"/ip6/2001:db8::1/udp/4001/quic-v1", netport.Addr{IP: netip.MustParseAddr("2001:db8::1")}},
		{"/ip4/192.0.2.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
			netport.Addr{IP: netip.MustParseAddr("192.0.2.9"), Relayed: true}},
		{"/dns4/example.com/tcp/4001", netport.Addr{}},
	} {
		if got := portAddr(ma.StringCast(tc.ma)); got != tc.want {
			t.Errorf("portAddr(%s) = %+v, want %+v", tc.ma, got, tc.want)
		}
	}
}

func TestPortProviders(t *testing.T) {
	first := newTestHost(t, Options{DHT: "server"})
	boot := []string{p2pAddr(t, first, "tcp")}
	hosts := []*Host{first}
	for range 2 {
		hosts = append(hosts, newTestHost(t, Options{DHT: "server", Bootstrap: boot}))
	}
	ctx := ctxTimeout(t, 2*waitLong)
	for _, h := range hosts {
		if err := h.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hosts {
		await(t, waitLong, "routing tables", func() bool { return h.Status().RoutingTable > 0 })
	}
	a, c := hosts[1].Port(), hosts[2].Port()
	a.Handle("/porttest/echo/1.0.0", echoHandler)
	key := []byte("some content")
	if err := a.Provide(ctx, key); err != nil {
		t.Fatal(err)
	}
	got, err := c.FindProviders(ctx, key, 1)
	if err != nil || !slices.Equal(got, []netport.PeerID{a.Self()}) {
		t.Fatalf("FindProviders: %v %v, want [%s]", got, err, a.Self())
	}
	if err := portEcho(t, c, got[0], false); err != nil {
		t.Fatal(err)
	}
	if _, err := newTestHost(t, Options{}).Port().FindProviders(ctx, key, 1); !errors.Is(err, ErrNoDHT) {
		t.Fatalf("FindProviders without a DHT: %v", err)
	}
}

// TestPortLazyStreamDeadlines opens streams libp2p negotiates lazily (the
// peerstore already knows the peer speaks the protocol) and checks that a
// deadline hit before the handshake completes does not stick: go-multistream
// keeps the first error of each half of a lazy handshake for good, so the
// adapter must keep user deadlines away from it. The conformance suite's
// Deadlines case only meets a lazy stream when identify wins a race.
func TestPortLazyStreamDeadlines(t *testing.T) {
	const proto = "/porttest/echo/1.0.0"
	tests := []struct {
		name  string
		past  func(s netport.Stream) error // sets a deadline in the past
		probe func(s netport.Stream) error // fails with it
	}{
		{"write", func(s netport.Stream) error { return s.SetWriteDeadline(time.Now().Add(-time.Second)) },
			func(s netport.Stream) error { _, err := s.Write([]byte("x")); return err }},
		{"read", func(s netport.Stream) error { return s.SetReadDeadline(time.Now().Add(-time.Second)) },
			func(s netport.Stream) error { _, err := s.Read(make([]byte, 1)); return err }},
		{"both", func(s netport.Stream) error { return s.SetDeadline(time.Now().Add(-time.Second)) },
			func(s netport.Stream) error { _, err := s.Write([]byte("x")); return err }},
		{"pending read", func(s netport.Stream) error { return nil }, // moved into the past while the read waits
			func(s netport.Stream) error {
				rerr := make(chan error, 1)
				go func() {
					_, err := s.Read(make([]byte, 1))
					rerr <- err
				}()
				s.SetReadDeadline(time.Now().Add(-time.Second))
				return <-rerr
			}},
	}
	for _, transport := range []string{"tcp", "quic-v1"} {
		t.Run(transport, func(t *testing.T) {
			o := Options{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}
			if transport != "tcp" {
				o.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
			}
			hs := portHosts(t, 2, o)
			a, b := hs[0].Port(), hs[1].Port()
			b.Handle(proto, echoHandler)
			if err := portEcho(t, a, b.Self(), false); err != nil {
				t.Fatal(err)
			}
			await(t, waitLong, "identify to learn the echo protocol", func() bool {
				ok, _ := hs[0].Host().Peerstore().SupportsProtocols(hs[1].ID(), proto)
				return len(ok) > 0
			})
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					s, err := a.NewStream(ctxTimeout(t, waitLong), b.Self(), proto)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					if _, negotiated := s.(*stream).s.(*swarm.Stream); negotiated {
						t.Fatal("the stream was negotiated before NewStream returned, want lazily")
					}
					if err := tc.past(s); err != nil {
						t.Fatal(err)
					}
					if err := tc.probe(s); !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("I/O with a deadline in the past: %v, want os.ErrDeadlineExceeded", err)
					}
					if err := s.SetDeadline(time.Time{}); err != nil {
						t.Fatal(err)
					}
					if _, err := s.Write([]byte("ok")); err != nil {
						t.Fatalf("write after clearing the deadline: %v", err)
					}
					s.CloseWrite()
					got, err := io.ReadAll(s)
					if err != nil || string(got) != "ok" {
						t.Fatalf("echo after clearing the deadline: %q %v", got, err)
					}
				})
			}
		})
	}
}
