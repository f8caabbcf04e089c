package p2p

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
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

// RelayedTo reports whether every open connection to p goes through a
// relay (false when there is none).
func (h *Host) RelayedTo(p peer.ID) bool {
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

// DropPath closes our connections to p, after a ping over them went
// unanswered, and the connections to every relay they went through that no
// longer answers either (a relay that died is noticed by QUIC only after
// its idle timeout; until then dials through it would hang).
func (h *Host) DropPath(ctx context.Context, p peer.ID) {
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
		if _, err := h.Ping(rctx, r); err != nil && ctx.Err() == nil {
			h.log.Info("relay does not answer; dropping our connections to it", "relay", r, "err", err)
			_ = nw.ClosePeer(r)
		}
		cancel()
	}
}

// ClosePeer closes every connection to p (blocking cuts what is open too).
func (h *Host) ClosePeer(p peer.ID) error { return h.h.Network().ClosePeer(p) }
