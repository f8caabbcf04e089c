// Package netport is the network port: what a capability needs from the
// network, in our own types. A capability (share, contacts' invites,
// devices, …) opens streams to a device for a protocol ID, handles a
// protocol, learns which device is on the other end of a stream, asks
// whether a device is connected and, for public content, announces and
// finds providers of a key. Nothing here knows libp2p.
//
// Two implementations exist: internal/p2p adapts a libp2p host to Network
// (the running node), and internal/netport/memnet is an in-memory network
// of many nodes in one process with latency, bandwidth caps, dropped links
// and partitions (tests). internal/netport/porttest is the conformance suite
// both pass.
//
// netport is a leaf: standard library only. Every package may import it.
package netport

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"
)

// PeerID names a device on the network: the text form of its libp2p peer
// ID (12D3KooW…) on the real network, any unique string on memnet.
type PeerID string

func (p PeerID) String() string { return string(p) }

// ProtocolID names a stream protocol, versioned: /peer/<name>/<semver>.
type ProtocolID string

// Stream is one bidirectional, ordered, reliable byte stream to a device.
// Close closes both directions politely; CloseWrite sends EOF and keeps
// reading; Reset aborts both directions at once (the other side's reads
// and writes fail). Deadlines behave as net.Conn's.
type Stream interface {
	io.Reader
	io.Writer
	io.Closer
	CloseWrite() error
	Reset() error
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	// Remote is the device on the other end, authenticated by the
	// transport (on libp2p: the Noise or TLS handshake).
	Remote() PeerID
	// RemoteAddr is where the other end's connection comes from, as this
	// end sees it (not authenticated: the IP a packet came from).
	RemoteAddr() Addr
}

// Addr is where the other end of a stream connects from.
type Addr struct {
	// IP is the remote IP of the connection; on a relayed connection, the
	// relay's. The zero Addr: unknown.
	IP netip.Addr
	// Relayed: the connection goes through a relay, so IP is not the
	// device's own.
	Relayed bool
}

// Source names the place a connection comes from, for budgets that count
// per address: devices behind one address are usually one party, and new
// peer IDs cost nothing while new addresses do. It is the IPv4 address, or
// the IPv6 /64 (one subscriber's share of a network; a link-local address
// stands alone, since one LAN's devices all share fe80::/64, and so does
// ::1), written
// "ip4 …" or "ip6 …/64"; a relayed connection gets "relay " before its
// relay's, so what comes through a relay is counted apart from what the
// relay host sends itself. "" when IP is unknown.
func (a Addr) Source() string {
	if !a.IP.IsValid() {
		return ""
	}
	ip := a.IP.Unmap().WithZone("")
	var s string
	switch {
	case ip.Is4():
		s = "ip4 " + ip.String()
	case ip.IsLinkLocalUnicast(), ip.IsLoopback():
		s = "ip6 " + ip.String()
	default:
		p, _ := ip.Prefix(64)
		s = "ip6 " + p.String()
	}
	if a.Relayed {
		s = "relay " + s
	}
	return s
}

func (a Addr) String() string {
	switch {
	case !a.IP.IsValid():
		return "unknown"
	case a.Relayed:
		return a.IP.String() + " (relayed)"
	}
	return a.IP.String()
}

// Handler serves one inbound stream; it owns the stream and must close or
// reset it.
type Handler func(Stream)

// Network is what a capability needs to talk to other devices.
type Network interface {
	// Self is this device.
	Self() PeerID
	// NewStream opens a stream to p for proto, dialling p first if need
	// be with whatever addresses the network knows for it. On a relayed
	// path it fails unless ctx came from AllowLimited.
	NewStream(ctx context.Context, p PeerID, proto ProtocolID) (Stream, error)
	// Handle serves inbound streams for proto with h (nil removes it).
	Handle(proto ProtocolID, h Handler)
	// Connect makes sure there is a connection to p, using addrs (text
	// multiaddrs; may be empty) beside what the network already knows.
	Connect(ctx context.Context, p PeerID, addrs []string) error
	// Connected reports whether a connection to p is open now.
	Connected(p PeerID) bool
}

// Providers announces and finds the devices that serve a key (the DHT's
// provider records on the real network). Keys are opaque bytes.
type Providers interface {
	Provide(ctx context.Context, key []byte) error
	FindProviders(ctx context.Context, key []byte, max int) ([]PeerID, error)
}

// Event is a change of a device's connectedness: its first connection
// opened (Connected) or its last one closed.
type Event struct {
	Peer      PeerID
	Connected bool
	Relayed   bool   // every open connection to Peer goes through a relay
	Addr      string // the remote address of the connection (text multiaddr), if known
}

// Watcher reports connectedness changes to fn, on a goroutine of the
// implementation's; fn must not block for long.
type Watcher interface {
	Watch(fn func(Event))
}

// Errors callers branch on; implementations wrap them.
var (
	// ErrUnreachable: no connection to the device could be made.
	ErrUnreachable = errors.New("netport: device unreachable")
	// ErrNoHandler: the device does not speak that protocol.
	ErrNoHandler = errors.New("netport: protocol not supported by the device")
	// ErrLimited: only a relayed (limited) path exists and the caller did
	// not allow it.
	ErrLimited = errors.New("netport: only a limited (relayed) connection, not allowed for this stream")
	// ErrReset: the stream was reset by either side.
	ErrReset = errors.New("netport: stream reset")
	// ErrClosed: the network (or this node on it) is closed.
	ErrClosed = errors.New("netport: closed")
)

type limitedKey struct{}

// AllowLimited marks ctx so that NewStream may use a limited (relayed)
// connection; reason is for the logs of implementations that keep them.
func AllowLimited(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, limitedKey{}, reason)
}

// LimitedAllowed reports whether ctx came from AllowLimited, and why.
func LimitedAllowed(ctx context.Context) (string, bool) {
	r, ok := ctx.Value(limitedKey{}).(string)
	return r, ok
}
