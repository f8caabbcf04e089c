// Package share in this fixture is a capability that imports libp2p on
// purpose instead of reaching the network through the port.
package share

import "github.com/libp2p/go-libp2p/core/host"

// Host leaks a libp2p type into a capability.
var Host host.Host
