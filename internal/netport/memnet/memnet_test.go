package memnet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/netport/memnet"
	"github.com/peer-node/peer/internal/netport/porttest"
)

const (
	wait  = 10 * time.Second
	proto = netport.ProtocolID("/memnet-test/1.0.0")
)

func newNet(t *testing.T, ids ...netport.PeerID) (*memnet.Net, []*memnet.Node) {
	t.Helper()
	n := memnet.New()
	t.Cleanup(n.Close)
	nodes := make([]*memnet.Node, len(ids))
	for i, id := range ids {
		nodes[i] = n.Node(id)
	}
	return n, nodes
}

func TestPort(t *testing.T) {
	porttest.Run(t, func(t *testing.T, count int) []netport.Network {
		n := memnet.New()
		t.Cleanup(n.Close)
		out := make([]netport.Network, count)
		for i := range out {
			out[i] = n.Node(netport.PeerID(fmt.Sprintf("node-%d", i)))
		}
		return out
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), wait)
	t.Cleanup(cancel)
	return c
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// held collects the handler's ends of streams for proto on nd; they are
// left to the test (and reset when the network closes).
func held(nd *memnet.Node) chan netport.Stream {
	ch := make(chan netport.Stream, 16)
	nd.Handle(proto, func(s netport.Stream) { ch <- s })
	return ch
}

func recv(t *testing.T, ch chan netport.Stream) netport.Stream {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("no stream reached the handler")
		return nil
	}
}

func echo(s netport.Stream) {
	io.Copy(s, s)
	s.Close()
}

// roundTrip writes msg on a fresh echo stream and reads it back.
func roundTrip(t *testing.T, a, b *memnet.Node, msg []byte) {
	t.Helper()
	s, err := a.NewStream(ctx(t), b.Self(), "/echo/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() {
		s.Write(msg)
		s.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes: got %d, %v", len(msg), len(got), err)
	}
}

func TestLatency(t *testing.T) {
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	b.Handle("/echo/1.0.0", echo)
	const d = 60 * time.Millisecond
	n.SetLatency("a", "b", d)

	start := time.Now()
	if err := a.Connect(ctx(t), "b", nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*d {
		t.Fatalf("connecting took %v, want at least a round trip (%v)", took, 2*d)
	}
	// A stream opens in one way, its data goes there and back.
	start = time.Now()
	roundTrip(t, a, b, []byte("ping"))
	if took := time.Since(start); took < 3*d {
		t.Fatalf("open and echo took %v, want at least %v", took, 3*d)
	}
}

func TestBandwidth(t *testing.T) {
	const rate = 2 << 20 // bytes per second
	for _, tc := range []struct {
		name    string
		streams int
	}{{"one stream", 1}, {"two streams share the cap", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			n, nodes := newNet(t, "a", "b")
			a, b := nodes[0], nodes[1]
			b.Handle(proto, func(s netport.Stream) {
				io.Copy(io.Discard, s)
				s.Close()
			})
			n.SetBandwidth("a", "b", rate)
			const total = 1 << 20 // half a second's worth
			start := time.Now()
			var wg sync.WaitGroup
			for range tc.streams {
				wg.Go(func() {
					s, err := a.NewStream(ctx(t), "b", proto)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := s.Write(make([]byte, total/tc.streams)); err != nil {
						t.Error(err)
					}
					s.CloseWrite()
					io.Copy(io.Discard, s) // the handler's EOF: it read everything
					s.Close()
				})
			}
			wg.Wait()
			ideal := time.Duration(float64(total) / rate * float64(time.Second))
			if took := time.Since(start); took < ideal*7/10 {
				t.Fatalf("%d bytes at %d B/s took %v, want about %v", total, rate, took, ideal)
			}
			if got := n.BytesSent("a", "b"); got != total {
				t.Fatalf("BytesSent %d, want %d", got, total)
			}
		})
	}
}

func TestBackpressure(t *testing.T) {
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	in := held(b)
	s, err := a.NewStream(ctx(t), "b", proto)
	if err != nil {
		t.Fatal(err)
	}
	const size = 10 << 20
	wrote := make(chan error, 1)
	go func() {
		_, err := s.Write(make([]byte, size))
		wrote <- err
	}()
	r := recv(t, in)
	// The writer fills the window, then waits for the reader.
	await(t, "the window to fill", func() bool { return n.BytesSent("a", "b") >= memnet.Window })
	select {
	case err := <-wrote:
		t.Fatalf("a %d-byte write returned (%v) with nobody reading", size, err)
	default:
	}
	if got := n.BytesSent("a", "b"); got != memnet.Window {
		t.Fatalf("%d bytes accepted with nobody reading, want the window (%d)", got, memnet.Window)
	}
	// Reading lets it through.
	done := make(chan int64, 1)
	go func() {
		got, _ := io.CopyN(io.Discard, r, size)
		done <- got
	}()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != size {
		t.Fatalf("read %d of %d", got, size)
	}
	// A reader that closes drops what comes next instead of blocking the writer.
	r.Close()
	go func() {
		_, err := s.Write(make([]byte, 2*memnet.Window))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("write to a closed reader: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("a write to a closed reader blocked")
	}
}

func TestDropLink(t *testing.T) {
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	evs := watch(a)
	in := held(b)
	s, err := a.NewStream(ctx(t), "b", proto)
	if err != nil {
		t.Fatal(err)
	}
	r := recv(t, in)
	expect(t, evs, netport.Event{Peer: "b", Connected: true, Addr: "/memnet/b"})

	n.DropLink("a", "b")
	for _, st := range []netport.Stream{s, r} {
		if _, err := st.Read(make([]byte, 1)); !errors.Is(err, netport.ErrReset) {
			t.Fatalf("read on a dropped link: %v, want ErrReset", err)
		}
		if _, err := st.Write([]byte("x")); !errors.Is(err, netport.ErrReset) {
			t.Fatalf("write on a dropped link: %v, want ErrReset", err)
		}
	}
	if a.Connected("b") || b.Connected("a") {
		t.Fatal("still connected after DropLink")
	}
	expect(t, evs, netport.Event{Peer: "b", Connected: false, Addr: "/memnet/b"})

	b.Handle("/echo/1.0.0", echo)
	roundTrip(t, a, b, []byte("again"))
	expect(t, evs, netport.Event{Peer: "b", Connected: true, Addr: "/memnet/b"})
	if got := n.Streams("a", "b"); got != 2 {
		t.Fatalf("Streams(a, b) = %d, want 2", got)
	}
	if got := n.Streams("b", "a"); got != 0 {
		t.Fatalf("Streams(b, a) = %d, want 0", got)
	}
}

func TestPartition(t *testing.T) {
	n, nodes := newNet(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	for _, nd := range nodes {
		nd.Handle("/echo/1.0.0", echo)
	}
	in := held(b)
	s, err := a.NewStream(ctx(t), "b", proto)
	if err != nil {
		t.Fatal(err)
	}
	recv(t, in)

	n.Partition([]netport.PeerID{"a"}, []netport.PeerID{"b", "c"})
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, netport.ErrReset) {
		t.Fatalf("stream across the partition: %v, want ErrReset", err)
	}
	if _, err := a.NewStream(ctx(t), "b", "/echo/1.0.0"); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("NewStream across the partition: %v, want ErrUnreachable", err)
	}
	if err := a.Connect(ctx(t), "c", nil); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("Connect across the partition: %v, want ErrUnreachable", err)
	}
	roundTrip(t, b, c, []byte("same side"))

	// Nodes named in no group are together.
	n.Partition([]netport.PeerID{"c"})
	roundTrip(t, a, b, []byte("the rest"))
	if err := c.Connect(ctx(t), "a", nil); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("Connect from the lone group: %v", err)
	}

	n.Heal()
	roundTrip(t, c, a, []byte("healed"))
	roundTrip(t, a, c, []byte("healed"))
}

func TestLimited(t *testing.T) {
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	b.Handle("/echo/1.0.0", echo)
	evs := watch(a)
	n.SetLimited("a", "b", true)
	if _, err := a.NewStream(ctx(t), "b", "/echo/1.0.0"); !errors.Is(err, netport.ErrLimited) {
		t.Fatalf("NewStream on a limited link: %v, want ErrLimited", err)
	}
	expect(t, evs, netport.Event{Peer: "b", Connected: true, Relayed: true, Addr: "/memnet/b"})
	s, err := a.NewStream(netport.AllowLimited(ctx(t), "test"), "b", "/echo/1.0.0")
	if err != nil {
		t.Fatalf("NewStream allowed on a limited link: %v", err)
	}
	s.Close()
	n.SetLimited("a", "b", false)
	roundTrip(t, a, b, []byte("direct"))
}

// Each node has an address of its own unless set; SetAddr puts several
// behind one; both ends see the other's, marked relayed on a limited link;
// a restart keeps the address.
func TestAddr(t *testing.T) {
	n, nodes := newNet(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	if n.Addr("a") == n.Addr("b") || !n.Addr("a").IsValid() || n.Addr("zz").IsValid() {
		t.Fatalf("default addresses a %v b %v, unmade node %v", n.Addr("a"), n.Addr("b"), n.Addr("zz"))
	}
	shared := netip.MustParseAddr("192.0.2.7")
	n.SetAddr("b", shared)
	n.SetAddr("c", shared)
	ch := held(a)
	for _, tc := range []struct {
		from    *memnet.Node
		limited bool
	}{{b, false}, {c, false}, {b, true}} {
		n.SetLimited(tc.from.Self(), "a", tc.limited)
		s, err := tc.from.NewStream(netport.AllowLimited(ctx(t), "test"), "a", proto)
		if err != nil {
			t.Fatal(err)
		}
		r := recv(t, ch)
		if want := (netport.Addr{IP: shared, Relayed: tc.limited}); r.RemoteAddr() != want {
			t.Fatalf("a sees %s at %v, want %v", tc.from.Self(), r.RemoteAddr(), want)
		}
		if want := (netport.Addr{IP: n.Addr("a"), Relayed: tc.limited}); s.RemoteAddr() != want {
			t.Fatalf("%s sees a at %v, want %v", tc.from.Self(), s.RemoteAddr(), want)
		}
		s.Reset()
	}
	before := n.Addr("a")
	a.Close()
	if a = n.Node("a"); n.Addr("a") != before {
		t.Fatalf("a restarted at %v, was %v", n.Addr("a"), before)
	}
}

func TestNodeClose(t *testing.T) {
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	evs := watch(b)
	exited := make(chan struct{})
	a.Handle(proto, func(s netport.Stream) {
		defer close(exited)
		io.Copy(io.Discard, s)
	})
	s, err := b.NewStream(ctx(t), "a", proto)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, evs, netport.Event{Peer: "a", Connected: true, Addr: "/memnet/a"})

	a.Close()
	select {
	case <-exited:
	default:
		t.Fatal("Close returned before a's handler did")
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, netport.ErrReset) {
		t.Fatalf("write to a closed node: %v, want ErrReset", err)
	}
	expect(t, evs, netport.Event{Peer: "a", Connected: false, Addr: "/memnet/a"})
	if _, err := b.NewStream(ctx(t), "a", proto); !errors.Is(err, netport.ErrUnreachable) {
		t.Fatalf("NewStream to a closed node: %v, want ErrUnreachable", err)
	}
	if _, err := a.NewStream(ctx(t), "b", proto); !errors.Is(err, netport.ErrClosed) {
		t.Fatalf("NewStream from a closed node: %v, want ErrClosed", err)
	}

	// The same ID comes back as a fresh node.
	a2 := n.Node("a")
	if a2 == a {
		t.Fatal("Node returned the closed node")
	}
	a2.Handle("/echo/1.0.0", echo)
	roundTrip(t, b, a2, []byte("back"))
}

func TestNetClose(t *testing.T) {
	before := runtime.NumGoroutine()
	n := memnet.New()
	a, b := n.Node("a"), n.Node("b")
	exited := make(chan struct{})
	b.Handle(proto, func(s netport.Stream) {
		defer close(exited)
		s.Read(make([]byte, 1))
	})
	s, err := a.NewStream(ctx(t), "b", proto)
	if err != nil {
		t.Fatal(err)
	}
	reading := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		reading <- err
	}()
	n.Close()
	select {
	case <-exited:
	default:
		t.Fatal("Net.Close returned before the handler did")
	}
	if err := <-reading; !errors.Is(err, netport.ErrReset) {
		t.Fatalf("pending read when the network closed: %v", err)
	}
	if _, err := n.Node("c").NewStream(ctx(t), "a", proto); !errors.Is(err, netport.ErrClosed) {
		t.Fatalf("NewStream on a closed network: %v", err)
	}
	await(t, "the network's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestProviders(t *testing.T) {
	_, nodes := newNet(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	key := []byte("some content")
	for _, nd := range []*memnet.Node{a, b, a} {
		if err := nd.Provide(ctx(t), key); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		from *memnet.Node
		max  int
		want []netport.PeerID
	}{
		{c, 0, []netport.PeerID{"a", "b"}},
		{c, 1, []netport.PeerID{"a"}},
		{a, 10, []netport.PeerID{"b"}},
	} {
		got, err := tc.from.FindProviders(ctx(t), key, tc.max)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("%s FindProviders max %d: %v %v, want %v", tc.from.Self(), tc.max, got, err, tc.want)
		}
	}
	if got, _ := c.FindProviders(ctx(t), []byte("other"), 0); len(got) != 0 {
		t.Fatalf("providers of an unknown key: %v", got)
	}
}

func TestDeadlineWithLatency(t *testing.T) {
	// Data in flight is not readable before it arrives; a deadline shorter
	// than the latency ends the read.
	n, nodes := newNet(t, "a", "b")
	a, b := nodes[0], nodes[1]
	in := held(b)
	s, err := a.NewStream(ctx(t), "b", proto)
	if err != nil {
		t.Fatal(err)
	}
	r := recv(t, in)
	n.SetLatency("a", "b", 200*time.Millisecond)
	s.Write([]byte("late"))
	r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(make([]byte, 4)); err == nil {
		t.Fatal("read data before it arrived")
	}
	r.SetReadDeadline(time.Time{})
	got := make([]byte, 4)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != "late" {
		t.Fatalf("read %q %v", got, err)
	}
}

func watch(nd *memnet.Node) chan netport.Event {
	ch := make(chan netport.Event, 64)
	nd.Watch(func(e netport.Event) { ch <- e })
	return ch
}

func expect(t *testing.T, evs chan netport.Event, want netport.Event) {
	t.Helper()
	select {
	case e := <-evs:
		if e != want {
			t.Fatalf("event %+v, want %+v", e, want)
		}
	case <-time.After(wait):
		t.Fatalf("no event; want %+v", want)
	}
}
