// Package httpapi in this fixture is an edge that imports libp2p directly
// on purpose; only internal/p2p may.
package httpapi

import "github.com/libp2p/go-libp2p/core/host"

var _ host.Host
