// Package node is the fixture's composition root; it registers a stream
// handler and a protocol handler on purpose.
package node

// Name is imported by the fixture's identity package.
const Name = "node"

type host struct{}

func (host) SetStreamHandler(proto string, h func()) {}

type network struct{}

func (network) Handle(proto string, h func()) {}

func wire() {
	var x host
	var y network
	x.SetStreamHandler("/peer/share/1", func() {})
	y.Handle("/peer/invite/1", func() {})
}

var _ = wire
