package p2p

import (
	"io"

	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// startMDNS announces us on the LAN under MDNSServiceName and hands every
// peer found to h.HandlePeerFound (which connects and tells OnPeerFound).
func startMDNS(h *Host) (io.Closer, error) {
	s := mdns.NewMdnsService(h.h, MDNSServiceName, h)
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}
