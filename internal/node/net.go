package node

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/peer-node/peer/internal/config"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/discovery"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/pairing"
)

// Network timing.
const (
	// recordLifetime is how long a published identity record is valid;
	// republishInterval refreshes it well before.
	recordLifetime    = 12 * time.Hour
	republishInterval = 30 * time.Minute
	// addrSettle debounces republishing after our addresses change.
	addrSettle = 2 * time.Second
	// publishRetryMin is the first wait before retrying a failed publish;
	// it doubles up to republishInterval.
	publishRetryMin = 30 * time.Second
	// handshakeTimeout bounds the whole invite handshake.
	handshakeTimeout = 20 * time.Second
	// foundIDWait bounds the wait for a peer just found to serve its
	// identity record.
	foundIDWait = time.Minute
)

// seqKey holds the last identity-record sequence number, so that sequence
// numbers keep rising across restarts.
var seqKey = []byte("net/seq")

// netSvc is the node's peer-to-peer side: the libp2p host, discovery,
// contacts and invites.
type netSvc struct {
	n        *Node
	host     *p2p.Host
	disc     *discovery.Service
	contacts *contacts.Store

	// Sets read by libp2p goroutines (gater, relay ACL): replaced whole.
	blocked      atomic.Pointer[map[peer.ID]bool]
	contactPeers atomic.Pointer[map[peer.ID]string] // device -> persona (own devices: our persona)
	own          atomic.Pointer[[]ownDevice]        // paired devices of our persona
	pair         pairState

	mu         sync.Mutex
	published  time.Time
	publishErr string
	seq        uint64

	republish chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// openContacts opens the contact store (it works with the network off too).
func (n *Node) openContacts() (err error) {
	n.contacts, err = contacts.Open(n.store, time.Now)
	return err
}

// startNetwork starts the libp2p host and the services on it, if the
// network is enabled.
func (n *Node) startNetwork() error {
	if !n.cfg.Network.Enabled {
		n.log.Info("network off (network.enabled = false)")
		return nil
	}
	s := &netSvc{n: n, contacts: n.contacts, republish: make(chan struct{}, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.reloadOwnDevices()
	s.refreshSets()
	n.contacts.OnChange(s.refreshSets)

	c := n.cfg.Network
	opts := p2p.Options{
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
		Reachability:   n.cfg.Network.Reachability,
		Logger:         n.log.With("part", "p2p"),
	}
	h, err := p2p.New(s.ctx, n.keys.DeviceKey(), opts)
	if err != nil && !n.cfg.IsSet("network.listen") && errors.Is(err, syscall.EADDRINUSE) {
		// The default port is taken (another node on this machine): the
		// user never chose it, so take free ports.
		n.log.Warn("default network port busy; using free ports instead (set network.listen to choose)")
		opts.ListenAddrs = anyPort(opts.ListenAddrs)
		if len(opts.ListenAddrs) == 0 {
			opts.ListenAddrs = anyPort(p2p.DefaultListenAddrs)
		}
		h, err = p2p.New(s.ctx, n.keys.DeviceKey(), opts)
	}
	if err != nil {
		s.cancel()
		return fmt.Errorf("network: %w", err)
	}
	s.host = h
	indexes, err := peerInfos(config.SplitList(c.Indexes))
	if err != nil {
		h.Close()
		s.cancel()
		return fmt.Errorf("network.indexes: %w", err)
	}
	var dhtSrc discovery.DHT
	if c.DHT != "off" {
		dhtSrc = h
	}
	s.disc, err = discovery.New(discovery.Config{
		Host: h.Host(), DHT: dhtSrc, Indexes: indexes, ServeIndex: c.Index,
		IsContact: s.isContact, Contacts: s.contactDevices,
		Logger: n.log.With("part", "discovery"),
	})
	if err != nil {
		h.Close()
		s.cancel()
		return err
	}
	h.Host().SetStreamHandler(contacts.ProtocolID, s.serveInvite)
	h.Host().SetStreamHandler(pairing.ProtocolID, s.servePair)
	h.OnPeerFound(func(ai peer.AddrInfo) {
		s.goBackground(func() {
			// A peer is found (by mDNS) as soon as its host starts,
			// maybe before it serves its record: ask until it does.
			ctx, cancel := context.WithTimeout(s.ctx, foundIDWait)
			defer cancel()
			if _, err := s.disc.AwaitID(ctx, ai.ID); err != nil {
				n.log.Debug("found peer has no identity record for us", "peer", ai.ID, "err", err)
			}
		})
	})
	h.Host().Network().Notify(&network.NotifyBundle{
		ConnectedF:    func(_ network.Network, c network.Conn) { s.onConnect(c) },
		DisconnectedF: func(_ network.Network, c network.Conn) { s.onDisconnect(c) },
	})
	n.net = s
	if n.share != nil {
		n.share.attach(s)
	}
	s.goBackground(s.bootstrapAndPublish)
	n.log.Info("network started", "peer", h.ID(), "addrs", h.Status().ListenAddrs, "dht", c.DHT, "index", c.Index)
	return nil
}

// anyPort rewrites listen multiaddrs to port 0.
func anyPort(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		parts := strings.Split(a, "/")
		for i := 1; i+1 < len(parts); i++ {
			if parts[i] == "tcp" || parts[i] == "udp" {
				parts[i+1] = "0"
			}
		}
		out = append(out, strings.Join(parts, "/"))
	}
	return out
}

// addrInfo is peer id at the given multiaddrs (text); addresses that do
// not parse, or name another peer, are left out.
func addrInfo(id peer.ID, addrs []string) peer.AddrInfo {
	ai := peer.AddrInfo{ID: id}
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			continue
		}
		if t, id2 := peer.SplitAddr(m); t != nil && (id2 == "" || id2 == id) {
			ai.Addrs = append(ai.Addrs, t)
		}
	}
	return ai
}

func peerInfos(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}

func (s *netSvc) goBackground(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *netSvc) close() error {
	s.cancel()
	var errs []error
	if s.disc != nil {
		errs = append(errs, s.disc.Close())
	}
	if s.host != nil {
		errs = append(errs, s.host.Close())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// refreshSets rebuilds the block and contact sets from the contact store.
func (s *netSvc) refreshSets() {
	blocked := map[peer.ID]bool{}
	personas, peers, err := s.contacts.Blocked()
	if err != nil {
		s.n.log.Error("read blocked peers", "err", err)
	}
	for _, p := range peers {
		if id, err := peer.Decode(p); err == nil {
			blocked[id] = true
		}
	}
	_ = personas // a blocked persona's devices are in peers once known
	cp := map[peer.ID]string{}
	list, err := s.contacts.List()
	if err != nil {
		s.n.log.Error("read contacts", "err", err)
	}
	for _, c := range list {
		for _, d := range c.Devices {
			if id, err := peer.Decode(d); err == nil {
				if c.Blocked {
					blocked[id] = true
				} else {
					cp[id] = c.Persona
				}
			}
		}
	}
	for _, d := range s.ownDevices() {
		cp[d.PeerID] = s.n.Persona()
	}
	s.blocked.Store(&blocked)
	s.contactPeers.Store(&cp)
	if s.host != nil {
		for id := range blocked {
			for _, c := range s.host.Host().Network().ConnsToPeer(id) {
				c.Close() // blocking cuts what is open too
			}
		}
	}
}

func (s *netSvc) isBlocked(p peer.ID) bool {
	m := s.blocked.Load()
	return m != nil && (*m)[p]
}

func (s *netSvc) isContact(p peer.ID) bool {
	m := s.contactPeers.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[p]
	return ok
}

func (s *netSvc) contactDevices() []peer.ID {
	m := s.contactPeers.Load()
	if m == nil {
		return nil
	}
	out := make([]peer.ID, 0, len(*m))
	for id := range *m {
		out = append(out, id)
	}
	return out
}

func (s *netSvc) onConnect(c network.Conn) {
	p := c.RemotePeer()
	relayed := isRelayed(c.RemoteMultiaddr())
	s.n.bus.Publish("peer.connected", map[string]any{"peer": p.String(), "addr": c.RemoteMultiaddr().String(), "relayed": relayed})
	m := s.contactPeers.Load()
	if m == nil {
		return
	}
	if persona, ok := (*m)[p]; ok && persona == s.n.Persona() {
		s.goBackground(func() {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			s.learnOwnAddrs(ctx, p)
		})
	} else if ok {
		s.goBackground(func() {
			_ = s.contacts.Seen(persona, time.Now())
			s.n.bus.Publish("contact.online", map[string]any{"persona": persona, "peer": p.String()})
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			_, _ = s.disc.FetchID(ctx, p) // keep where-is answers fresh
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
	s.n.bus.Publish("net.holepunch", ev)
}

func (s *netSvc) onDisconnect(c network.Conn) {
	p := c.RemotePeer()
	if s.host.Host().Network().Connectedness(p) == network.Connected {
		return // another connection remains
	}
	s.n.bus.Publish("peer.disconnected", map[string]any{"peer": p.String()})
	if m := s.contactPeers.Load(); m != nil {
		if persona, ok := (*m)[p]; ok {
			s.n.bus.Publish("contact.offline", map[string]any{"persona": persona, "peer": p.String()})
		}
	}
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// bootstrapAndPublish joins the DHT, publishes our record, and republishes
// it periodically and when our addresses change.
func (s *netSvc) bootstrapAndPublish() {
	ctx := s.ctx
	if len(config.SplitList(s.n.cfg.Network.Bootstrap)) > 0 {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := s.host.Bootstrap(bctx); err != nil {
			s.n.log.Warn("DHT bootstrap", "err", err)
		}
		cancel()
	}
	sub, err := s.host.Host().EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		s.n.log.Error("subscribe to address changes", "err", err)
		return
	}
	defer sub.Close()
	tick := time.NewTicker(republishInterval)
	defer tick.Stop()
	var settle, retry <-chan time.Time
	backoff := publishRetryMin
	publish := func() {
		if s.publish(ctx) {
			retry, backoff = nil, publishRetryMin
			return
		}
		// Nobody took the record (no peers yet, say): try again soon,
		// then less and less often, instead of waiting for the next
		// republish.
		retry = time.After(backoff)
		backoff = min(2*backoff, republishInterval)
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Out():
			settle = time.After(addrSettle)
		case <-settle:
			settle = nil
			publish()
		case <-retry:
			publish()
		case <-s.republish:
			publish()
		case <-tick.C:
			publish()
		}
	}
}

// publish builds, signs and publishes our identity record; it reports
// whether that worked.
func (s *netSvc) publish(ctx context.Context) bool {
	raw, err := s.buildRecord()
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = s.disc.Publish(pctx, raw)
		cancel()
	}
	s.mu.Lock()
	if err != nil {
		s.publishErr = err.Error()
	} else {
		s.published, s.publishErr = time.Now(), ""
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.n.log.Warn("publish identity record", "err", err)
	} else if err == nil {
		s.n.bus.Publish("net.published", map[string]any{"persona": s.n.Persona()})
	}
	return err == nil
}

// nextSeq returns a sequence number above every one used before: the
// larger of the stored one plus one and the clock in milliseconds.
func (s *netSvc) nextSeq() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq == 0 {
		if v, err := s.n.store.Get(seqKey); err == nil && len(v) == 8 {
			s.seq = binary.BigEndian.Uint64(v)
		}
	}
	s.seq = max(s.seq+1, uint64(time.Now().UnixMilli()))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.seq)
	if err := s.n.store.Set(seqKey, b[:]); err != nil {
		return 0, err
	}
	return s.seq, nil
}

// buildRecord makes this device's identity record for the default persona.
func (s *netSvc) buildRecord() ([]byte, error) {
	persona := s.n.keys.DefaultPersona()
	cert, err := s.n.keys.DeviceCert(persona.ID)
	if err != nil {
		return nil, err
	}
	certB, err := cert.Marshal()
	if err != nil {
		return nil, err
	}
	pk, err := s.n.keys.PersonaKey(persona.ID)
	if err != nil {
		return nil, err
	}
	enc, err := identity.EncryptionKey(pk)
	if err != nil {
		return nil, err
	}
	seq, err := s.nextSeq()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rec := &idrecord.Record{
		Persona: persona.ID, Seq: seq, Issued: now, Expires: now.Add(recordLifetime),
		Devices: []idrecord.Device{{Cert: certB, Addrs: s.advertised(idrecord.MaxAddrs)}},
		EncKey:  enc.PublicKey().Bytes(),
	}
	// Our other devices too, with their last known addresses: every
	// device publishes the whole list, so whichever record wins names all.
	for _, d := range s.ownDevices() {
		if len(rec.Devices) == idrecord.MaxDevices {
			break
		}
		if _, err := checkOwnCert(d.Cert, persona.ID, now); err != nil {
			continue
		}
		rec.Devices = append(rec.Devices, idrecord.Device{Cert: d.Cert, Addrs: d.Addrs})
	}
	if err := rec.Sign(s.n.keys.DeviceKey()); err != nil {
		return nil, err
	}
	return rec.Marshal()
}

// advertised returns up to max of our addresses, public ones first, then
// private, then relay, then loopback (useful only on one machine).
func (s *netSvc) advertised(maxN int) []string {
	var public, private, relay, loop []string
	for _, a := range s.host.Host().Addrs() {
		str := a.String()
		switch {
		case isRelayed(a):
			relay = append(relay, str)
		case manet.IsIPLoopback(a):
			loop = append(loop, str)
		case manet.IsPublicAddr(a):
			public = append(public, str)
		default:
			private = append(private, str)
		}
	}
	out := append(append(append(public, private...), relay...), loop...)
	if len(out) > maxN {
		out = out[:maxN]
	}
	return out
}

// ---- targets: ping and connect ----

// resolveTarget connects to a target (persona did:key, contact name, peer
// ID or multiaddr with /p2p/) and returns the peer and, for personas, how it
// was found.
func (s *netSvc) resolveTarget(ctx context.Context, target string) (peer.ID, string, string, error) {
	target = strings.TrimSpace(target)
	switch {
	case strings.HasPrefix(target, "/"):
		ai, err := peer.AddrInfoFromString(target)
		if err != nil {
			return "", "", "", fmt.Errorf("%w: %v", errBadTarget, err)
		}
		if err := s.host.Connect(ctx, *ai); err != nil {
			return "", "", "", fmt.Errorf("%w: %v", discovery.ErrUnreachable, err)
		}
		return ai.ID, s.personaOf(ai.ID), "address", nil
	case strings.HasPrefix(target, "did:key:"):
		return s.connectPersona(ctx, target)
	}
	if id, err := peer.Decode(target); err == nil {
		if s.host.Host().Network().Connectedness(id) != network.Connected {
			if err := s.host.Connect(ctx, peer.AddrInfo{ID: id}); err != nil {
				return "", "", "", fmt.Errorf("%w: %v", discovery.ErrUnreachable, err)
			}
		}
		return id, s.personaOf(id), "peer", nil
	}
	c, err := s.contacts.Get(target)
	if err != nil {
		return "", "", "", fmt.Errorf("%w: %q is not a persona ID, peer ID, multiaddr or contact name", discovery.ErrNotFound, target)
	}
	return s.connectPersona(ctx, c.Persona)
}

var errBadTarget = errors.New("bad target")

func (s *netSvc) connectPersona(ctx context.Context, persona string) (peer.ID, string, string, error) {
	if s.n.contacts.IsBlockedPersona(persona) {
		return "", "", "", errBlockedTarget
	}
	if persona == s.n.Persona() {
		return "", "", "", fmt.Errorf("%w: that is this node's own persona", errBadTarget)
	}
	id, r, err := s.disc.Connect(ctx, persona)
	if err != nil {
		return "", "", "", err
	}
	if c, err := s.contacts.Get(persona); err == nil {
		devs := []string{}
		for _, ai := range discovery.Devices(r.Record) {
			devs = append(devs, ai.ID.String())
		}
		if strings.Join(devs, ",") != strings.Join(c.Devices, ",") {
			_ = s.contacts.SetDevices(persona, devs)
		}
	}
	return id, persona, r.Source, nil
}

var errBlockedTarget = errors.New("the target is blocked")

// personaOf names the persona of a device if we know it.
func (s *netSvc) personaOf(p peer.ID) string {
	if m := s.contactPeers.Load(); m != nil {
		if persona, ok := (*m)[p]; ok {
			return persona
		}
	}
	return ""
}

func (s *netSvc) relayedTo(p peer.ID) bool {
	conns := s.host.Host().Network().ConnsToPeer(p)
	if len(conns) == 0 {
		return false
	}
	for _, c := range conns {
		if !isRelayed(c.RemoteMultiaddr()) {
			return false
		}
	}
	return true
}

// ---- invites ----

// createInvite makes a one-time invite to this node.
func (s *netSvc) createInvite(ttl time.Duration, name string) (*contacts.Invite, error) {
	persona := s.n.keys.DefaultPersona()
	cert, err := s.n.keys.DeviceCert(persona.ID)
	if err != nil {
		return nil, err
	}
	dev := contacts.InviteDevice{PeerID: s.host.ID().String(), Addrs: s.advertised(contacts.MaxInviteAddrs)}
	var inv *contacts.Invite
	for n := len(dev.Addrs); ; n-- { // drop addresses until the invite fits
		dev.Addrs = dev.Addrs[:n]
		inv, err = contacts.NewInvite(s.n.keys.DeviceKey(), cert, name, []contacts.InviteDevice{dev}, ttl, time.Now())
		if err == nil || n == 0 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.contacts.SaveInvite(inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// acceptInvite runs the acceptor's side of the handshake with the inviter
// and adds the inviter as a contact named name (or as the invite suggests).
func (s *netSvc) acceptInvite(ctx context.Context, link, name string) (contacts.Contact, error) {
	inv, err := contacts.ParseInvite(link, time.Now())
	if err != nil {
		return contacts.Contact{}, err
	}
	if inv.Persona == s.n.Persona() {
		return contacts.Contact{}, fmt.Errorf("%w: this is your own invite", contacts.ErrBadInvite)
	}
	persona := s.n.keys.DefaultPersona()
	cert, err := s.n.keys.DeviceCert(persona.ID)
	if err != nil {
		return contacts.Contact{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var errs []error
	for _, d := range inv.Devices {
		id, err := peer.Decode(d.PeerID)
		if err != nil {
			continue
		}
		if err := s.host.Connect(ctx, addrInfo(id, d.Addrs)); err != nil {
			errs = append(errs, err)
			continue
		}
		welcome, err := s.handshake(ctx, id, inv, cert, persona.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if name == "" {
			name = firstNonEmpty(inv.Name, welcome.Name)
		}
		c, err := s.addContact(inv.Persona, name, []string{id.String()})
		if err == nil {
			s.n.bus.Publish("contact.added", map[string]any{"persona": c.Persona, "name": c.Name, "by": "accept"})
			_, _ = s.disc.FetchID(ctx, id)
		}
		return c, err
	}
	if len(errs) == 0 {
		return contacts.Contact{}, fmt.Errorf("%w: the invite lists no device", contacts.ErrBadInvite)
	}
	return contacts.Contact{}, fmt.Errorf("%w: %w", discovery.ErrUnreachable, errors.Join(errs...))
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// handshake is the acceptor's side: Hello, Welcome, Confirm, Done.
func (s *netSvc) handshake(ctx context.Context, p peer.ID, inv *contacts.Invite, cert *identity.DeviceCert, name string) (*contacts.Welcome, error) {
	st, err := s.host.Host().NewStream(network.WithAllowLimitedConn(ctx, "invite"), p, contacts.ProtocolID)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	hello, err := contacts.NewHello(s.n.keys.DeviceKey(), cert, inv.Secret, name)
	if err != nil {
		return nil, err
	}
	if err := writeMarshal(st, hello.Marshal); err != nil {
		st.Reset()
		return nil, err
	}
	b, err := contacts.ReadMsg(st, contacts.MaxMsgSize)
	if err != nil {
		return nil, err
	}
	welcome, err := contacts.ParseWelcome(b)
	if err != nil {
		if d, derr := contacts.ParseDone(b); derr == nil && !d.OK {
			return nil, fmt.Errorf("%w: %s", errInviteRefused, d.Error)
		}
		return nil, err
	}
	wcert, err := welcome.Verify(time.Now())
	if err != nil {
		return nil, err
	}
	hh, _ := hello.Hash()
	if welcome.Persona != inv.Persona || welcome.HelloHash != hh || !devicePeerIs(wcert.DeviceKey(), p) {
		return nil, fmt.Errorf("%w: the answer does not match the invite", contacts.ErrBadInvite)
	}
	confirm, err := contacts.NewConfirm(s.n.keys.DeviceKey(), welcome)
	if err != nil {
		return nil, err
	}
	if err := writeMarshal(st, confirm.Marshal); err != nil {
		return nil, err
	}
	b, err = contacts.ReadMsg(st, contacts.MaxMsgSize)
	if err != nil {
		return nil, err
	}
	done, err := contacts.ParseDone(b)
	if err != nil {
		return nil, err
	}
	if !done.OK {
		return nil, fmt.Errorf("%w: %s", errInviteRefused, done.Error)
	}
	return welcome, nil
}

var errInviteRefused = errors.New("the inviter refused")

func writeMarshal(st network.Stream, marshal func() ([]byte, error)) error {
	b, err := marshal()
	if err != nil {
		return err
	}
	return contacts.WriteMsg(st, b)
}

func devicePeerIs(key ed25519.PublicKey, p peer.ID) bool {
	id, err := p2p.PeerID(key)
	return err == nil && id == p
}

// serveInvite is the inviter's side of the handshake.
func (s *netSvc) serveInvite(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(handshakeTimeout))
	refuse := func(why string) {
		d := &contacts.Done{Version: contacts.HandshakeVersion, Error: why}
		_ = writeMarshal(st, d.Marshal)
	}
	remote := st.Conn().RemotePeer()
	b, err := contacts.ReadMsg(st, contacts.MaxMsgSize)
	if err != nil {
		st.Reset()
		return
	}
	hello, err := contacts.ParseHello(b)
	if err != nil {
		refuse("malformed hello")
		return
	}
	hcert, err := hello.Verify(time.Now())
	if err != nil || !devicePeerIs(hcert.DeviceKey(), remote) {
		refuse("hello not signed by the connecting device")
		return
	}
	if hello.Persona == s.n.Persona() {
		refuse("that is our own persona")
		return
	}
	pend, err := s.contacts.CheckInvite(hello.Secret)
	if err != nil {
		refuse(inviteProblem(err))
		return
	}
	persona := s.n.keys.DefaultPersona()
	cert, err := s.n.keys.DeviceCert(persona.ID)
	if err != nil {
		refuse("internal error")
		return
	}
	welcome, err := contacts.NewWelcome(s.n.keys.DeviceKey(), cert, pend.Name, hello)
	if err != nil {
		refuse("internal error")
		return
	}
	if err := writeMarshal(st, welcome.Marshal); err != nil {
		st.Reset()
		return
	}
	b, err = contacts.ReadMsg(st, contacts.MaxMsgSize)
	if err != nil {
		st.Reset()
		return
	}
	confirm, err := contacts.ParseConfirm(b)
	wh, _ := welcome.Hash()
	if err != nil || confirm.WelcomeHash != wh || contacts.VerifyConfirm(confirm, hcert.DeviceKey()) != nil {
		refuse("bad confirmation")
		return
	}
	if err := s.contacts.UseInvite(hello.Secret); err != nil {
		refuse(inviteProblem(err))
		return
	}
	c, err := s.addContact(hello.Persona, hello.Name, []string{remote.String()})
	if err != nil {
		refuse("could not add the contact")
		s.n.log.Error("add contact from invite", "err", err)
		return
	}
	d := &contacts.Done{Version: contacts.HandshakeVersion, OK: true}
	if err := writeMarshal(st, d.Marshal); err != nil {
		st.Reset()
		return
	}
	s.n.log.Info("invite accepted", "persona", c.Persona, "name", c.Name)
	s.n.bus.Publish("contact.added", map[string]any{"persona": c.Persona, "name": c.Name, "by": "invite"})
}

func inviteProblem(err error) string {
	switch {
	case errors.Is(err, contacts.ErrInviteUsed):
		return "the invite was already used"
	case errors.Is(err, contacts.ErrInviteExpired):
		return "the invite has expired"
	default:
		return "unknown invite"
	}
}

// addContact adds persona (or updates its devices if it is already a
// contact), picking a free pet name close to the suggested one.
func (s *netSvc) addContact(persona, suggested string, devices []string) (contacts.Contact, error) {
	if c, err := s.contacts.Get(persona); err == nil {
		_ = s.contacts.SetDevices(persona, mergeDevices(c.Devices, devices))
		return s.contacts.Get(persona)
	}
	base := suggested
	if contacts.CheckName(base) != nil {
		base = "contact-" + strings.TrimPrefix(persona, "did:key:z")[:6]
	}
	for i := 1; i < 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		err := s.contacts.Add(contacts.Contact{Persona: persona, Name: name, Added: time.Now(), Devices: devices})
		if errors.Is(err, contacts.ErrNameTaken) {
			continue
		}
		if err != nil {
			return contacts.Contact{}, err
		}
		return s.contacts.Get(persona)
	}
	return contacts.Contact{}, contacts.ErrNameTaken
}

func mergeDevices(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range append(append([]string{}, b...), a...) {
		if !seen[d] && len(out) < contacts.MaxDevices {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

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
	n.net.publish(ctx)
	n.net.mu.Lock()
	defer n.net.mu.Unlock()
	if n.net.publishErr != "" {
		return errors.New(n.net.publishErr)
	}
	return nil
}

// Host is the node's libp2p host (for in-process tests and benchmarks that
// measure the raw transport beside the node's protocols); nil when the
// network is off.
func (n *Node) Host() host.Host {
	if n.net == nil {
		return nil
	}
	return n.net.host.Host()
}
