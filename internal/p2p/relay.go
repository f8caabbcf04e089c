package p2p

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/peer-node/peer/internal/netport"
)

// relayBackoff is how long autorelay waits before retrying a relay that
// refused or failed a reservation (libp2p's default is an hour; our relays
// are mostly contacts' devices that come and go).
const relayBackoff = 5 * time.Minute

// relayACL is the relay service's policy: contacts may reserve a slot;
// strangers only when strangers is set. A circuit is allowed when either end
// is a contact (the destination already holds a reservation, so it passed
// AllowReserve), so our contacts are reachable by anyone they let in.
type relayACL struct {
	isContact func(netport.PeerID) bool
	strangers bool
}

var _ relayv2.ACLFilter = relayACL{}

func (a relayACL) contact(p peer.ID) bool { return a.isContact != nil && a.isContact(portID(p)) }

func (a relayACL) AllowReserve(p peer.ID, _ ma.Multiaddr) bool {
	return a.strangers || a.contact(p)
}

func (a relayACL) AllowConnect(src peer.ID, _ ma.Multiaddr, dest peer.ID) bool {
	return a.strangers || a.contact(src) || a.contact(dest)
}

// relayServiceOptions configures the relay service: our ACL, and per
// circuit limits from Options.RelayLimit.
func relayServiceOptions(c *config) []relayv2.Option {
	rc := relayv2.DefaultResources()
	rc.Limit = &relayv2.RelayLimit{Duration: c.relayLimit.Duration, Data: c.relayLimit.Data}
	return []relayv2.Option{
		relayv2.WithResources(rc),
		relayv2.WithACL(relayACL{isContact: c.IsContact, strangers: c.RelayStrangers}),
	}
}

// relaySource yields the static relays first, then what extra sends, at
// most num peers in all. It drains extra until extra closes it, as the
// PeerSource contract asks of the consumer too.
func relaySource(static []peer.AddrInfo, extra autorelay.PeerSource) autorelay.PeerSource {
	return func(ctx context.Context, num int) <-chan peer.AddrInfo {
		out := make(chan peer.AddrInfo)
		go func() {
			defer close(out)
			sent := 0
			send := func(ai peer.AddrInfo) {
				if sent >= num || ctx.Err() != nil {
					return
				}
				select {
				case out <- ai:
					sent++
				case <-ctx.Done():
				}
			}
			for _, ai := range static {
				send(ai)
			}
			if extra == nil || sent >= num {
				return
			}
			for ai := range extra(ctx, num-sent) {
				send(ai)
			}
		}()
		return out
	}
}

// autoRelayOptions picks the autorelay configuration: static relays alone
// use libp2p's static mode (reserve with all of them, no boot delay); with a
// candidate source we reserve as soon as one candidate is known.
func autoRelayOptions(c *config) (static []peer.AddrInfo, source autorelay.PeerSource, opts []autorelay.Option) {
	opts = []autorelay.Option{autorelay.WithBackoff(relayBackoff)}
	if c.RelayCandidates == nil {
		return c.static, nil, opts
	}
	opts = append(opts,
		autorelay.WithMinCandidates(1),
		autorelay.WithNumRelays(max(2, len(c.static))),
	)
	return nil, relaySource(c.static, c.RelayCandidates), opts
}
