package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/netport"
)

// Port is the host seen through the network port: it implements
// netport.Network, netport.Watcher and netport.Providers, so that
// capabilities reach the network without importing libp2p.
type Port struct{ h *Host }

var (
	_ netport.Network   = (*Port)(nil)
	_ netport.Watcher   = (*Port)(nil)
	_ netport.Providers = (*Port)(nil)
)

// limitedWait bounds how long NewStream waits for a direct connection to
// a peer reached only through a relay.
const limitedWait = 5 * time.Second

// Port returns the host's network port.
func (h *Host) Port() *Port { return &Port{h: h} }

// Self is this device's peer ID.
func (p *Port) Self() netport.PeerID { return netport.PeerID(p.h.ID().String()) }

// portID names a libp2p peer on the network port.
func portID(p peer.ID) netport.PeerID { return netport.PeerID(p.String()) }

func decode(id netport.PeerID) (peer.ID, error) {
	pid, err := peer.Decode(string(id))
	if err != nil {
		return "", fmt.Errorf("p2p: peer ID %q: %w: %w", string(id), netport.ErrUnreachable, err)
	}
	return pid, nil
}

// limitedCtx passes netport.AllowLimited on as libp2p's option.
func limitedCtx(ctx context.Context) (context.Context, bool) {
	if reason, ok := netport.LimitedAllowed(ctx); ok {
		return network.WithAllowLimitedConn(ctx, reason), true
	}
	return ctx, false
}

// NewStream opens a stream to id for proto, connecting first (through the
// DHT when no address is known) if there is no connection yet.
//
// When the only connections are relayed and ctx does not allow them, it
// waits up to limitedWait for a direct one (hole punching), then fails
// with netport.ErrLimited.
//
// The protocol is negotiated lazily when the peer is known to support it
// (one round trip saved): if it has dropped the handler meanwhile, the
// first Read reports netport.ErrNoHandler instead of NewStream.
func (p *Port) NewStream(ctx context.Context, id netport.PeerID, proto netport.ProtocolID) (netport.Stream, error) {
	pid, err := decode(id)
	if err != nil {
		return nil, err
	}
	if pid == p.h.ID() {
		return nil, fmt.Errorf("p2p: stream to %s: dial to self: %w", id, netport.ErrUnreachable)
	}
	ctx, allowed := limitedCtx(ctx)
	n := p.h.h.Network()
	if n.Connectedness(pid) == network.NotConnected {
		if err := p.h.Connect(ctx, peer.AddrInfo{ID: pid}); err != nil {
			return nil, fmt.Errorf("p2p: stream to %s: %w: %w", id, netport.ErrUnreachable, err)
		}
	}
	if !allowed && n.Connectedness(pid) == network.Limited {
		// libp2p waits for hole punching to give a direct connection; we
		// wait less than its dial timeout before calling it limited.
		ctx = network.WithDialPeerTimeout(ctx, limitedWait)
	}
	s, err := p.h.h.NewStream(ctx, pid, protocol.ID(proto))
	if err != nil {
		limitedOnly := !allowed && n.Connectedness(pid) == network.Limited
		return nil, fmt.Errorf("p2p: stream to %s for %s: %w", id, proto, openErr(err, limitedOnly))
	}
	return opened(s, id), nil
}

// openErr maps a failure to open a stream to the port's errors.
func openErr(err error, limitedOnly bool) error {
	switch {
	case notSupported(err):
		return fmt.Errorf("%w: %w", netport.ErrNoHandler, err)
	case errors.Is(err, network.ErrLimitedConn), limitedOnly:
		return fmt.Errorf("%w: %w", netport.ErrLimited, err)
	case errors.Is(err, network.ErrReset):
		return fmt.Errorf("%w: %w", netport.ErrReset, err)
	default:
		return fmt.Errorf("%w: %w", netport.ErrUnreachable, err)
	}
}

// Handle serves proto with h (nil removes the handler). libp2p runs each
// stream on its own goroutine.
func (p *Port) Handle(proto netport.ProtocolID, h netport.Handler) {
	if h == nil {
		p.h.h.RemoveStreamHandler(protocol.ID(proto))
		return
	}
	p.h.h.SetStreamHandler(protocol.ID(proto), func(s network.Stream) {
		h(&stream{s: s, remote: netport.PeerID(s.Conn().RemotePeer().String())})
	})
}

// Connect connects to id with addrs (text multiaddrs, with or without
// /p2p/<id>; bad ones and ones naming another peer are skipped) beside the
// addresses the host already knows.
func (p *Port) Connect(ctx context.Context, id netport.PeerID, addrs []string) error {
	pid, err := decode(id)
	if err != nil {
		return err
	}
	ai := peer.AddrInfo{ID: pid}
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		transport, named := peer.SplitAddr(a)
		if transport == nil || (named != "" && named != pid) {
			continue
		}
		ai.Addrs = append(ai.Addrs, transport)
	}
	ctx, _ = limitedCtx(ctx)
	if err := p.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("p2p: %w: %w", netport.ErrUnreachable, err)
	}
	return nil
}

// Connected reports whether a connection (direct or relayed) to id is open.
func (p *Port) Connected(id netport.PeerID) bool {
	pid, err := peer.Decode(string(id))
	return err == nil && p.h.connected(pid)
}

// Watch calls fn when a peer's first connection opens and when its last
// one closes. fn runs on libp2p's notification goroutine and must return
// quickly.
func (p *Port) Watch(fn func(netport.Event)) {
	w := &watcher{fn: fn, up: map[peer.ID]bool{}}
	n := p.h.h.Network()
	w.mu.Lock()
	defer w.mu.Unlock()
	n.Notify(&network.NotifyBundle{ConnectedF: w.connected, DisconnectedF: w.disconnected})
	for _, pid := range n.Peers() {
		w.up[pid] = true // already connected: no news, but its end will be
	}
}

type watcher struct {
	fn func(netport.Event)
	mu sync.Mutex
	up map[peer.ID]bool
}

func (w *watcher) connected(n network.Network, c network.Conn) {
	pid := c.RemotePeer()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.up[pid] {
		return
	}
	w.up[pid] = true
	relayed := isRelayed(c.RemoteMultiaddr())
	for _, o := range n.ConnsToPeer(pid) {
		if !o.IsClosed() && !isRelayed(o.RemoteMultiaddr()) {
			relayed = false
		}
	}
	w.fn(netport.Event{Peer: netport.PeerID(pid.String()), Connected: true, Relayed: relayed, Addr: c.RemoteMultiaddr().String()})
}

func (w *watcher) disconnected(n network.Network, c network.Conn) {
	pid := c.RemotePeer()
	if cn := n.Connectedness(pid); cn == network.Connected || cn == network.Limited {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.up[pid] {
		return
	}
	delete(w.up, pid)
	w.fn(netport.Event{Peer: netport.PeerID(pid.String()), Addr: c.RemoteMultiaddr().String()})
}

// Provide announces in the DHT that this device serves key (as the CID of
// the raw bytes of key).
func (p *Port) Provide(ctx context.Context, key []byte) error {
	return p.h.Provide(ctx, cid.Sum(cid.Raw, key))
}

// FindProviders finds up to limit devices that announced key (all it
// finds when limit <= 0) and keeps their addresses in the peerstore, so that
// NewStream can dial them.
func (p *Port) FindProviders(ctx context.Context, key []byte, limit int) ([]netport.PeerID, error) {
	ais, err := p.h.FindProviders(ctx, cid.Sum(cid.Raw, key), max(limit, 0))
	if err != nil {
		return nil, err
	}
	out := make([]netport.PeerID, 0, len(ais))
	for _, ai := range ais {
		if len(ai.Addrs) > 0 {
			p.h.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
		}
		out = append(out, netport.PeerID(ai.ID.String()))
	}
	return out, nil
}

// stream adapts a libp2p stream, mapping its errors to the port's.
//
// A stream NewStream opened lazily (libp2p already knew the peer speaks
// the protocol, so it did not wait for the negotiation) is negotiated by
// go-multistream on first use, and the outcome of each half of that
// handshake sticks: an error there, a deadline's included, is returned by
// every later Write (resp. Read), even after the deadline is cleared. So
// that deadlines behave as on a net.Conn, opened sends our half of the
// handshake before the caller can set a write deadline, and until the
// peer's half has been read the stream keeps the read deadline itself
// (hs, rdl) instead of passing it to libp2p.
type stream struct {
	s      network.Stream
	remote netport.PeerID

	// hs is closed once the peer's half of a lazy handshake has been
	// read (or has failed: the next Read reports why); nil when there is
	// no handshake pending (accepted streams, negotiated ones).
	hs         chan struct{}
	mu         sync.Mutex
	negotiated bool          // hs is closed; the read deadline is libp2p's
	rdl        time.Time     // read deadline kept back until negotiated
	rdlMoved   chan struct{} // closed (and replaced) when rdl changes
}

// opened wraps a stream NewStream opened. A *swarm.Stream is what libp2p
// returns once the protocol is negotiated; anything else (its lazy
// wrapper) is treated as still negotiating, which is also right, if
// slower, for a negotiated stream of another type.
func opened(s network.Stream, remote netport.PeerID) *stream {
	if _, negotiated := s.(*swarm.Stream); negotiated {
		return &stream{s: s, remote: remote}
	}
	// A write of nothing sends our half of the handshake while no
	// deadline can be set yet (it waits for nothing: the header fits in
	// any new stream's window). Its error is not ours to report: the peer
	// may already have stopped reading (a handler that only writes), and
	// a broken stream fails the caller's next Read or Write anyway.
	s.Write(nil)
	st := &stream{s: s, remote: remote, hs: make(chan struct{}), rdlMoved: make(chan struct{})}
	go st.handshake()
	return st
}

// handshake reads the peer's half of a lazy handshake with no deadline
// set (the read of nothing returns once it is read; Close and Reset end
// it too), then hands the read deadline over to libp2p.
func (s *stream) handshake() {
	s.s.Read(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negotiated = true
	if !s.rdl.IsZero() {
		s.s.SetReadDeadline(s.rdl)
	}
	close(s.hs)
}

// awaitHandshake waits for the peer's half of a lazy handshake, keeping
// to the read deadline (moved meanwhile or not) itself.
func (s *stream) awaitHandshake() error {
	if s.hs == nil || s.negotiatedNow() {
		return nil
	}
	for {
		s.mu.Lock()
		dl, moved := s.rdl, s.rdlMoved
		s.mu.Unlock()
		if err := s.awaitUntil(dl, moved); err != nil || s.negotiatedNow() {
			return err
		}
	}
}

// awaitUntil waits for the handshake, for the deadline dl (zero: none) to
// pass, or for it to move.
func (s *stream) awaitUntil(dl time.Time, moved <-chan struct{}) error {
	var expired <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-s.hs:
	case <-moved:
	case <-expired:
		select {
		case <-moved: // moved as it passed: look again
		default:
			if !s.negotiatedNow() {
				return os.ErrDeadlineExceeded
			}
		}
	}
	return nil
}

func (s *stream) negotiatedNow() bool {
	select {
	case <-s.hs:
		return true
	default:
		return false
	}
}

func (s *stream) Read(b []byte) (int, error) {
	if err := s.awaitHandshake(); err != nil {
		return 0, err
	}
	n, err := s.s.Read(b)
	return n, ioErr(err)
}

func (s *stream) Write(b []byte) (int, error) {
	n, err := s.s.Write(b)
	return n, ioErr(err)
}

func (s *stream) Close() error                       { return ioErr(s.s.Close()) }
func (s *stream) CloseWrite() error                  { return ioErr(s.s.CloseWrite()) }
func (s *stream) Reset() error                       { return s.s.Reset() }
func (s *stream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }
func (s *stream) Remote() netport.PeerID             { return s.remote }

func (s *stream) SetDeadline(t time.Time) error {
	return errors.Join(s.s.SetWriteDeadline(t), s.SetReadDeadline(t))
}

func (s *stream) SetReadDeadline(t time.Time) error {
	if s.hs == nil {
		return s.s.SetReadDeadline(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.negotiated {
		return s.s.SetReadDeadline(t)
	}
	s.rdl = t
	close(s.rdlMoved)
	s.rdlMoved = make(chan struct{})
	return nil
}

// RemoteAddr is taken from the connection's remote multiaddr: its first
// IP, which on a relayed connection (…/p2p/<relay>/p2p-circuit) is the
// relay's.
func (s *stream) RemoteAddr() netport.Addr { return portAddr(s.s.Conn().RemoteMultiaddr()) }

// portAddr is the port's view of a remote multiaddr.
func portAddr(a ma.Multiaddr) netport.Addr {
	out := netport.Addr{Relayed: isRelayed(a)}
	for _, c := range a {
		if code := c.Code(); code == ma.P_IP4 || code == ma.P_IP6 {
			if ip, ok := netip.AddrFromSlice(c.RawValue()); ok {
				out.IP = ip.Unmap()
			}
			break
		}
	}
	return out
}

// ioErr maps a stream error so that errors.Is works with the port's
// errors and with os.ErrDeadlineExceeded; io.EOF stays as it is.
func ioErr(err error) error {
	var ne net.Error
	switch {
	case err == nil || err == io.EOF:
		return err
	case notSupported(err):
		return fmt.Errorf("p2p: %w: %w", netport.ErrNoHandler, err)
	case errors.Is(err, network.ErrReset):
		return fmt.Errorf("p2p: %w: %w", netport.ErrReset, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("p2p: %w: %w", os.ErrDeadlineExceeded, err)
	}
	return err
}

// notSupported reports whether err says the peer does not speak the
// protocol: multistream's "na", or (when the protocol was proposed
// lazily, with data behind it) the peer resetting the stream because the
// negotiation failed.
func notSupported(err error) bool {
	var se *network.StreamError
	return errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) ||
		errors.As(err, &se) && se.Remote && se.ErrorCode == network.StreamProtocolNegotiationFailed
}
