package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// This file holds the client of the peer-to-peer side: /api/v1/net,
// /api/v1/peers, /api/v1/invites, /api/v1/contacts and /api/v1/blocks. A
// target is a persona did:key, a contact's pet name, a peer ID or a
// multiaddr ending in /p2p/<peer ID>; a ref names a contact by did:key or
// pet name. A node without the network answers every call with an *Error
// of code apiv1.CodeNetworkOff.
//
// Ping and Connect may look a persona up in the DHT and punch through a
// NAT: they have no overall timeout, only their context ends them.

func contactPath(ref string) string { return "/api/v1/contacts/" + url.PathEscape(ref) }

// Net returns how the node stands on the network.
func (c *Client) Net(ctx context.Context) (apiv1.NetStatus, error) {
	var st apiv1.NetStatus
	return st, c.do(ctx, http.MethodGet, "/api/v1/net", nil, &st)
}

// Peers lists the open connections.
func (c *Client) Peers(ctx context.Context) ([]apiv1.Conn, error) {
	var cs []apiv1.Conn
	return cs, c.do(ctx, http.MethodGet, "/api/v1/peers", nil, &cs)
}

// Ping finds target, connects to it if need be and measures one round trip.
func (c *Client) Ping(ctx context.Context, target string) (apiv1.PingResult, error) {
	var r apiv1.PingResult
	return r, c.send(ctx, c.long(), http.MethodPost, "/api/v1/peers/ping", apiv1.Target{Target: target}, &r)
}

// Connect finds target and opens a connection to it.
func (c *Client) Connect(ctx context.Context, target string) (apiv1.ConnectResult, error) {
	var r apiv1.ConnectResult
	return r, c.send(ctx, c.long(), http.MethodPost, "/api/v1/peers/connect", apiv1.Target{Target: target}, &r)
}

// CreateInvite makes an invite valid for ttl (0: the node's default, 24
// hours; at most 30 days) suggesting we be called name ("" for the
// persona's name).
func (c *Client) CreateInvite(ctx context.Context, ttl time.Duration, name string) (apiv1.Invite, error) {
	return c.Invite(ctx, apiv1.CreateInvite{TTLSeconds: int64(ttl / time.Second), Name: name})
}

// Invite makes an invite as req says (ContactName: what whoever accepts
// is called here).
func (c *Client) Invite(ctx context.Context, req apiv1.CreateInvite) (apiv1.Invite, error) {
	var inv apiv1.Invite
	return inv, c.do(ctx, http.MethodPost, "/api/v1/invites", req, &inv)
}

// Invites lists the invites neither used nor expired.
func (c *Client) Invites(ctx context.Context) ([]apiv1.PendingInvite, error) {
	var l []apiv1.PendingInvite
	return l, c.do(ctx, http.MethodGet, "/api/v1/invites", nil, &l)
}

// RevokeInvite cancels a pending invite by its ID.
func (c *Client) RevokeInvite(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/invites/"+url.PathEscape(id), nil, nil)
}

// AcceptInvite accepts an invite link and returns the inviter, now a
// contact called name ("" for the name the invite suggests).
func (c *Client) AcceptInvite(ctx context.Context, link, name string) (apiv1.Contact, error) {
	var ct apiv1.Contact
	return ct, c.send(ctx, c.long(), http.MethodPost, "/api/v1/invites/accept", apiv1.AcceptInvite{Link: link, Name: name}, &ct)
}

// Contacts lists the contacts.
func (c *Client) Contacts(ctx context.Context) ([]apiv1.Contact, error) {
	var l []apiv1.Contact
	return l, c.do(ctx, http.MethodGet, "/api/v1/contacts", nil, &l)
}

// Contact shows one contact by did:key or pet name.
func (c *Client) Contact(ctx context.Context, ref string) (apiv1.Contact, error) {
	var ct apiv1.Contact
	return ct, c.do(ctx, http.MethodGet, contactPath(ref), nil, &ct)
}

// AddContact adds a persona (did:key) as a contact called name.
func (c *Client) AddContact(ctx context.Context, persona, name string) (apiv1.Contact, error) {
	var ct apiv1.Contact
	return ct, c.do(ctx, http.MethodPost, "/api/v1/contacts", apiv1.AddContact{Persona: persona, Name: name}, &ct)
}

// RenameContact gives a contact a new pet name.
func (c *Client) RenameContact(ctx context.Context, ref, name string) (apiv1.Contact, error) {
	var ct apiv1.Contact
	return ct, c.do(ctx, http.MethodPatch, contactPath(ref), apiv1.UpdateContact{Name: &name}, &ct)
}

// RemoveContact forgets a contact.
func (c *Client) RemoveContact(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, contactPath(ref), nil, nil)
}

// Block refuses connections and messages from target.
func (c *Client) Block(ctx context.Context, target string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/blocks", apiv1.Target{Target: target}, nil)
}

// Unblock lifts a block.
func (c *Client) Unblock(ctx context.Context, target string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/blocks/"+url.PathEscape(target), nil, nil)
}

// Blocked lists the blocked personas and peer IDs.
func (c *Client) Blocked(ctx context.Context) (apiv1.Blocked, error) {
	var b apiv1.Blocked
	return b, c.do(ctx, http.MethodGet, "/api/v1/blocks", nil, &b)
}

// Devices lists this persona's devices: this one and those paired to it.
func (c *Client) Devices(ctx context.Context) ([]apiv1.OwnDevice, error) {
	var l []apiv1.OwnDevice
	return l, c.do(ctx, http.MethodGet, "/api/v1/devices", nil, &l)
}

// PairDevice makes a one-time code by which a new device joins this
// persona; ttl 0 means the node's default (10 minutes).
func (c *Client) PairDevice(ctx context.Context, ttl time.Duration) (apiv1.PairCode, error) {
	var pc apiv1.PairCode
	return pc, c.do(ctx, http.MethodPost, "/api/v1/devices/pair", apiv1.PairDevice{TTLSeconds: int64(ttl / time.Second)}, &pc)
}
