// Package p2p in this fixture is the port's libp2p adapter: its libp2p
// import is allowed.
package p2p

import "github.com/libp2p/go-libp2p/core/host"

var _ host.Host
