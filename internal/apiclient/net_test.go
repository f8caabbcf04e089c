package apiclient

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

func newNetClient(t *testing.T) (*Client, *httpapitest.Net) {
	t.Helper()
	n := httpapitest.NewNet()
	ts := httpapitest.Serve(t, httpapi.Options{Net: n})
	return New(ts.URL, httpapitest.Token), n
}

// wantCode fails unless err is an API error with code and status.
func wantCode(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.Status != status {
		t.Fatalf("%s: error %v, want %d %s", what, err, status, code)
	}
}

func TestNetStatusPeersPing(t *testing.T) {
	c, n := newNetClient(t)
	ctx := context.Background()
	st, err := c.Net(ctx)
	if err != nil || st.PeerID != httpapitest.NetPeerID || len(st.Conns) != 2 || st.Direct != 1 {
		t.Fatalf("Net: %+v %v", st, err)
	}
	cs, err := c.Peers(ctx)
	if err != nil || len(cs) != 2 || cs[1].Direction != "inbound" {
		t.Fatalf("Peers: %+v %v", cs, err)
	}
	r, err := c.Ping(ctx, httpapitest.PersonaBob)
	if err != nil || r.PeerID != httpapitest.PeerAlice || r.RTTMs <= 0 || r.Source != "dht" {
		t.Fatalf("Ping: %+v %v", r, err)
	}
	_, err = c.Ping(ctx, "did:key:zNobody")
	wantCode(t, "Ping unknown", err, http.StatusNotFound, apiv1.CodeNotFoundPeer)
	if !IsCode(err, apiv1.CodeNotFoundPeer) {
		t.Fatal("IsCode does not see peer_not_found")
	}
	cr, err := c.Connect(ctx, "/ip4/192.0.2.7/tcp/4001/p2p/"+httpapitest.PeerAlice)
	if err != nil || cr.PeerID != httpapitest.PeerAlice || cr.Persona != httpapitest.PersonaBob {
		t.Fatalf("Connect: %+v %v", cr, err)
	}
	_, err = c.Connect(ctx, httpapitest.PeerGone)
	wantCode(t, "Connect unreachable", err, http.StatusBadGateway, apiv1.CodeUnreachable)
	_, err = c.Connect(ctx, "")
	wantCode(t, "Connect empty", err, http.StatusBadRequest, apiv1.CodeBadRequest)
	if n.Pings() != 2 {
		t.Errorf("backend saw %d pings, want 2", n.Pings())
	}

	// A cancelled context ends a ping.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Ping(cctx, httpapitest.PeerAlice); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with a cancelled context: %v", err)
	}
}

func TestNetInvitesClient(t *testing.T) {
	c, _ := newNetClient(t)
	ctx := context.Background()
	inv, err := c.CreateInvite(ctx, 2*time.Hour, "ann")
	if err != nil || inv.ID == "" || inv.Link == "" {
		t.Fatalf("CreateInvite: %+v %v", inv, err)
	}
	_, err = c.CreateInvite(ctx, 31*24*time.Hour, "")
	wantCode(t, "CreateInvite too long", err, http.StatusBadRequest, apiv1.CodeBadRequest)
	l, err := c.Invites(ctx)
	if err != nil || len(l) != 1 || l[0].ID != inv.ID || !l[0].Expires.Equal(inv.Expires) {
		t.Fatalf("Invites: %+v %v", l, err)
	}
	if err := c.RevokeInvite(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "RevokeInvite again", c.RevokeInvite(ctx, inv.ID), http.StatusNotFound, apiv1.CodeNotFound)

	ct, err := c.AcceptInvite(ctx, httpapitest.InvitePrefix+"zed?name=zed", "")
	if err != nil || ct.Name != "zed" || ct.Persona != "did:key:zzed" {
		t.Fatalf("AcceptInvite: %+v %v", ct, err)
	}
	_, err = c.AcceptInvite(ctx, httpapitest.InvitePrefix+"zed", "z2")
	wantCode(t, "AcceptInvite used", err, http.StatusConflict, apiv1.CodeInviteUsed)
	_, err = c.AcceptInvite(ctx, httpapitest.InvitePrefix+"expired", "")
	wantCode(t, "AcceptInvite expired", err, http.StatusGone, apiv1.CodeInviteExpired)
}

func TestNetContactsAndBlocksClient(t *testing.T) {
	c, _ := newNetClient(t)
	ctx := context.Background()
	const carol = "did:key:zCarol"
	if _, err := c.AddContact(ctx, carol, "carol"); err != nil {
		t.Fatal(err)
	}
	// Refs travel escaped: did:key colons, slashes and spaces in names.
	ct, err := c.RenameContact(ctx, carol, "carol / work")
	if err != nil || ct.Name != "carol / work" {
		t.Fatalf("RenameContact: %+v %v", ct, err)
	}
	for _, ref := range []string{carol, "carol / work"} {
		if ct, err := c.Contact(ctx, ref); err != nil || ct.Persona != carol {
			t.Fatalf("Contact %q: %+v %v", ref, ct, err)
		}
	}
	l, err := c.Contacts(ctx)
	if err != nil || len(l) != 1 {
		t.Fatalf("Contacts: %+v %v", l, err)
	}

	if err := c.Block(ctx, "carol / work"); err != nil {
		t.Fatal(err)
	}
	ma := "/ip4/192.0.2.9/tcp/4001/p2p/12D3KooWMallory"
	if err := c.Block(ctx, ma); err != nil {
		t.Fatal(err)
	}
	b, err := c.Blocked(ctx)
	if err != nil || len(b.Personas) != 1 || b.Personas[0] != carol || len(b.Peers) != 1 || b.Peers[0] != "12D3KooWMallory" {
		t.Fatalf("Blocked: %+v %v", b, err)
	}
	if err := c.Unblock(ctx, ma); err != nil { // a multiaddr in the path, slashes escaped
		t.Fatal(err)
	}
	if err := c.Unblock(ctx, carol); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "Unblock again", c.Unblock(ctx, carol), http.StatusNotFound, apiv1.CodeNotFound)

	if err := c.RemoveContact(ctx, carol); err != nil {
		t.Fatal(err)
	}
	_, err = c.Contact(ctx, carol)
	wantCode(t, "Contact removed", err, http.StatusNotFound, apiv1.CodeNotFound)
}

func TestNetOffClient(t *testing.T) {
	ts := httpapitest.Serve(t, httpapi.Options{})
	c := New(ts.URL, httpapitest.Token)
	_, err := c.Net(context.Background())
	wantCode(t, "Net without a network", err, http.StatusServiceUnavailable, apiv1.CodeNetworkOff)
}
