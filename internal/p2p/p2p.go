// Package p2p is the node's libp2p edge. For now it maps the device's
// Ed25519 key to its libp2p identity (the peer ID other peers know this
// device by); the host, transports and protocols join it with the network
// issue.
//
// Only the composition root (package node) and tests import it.
package p2p

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

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
