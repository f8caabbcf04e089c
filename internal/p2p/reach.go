package p2p

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/peer-node/peer/internal/netport"
)

// relayCheckTimeout bounds the ping that checks whether a relay is alive.
const relayCheckTimeout = 3 * time.Second

// Advertised returns up to maxN of our addresses as text, public ones
// first, then private, then relay, then loopback (useful only on one
// machine): what invites, pairing codes and identity records carry.
func (h *Host) Advertised(maxN int) []string {
	var public, private, relay, loop []string
	for _, a := range h.h.Addrs() {
		str := a.String()
		switch {
		case isRelayed(a):
			relay = append(relay, str)
		case manet.IsIPLoopback(a):
			loop = append(loop, str)
		case manet.IsPublicAddr(a):
			public = append(public, str)
		default:
			private = append(private, str)
		}
	}
	out := append(append(append(public, private...), relay...), loop...)
	if len(out) > maxN {
		out = out[:maxN]
	}
	return out
}

// RelayedTo reports whether every open connection to id goes through a
// relay (false when there is none).
func (h *Host) RelayedTo(id netport.PeerID) bool {
	p, err := peer.Decode(id.String())
	if err != nil {
		return false
	}
	conns := h.h.Network().ConnsToPeer(p)
	if len(conns) == 0 {
		return false
	}
	for _, c := range conns {
		if !isRelayed(c.RemoteMultiaddr()) {
			return false
		}
	}
	return true
}

// DropPath closes our connections to id, after a ping over them went
// unanswered, and the connections to every relay they went through that no
// longer answers either (a relay that died is noticed by QUIC only after
// its idle timeout; until then dials through it would hang).
func (h *Host) DropPath(ctx context.Context, id netport.PeerID) {
	p, err := peer.Decode(id.String())
	if err != nil {
		return
	}
	nw := h.h.Network()
	var relays []peer.ID
	for _, c := range nw.ConnsToPeer(p) {
		if r, ok := RelayPeer(c.RemoteMultiaddr()); ok && !slices.Contains(relays, r) {
			relays = append(relays, r)
		}
	}
	_ = nw.ClosePeer(p)
	for _, r := range relays {
		rctx, cancel := context.WithTimeout(ctx, relayCheckTimeout)
		if _, err := h.ping(rctx, r); err != nil && ctx.Err() == nil {
			h.log.Info("relay does not answer; dropping our connections to it", "relay", r, "err", err)
			_ = nw.ClosePeer(r)
		}
		cancel()
	}
}

// ClosePeer closes every connection to id (blocking cuts what is open too).
func (h *Host) ClosePeer(id netport.PeerID) error {
	p, err := decode(id)
	if err != nil {
		return err
	}
	return h.h.Network().ClosePeer(p)
}
