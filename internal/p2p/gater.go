package p2p

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/netport"
)

// gater refuses blocked peers at every stage that knows the peer ID: before
// we dial, after the security handshake (inbound connections reveal the
// peer only there) and after the upgrade. InterceptAccept sees only
// addresses, so it admits everything.
type gater struct {
	blocked func(netport.PeerID) bool
}

var _ connmgr.ConnectionGater = gater{}

func (g gater) deny(p peer.ID) bool { return g.blocked != nil && g.blocked(portID(p)) }

func (g gater) InterceptPeerDial(p peer.ID) bool                 { return !g.deny(p) }
func (g gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.deny(p) }
func (g gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }

func (g gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.deny(p)
}

func (g gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.deny(c.RemotePeer()), 0
}
