package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/netport"
)

// Options configures a Host. The zero value is a usable default for a
// device on a home network: listen on port 4001 (TCP and QUIC, IPv4 and
// IPv6), DHT in "auto" mode, no relay service, no mDNS, no UPnP and no hole
// punching (the node turns those on; tests choose).
type Options struct {
	// ListenAddrs are multiaddrs to listen on; empty means DefaultListenAddrs.
	// New fails with ErrPortBusy when a port is held by another socket
	// (another node on this machine), unless ListenFallback is set.
	ListenAddrs []string
	// ListenFallback moves each listen address whose port is busy to a free
	// port (port 0), each address on its own: a node whose TCP port is
	// taken keeps its QUIC port if that is free. The node sets it when the
	// user did not choose the listen addresses.
	ListenFallback bool
	// AnnounceAddrs, when set, replace the advertised direct addresses
	// (relay circuit addresses are still added).
	AnnounceAddrs []string
	// Bootstrap are multiaddrs ending in /p2p/<id> of DHT bootstrap peers.
	Bootstrap []string
	// DHT is "auto" (default: server when publicly reachable, client
	// otherwise), "server", "client" or "off".
	DHT string
	// Validators maps DHT record namespaces (the first key segment: "/ns/…")
	// to their validator. Only these namespaces are accepted; IPFS's "pk"
	// and "ipns" are not registered.
	Validators map[string]Validator

	// MDNS turns on LAN discovery with the service name MDNSServiceName.
	MDNS bool
	// NATPortMap asks the router for a port mapping (UPnP / NAT-PMP).
	NATPortMap bool
	// HolePunching turns on DCUtR over relayed connections.
	HolePunching bool
	// OnHolePunch, when set, is told of every finished hole punch (from a
	// libp2p goroutine: it must not block).
	OnHolePunch func(HolePunchResult)

	// RelayService makes this host a circuit relay v2 (it serves only while
	// AutoNAT finds it publicly reachable, or Reachability is "public").
	RelayService bool
	// RelayStrangers lets peers that are not contacts reserve slots on our
	// relay. By default only contacts may.
	RelayStrangers bool
	// RelayLimit bounds each relayed connection; zero fields mean
	// DefaultRelayLimit.
	RelayLimit RelayLimit
	// StaticRelays are multiaddrs with /p2p/<id> of relays to hold
	// reservations on.
	StaticRelays []string
	// RelayCandidates is an optional extra source of relays (e.g. contacts
	// that run a relay); it follows autorelay's PeerSource contract: send at
	// most num peers and close the channel, also when ctx is cancelled.
	RelayCandidates func(ctx context.Context, num int) <-chan peer.AddrInfo

	// IsContact says whether a peer is one of ours: it may use our relay and
	// its connections are protected from trimming. Called from libp2p
	// goroutines: it must be safe for concurrent use and fast.
	IsContact func(netport.PeerID) bool
	// Blocked peers are refused before any stream is opened. Same rules as
	// IsContact.
	Blocked func(netport.PeerID) bool

	// ConnLow and ConnHigh are the connection manager's water marks; zero
	// means DefaultConnLow / DefaultConnHigh.
	ConnLow, ConnHigh int

	// Reachability overrides AutoNAT: "" or "auto" (detect), "public" or
	// "private". Useful for known public relays and bootstrap servers, and
	// for tests.
	Reachability string
	// UserAgent sent in identify; default "peer-node".
	UserAgent string

	Logger *slog.Logger

	// addrsFactory, when set, post-processes advertised addresses (tests
	// use it to make loopback relays look public to autorelay).
	addrsFactory func([]ma.Multiaddr) []ma.Multiaddr
}

// RelayLimit bounds one relayed connection.
type RelayLimit struct {
	Duration time.Duration // reset the connection after this long
	Data     int64         // bytes in each direction before reset
}

// Validator checks and orders DHT records of one namespace. It has the
// shape of go-libp2p-record's Validator.
type Validator interface {
	// Validate returns nil when value is a valid record for key.
	Validate(key string, value []byte) error
	// Select returns the index of the best of vals.
	Select(key string, vals [][]byte) (int, error)
}

// Defaults.
var (
	// DefaultListenAddrs are used when Options.ListenAddrs is empty.
	DefaultListenAddrs = []string{
		"/ip4/0.0.0.0/tcp/4001",
		"/ip4/0.0.0.0/udp/4001/quic-v1",
		"/ip6/::/tcp/4001",
		"/ip6/::/udp/4001/quic-v1",
	}
	// DefaultRelayLimit is generous: relays here serve contacts, whose
	// transfers should not be cut every two minutes as on public relays.
	DefaultRelayLimit = RelayLimit{Duration: time.Hour, Data: 1 << 30}
)

const (
	// DefaultConnLow and DefaultConnHigh are the connection-manager water
	// marks for a small device (see docs/network.md).
	DefaultConnLow  = 128
	DefaultConnHigh = 256
	// ConnGracePeriod protects new connections from trimming.
	ConnGracePeriod = time.Minute

	// MDNSServiceName is our DNS-SD service ("peer-node" over UDP), distinct
	// from IPFS's "_p2p._udp" so the two networks do not discover each other.
	MDNSServiceName = "_peer-node._udp"
	// DHTProtocolPrefix keeps our DHT apart from IPFS's: /peer/kad/1.0.0.
	DHTProtocolPrefix = "/peer"
)

// Errors callers branch on.
var (
	ErrNoDHT       = errors.New("p2p: DHT is off")
	ErrNotFound    = errors.New("p2p: not found")
	ErrNoBootstrap = errors.New("p2p: no bootstrap peer reachable")
	ErrBlocked     = errors.New("p2p: peer is blocked")
	ErrRefused     = errors.New("p2p: the peer refused the connection or blocked us")
	// ErrBadAddr: text that should name a peer (a peer ID, a multiaddr
	// with /p2p/<peer ID>) does not.
	ErrBadAddr = errors.New("p2p: not a peer address")
	// ErrInvalidOptions wraps every option error from New.
	ErrInvalidOptions = errors.New("p2p: invalid options")
)

// config is Options after validation and parsing.
type config struct {
	Options
	listen     []ma.Multiaddr
	announce   []ma.Multiaddr
	bootstrap  []peer.AddrInfo
	static     []peer.AddrInfo
	relayLimit RelayLimit
}

func (o Options) parse() (*config, error) {
	c := &config{Options: o}
	var err error
	listen := o.ListenAddrs
	if len(listen) == 0 {
		listen = DefaultListenAddrs
	}
	if c.listen, err = parseAddrs("listen address", listen); err != nil {
		return nil, err
	}
	if c.announce, err = parseAddrs("announce address", o.AnnounceAddrs); err != nil {
		return nil, err
	}
	if c.bootstrap, err = parsePeerAddrs("bootstrap address", o.Bootstrap); err != nil {
		return nil, err
	}
	if c.static, err = parsePeerAddrs("static relay", o.StaticRelays); err != nil {
		return nil, err
	}
	switch o.DHT {
	case "":
		c.DHT = "auto"
	case "auto", "server", "client", "off":
	default:
		return nil, fmt.Errorf("%w: DHT mode %q (want auto, server, client or off)", ErrInvalidOptions, o.DHT)
	}
	switch o.Reachability {
	case "", "auto", "public", "private":
	default:
		return nil, fmt.Errorf("%w: reachability %q (want auto, public or private)", ErrInvalidOptions, o.Reachability)
	}
	for ns, v := range o.Validators {
		if ns == "" || v == nil {
			return nil, fmt.Errorf("%w: validator for namespace %q", ErrInvalidOptions, ns)
		}
	}
	if c.ConnLow == 0 {
		c.ConnLow = DefaultConnLow
	}
	if c.ConnHigh == 0 {
		c.ConnHigh = max(DefaultConnHigh, c.ConnLow*2)
	}
	if c.ConnLow < 0 || c.ConnHigh < c.ConnLow {
		return nil, fmt.Errorf("%w: connection water marks low %d high %d", ErrInvalidOptions, c.ConnLow, c.ConnHigh)
	}
	if c.ConnHigh > systemConns {
		return nil, fmt.Errorf("%w: ConnHigh %d above the resource manager's %d connections", ErrInvalidOptions, c.ConnHigh, systemConns)
	}
	c.relayLimit = o.RelayLimit
	if c.relayLimit.Duration <= 0 {
		c.relayLimit.Duration = DefaultRelayLimit.Duration
	}
	if c.relayLimit.Data <= 0 {
		c.relayLimit.Data = DefaultRelayLimit.Data
	}
	if c.UserAgent == "" {
		c.UserAgent = "peer-node"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func parseAddrs(what string, ss []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q: %w", ErrInvalidOptions, what, s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// parsePeerAddrs parses multiaddrs that must end in /p2p/<id>, merging
// several addresses of one peer.
func parsePeerAddrs(what string, ss []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	idx := map[peer.ID]int{}
	for _, s := range ss {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q (want a multiaddr ending in /p2p/<peer id>): %w", ErrInvalidOptions, what, s, err)
		}
		if i, ok := idx[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		idx[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}
