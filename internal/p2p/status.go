package p2p

import (
	"slices"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Status is a snapshot of the host for the API and the CLI.
type Status struct {
	PeerID       string
	Reachability string   // "public", "private", "unknown" (AutoNAT)
	NATType      string   // "cone", "symmetric", "unknown"
	ListenAddrs  []string // what we listen on
	Addrs        []string // what we advertise, relay addresses included
	Relays       []string // peer IDs of relays we hold a reservation with
	DHTMode      string   // "server", "client", "off"
	RoutingTable int      // peers in the DHT routing table
	Conns        []ConnInfo
	HolePunch    HolePunchStats
}

// ConnInfo describes one open connection.
type ConnInfo struct {
	Peer      string
	Addr      string // remote multiaddr
	Direction string // "inbound", "outbound", "unknown"
	Relayed   bool   // through a circuit relay (limited)
	Transport string // "tcp", "quic", "webtransport", "websocket", "relay", …
	Opened    time.Time
}

// Status reports the host's current state.
func (h *Host) Status() Status {
	st := Status{
		PeerID:      h.h.ID().String(),
		ListenAddrs: addrStrings(h.h.Network().ListenAddresses()),
		Addrs:       addrStrings(h.h.Addrs()),
		DHTMode:     "off",
	}
	h.mu.Lock()
	st.Reachability = reachabilityString(h.reach)
	st.NATType = natString(h.nat)
	st.HolePunch = h.hp.stats()
	for _, p := range h.relays {
		st.Relays = append(st.Relays, p.String())
	}
	h.mu.Unlock()
	if h.dht != nil {
		st.DHTMode = "client"
		if h.dht.Mode() == dht.ModeServer { // Mode reports the current one: client or server
			st.DHTMode = "server"
		}
		st.RoutingTable = h.dht.RoutingTable().Size()
	}
	for _, c := range h.h.Network().Conns() {
		stat := c.Stat()
		st.Conns = append(st.Conns, ConnInfo{
			Peer:      c.RemotePeer().String(),
			Addr:      c.RemoteMultiaddr().String(),
			Direction: directionString(stat.Direction),
			Relayed:   stat.Limited || isRelayed(c.RemoteMultiaddr()),
			Transport: transportName(c.RemoteMultiaddr()),
			Opened:    stat.Opened,
		})
	}
	slices.SortFunc(st.Conns, func(a, b ConnInfo) int {
		if a.Peer != b.Peer {
			return compare(a.Peer, b.Peer)
		}
		return a.Opened.Compare(b.Opened)
	})
	return st
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

func reachabilityString(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

// natString folds the per-transport NAT types: symmetric if any transport
// sees an endpoint-dependent mapping, cone if any sees an
// endpoint-independent one.
func natString(m map[network.NATTransportProtocol]network.NATDeviceType) string {
	out := "unknown"
	for _, t := range m {
		switch t {
		case network.NATDeviceTypeEndpointDependent:
			return "symmetric"
		case network.NATDeviceTypeEndpointIndependent:
			out = "cone"
		}
	}
	return out
}

func directionString(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// transportName names the outermost transport of a remote address.
func transportName(a ma.Multiaddr) string {
	name := "unknown"
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_CIRCUIT:
			return "relay"
		case ma.P_TCP:
			name = "tcp"
		case ma.P_QUIC_V1, ma.P_QUIC:
			name = "quic"
		case ma.P_WEBTRANSPORT:
			name = "webtransport"
		case ma.P_WS, ma.P_WSS:
			name = "websocket"
		case ma.P_WEBRTC_DIRECT, ma.P_WEBRTC:
			name = "webrtc"
		}
	}
	return name
}

// relayIDs extracts the relay peer IDs from circuit addresses
// (…/p2p/<relay>/p2p-circuit).
// RelayPeer returns the relay a circuit address goes through (the last
// /p2p/ before /p2p-circuit), or false for a direct address.
func RelayPeer(a ma.Multiaddr) (peer.ID, bool) {
	ids := relayIDs([]ma.Multiaddr{a})
	if len(ids) == 0 {
		return "", false
	}
	return ids[0], true
}

func relayIDs(addrs []ma.Multiaddr) []peer.ID {
	var out []peer.ID
	for _, a := range addrs {
		var last peer.ID
		for _, c := range a {
			switch c.Protocol().Code {
			case ma.P_P2P:
				if id, err := peer.Decode(c.Value()); err == nil {
					last = id
				}
			case ma.P_CIRCUIT:
				if last != "" && !slices.Contains(out, last) {
					out = append(out, last)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
