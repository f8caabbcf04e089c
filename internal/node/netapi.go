package node

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/peer-node/peer/internal/apibackend"
	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/config"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/p2p/discovery"
)

// netAPI adapts the network side to the HTTP API (httpapi.NetBackend),
// converting values and errors into wire types at this edge.
type netAPI struct{ n *Node }

var _ httpapi.NetBackend = (*netAPI)(nil)

var netError = apibackend.NetError

func (a *netAPI) svc() (*netSvc, error) {
	if a.n.net == nil {
		return nil, httpapi.NetErrorf(apiv1.CodeNetworkOff, "the network is off (network.enabled = false)")
	}
	return a.n.net, nil
}

func (a *netAPI) Net(ctx context.Context) (apiv1.NetStatus, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.NetStatus{Enabled: false}, nil
	}
	st := s.host.Status()
	out := apiv1.NetStatus{
		Enabled: true, PeerID: st.PeerID, Reachability: st.Reachability, NATType: st.NATType,
		ListenAddrs: nonNil(st.ListenAddrs), Addrs: nonNil(st.Addrs), Relays: nonNil(st.Relays),
		DHTMode: st.DHTMode, RoutingTable: st.RoutingTable,
		Index: a.n.cfg.Network.Index, IndexEntries: s.disc.IndexSize(),
		Indexes: nonNil(config.SplitList(a.n.cfg.Network.Indexes)),
		HolePunch: apiv1.HolePunch{
			Succeeded: st.HolePunch.Succeeded, Failed: st.HolePunch.Failed,
			LastPeer: st.HolePunch.LastPeer, LastError: st.HolePunch.LastError, Last: st.HolePunch.Last,
		},
	}
	out.Published, out.PublishError = s.pub.Status()
	out.Conns = a.conns(s, st.Conns)
	for _, c := range out.Conns {
		if c.Relayed {
			out.RelayedConns++
		} else {
			out.Direct++
		}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *netAPI) conns(s *netSvc, cs []p2p.ConnInfo) []apiv1.Conn {
	names := map[string]string{}
	if list, err := a.n.contacts.List(); err == nil {
		for _, c := range list {
			names[c.Persona] = c.Name
		}
	}
	out := []apiv1.Conn{}
	for _, c := range cs {
		persona := s.personaOf(netport.PeerID(c.Peer))
		out = append(out, apiv1.Conn{PeerID: c.Peer, Persona: persona, Name: names[persona], Addr: c.Addr,
			Direction: c.Direction, Relayed: c.Relayed, Transport: c.Transport, Opened: c.Opened.UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PeerID < out[j].PeerID })
	return out
}

func (a *netAPI) Peers(ctx context.Context) ([]apiv1.Conn, error) {
	s, err := a.svc()
	if err != nil {
		return nil, err
	}
	return a.conns(s, s.host.Status().Conns), nil
}

func (a *netAPI) Ping(ctx context.Context, target string) (apiv1.PingResult, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.PingResult{}, err
	}
	id, persona, source, err := s.resolveTarget(ctx, target)
	if err != nil {
		return apiv1.PingResult{}, netError(err)
	}
	rtt, err := s.pingOnce(ctx, id)
	if err != nil && ctx.Err() == nil {
		// The connection may be dead without libp2p knowing yet (a relay
		// on the path went away; QUIC notices only after its idle
		// timeout): drop it, find the target again and try once more.
		s.host.DropPath(ctx, id)
		id2, persona2, source2, err2 := s.resolveTarget(ctx, target)
		if err2 == nil {
			id, persona, source = id2, persona2, source2
			rtt, err = s.pingOnce(ctx, id)
		}
	}
	if err != nil {
		return apiv1.PingResult{}, netError(errors.Join(discovery.ErrUnreachable, err))
	}
	return apiv1.PingResult{PeerID: id.String(), Persona: persona, RTTMs: float64(rtt.Microseconds()) / 1000,
		Relayed: s.host.RelayedTo(id), Source: source}, nil
}

// pingTimeout bounds one round trip: a live peer answers well within it,
// even through a relay on a slow link.
const pingTimeout = 10 * time.Second

func (s *netSvc) pingOnce(ctx context.Context, id netport.PeerID) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return s.host.Ping(ctx, id)
}

func (a *netAPI) Connect(ctx context.Context, target string) (apiv1.ConnectResult, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.ConnectResult{}, err
	}
	id, persona, source, err := s.resolveTarget(ctx, target)
	if err != nil {
		return apiv1.ConnectResult{}, netError(err)
	}
	return apiv1.ConnectResult{PeerID: id.String(), Persona: persona, Relayed: s.host.RelayedTo(id), Source: source}, nil
}

func (a *netAPI) CreateInvite(ctx context.Context, req apiv1.CreateInvite) (apiv1.Invite, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.Invite{}, err
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	inv, err := s.contactSvc().CreateInvite(contacts.InviteOptions{TTL: ttl, Name: req.Name, ContactName: req.ContactName})
	if err != nil {
		return apiv1.Invite{}, netError(err)
	}
	id := ""
	if pend, err := a.n.contacts.CheckInvite(inv.Secret); err == nil {
		id = pend.ID
	}
	return apiv1.Invite{ID: id, Link: inv.String(), Expires: inv.Expires.UTC()}, nil
}

func (a *netAPI) Invites(ctx context.Context) ([]apiv1.PendingInvite, error) {
	list, err := a.n.contacts.PendingInvites()
	if err != nil {
		return nil, err
	}
	out := []apiv1.PendingInvite{}
	for _, p := range list {
		out = append(out, apiv1.PendingInvite{ID: p.ID, Expires: p.Expires.UTC(), ContactName: p.ContactName})
	}
	return out, nil
}

func (a *netAPI) RevokeInvite(ctx context.Context, id string) error {
	return netError(a.n.contacts.RevokeInvite(id))
}

func (a *netAPI) AcceptInvite(ctx context.Context, req apiv1.AcceptInvite) (apiv1.Contact, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.Contact{}, err
	}
	c, err := s.contactSvc().Accept(ctx, req.Link, req.Name)
	if err != nil {
		return apiv1.Contact{}, netError(err)
	}
	return a.wireContact(c), nil
}

func (a *netAPI) wireContact(c contacts.Contact) apiv1.Contact {
	out := apiv1.Contact{Persona: c.Persona, Name: c.Name, Added: c.Added.UTC(), Blocked: c.Blocked,
		Devices: c.Devices, LastSeen: c.LastSeen.UTC()}
	if c.LastSeen.IsZero() {
		out.LastSeen = time.Time{}
	}
	if s := a.n.net; s != nil {
		out.Online = s.contactSvc().Online(c)
	}
	return out
}

func (a *netAPI) Contacts(ctx context.Context) ([]apiv1.Contact, error) {
	list, err := a.n.contacts.List()
	if err != nil {
		return nil, err
	}
	out := []apiv1.Contact{}
	for _, c := range list {
		out = append(out, a.wireContact(c))
	}
	return out, nil
}

func (a *netAPI) Contact(ctx context.Context, ref string) (apiv1.Contact, error) {
	c, err := a.n.contacts.Get(ref)
	if err != nil {
		return apiv1.Contact{}, netError(err)
	}
	return a.wireContact(c), nil
}

func (a *netAPI) AddContact(ctx context.Context, req apiv1.AddContact) (apiv1.Contact, error) {
	if req.Persona == a.n.Persona() {
		return apiv1.Contact{}, httpapi.NetErrorf(apiv1.CodeBadRequest, "that is this node's own persona")
	}
	if err := a.n.contacts.Add(contacts.Contact{Persona: req.Persona, Name: req.Name, Added: time.Now()}); err != nil {
		return apiv1.Contact{}, netError(err)
	}
	a.n.bus.Publish("contact.added", map[string]any{"persona": req.Persona, "name": req.Name, "by": "id"})
	return a.Contact(ctx, req.Persona)
}

func (a *netAPI) UpdateContact(ctx context.Context, ref string, req apiv1.UpdateContact) (apiv1.Contact, error) {
	c, err := a.n.contacts.Get(ref)
	if err != nil {
		return apiv1.Contact{}, netError(err)
	}
	if req.Name != nil {
		if err := a.n.contacts.Rename(c.Persona, *req.Name); err != nil {
			return apiv1.Contact{}, netError(err)
		}
	}
	return a.Contact(ctx, c.Persona)
}

func (a *netAPI) RemoveContact(ctx context.Context, ref string) error {
	return netError(a.n.contacts.Remove(ref))
}

func (a *netAPI) Block(ctx context.Context, target string) error {
	if err := a.n.contacts.Block(target); err != nil {
		return netError(err)
	}
	a.n.bus.Publish("peer.blocked", map[string]any{"target": target})
	return nil
}

func (a *netAPI) Unblock(ctx context.Context, target string) error {
	return netError(a.n.contacts.Unblock(target))
}

func (a *netAPI) Blocked(ctx context.Context) (apiv1.Blocked, error) {
	personas, peers, err := a.n.contacts.Blocked()
	if err != nil {
		return apiv1.Blocked{}, err
	}
	return apiv1.Blocked{Personas: nonNil(personas), Peers: nonNil(peers)}, nil
}

func (a *netAPI) Devices(ctx context.Context) ([]apiv1.OwnDevice, error) {
	s, err := a.svc()
	if err != nil {
		return nil, err
	}
	out := []apiv1.OwnDevice{{PeerID: a.n.deviceID, Name: "this device", This: true, Online: true, Addrs: s.host.Advertised(8)}}
	for _, d := range s.devices.List() {
		out = append(out, apiv1.OwnDevice{
			PeerID: d.PeerID.String(), Name: d.Name, Added: d.Added.UTC(), Addrs: d.Addrs, Online: s.port.Connected(d.PeerID),
		})
	}
	return out, nil
}

func (a *netAPI) PairDevice(ctx context.Context, req apiv1.PairDevice) (apiv1.PairCode, error) {
	s, err := a.svc()
	if err != nil {
		return apiv1.PairCode{}, err
	}
	c, err := s.devices.CreatePairing(time.Duration(req.TTLSeconds) * time.Second)
	if err != nil {
		return apiv1.PairCode{}, netError(err)
	}
	return apiv1.PairCode{Code: c.String(), Expires: c.Expires.UTC()}, nil
}
