package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peer-node/peer/internal/apibackend"
	"github.com/peer-node/peer/internal/config"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/devices"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/p2p/discovery"
)

// netSvc is the node's peer-to-peer side: the libp2p host and its port,
// and the services on them (discovery, contacts' invites and presence,
// own devices, the identity-record publisher). Each service owns its
// flows; this only builds them and plugs them together.
type netSvc struct {
	n       *Node
	host    *p2p.Host
	port    *p2p.Port
	disc    *discovery.Service
	devices *devices.Service
	pub     *discovery.Publisher
	// people is read by libp2p goroutines (gater, relay ACL) from the
	// moment the host listens, before it exists: nil allows, and its Start
	// cuts whatever a blocked peer opened meanwhile.
	people atomic.Pointer[contacts.Service]
	// blockedAtStart answers the gater until people exists.
	blockedAtStart map[netport.PeerID]bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// openContacts opens the contact store (it works with the network off too).
func (n *Node) openContacts() (err error) {
	n.contacts, err = contacts.Open(n.store, time.Now)
	return err
}

// startNetwork starts the libp2p host and the services on it, if the
// network is enabled.
func (n *Node) startNetwork() (err error) {
	if !n.cfg.Network.Enabled {
		n.log.Info("network off (network.enabled = false)")
		return nil
	}
	s := &netSvc{n: n}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.blockedAtStart = blockedDevices(n.contacts)
	c := n.cfg.Network
	h, err := p2p.New(s.ctx, n.keys.DeviceKey(), p2p.Options{
		ListenAddrs:    config.SplitList(c.Listen),
		AnnounceAddrs:  config.SplitList(c.Announce),
		Bootstrap:      config.SplitList(c.Bootstrap),
		DHT:            c.DHT,
		Validators:     map[string]p2p.Validator{idrecord.Namespace: idrecord.Validator{}},
		MDNS:           c.MDNS,
		NATPortMap:     c.NATPortMap,
		HolePunching:   c.HolePunching,
		OnHolePunch:    s.onHolePunch,
		RelayService:   c.RelayService,
		RelayStrangers: c.RelayStrangers,
		RelayLimit:     p2p.RelayLimit{Duration: time.Duration(c.RelayLimitMinutes) * time.Minute, Data: int64(c.RelayLimitMB) << 20},
		StaticRelays:   config.SplitList(c.Relays),
		IsContact:      s.isContact,
		Blocked:        s.isBlocked,
		ConnLow:        c.ConnLow,
		ConnHigh:       c.ConnHigh,
		Reachability:   c.Reachability,
		Logger:         n.log.With("part", "p2p"),
		// A busy default port (another node on this machine) moves to a
		// free one, each transport on its own; a port the user chose is
		// never shared: New fails with p2p.ErrPortBusy.
		ListenFallback: !n.cfg.IsSet("network.listen"),
	})
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	s.host, s.port = h, h.Port()
	indexes, err := discovery.ParseIndexes(config.SplitList(c.Indexes))
	if err != nil {
		return fmt.Errorf("network.indexes: %w", err)
	}
	var dhtSrc discovery.DHT
	if c.DHT != "off" {
		dhtSrc = h
	}
	if s.disc, err = discovery.New(discovery.Config{
		Host: h.Host(), Connect: h.Connect, DHT: dhtSrc, Indexes: indexes, ServeIndex: c.Index,
		IsContact: s.isContact,
		Contacts:  s.contactDevices,
		Logger:    n.log.With("part", "discovery"),
	}); err != nil {
		return err
	}
	if s.devices, err = devices.New(devices.Config{
		Net: s.port, KV: n.store, Keys: n.keys, Advertised: h.Advertised, FetchRecord: s.disc.FetchID,
		Changed: s.devicesChanged, Event: n.publish, Logger: n.log.With("part", "devices"),
	}); err != nil {
		return err
	}
	people, err := contacts.NewService(contacts.ServiceConfig{
		Net: s.port, Store: n.contacts, Self: s.self, Advertised: h.Advertised, OwnDevices: s.ownDeviceIDs,
		OnBlocked: s.closePeers, Learned: func(ctx context.Context, p netport.PeerID) { _, _ = s.disc.FetchID(ctx, p) },
		Event: n.publish, Logger: n.log.With("part", "contacts"),
	})
	if err != nil {
		return err
	}
	s.people.Store(people)
	recorder := &devices.Recorder{Keys: n.keys, KV: n.store, Devices: s.devices}
	pc := discovery.PublisherConfig{
		Service: s.disc, Host: h.Host(), Logger: n.log.With("part", "publish"),
		Record:    func() ([]byte, error) { return recorder.Record(h.Advertised(idrecord.MaxAddrs)) },
		Published: func() { n.publish("net.published", map[string]any{"persona": n.Persona()}) },
	}
	if len(config.SplitList(c.Bootstrap)) > 0 {
		pc.Bootstrap = h.Bootstrap
	}
	s.pub = discovery.NewPublisher(pc)
	s.port.Watch(s.onNetEvent)
	h.OnPeerFound(s.disc.PeerFound)
	if err := errors.Join(s.devices.Start(), people.Start()); err != nil {
		return err
	}
	n.net = s
	if err := n.startShareFlows(s); err != nil {
		n.net = nil
		return fmt.Errorf("sharing: %w", err)
	}
	s.pub.Start()
	n.log.Info("network started", "peer", h.ID(), "addrs", h.Status().ListenAddrs, "dht", c.DHT, "index", c.Index)
	return nil
}

func (s *netSvc) goBackground(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// close stops the services in the reverse order of their start.
func (s *netSvc) close() error {
	s.cancel()
	if s.pub != nil {
		s.pub.Close()
	}
	var errs []error
	if cs := s.people.Load(); cs != nil {
		errs = append(errs, cs.Close())
	}
	if s.devices != nil {
		errs = append(errs, s.devices.Close())
	}
	if s.disc != nil {
		errs = append(errs, s.disc.Close())
	}
	if s.host != nil {
		errs = append(errs, s.host.Close())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// isBlocked is the gater's question: the contacts directory's answer, or,
// in the moment before it exists, the blocks stored when the network began.
func (s *netSvc) isBlocked(p netport.PeerID) bool {
	if cs := s.people.Load(); cs != nil {
		return cs.IsBlocked(p)
	}
	return s.blockedAtStart[p]
}

// blockedDevices are the devices the contact store blocks: blocked peer
// IDs and every device of a blocked contact.
func blockedDevices(cs *contacts.Store) map[netport.PeerID]bool {
	out := map[netport.PeerID]bool{}
	_, peers, _ := cs.Blocked()
	for _, p := range peers {
		out[netport.PeerID(p)] = true
	}
	list, _ := cs.List()
	for _, c := range list {
		if c.Blocked {
			for _, d := range c.Devices {
				out[netport.PeerID(d)] = true
			}
		}
	}
	return out
}

// contactSvc is the contacts service (set once the network has started).
func (s *netSvc) contactSvc() *contacts.Service { return s.people.Load() }

// isContact says whether p is a contact's device or one of ours (false
// until the contacts service exists).
func (s *netSvc) isContact(p netport.PeerID) bool {
	cs := s.people.Load()
	return cs != nil && cs.IsContact(p)
}

// self is our default persona as the invite handshake presents it.
func (s *netSvc) self() (contacts.Self, error) {
	p := s.n.keys.DefaultPersona()
	cert, err := s.n.keys.DeviceCert(p.ID)
	if err != nil {
		return contacts.Self{}, err
	}
	return contacts.Self{ID: p.ID, Name: p.Name, DeviceKey: s.n.keys.DeviceKey(), Cert: cert}, nil
}

func (s *netSvc) ownDeviceIDs() []string {
	var out []string
	for _, d := range s.devices.List() {
		out = append(out, d.PeerID.String())
	}
	return out
}

// devicesChanged follows a newly paired device: the contact directory
// maps it to our persona, and our identity record names it.
func (s *netSvc) devicesChanged() {
	if cs := s.contactSvc(); cs != nil {
		cs.Refresh()
	}
	if s.pub != nil {
		s.pub.Soon()
	}
}

// contactDevices lists the contacts' devices discovery may ask "where is
// X?" (none before the contacts service exists).
func (s *netSvc) contactDevices() []netport.PeerID {
	cs := s.people.Load()
	if cs == nil {
		return nil
	}
	return cs.ContactDevices()
}

// closePeers cuts what blocked devices have open.
func (s *netSvc) closePeers(ps []netport.PeerID) {
	for _, p := range ps {
		_ = s.host.ClosePeer(p)
	}
}

// onNetEvent reports connections on the event stream and learns the
// addresses of own devices that connect (presence of contacts is the
// contacts service's).
func (s *netSvc) onNetEvent(ev netport.Event) {
	if !ev.Connected {
		s.n.publish("peer.disconnected", map[string]any{"peer": ev.Peer.String()})
		return
	}
	s.n.publish("peer.connected", map[string]any{"peer": ev.Peer.String(), "addr": ev.Addr, "relayed": ev.Relayed})
	if s.devices.IsOwn(ev.Peer) {
		s.goBackground(func() {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			s.devices.LearnAddrs(ctx, ev.Peer)
		})
	}
}

// onHolePunch reports a finished hole punch on the event stream and in
// the log.
func (s *netSvc) onHolePunch(r p2p.HolePunchResult) {
	ev := map[string]any{"peer": r.Peer.String(), "success": r.Success, "ms": r.Elapsed.Milliseconds()}
	if r.Success {
		s.n.log.Info("hole punch: direct connection", "peer", r.Peer, "took", r.Elapsed.Round(time.Millisecond))
	} else {
		ev["error"] = r.Error
		s.n.log.Info("hole punch failed; the connection stays relayed", "peer", r.Peer, "err", r.Error)
	}
	s.n.publish("net.holepunch", ev)
}

// ---- targets: ping and connect ----

// resolveTarget connects to a target (persona did:key, contact name, peer
// ID or multiaddr with /p2p/) and returns the peer and, for personas, how it
// was found.
func (s *netSvc) resolveTarget(ctx context.Context, target string) (netport.PeerID, string, string, error) {
	target = strings.TrimSpace(target)
	switch {
	case strings.HasPrefix(target, "/"):
		id, err := s.host.ConnectAddr(ctx, target)
		if errors.Is(err, p2p.ErrBadAddr) {
			return "", "", "", fmt.Errorf("%w: %v", apibackend.ErrBadTarget, err)
		}
		if err != nil {
			return "", "", "", fmt.Errorf("%w: %w", discovery.ErrUnreachable, err)
		}
		return id, s.personaOf(id), "address", nil
	case strings.HasPrefix(target, "did:key:"):
		return s.connectPersona(ctx, target)
	}
	if id, err := p2p.ParsePeerID(target); err == nil {
		// Connected or not, ConnectPeer confirms that the other side keeps
		// the connection: one we see open may be one it is refusing.
		if err := s.host.ConnectPeer(ctx, id); err != nil {
			return "", "", "", fmt.Errorf("%w: %w", discovery.ErrUnreachable, err)
		}
		return id, s.personaOf(id), "peer", nil
	}
	c, err := s.n.contacts.Get(target)
	if err != nil {
		return "", "", "", fmt.Errorf("%w: %q is not a persona ID, peer ID, multiaddr or contact name", discovery.ErrNotFound, target)
	}
	return s.connectPersona(ctx, c.Persona)
}

// connectPersona connects to a device of persona through discovery and
// keeps a contact's device list up to date.
func (s *netSvc) connectPersona(ctx context.Context, persona string) (netport.PeerID, string, string, error) {
	if s.n.contacts.IsBlockedPersona(persona) {
		return "", "", "", apibackend.ErrBlockedTarget
	}
	if persona == s.n.Persona() {
		return "", "", "", fmt.Errorf("%w: that is this node's own persona", apibackend.ErrBadTarget)
	}
	id, r, err := s.disc.Connect(ctx, persona)
	if err != nil {
		return "", "", "", err
	}
	if c, err := s.n.contacts.Get(persona); err == nil {
		devs := []string{}
		for _, ai := range discovery.Devices(r.Record) {
			devs = append(devs, ai.ID.String())
		}
		if strings.Join(devs, ",") != strings.Join(c.Devices, ",") {
			_ = s.n.contacts.SetDevices(persona, devs)
		}
	}
	return id, persona, r.Source, nil
}

// personaOf names the persona of a device if we know it.
func (s *netSvc) personaOf(p netport.PeerID) string { return s.contactSvc().PersonaOf(p) }

// ---- for tests and tools ----

// LoopbackNetwork are overrides that keep a node's networking on loopback:
// free ports, no mDNS or UPnP traffic on the machine's networks. For tests
// and tools that run several nodes on one machine.
var LoopbackNetwork = []string{
	"network.listen=/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
	"network.mdns=false",
	"network.nat_port_map=false",
}

// NetAddrs returns this node's listen addresses with /p2p/<peer ID>, for
// bootstrap and index settings of other nodes (tests and tools); nil when
// the network is off.
func (n *Node) NetAddrs() []string {
	if n.net == nil {
		return nil
	}
	var out []string
	for _, a := range n.net.host.Host().Addrs() {
		out = append(out, a.String()+"/p2p/"+n.net.host.ID().String())
	}
	return out
}

// ListenAddrs are the addresses the network listens on (relay circuits
// left out), for `peer up` to print; nil when the network is off.
func (n *Node) ListenAddrs() []string {
	if n.net == nil {
		return nil
	}
	var out []string
	for _, a := range n.net.host.Status().ListenAddrs {
		if !strings.Contains(a, "p2p-circuit") {
			out = append(out, a)
		}
	}
	return out
}

// Resolve looks a persona up as `peer ping` would, optionally forgetting
// any cached record first, and says which source answered (tests and
// benchmarks).
func (n *Node) Resolve(ctx context.Context, persona string, fresh bool) (string, error) {
	if n.net == nil {
		return "", errors.New("network off")
	}
	if fresh {
		n.net.disc.Forget(persona)
	}
	r, err := n.net.disc.Resolve(ctx, persona)
	return r.Source, err
}

// Republish publishes this node's identity record now and reports the
// error, if any (tests).
func (n *Node) Republish(ctx context.Context) error {
	if n.net == nil {
		return errors.New("network off")
	}
	return n.net.pub.Publish(ctx)
}

// Host is the node's p2p host (for in-process tests and benchmarks that
// measure the raw transport beside the node's protocols: its Host method
// is the libp2p host); nil when the network is off.
func (n *Node) Host() *p2p.Host {
	if n.net == nil {
		return nil
	}
	return n.net.host
}
