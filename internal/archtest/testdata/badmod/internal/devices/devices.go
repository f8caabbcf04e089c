// Package devices in this fixture depends on libp2p only indirectly,
// through share: the dependency rule catches it, the import rule does not.
package devices

import "github.com/peer-node/peer/internal/share"

var _ = share.Host
