package httpapitest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
)

// InvitePrefix starts every invite link Net makes and accepts.
const InvitePrefix = "peer://invite/"

// Net is an in-memory httpapi.NetBackend. Its peers are those in Reachable
// (found and answering) and Unreachable (found, no answer); any other
// target is peer_not_found. Invite links are InvitePrefix + a token; Net
// accepts any such link once, except the token "expired" (invite_expired)
// and tokens with a space (bad_invite); the contact made for token T is
// persona "did:key:z" + T. Use NewNet.
type Net struct {
	mu          sync.Mutex
	status      apiv1.NetStatus
	conns       []apiv1.Conn
	reachable   map[string]apiv1.PingResult
	unreachable map[string]bool
	invites     map[string]apiv1.PendingInvite
	used        map[string]bool
	contacts    map[string]apiv1.Contact // by persona
	personas    map[string]bool          // blocked personas
	peers       map[string]bool          // blocked peer IDs
	fail        map[string]error
	pings       int
	seq         int
	clock       time.Time
}

// Fixed values of NewNet's network.
const (
	NetPeerID   = "12D3KooWSelf"
	PeerAlice   = "12D3KooWAlice"
	PeerRelayed = "12D3KooWRelayed"
	PersonaBob  = "did:key:zBob" // reachable through PeerAlice's node
	PeerGone    = "12D3KooWGone" // found but unreachable
)

// NewNet returns a network with two connections (one direct, one relayed),
// PeerAlice and PersonaBob reachable, PeerGone unreachable, no contacts.
func NewNet() *Net {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	conns := []apiv1.Conn{
		{PeerID: PeerAlice, Persona: PersonaBob, Addr: "/ip4/192.0.2.7/udp/4001/quic-v1", Direction: "outbound",
			Transport: "quic", Opened: t0.Add(-90 * time.Second)},
		{PeerID: PeerRelayed, Addr: "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit", Direction: "inbound",
			Relayed: true, Transport: "relay", Opened: t0.Add(-2 * time.Hour)},
	}
	return &Net{
		status: apiv1.NetStatus{
			Enabled: true, PeerID: NetPeerID, Reachability: "private", NATType: "cone",
			ListenAddrs: []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			Addrs:       []string{"/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit"},
			Relays:      []string{"12D3KooWRelay"},
			DHTMode:     "client", RoutingTable: 17,
			Indexes:   []string{"/dns4/index.example/tcp/4001/p2p/12D3KooWIndex"},
			Published: t0.Add(-time.Minute),
		},
		conns: conns,
		reachable: map[string]apiv1.PingResult{
			PeerAlice:  {PeerID: PeerAlice, Persona: PersonaBob, RTTMs: 12.5},
			PersonaBob: {PeerID: PeerAlice, Persona: PersonaBob, RTTMs: 12.5, Source: "dht"},
		},
		unreachable: map[string]bool{PeerGone: true},
		invites:     map[string]apiv1.PendingInvite{},
		used:        map[string]bool{},
		contacts:    map[string]apiv1.Contact{},
		personas:    map[string]bool{},
		peers:       map[string]bool{},
		fail:        map[string]error{},
		clock:       t0,
	}
}

// Fail makes the method of that name (e.g. "Ping") return err until
// cleared with a nil err.
func (n *Net) Fail(method string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		delete(n.fail, method)
		return
	}
	n.fail[method] = err
}

// Pings returns how many pings reached the backend.
func (n *Net) Pings() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pings
}

func (n *Net) failed(method string) error { return n.fail[method] }

func (n *Net) now() time.Time {
	n.clock = n.clock.Add(time.Second)
	return n.clock
}

func nerrf(code, format string, args ...any) error { return httpapi.NetErrorf(code, format, args...) }

func (n *Net) Net(context.Context) (apiv1.NetStatus, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Net"); err != nil {
		return apiv1.NetStatus{}, err
	}
	st := n.status
	st.Conns = n.named(n.conns)
	st.Direct, st.RelayedConns = 0, 0
	for _, c := range st.Conns {
		if c.Relayed {
			st.RelayedConns++
		} else {
			st.Direct++
		}
	}
	return st, nil
}

// named fills in contacts' pet names.
func (n *Net) named(cs []apiv1.Conn) []apiv1.Conn {
	out := slices.Clone(cs)
	for i, c := range out {
		if ct, ok := n.contacts[c.Persona]; ok {
			out[i].Name = ct.Name
		}
	}
	return out
}

func (n *Net) Peers(context.Context) ([]apiv1.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Peers"); err != nil {
		return nil, err
	}
	return n.named(n.conns), nil
}

// resolve maps a contact's name to its persona and strips a multiaddr down
// to its peer ID.
func (n *Net) resolve(target string) string {
	for _, c := range n.contacts {
		if c.Name == target {
			return c.Persona
		}
	}
	if i := strings.LastIndex(target, "/p2p/"); i >= 0 {
		return target[i+len("/p2p/"):]
	}
	return target
}

func (n *Net) reach(method, target string) (apiv1.PingResult, error) {
	if err := n.failed(method); err != nil {
		return apiv1.PingResult{}, err
	}
	t := n.resolve(target)
	if n.personas[t] || n.peers[t] {
		return apiv1.PingResult{}, nerrf(apiv1.CodeBlocked, "%s is blocked: unblock it first", target)
	}
	if n.unreachable[t] {
		return apiv1.PingResult{}, nerrf(apiv1.CodeUnreachable, "%s was found but none of its devices answered", target)
	}
	r, ok := n.reachable[t]
	if !ok {
		return apiv1.PingResult{}, nerrf(apiv1.CodeNotFoundPeer, "no peer or persona %q found", target)
	}
	return r, nil
}

func (n *Net) Ping(_ context.Context, target string) (apiv1.PingResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pings++
	return n.reach("Ping", target)
}

func (n *Net) Connect(_ context.Context, target string) (apiv1.ConnectResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, err := n.reach("Connect", target)
	if err != nil {
		return apiv1.ConnectResult{}, err
	}
	return apiv1.ConnectResult{PeerID: r.PeerID, Persona: r.Persona, Relayed: r.Relayed, Source: r.Source}, nil
}

func (n *Net) CreateInvite(_ context.Context, req apiv1.CreateInvite) (apiv1.Invite, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("CreateInvite"); err != nil {
		return apiv1.Invite{}, err
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	n.seq++
	id := fmt.Sprintf("inv%d", n.seq)
	p := apiv1.PendingInvite{ID: id, Expires: n.now().Add(ttl), ContactName: req.ContactName}
	n.invites[id] = p
	link := InvitePrefix + id
	if req.Name != "" {
		link += "?name=" + req.Name
	}
	return apiv1.Invite{ID: id, Link: link, Expires: p.Expires}, nil
}

func (n *Net) Invites(context.Context) ([]apiv1.PendingInvite, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Invites"); err != nil {
		return nil, err
	}
	var out []apiv1.PendingInvite
	for _, id := range slices.Sorted(maps.Keys(n.invites)) {
		out = append(out, n.invites[id])
	}
	return out, nil
}

func (n *Net) RevokeInvite(_ context.Context, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("RevokeInvite"); err != nil {
		return err
	}
	if _, ok := n.invites[id]; !ok {
		return nerrf(apiv1.CodeNotFound, "no pending invite %q", id)
	}
	delete(n.invites, id)
	return nil
}

func (n *Net) AcceptInvite(_ context.Context, req apiv1.AcceptInvite) (apiv1.Contact, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("AcceptInvite"); err != nil {
		return apiv1.Contact{}, err
	}
	tok, ok := strings.CutPrefix(req.Link, InvitePrefix)
	tok, suggested, _ := strings.Cut(tok, "?name=")
	switch {
	case !ok || tok == "" || strings.ContainsAny(tok, " /"):
		return apiv1.Contact{}, nerrf(apiv1.CodeBadInvite, "not an invite link: %q", req.Link)
	case tok == "expired":
		return apiv1.Contact{}, nerrf(apiv1.CodeInviteExpired, "the invite expired")
	case n.used[tok]:
		return apiv1.Contact{}, nerrf(apiv1.CodeInviteUsed, "the invite was already accepted")
	}
	name := req.Name
	if name == "" {
		name = suggested
	}
	if name == "" {
		name = "inviter-" + tok
	}
	c, err := n.add("did:key:z"+tok, name)
	if err != nil {
		return apiv1.Contact{}, err
	}
	n.used[tok] = true
	return c, nil
}

func (n *Net) add(persona, name string) (apiv1.Contact, error) {
	if _, ok := n.contacts[persona]; ok {
		return apiv1.Contact{}, nerrf(apiv1.CodeExists, "%s is already a contact", persona)
	}
	if _, err := n.find(name); err == nil {
		return apiv1.Contact{}, nerrf(apiv1.CodeExists, "the name %q is taken", name)
	}
	c := apiv1.Contact{Persona: persona, Name: name, Added: n.now(), Blocked: n.personas[persona]}
	n.contacts[persona] = c
	return c, nil
}

// find returns the contact a ref names (persona or pet name).
func (n *Net) find(ref string) (apiv1.Contact, error) {
	if c, ok := n.contacts[ref]; ok {
		return c, nil
	}
	for _, c := range n.contacts {
		if c.Name == ref {
			return c, nil
		}
	}
	return apiv1.Contact{}, nerrf(apiv1.CodeNotFound, "no contact %q", ref)
}

func (n *Net) Contacts(context.Context) ([]apiv1.Contact, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Contacts"); err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(n.contacts))
	slices.SortFunc(out, func(a, b apiv1.Contact) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (n *Net) Contact(_ context.Context, ref string) (apiv1.Contact, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Contact"); err != nil {
		return apiv1.Contact{}, err
	}
	return n.find(ref)
}

func (n *Net) AddContact(_ context.Context, req apiv1.AddContact) (apiv1.Contact, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("AddContact"); err != nil {
		return apiv1.Contact{}, err
	}
	if !strings.HasPrefix(req.Persona, "did:key:z") {
		return apiv1.Contact{}, nerrf(apiv1.CodeBadRequest, "%q is not a persona did:key", req.Persona)
	}
	return n.add(req.Persona, req.Name)
}

func (n *Net) UpdateContact(_ context.Context, ref string, req apiv1.UpdateContact) (apiv1.Contact, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("UpdateContact"); err != nil {
		return apiv1.Contact{}, err
	}
	c, err := n.find(ref)
	if err != nil {
		return apiv1.Contact{}, err
	}
	if req.Name != nil && *req.Name != c.Name {
		if _, err := n.find(*req.Name); err == nil {
			return apiv1.Contact{}, nerrf(apiv1.CodeExists, "the name %q is taken", *req.Name)
		}
		c.Name = *req.Name
	}
	n.contacts[c.Persona] = c
	return c, nil
}

func (n *Net) RemoveContact(_ context.Context, ref string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("RemoveContact"); err != nil {
		return err
	}
	c, err := n.find(ref)
	if err != nil {
		return err
	}
	delete(n.contacts, c.Persona)
	return nil
}

// blockKey resolves a block target: a contact, a persona or a peer ID.
func (n *Net) blockKey(target string) (key string, persona bool) {
	if c, err := n.find(target); err == nil {
		return c.Persona, true
	}
	t := n.resolve(target)
	return t, strings.HasPrefix(t, "did:key:")
}

func (n *Net) setBlocked(persona string, b bool) {
	if c, ok := n.contacts[persona]; ok {
		c.Blocked = b
		n.contacts[persona] = c
	}
}

func (n *Net) Block(_ context.Context, target string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Block"); err != nil {
		return err
	}
	k, persona := n.blockKey(target)
	if persona {
		n.personas[k] = true
		n.setBlocked(k, true)
	} else {
		n.peers[k] = true
	}
	return nil
}

func (n *Net) Unblock(_ context.Context, target string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Unblock"); err != nil {
		return err
	}
	k, _ := n.blockKey(target)
	switch {
	case n.personas[k]:
		delete(n.personas, k)
		n.setBlocked(k, false)
	case n.peers[k]:
		delete(n.peers, k)
	default:
		return nerrf(apiv1.CodeNotFound, "%s is not blocked", target)
	}
	return nil
}

func (n *Net) Blocked(context.Context) (apiv1.Blocked, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Blocked"); err != nil {
		return apiv1.Blocked{}, err
	}
	return apiv1.Blocked{Personas: slices.Sorted(maps.Keys(n.personas)), Peers: slices.Sorted(maps.Keys(n.peers))}, nil
}

// Devices lists this device only (the fake has no paired devices).
func (n *Net) Devices(context.Context) ([]apiv1.OwnDevice, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("Devices"); err != nil {
		return nil, err
	}
	return []apiv1.OwnDevice{{PeerID: NetPeerID, This: true, Online: true}}, nil
}

// PairDevice returns a made-up code valid for the requested time.
func (n *Net) PairDevice(_ context.Context, req apiv1.PairDevice) (apiv1.PairCode, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.failed("PairDevice"); err != nil {
		return apiv1.PairCode{}, err
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	n.seq++
	return apiv1.PairCode{Code: fmt.Sprintf("peer:pair:fake%d", n.seq), Expires: n.now().Add(ttl)}, nil
}

var _ httpapi.NetBackend = (*Net)(nil)
