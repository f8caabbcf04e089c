package httpapi_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

func serveNet(t *testing.T, n *httpapitest.Net) client {
	opts := httpapi.Options{MaxBodyBytes: 4096}
	if n != nil {
		opts.Net = n
	}
	return client{t, httpapitest.Serve(t, opts).URL}
}

// netRoutes is every route of the network side, with a path that matches
// it and a body it accepts.
var netRoutes = []struct {
	method, path string
	body         any
}{
	{"GET", "/api/v1/net", nil},
	{"GET", "/api/v1/peers", nil},
	{"POST", "/api/v1/peers/ping", apiv1.Target{Target: httpapitest.PeerAlice}},
	{"POST", "/api/v1/peers/connect", apiv1.Target{Target: httpapitest.PeerAlice}},
	{"POST", "/api/v1/invites", apiv1.CreateInvite{}},
	{"GET", "/api/v1/invites", nil},
	{"DELETE", "/api/v1/invites/inv1", nil},
	{"POST", "/api/v1/invites/accept", apiv1.AcceptInvite{Link: httpapitest.InvitePrefix + "x"}},
	{"GET", "/api/v1/contacts", nil},
	{"POST", "/api/v1/contacts", apiv1.AddContact{Persona: "did:key:zCarol", Name: "carol"}},
	{"GET", "/api/v1/contacts/carol", nil},
	{"PATCH", "/api/v1/contacts/carol", map[string]string{"name": "caz"}},
	{"DELETE", "/api/v1/contacts/carol", nil},
	{"GET", "/api/v1/blocks", nil},
	{"POST", "/api/v1/blocks", apiv1.Target{Target: "12D3KooWX"}},
	{"DELETE", "/api/v1/blocks/12D3KooWX", nil},
	{"GET", "/api/v1/devices", nil},
	{"POST", "/api/v1/devices/pair", apiv1.PairDevice{}},
}

func TestNetRoutesNeedToken(t *testing.T) {
	n := httpapitest.NewNet()
	c := serveNet(t, n)
	for _, rt := range netRoutes {
		req, _ := http.NewRequest(rt.method, c.url+rt.path, strings.NewReader(`{"target":"`+httpapitest.PeerAlice+`"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: status %d, want 401", rt.method, rt.path, resp.StatusCode)
		}
	}
	if n.Pings() != 0 {
		t.Error("an unauthenticated ping reached the backend")
	}
}

func TestNetOff(t *testing.T) {
	c := serveNet(t, nil)
	for _, rt := range netRoutes {
		resp, data := c.do(rt.method, rt.path, rt.body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(data), `"code": "network_off"`) {
			t.Errorf("%s %s without a network: %d %s, want 503 network_off", rt.method, rt.path, resp.StatusCode, data)
		}
	}
}

func TestNetStatusAndPeers(t *testing.T) {
	c := serveNet(t, httpapitest.NewNet())
	var st apiv1.NetStatus
	c.want(200, "", &st, "GET", "/api/v1/net", nil)
	if !st.Enabled || st.PeerID != httpapitest.NetPeerID || st.Direct != 1 || st.RelayedConns != 1 || len(st.Conns) != 2 {
		t.Fatalf("status %+v", st)
	}
	var conns []apiv1.Conn
	c.want(200, "", &conns, "GET", "/api/v1/peers", nil)
	if len(conns) != 2 || conns[0].PeerID != httpapitest.PeerAlice || !conns[1].Relayed {
		t.Fatalf("peers %+v", conns)
	}
	// Empty lists are [], never null.
	_, data := c.do("GET", "/api/v1/blocks", nil)
	if !strings.Contains(string(data), `"personas": []`) || !strings.Contains(string(data), `"peers": []`) {
		t.Fatalf("blocks: %s", data)
	}
	for _, p := range []string{"/api/v1/contacts", "/api/v1/invites"} {
		if _, data := c.do("GET", p, nil); strings.TrimSpace(string(data)) != "[]" {
			t.Errorf("GET %s: %s, want []", p, data)
		}
	}
}

func TestNetPingAndConnect(t *testing.T) {
	n := httpapitest.NewNet()
	c := serveNet(t, n)
	for _, tc := range []struct {
		route, target string
		status        int
		code          string
	}{
		{"ping", httpapitest.PeerAlice, 200, ""},
		{"ping", httpapitest.PersonaBob, 200, ""},
		{"ping", "/ip4/192.0.2.7/udp/4001/quic-v1/p2p/" + httpapitest.PeerAlice, 200, ""},
		{"ping", "  " + httpapitest.PeerAlice + " ", 200, ""}, // trimmed at the edge
		{"ping", "did:key:zNobody", 404, apiv1.CodeNotFoundPeer},
		{"ping", httpapitest.PeerGone, 502, apiv1.CodeUnreachable},
		{"connect", httpapitest.PersonaBob, 200, ""},
		{"connect", "did:key:zNobody", 404, apiv1.CodeNotFoundPeer},
		{"connect", httpapitest.PeerGone, 502, apiv1.CodeUnreachable},
		{"ping", "", 400, apiv1.CodeBadRequest},
		{"ping", "   ", 400, apiv1.CodeBadRequest},
		{"connect", "", 400, apiv1.CodeBadRequest},
		{"ping", "a\x00b", 400, apiv1.CodeBadRequest},
		{"ping", strings.Repeat("x", 1025), 400, apiv1.CodeBadRequest},
	} {
		var res apiv1.PingResult
		c.want(tc.status, tc.code, &res, "POST", "/api/v1/peers/"+tc.route, apiv1.Target{Target: tc.target})
		if tc.status == 200 && (res.PeerID != httpapitest.PeerAlice || res.Persona != httpapitest.PersonaBob) {
			t.Errorf("%s %q: %+v", tc.route, tc.target, res)
		}
	}
	// Bodies are strict.
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/peers/ping", `{"target":"x","extra":1}`)
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/peers/ping", "")
	c.want(413, apiv1.CodeTooLarge, nil, "POST", "/api/v1/peers/ping", apiv1.Target{Target: strings.Repeat("x", 5000)})

	// A blocked target is refused; a failing backend is a 500.
	c.want(204, "", nil, "POST", "/api/v1/blocks", apiv1.Target{Target: httpapitest.PeerAlice})
	c.want(403, apiv1.CodeBlocked, nil, "POST", "/api/v1/peers/connect", apiv1.Target{Target: httpapitest.PeerAlice})
	n.Fail("Ping", errors.New("the host fell over"))
	c.want(500, apiv1.CodeInternal, nil, "POST", "/api/v1/peers/ping", apiv1.Target{Target: httpapitest.PersonaBob})
}

func TestNetDevices(t *testing.T) {
	c := serveNet(t, httpapitest.NewNet())
	var pc apiv1.PairCode
	c.want(201, "", &pc, "POST", "/api/v1/devices/pair", apiv1.PairDevice{TTLSeconds: 60})
	if pc.Code == "" || pc.Expires.IsZero() {
		t.Fatalf("pair code %+v", pc)
	}
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/devices/pair", apiv1.PairDevice{TTLSeconds: 2 * 3600})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/devices/pair", apiv1.PairDevice{TTLSeconds: -1})
	var ds []apiv1.OwnDevice
	c.want(200, "", &ds, "GET", "/api/v1/devices", nil)
	if len(ds) != 1 || !ds[0].This {
		t.Fatalf("devices %+v", ds)
	}
}

func TestNetInvites(t *testing.T) {
	c := serveNet(t, httpapitest.NewNet())
	var inv apiv1.Invite
	c.want(201, "", &inv, "POST", "/api/v1/invites", apiv1.CreateInvite{TTLSeconds: 3600, Name: "ann"})
	if inv.ID == "" || !strings.HasPrefix(inv.Link, httpapitest.InvitePrefix) || inv.Expires.IsZero() {
		t.Fatalf("invite %+v", inv)
	}
	if inv.QRSVG != "" {
		t.Fatalf("a QR code not asked for: %.40q", inv.QRSVG)
	}
	var withQR apiv1.Invite
	c.want(201, "", &withQR, "POST", "/api/v1/invites?qr=1", apiv1.CreateInvite{})
	if !strings.HasPrefix(withQR.QRSVG, "<svg") {
		t.Fatalf("invite without a QR code: %.40q", withQR.QRSVG)
	}
	c.want(204, "", nil, "DELETE", "/api/v1/invites/"+withQR.ID, nil)
	var inv2 apiv1.Invite
	c.want(201, "", &inv2, "POST", "/api/v1/invites", apiv1.CreateInvite{TTLSeconds: 30 * 24 * 3600})
	var pending []apiv1.PendingInvite
	c.want(200, "", &pending, "GET", "/api/v1/invites", nil)
	if len(pending) != 2 || pending[0].ID != inv.ID {
		t.Fatalf("pending %+v", pending)
	}
	c.want(204, "", nil, "DELETE", "/api/v1/invites/"+inv.ID, nil)
	c.want(404, apiv1.CodeNotFound, nil, "DELETE", "/api/v1/invites/"+inv.ID, nil)
	c.want(200, "", &pending, "GET", "/api/v1/invites", nil)
	if len(pending) != 1 || pending[0].ID != inv2.ID {
		t.Fatalf("pending after revoke %+v", pending)
	}

	for _, tc := range []struct {
		req  apiv1.CreateInvite
		want string
	}{
		{apiv1.CreateInvite{TTLSeconds: -1}, "out of range"},
		{apiv1.CreateInvite{TTLSeconds: 30*24*3600 + 1}, "out of range"},
		{apiv1.CreateInvite{Name: " ann"}, "space"},
		{apiv1.CreateInvite{Name: "a\nb"}, "control"},
	} {
		_, data := c.do("POST", "/api/v1/invites", tc.req)
		if !strings.Contains(string(data), `"bad_request"`) || !strings.Contains(string(data), tc.want) {
			t.Errorf("create %+v: %s, want bad_request saying %q", tc.req, data, tc.want)
		}
	}

	// Accepting.
	var ct apiv1.Contact
	c.want(201, "", &ct, "POST", "/api/v1/invites/accept", apiv1.AcceptInvite{Link: httpapitest.InvitePrefix + "dave?name=dave"})
	if ct.Persona != "did:key:zdave" || ct.Name != "dave" {
		t.Fatalf("accepted %+v", ct)
	}
	for _, tc := range []struct {
		link   string
		status int
		code   string
	}{
		{httpapitest.InvitePrefix + "dave", 409, apiv1.CodeInviteUsed},
		{httpapitest.InvitePrefix + "expired", 410, apiv1.CodeInviteExpired},
		{"https://example.com/", 400, apiv1.CodeBadInvite},
		{"", 400, apiv1.CodeBadRequest},
		{"  ", 400, apiv1.CodeBadRequest},
	} {
		c.want(tc.status, tc.code, nil, "POST", "/api/v1/invites/accept", apiv1.AcceptInvite{Link: tc.link})
	}
	// The name given wins over the suggested one.
	c.want(201, "", &ct, "POST", "/api/v1/invites/accept", apiv1.AcceptInvite{Link: httpapitest.InvitePrefix + "eve?name=eve", Name: "evie"})
	if ct.Name != "evie" {
		t.Fatalf("accepted %+v", ct)
	}
}

func TestNetContacts(t *testing.T) {
	c := serveNet(t, httpapitest.NewNet())
	const carol = "did:key:zCarol"
	var ct apiv1.Contact
	c.want(201, "", &ct, "POST", "/api/v1/contacts", apiv1.AddContact{Persona: carol, Name: "carol"})
	if ct.Persona != carol || ct.Name != "carol" || ct.Added.IsZero() {
		t.Fatalf("added %+v", ct)
	}
	c.want(409, apiv1.CodeExists, nil, "POST", "/api/v1/contacts", apiv1.AddContact{Persona: carol, Name: "other"})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/contacts", apiv1.AddContact{Name: "x"})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/contacts", apiv1.AddContact{Persona: "did:key:zX"})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/contacts", apiv1.AddContact{Persona: "nope", Name: "x"})

	// A ref is a pet name or a did:key, colons and all, escaped or not.
	for _, ref := range []string{"carol", carol, url.PathEscape(carol), "did%3Akey%3AzCarol"} {
		var got apiv1.Contact
		c.want(200, "", &got, "GET", "/api/v1/contacts/"+ref, nil)
		if got.Persona != carol {
			t.Errorf("GET contact %s: %+v", ref, got)
		}
	}
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/contacts/nobody", nil)

	var list []apiv1.Contact
	c.want(200, "", &list, "GET", "/api/v1/contacts", nil)
	if len(list) != 1 || list[0].Persona != carol {
		t.Fatalf("contacts %+v", list)
	}

	// Renaming; names with a slash travel escaped.
	c.want(200, "", &ct, "PATCH", "/api/v1/contacts/"+carol, map[string]string{"name": "carol/work"})
	if ct.Name != "carol/work" {
		t.Fatalf("renamed %+v", ct)
	}
	c.want(200, "", &ct, "GET", "/api/v1/contacts/"+url.PathEscape("carol/work"), nil)
	c.want(400, apiv1.CodeBadRequest, nil, "PATCH", "/api/v1/contacts/"+carol, map[string]string{})
	c.want(400, apiv1.CodeBadRequest, nil, "PATCH", "/api/v1/contacts/"+carol, map[string]string{"name": ""})
	c.want(400, apiv1.CodeBadRequest, nil, "PATCH", "/api/v1/contacts/"+carol, map[string]string{"nick": "c"})
	c.want(404, apiv1.CodeNotFound, nil, "PATCH", "/api/v1/contacts/nobody", map[string]string{"name": "n"})

	c.want(204, "", nil, "DELETE", "/api/v1/contacts/"+url.PathEscape("carol/work"), nil)
	c.want(404, apiv1.CodeNotFound, nil, "DELETE", "/api/v1/contacts/"+carol, nil)
}

func TestNetBlocks(t *testing.T) {
	n := httpapitest.NewNet()
	c := serveNet(t, n)
	c.want(201, "", nil, "POST", "/api/v1/contacts", apiv1.AddContact{Persona: "did:key:zCarol", Name: "carol"})
	for _, tgt := range []string{"carol", httpapitest.PeerGone} {
		resp, data := c.do("POST", "/api/v1/blocks", apiv1.Target{Target: tgt})
		if resp.StatusCode != 204 || len(data) != 0 {
			t.Fatalf("block %s: %d %s", tgt, resp.StatusCode, data)
		}
	}
	var b apiv1.Blocked
	c.want(200, "", &b, "GET", "/api/v1/blocks", nil)
	if len(b.Personas) != 1 || b.Personas[0] != "did:key:zCarol" || len(b.Peers) != 1 || b.Peers[0] != httpapitest.PeerGone {
		t.Fatalf("blocked %+v", b)
	}
	var ct apiv1.Contact
	c.want(200, "", &ct, "GET", "/api/v1/contacts/carol", nil)
	if !ct.Blocked {
		t.Fatal("blocked contact not marked blocked")
	}
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/blocks", apiv1.Target{})

	c.want(204, "", nil, "DELETE", "/api/v1/blocks/did:key:zCarol", nil)
	c.want(204, "", nil, "DELETE", "/api/v1/blocks/"+httpapitest.PeerGone, nil)
	c.want(404, apiv1.CodeNotFound, nil, "DELETE", "/api/v1/blocks/"+httpapitest.PeerGone, nil)
	c.want(200, "", &b, "GET", "/api/v1/blocks", nil)
	if len(b.Personas)+len(b.Peers) != 0 {
		t.Fatalf("blocked after unblock %+v", b)
	}

	n.Fail("Blocked", httpapi.NetErrorf(apiv1.CodeUnavailable, "the contact book is closed"))
	c.want(503, apiv1.CodeUnavailable, nil, "GET", "/api/v1/blocks", nil)
}

func TestNetErrorfStatuses(t *testing.T) {
	for code, status := range map[string]int{
		apiv1.CodeNetworkOff: 503, apiv1.CodeNotFoundPeer: 404, apiv1.CodeUnreachable: 502,
		apiv1.CodeBadInvite: 400, apiv1.CodeInviteExpired: 410, apiv1.CodeInviteUsed: 409,
		apiv1.CodeBlocked: 403, apiv1.CodeNotFound: 404, apiv1.CodeExists: 409, "something_new": 500,
	} {
		if e := httpapi.NetErrorf(code, "x"); e.Status != status || e.Code != code {
			t.Errorf("NetErrorf(%s): %d %s, want %d", code, e.Status, e.Code, status)
		}
	}
}
