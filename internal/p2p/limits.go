package p2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// Resource-manager budget for a small device (a Raspberry Pi with 1–4 GiB
// of RAM). docs/network.md has the table and the reasoning; keep the two in
// step.
const (
	// rcmgrMemory is the memory the libp2p scaling limits are computed for
	// (about 1/8 of a 2 GiB device, libp2p's advice for a dedicated node).
	rcmgrMemory = 256 << 20
	// rcmgrFDs is the file-descriptor budget (Go raises the soft
	// RLIMIT_NOFILE to the hard limit at start, usually ≥ 4096).
	rcmgrFDs = 1024

	systemConns      = 512 // twice DefaultConnHigh: room above the trim mark
	systemConnsIn    = 384
	systemConnsOut   = 384
	systemStreams    = 8192
	systemStreamsIn  = 4096
	systemStreamsOut = 4096
	systemMemory     = rcmgrMemory // ceiling for all libp2p buffers together

	transientConns      = 128 // connections still handshaking
	transientConnsIn    = 96
	transientConnsOut   = 128
	transientStreams    = 512 // streams still negotiating a protocol
	transientStreamsIn  = 256
	transientStreamsOut = 512
	transientMemory     = 64 << 20
	transientFDs        = 256
)

// resourceLimits returns libp2p's default scaling limits (with the limits
// for its own services: identify, ping, autonat, relay, hole punching)
// scaled to rcmgrMemory / rcmgrFDs, with the system and transient scopes
// raised so that several hundred connections fit.
func resourceLimits() rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(rcmgrMemory, rcmgrFDs)
	override := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:           systemConns,
			ConnsInbound:    systemConnsIn,
			ConnsOutbound:   systemConnsOut,
			Streams:         systemStreams,
			StreamsInbound:  systemStreamsIn,
			StreamsOutbound: systemStreamsOut,
			Memory:          systemMemory,
			FD:              rcmgrFDs,
		},
		Transient: rcmgr.ResourceLimits{
			Conns:           transientConns,
			ConnsInbound:    transientConnsIn,
			ConnsOutbound:   transientConnsOut,
			Streams:         transientStreams,
			StreamsInbound:  transientStreamsIn,
			StreamsOutbound: transientStreamsOut,
			Memory:          transientMemory,
			FD:              transientFDs,
		},
	}
	return override.Build(base)
}

func newResourceManager() (network.ResourceManager, error) {
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits()), rcmgr.WithMetricsDisabled())
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}
