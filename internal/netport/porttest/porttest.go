// Package porttest is the conformance suite of the network port: every
// implementation of netport.Network (the libp2p adapter in internal/p2p,
// memnet) runs Run in its tests and must pass it.
//
// Only tests import it.
package porttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/netport"
)

// Timeout bounds every step of the suite; passing steps take milliseconds.
const Timeout = 20 * time.Second

// Protocol IDs the suite serves.
const (
	protoEcho     netport.ProtocolID = "/porttest/echo/1.0.0"
	protoSink     netport.ProtocolID = "/porttest/sink/1.0.0"
	protoSource   netport.ProtocolID = "/porttest/source/1.0.0"
	protoHold     netport.ProtocolID = "/porttest/hold/1.0.0"
	protoTalk     netport.ProtocolID = "/porttest/talk/1.0.0"
	protoNone     netport.ProtocolID = "/porttest/none/1.0.0"
	protoIdentity netport.ProtocolID = "/porttest/identity/1.0.0"
	protoAddr     netport.ProtocolID = "/porttest/addr/1.0.0"
)

// Run runs the suite. mk returns n fresh networks (devices) that are not
// connected to each other yet but can all reach each other by PeerID
// (NewStream and Connect dial on demand); it cleans them up with
// t.Cleanup. Each subtest makes its own.
func Run(t *testing.T, mk func(t *testing.T, n int) []netport.Network) {
	tests := []struct {
		name string
		n    int
		fn   func(t *testing.T, nets []netport.Network)
	}{
		{"Echo", 2, testEcho},
		{"LargeTransfer", 2, testLargeTransfer},
		{"FullDuplex", 2, testFullDuplex},
		{"CloseWrite", 2, testCloseWrite},
		{"Reset", 2, testReset},
		{"Deadlines", 2, testDeadlines},
		{"RemoteIdentity", 3, testRemoteIdentity},
		{"RemoteAddr", 2, testRemoteAddr},
		{"NoHandler", 2, testNoHandler},
		{"HandlerRemoved", 2, testHandlerRemoved},
		{"Connect", 2, testConnect},
		{"Watch", 2, testWatch},
		{"ManyStreams", 2, testManyStreams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nets := mk(t, tc.n)
			if len(nets) != tc.n {
				t.Fatalf("mk made %d networks, want %d", len(nets), tc.n)
			}
			tc.fn(t, nets)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return c
}

// guard resets s if it is still blocked when the step times out, so that
// a hung implementation fails the test instead of hanging it.
func guard(t *testing.T, s netport.Stream) {
	tm := time.AfterFunc(Timeout, func() { s.Reset() })
	t.Cleanup(func() { tm.Stop() })
}

func echo(s netport.Stream) {
	if _, err := io.Copy(s, s); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// open opens a stream from a to b for proto and guards it.
func open(t *testing.T, a, b netport.Network, proto netport.ProtocolID) netport.Stream {
	t.Helper()
	s, err := a.NewStream(ctx(t), b.Self(), proto)
	if err != nil {
		t.Fatalf("NewStream %s → %s %s: %v", a.Self(), b.Self(), proto, err)
	}
	guard(t, s)
	return s
}

func testEcho(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	b.Handle(protoEcho, echo)
	for i := range 3 { // a few times: the second stream reuses the connection
		s := open(t, a, b, protoEcho)
		msg := fmt.Sprintf("hello %d", i)
		if _, err := io.WriteString(s, msg); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != msg {
			t.Fatalf("echo %q, want %q", got, msg)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func testLargeTransfer(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	const size = 2 << 20
	data := random(1, size)
	// sink: reads to EOF, answers the SHA-256 of what it read.
	b.Handle(protoSink, func(s netport.Stream) {
		h := sha256.New()
		if _, err := io.Copy(h, s); err != nil {
			s.Reset()
			return
		}
		s.Write(h.Sum(nil))
		s.Close()
	})
	// source: sends data and closes.
	b.Handle(protoSource, func(s netport.Stream) {
		if _, err := s.Write(data); err != nil {
			s.Reset()
			return
		}
		s.Close()
	})

	s := open(t, a, b, protoSink)
	if n, err := s.Write(data); err != nil || n != size {
		t.Fatalf("write %d of %d: %v", n, size, err)
	}
	s.CloseWrite()
	sum, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(sum, want[:]) {
		t.Fatalf("upload: the other side hashed %x, want %x", sum, want)
	}
	s.Close()

	s = open(t, a, b, protoSource)
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("download: got %d bytes, want %d, or different bytes", len(got), size)
	}
	s.Close()
}

func testFullDuplex(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	b.Handle(protoEcho, echo)
	s := open(t, a, b, protoEcho)
	// More than any buffer in either direction: it only completes if both
	// directions flow at once.
	data := random(2, 1<<20)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, want %d, or different bytes", len(got), len(data))
	}
	s.Close()
}

func testCloseWrite(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	// talk: writes lines while reading to EOF, then reports how much it read.
	b.Handle(protoTalk, func(s netport.Stream) {
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(s, "line %d\n", i)
			}
		})
		n, err := io.Copy(io.Discard, s)
		wg.Wait()
		if err != nil {
			s.Reset()
			return
		}
		fmt.Fprintf(s, "read %d\n", n)
		s.Close()
	})
	s := open(t, a, b, protoTalk)
	msg := random(3, 10_000)
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Fatal("write after CloseWrite succeeded")
	}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading after CloseWrite: %v", err)
	}
	var want bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	fmt.Fprintf(&want, "read %d\n", len(msg))
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("after CloseWrite read %q…, want %q…", head(got), head(want.Bytes()))
	}
	s.Close()
}

func head(b []byte) []byte {
	if len(b) > 40 {
		return b[len(b)-40:]
	}
	return b
}

// hold: a handler that reads nothing until told, then returns what the
// stream did.
type hold struct {
	streams chan netport.Stream
	release chan struct{}
}

func newHold(t *testing.T, n netport.Network) *hold {
	h := &hold{streams: make(chan netport.Stream, 16), release: make(chan struct{})}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(h.release) }) })
	n.Handle(protoHold, func(s netport.Stream) {
		h.streams <- s
		<-h.release
		s.Reset()
	})
	return h
}

func (h *hold) next(t *testing.T) netport.Stream {
	t.Helper()
	select {
	case s := <-h.streams:
		guard(t, s)
		return s
	case <-time.After(Timeout):
		t.Fatal("the handler never got the stream")
		return nil
	}
}

// awaitErr waits for op to return an error, polling the way a writer
// finds a reset that is on its way.
func awaitErr(t *testing.T, what string, op func() error) error {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		if err := op(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never failed", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testReset(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	h := newHold(t, b)

	// The opener resets: the handler's pending read fails.
	s := open(t, a, b, protoHold)
	s.Write([]byte("x")) // some transports deliver the stream with its first bytes
	r := h.next(t)
	buf := make([]byte, 1)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	rerr := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		rerr <- err
	}()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := <-rerr; !errors.Is(err, netport.ErrReset) {
		t.Fatalf("read on the other side after a reset: %v, want ErrReset", err)
	}
	if _, err := s.Read(buf); err == nil {
		t.Fatal("read after our own reset succeeded")
	}
	if _, err := s.Write(buf); err == nil {
		t.Fatal("write after our own reset succeeded")
	}

	// The handler resets: the opener's pending read fails, and so do its
	// writes once the reset has arrived.
	s = open(t, a, b, protoHold)
	s.Write([]byte("x"))
	r = h.next(t)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := s.Read(buf)
		rerr <- err
	}()
	r.Reset()
	if err := <-rerr; !errors.Is(err, netport.ErrReset) {
		t.Fatalf("read after the other side's reset: %v, want ErrReset", err)
	}
	err := awaitErr(t, "write after the other side's reset", func() error {
		_, err := s.Write([]byte("more"))
		return err
	})
	if !errors.Is(err, netport.ErrReset) {
		t.Fatalf("write after the other side's reset: %v, want ErrReset", err)
	}
}

func testDeadlines(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	h := newHold(t, b)
	s := open(t, a, b, protoHold)
	s.Write([]byte("x"))
	h.next(t)

	// A read deadline ends a read that nothing answers.
	start := time.Now()
	s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := s.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("read deadline hit after %v, before it was due", d)
	}

	// A deadline moved into the past ends a pending read at once.
	rerr := make(chan error, 1)
	s.SetReadDeadline(time.Time{})
	go func() {
		_, err := s.Read(make([]byte, 1))
		rerr <- err
	}()
	s.SetReadDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-rerr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("pending read after its deadline moved to the past: %v", err)
		}
	case <-time.After(Timeout):
		t.Fatal("a deadline in the past did not end the pending read")
	}

	// A write deadline ends a write that cannot drain (the handler does
	// not read).
	s.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	chunk := make([]byte, 64<<10)
	err = awaitErr(t, "writing to a stream nobody reads", func() error {
		_, err := s.Write(chunk)
		return err
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	s.Reset()

	// With the deadline cleared, the stream works again.
	b.Handle(protoEcho, echo)
	s = open(t, a, b, protoEcho)
	s.SetDeadline(time.Now().Add(-time.Second))
	if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write with a deadline in the past: %v", err)
	}
	s.SetDeadline(time.Time{})
	if _, err := s.Write([]byte("ok")); err != nil {
		t.Fatalf("write after clearing the deadline: %v", err)
	}
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "ok" {
		t.Fatalf("echo after clearing the deadline: %q %v", got, err)
	}
	s.Close()
}

func testRemoteIdentity(t *testing.T, nets []netport.Network) {
	a, b, c := nets[0], nets[1], nets[2]
	if a.Self() == b.Self() || b.Self() == c.Self() || a.Self() == c.Self() {
		t.Fatalf("Self not distinct: %s %s %s", a.Self(), b.Self(), c.Self())
	}
	seen := make(chan netport.PeerID, 2)
	b.Handle(protoIdentity, func(s netport.Stream) {
		seen <- s.Remote()
		io.WriteString(s, string(s.Remote()))
		s.Close()
	})
	for _, from := range []netport.Network{a, c} {
		s := open(t, from, b, protoIdentity)
		if s.Remote() != b.Self() {
			t.Fatalf("opener's Remote %s, want %s", s.Remote(), b.Self())
		}
		s.CloseWrite()
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if netport.PeerID(got) != from.Self() {
			t.Fatalf("handler's Remote %s, want %s", got, from.Self())
		}
		if r := <-seen; r != from.Self() {
			t.Fatalf("handler's Remote %s, want %s", r, from.Self())
		}
		s.Close()
	}
}

// testRemoteAddr: on a direct connection both ends know the other's IP,
// not relayed, and it is the same for every stream between the two.
func testRemoteAddr(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	seen := make(chan netport.Addr, 2)
	b.Handle(protoAddr, func(s netport.Stream) {
		seen <- s.RemoteAddr()
		s.Close()
	})
	var first netport.Addr
	for i := range 2 {
		s := open(t, a, b, protoAddr)
		s.CloseWrite()
		io.Copy(io.Discard, s)
		if at := s.RemoteAddr(); !at.IP.IsValid() || at.Relayed || at.Source() == "" {
			t.Fatalf("opener's RemoteAddr %+v, want a direct one with an IP", at)
		}
		var at netport.Addr
		select {
		case at = <-seen:
		case <-time.After(Timeout):
			t.Fatal("the handler never got the stream")
		}
		if !at.IP.IsValid() || at.Relayed {
			t.Fatalf("handler's RemoteAddr %+v, want a direct one with an IP", at)
		}
		if i == 0 {
			first = at
		} else if at.Source() != first.Source() {
			t.Fatalf("handler's RemoteAddr %v, then %v on the same connection", first, at)
		}
		s.Close()
	}
}

// exchange opens a stream for proto and makes one round trip on it. An
// implementation that negotiates lazily reports ErrNoHandler on the
// first read rather than from NewStream; callers handle both.
func exchange(c context.Context, a, b netport.Network, proto netport.ProtocolID) error {
	s, err := a.NewStream(c, b.Self(), proto)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("ping")); err != nil {
		return err
	}
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if string(got) != "ping" {
		return fmt.Errorf("echo %q", got)
	}
	return nil
}

func testNoHandler(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	b.Handle(protoEcho, echo)
	if err := exchange(ctx(t), a, b, protoNone); !errors.Is(err, netport.ErrNoHandler) {
		t.Fatalf("stream for a protocol the other side lacks: %v, want ErrNoHandler", err)
	}
	// The connection is still good for what it does speak.
	if err := exchange(ctx(t), a, b, protoEcho); err != nil {
		t.Fatal(err)
	}
}

func testHandlerRemoved(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	b.Handle(protoEcho, echo)
	if err := exchange(ctx(t), a, b, protoEcho); err != nil {
		t.Fatal(err)
	}
	b.Handle(protoEcho, nil)
	if err := exchange(ctx(t), a, b, protoEcho); !errors.Is(err, netport.ErrNoHandler) {
		t.Fatalf("stream after the handler was removed: %v, want ErrNoHandler", err)
	}
	b.Handle(protoEcho, echo)
	if err := exchange(ctx(t), a, b, protoEcho); err != nil {
		t.Fatalf("after the handler came back: %v", err)
	}
}

func testConnect(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	if a.Connected(b.Self()) {
		t.Fatal("connected before Connect")
	}
	if err := a.Connect(ctx(t), b.Self(), nil); err != nil {
		t.Fatal(err)
	}
	if !a.Connected(b.Self()) {
		t.Fatal("not connected after Connect")
	}
	await(t, "the other side to see the connection", func() bool { return b.Connected(a.Self()) })
	if err := a.Connect(ctx(t), b.Self(), nil); err != nil {
		t.Fatalf("Connect when connected: %v", err)
	}
}

func testWatch(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	wa, ok1 := a.(netport.Watcher)
	wb, ok2 := b.(netport.Watcher)
	if !ok1 || !ok2 {
		t.Skip("not a netport.Watcher")
	}
	evs := make(chan netport.Event, 16)
	wa.Watch(func(e netport.Event) { evs <- e })
	wb.Watch(func(e netport.Event) { evs <- e })
	if err := a.Connect(ctx(t), b.Self(), nil); err != nil {
		t.Fatal(err)
	}
	want := map[netport.PeerID]bool{a.Self(): true, b.Self(): true}
	for len(want) > 0 {
		select {
		case e := <-evs:
			if !e.Connected || e.Relayed || !want[e.Peer] {
				t.Fatalf("unexpected event %+v (waiting for connections to %v)", e, want)
			}
			delete(want, e.Peer)
		case <-time.After(Timeout):
			t.Fatalf("no connection event for %v", want)
		}
	}
	// A second stream on the same connection is no news.
	b.Handle(protoEcho, echo)
	if err := exchange(ctx(t), a, b, protoEcho); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-evs:
		if e.Connected {
			t.Fatalf("second connection event %+v", e)
		}
	default:
	}
}

func testManyStreams(t *testing.T, nets []netport.Network) {
	a, b := nets[0], nets[1]
	b.Handle(protoEcho, echo)
	const streams = 32
	errs := make(chan error, streams)
	for i := range streams {
		go func() {
			errs <- func() error {
				s, err := a.NewStream(ctx(t), b.Self(), protoEcho)
				if err != nil {
					return err
				}
				guard(t, s)
				defer s.Close()
				data := random(uint64(100+i), 16<<10)
				werr := make(chan error, 1)
				go func() {
					_, err := s.Write(data)
					s.CloseWrite()
					werr <- err
				}()
				got, err := io.ReadAll(s)
				if err := <-werr; err != nil {
					return err
				}
				if err != nil {
					return err
				}
				if !bytes.Equal(got, data) {
					return fmt.Errorf("stream %d: echoed %d bytes, want %d, or different bytes", i, len(got), len(data))
				}
				return nil
			}()
		}()
	}
	for range streams {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// await polls cond until it holds or Timeout passes.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
