// Package p2p is the node's libp2p edge: it maps the device's Ed25519 key
// to its libp2p identity (the peer ID other peers know this device by) and
// builds the node's Host — TCP and QUIC, Noise and TLS, yamux, a resource
// manager sized for a small device, a connection manager, a gater for
// blocked peers, circuit relay v2 (client, and service for contacts),
// AutoNAT, hole punching, UPnP, our own kad-DHT (/peer/kad/1.0.0) and LAN
// discovery. docs/network.md describes the choices and limits.
//
// It is an edge package: the composition root (package node), other edge
// packages and tests may import it; domain packages may not. What node
// calls takes devices as netport.PeerID and addresses as text, so that
// libp2p's types stay under internal/p2p.
package p2p

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/netport"
)

// ParsePeerID reads a libp2p peer ID in any of its text forms and returns
// it in the canonical one; it fails with ErrBadAddr.
func ParsePeerID(s string) (netport.PeerID, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadAddr, err)
	}
	return portID(id), nil
}

// PeerID returns the libp2p peer ID of a device public key.
func PeerID(pub ed25519.PublicKey) (peer.ID, error) {
	pk, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("device key: %w", err)
	}
	return peer.IDFromPublicKey(pk)
}

// PrivKey converts the device's private key for a libp2p host.
func PrivKey(priv ed25519.PrivateKey) (crypto.PrivKey, error) {
	return crypto.UnmarshalEd25519PrivateKey(priv)
}
