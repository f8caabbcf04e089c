// Package host stands in for libp2p's host package in the fixture, so the
// fixture builds offline; a local replace needs no go.sum entry.
package host

// Host is a stand-in for a libp2p host.
type Host struct{}

// SetStreamHandler is a stand-in that does nothing.
func (Host) SetStreamHandler(string, func()) {}
