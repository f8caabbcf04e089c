package node

import (
	"context"
	"crypto/hpke"
	"fmt"
	"time"

	"github.com/peer-node/peer/internal/devices"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/sealing"
	"github.com/peer-node/peer/internal/share"
)

// openShare builds the sharing state over the MiMei store (it works with
// the network off too).
func (n *Node) openShare() error {
	suite, err := sealing.ParseSuite(n.cfg.Share.Cipher)
	if err != nil {
		return err
	}
	n.share, err = share.New(share.Config{
		KV: n.store, Store: n.mimei, Persona: n.keys.DefaultPersona().ID,
		PersonaKey: n.keys.PersonaKey,
		Suite:      suite,
		CacheQuota: int64(n.cfg.Share.CacheMB) << 20,
		Logger:     n.log.With("part", "share"),
		Event:      n.publish,
	})
	return err
}

// startShareFlows puts sharing on the network.
func (n *Node) startShareFlows(s *netSvc) (err error) {
	n.flows, err = share.NewFlows(share.FlowsConfig{
		Service: n.share, Net: s.port, Providers: s.port, Directory: shareDirectory{s}, Own: ownDevices{s.devices},
		CheckEvery:       time.Duration(n.cfg.Share.CheckMinutes) * time.Minute,
		RateBytesPerSec:  int64(n.cfg.Share.RateMB) << 20,
		AddrBytesPerSec:  int64(n.cfg.Share.AddressRateMB) << 20,
		TotalBytesPerSec: int64(n.cfg.Share.TotalRateMB) << 20,
		Logger:           n.log.With("part", "share"),
		Event:            n.publish,
	})
	if err != nil {
		return err
	}
	return n.flows.Start()
}

// publish sends an event on the bus, if it is up.
func (n *Node) publish(kind string, data any) {
	if n.bus != nil {
		n.bus.Publish(kind, data)
	}
}

// shareDirectory tells sharing who is behind a device and how to reach a
// persona: contacts and own devices, discovery.
type shareDirectory struct{ s *netSvc }

func (d shareDirectory) PersonaOf(p netport.PeerID) string { return d.s.contactSvc().PersonaOf(p) }

func (d shareDirectory) ConnectPersona(ctx context.Context, persona string) (netport.PeerID, error) {
	p, _, _, err := d.s.connectPersona(ctx, persona)
	return netport.PeerID(p.String()), err
}

func (d shareDirectory) EncryptionKey(ctx context.Context, persona string) (hpke.PublicKey, error) {
	r, err := d.s.disc.Resolve(ctx, persona)
	if err != nil {
		return nil, err
	}
	if len(r.Record.EncKey) == 0 {
		return nil, fmt.Errorf("the identity record of %s has no encryption key", persona)
	}
	return identity.EncryptionKEM().NewPublicKey(r.Record.EncKey)
}

// ownDevices lists and connects our own devices for sharing.
type ownDevices struct{ d *devices.Service }

func (o ownDevices) Devices() []netport.PeerID {
	var out []netport.PeerID
	for _, d := range o.d.List() {
		out = append(out, d.PeerID)
	}
	return out
}

func (o ownDevices) Connect(ctx context.Context, p netport.PeerID) error {
	for _, d := range o.d.List() {
		if d.PeerID == p {
			return o.d.Connect(ctx, d)
		}
	}
	return fmt.Errorf("%s is not a paired device", p)
}
