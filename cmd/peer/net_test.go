package main

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// newNetCLI is newCLI with the fake network plugged in (net may be nil:
// a node running without the network).
func newNetCLI(t *testing.T, net *httpapitest.Net) *cli {
	t.Helper()
	opts := httpapi.Options{}
	if net != nil {
		opts.Net = net
	}
	ts := httpapitest.Serve(t, opts)
	dir := t.TempDir()
	lock, err := datadir.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release() })
	if err := datadir.WriteRuntime(dir, datadir.Runtime{PID: os.Getpid(), API: ts.URL, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(datadir.TokenPath(dir), []byte(httpapitest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir}
}

func wantIn(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

func TestNetAndPeersCommands(t *testing.T) {
	c := newNetCLI(t, httpapitest.NewNet())
	out := c.ok("net")
	wantIn(t, "net", out, httpapitest.NetPeerID, "private", "cone", "client mode, 17 peers",
		"/ip4/0.0.0.0/udp/4001/quic-v1", "12D3KooWRelay", "1 direct, 1 relayed",
		"PEER", httpapitest.PeerAlice, "outbound", "relayed", "quic")
	var st apiv1.NetStatus
	c.jsonOf(&st, "net")
	if st.PeerID != httpapitest.NetPeerID || len(st.Conns) != 2 {
		t.Fatalf("net --json: %+v", st)
	}

	out = c.ok("peers")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PEER") {
		t.Fatalf("peers: %q", out)
	}
	wantIn(t, "peers", lines[1], httpapitest.PeerAlice, httpapitest.PersonaBob, "outbound", "direct", "quic")
	wantIn(t, "peers", lines[2], httpapitest.PeerRelayed, "inbound", "relayed", "relay")
	var cs []apiv1.Conn
	c.jsonOf(&cs, "peers")
	if len(cs) != 2 {
		t.Fatalf("peers --json: %+v", cs)
	}
	// A contact's name shows in place of its persona.
	c.ok("contacts", "add", httpapitest.PersonaBob, "bob")
	wantIn(t, "peers with a contact", c.ok("peers"), " bob ")
}

func TestPingAndConnectCommands(t *testing.T) {
	n := httpapitest.NewNet()
	c := newNetCLI(t, n)
	out := c.ok("ping", httpapitest.PersonaBob, "-c", "2", "-i", "1ms")
	if got := strings.Count(out, "reply from "+httpapitest.PeerAlice); got != 2 {
		t.Fatalf("ping -c 2: %d replies in %q", got, out)
	}
	wantIn(t, "ping", out, "time=12.5 ms", "direct, found in dht", "2 pings sent, 2 answered, 0% lost", "12.5/12.5/12.5")
	if n.Pings() != 2 {
		t.Fatalf("backend saw %d pings", n.Pings())
	}
	var rs []apiv1.PingResult
	c.jsonOf(&rs, "ping", httpapitest.PeerAlice, "-c", "1")
	if len(rs) != 1 || rs[0].PeerID != httpapitest.PeerAlice {
		t.Fatalf("ping --json: %+v", rs)
	}

	// All pings fail: non-zero exit, the reason said.
	out, _, err := c.run("", "ping", "did:key:zNobody", "-c", "2", "-i", "1ms")
	if err == nil || !strings.Contains(err.Error(), "no answer from did:key:zNobody") || !strings.Contains(err.Error(), "peer_not_found") {
		t.Fatalf("ping unknown: %v", err)
	}
	wantIn(t, "ping unknown", out, "2 pings sent, 0 answered, 100% lost")
	if exitCode(err) == 0 {
		t.Fatal("exit status 0")
	}
	// Some fail, some answer: success.
	n.Fail("Ping", errors.New("transient"))
	_, _, err = c.run("", "ping", httpapitest.PeerAlice, "-c", "1")
	if err == nil {
		t.Fatal("a failed single ping succeeded")
	}
	n.Fail("Ping", nil)

	wantIn(t, "connect", c.ok("connect", httpapitest.PersonaBob), "connected to "+httpapitest.PeerAlice, "direct")
	var cr apiv1.ConnectResult
	c.jsonOf(&cr, "connect", httpapitest.PeerAlice)
	if cr.PeerID != httpapitest.PeerAlice {
		t.Fatalf("connect --json: %+v", cr)
	}
	err = c.fails("none of its devices answered", "connect", httpapitest.PeerGone)
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("connect unreachable: %v", err)
	}
}

func TestInviteCommands(t *testing.T) {
	c := newNetCLI(t, httpapitest.NewNet())
	out := c.ok("invite", "--ttl", "2h", "--name", "ann")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], httpapitest.InvitePrefix) || !strings.Contains(lines[0], "name=ann") {
		t.Fatalf("invite: first line %q", lines[0])
	}
	// The QR code: rows of half blocks between the link and the expiry.
	if !strings.Contains(out, "█") || !strings.Contains(out, "▀") || len(lines) < 15 {
		t.Fatalf("invite: no QR code in\n%s", out)
	}
	wantIn(t, "invite", out, "expires ", "invite inv1")

	out = c.ok("invite", "--no-qr")
	if strings.Contains(out, "█") || strings.Count(out, "\n") != 2 {
		t.Fatalf("invite --no-qr:\n%s", out)
	}
	var inv apiv1.Invite
	c.jsonOf(&inv, "invite", "--ttl", "7d")
	if inv.ID != "inv3" || !strings.HasPrefix(inv.Link, httpapitest.InvitePrefix) {
		t.Fatalf("invite --json: %+v", inv)
	}
	c.fails("--ttl", "invite", "--ttl", "soon")
	c.fails("out of range", "invite", "--ttl", "31d")

	out = c.ok("invite", "ls")
	wantIn(t, "invite ls", out, "ID", "inv1", "inv2", "inv3")
	c.ok("invite", "revoke", "inv2")
	var l []apiv1.PendingInvite
	c.jsonOf(&l, "invite", "ls")
	if len(l) != 2 || l[0].ID != "inv1" || l[1].ID != "inv3" {
		t.Fatalf("invite ls after revoke: %+v", l)
	}
	c.fails("not_found", "invite", "revoke", "inv2")
	c.fails("at most 1 arg", "invite", "bob", "extra")

	// The name the inviter chose for whoever accepts travels to the node
	// and shows in the list.
	c.ok("invite", "bob", "--no-qr")
	out = c.ok("invite", "ls")
	wantIn(t, "invite ls", out, "FOR", "inv4", "bob")
}

func TestAcceptCommand(t *testing.T) {
	c := newNetCLI(t, httpapitest.NewNet())
	out := c.ok("accept", httpapitest.InvitePrefix+"fay?name=fay")
	wantIn(t, "accept", out, "added contact fay (did:key:zfay)")
	var ct apiv1.Contact
	c.jsonOf(&ct, "accept", httpapitest.InvitePrefix+"gus", "--name", "gustav")
	if ct.Name != "gustav" || ct.Persona != "did:key:zgus" {
		t.Fatalf("accept --json: %+v", ct)
	}
	c.fails("already accepted", "accept", httpapitest.InvitePrefix+"gus")
	c.fails("invite_expired", "accept", httpapitest.InvitePrefix+"expired")
	c.fails("bad_invite", "accept", "https://example.com/x")
}

func TestContactsCommands(t *testing.T) {
	c := newNetCLI(t, httpapitest.NewNet())
	const carol = "did:key:zCarol"
	out := c.ok("contacts", "add", carol, "carol")
	wantIn(t, "contacts add", out, "name:", "carol", carol)
	c.ok("contacts", "add", "did:key:zDan", "dan")
	c.fails("taken", "contacts", "add", "did:key:zDan2", "dan")

	out = c.ok("contacts")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "carol") {
		t.Fatalf("contacts:\n%s", out)
	}
	wantIn(t, "contacts", lines[1], carol, "no")

	c.ok("contacts", "rename", carol, "caz")
	wantIn(t, "contacts show", c.ok("contacts", "show", "caz"), carol, "blocked:")
	var ct apiv1.Contact
	c.jsonOf(&ct, "contacts", "show", carol)
	if ct.Name != "caz" {
		t.Fatalf("contacts show --json: %+v", ct)
	}
	c.ok("contacts", "rm", "caz")
	var l []apiv1.Contact
	c.jsonOf(&l, "contacts")
	if len(l) != 1 || l[0].Name != "dan" {
		t.Fatalf("contacts after rm: %+v", l)
	}
	err := c.fails(`no contact "caz"`, "contacts", "show", "caz")
	if !strings.Contains(err.Error(), "not_found") {
		t.Errorf("show removed: %v", err)
	}
}

func TestBlockCommands(t *testing.T) {
	c := newNetCLI(t, httpapitest.NewNet())
	c.ok("contacts", "add", "did:key:zCarol", "carol")
	wantIn(t, "blocked (none)", c.ok("blocked"), "nothing is blocked")
	wantIn(t, "block", c.ok("block", "carol"), "blocked carol")
	c.ok("block", "/ip4/192.0.2.9/tcp/4001/p2p/12D3KooWMallory")
	out := c.ok("blocked")
	wantIn(t, "blocked", out, "persona", "did:key:zCarol", "peer", "12D3KooWMallory")
	var b apiv1.Blocked
	c.jsonOf(&b, "blocked")
	if len(b.Personas) != 1 || len(b.Peers) != 1 {
		t.Fatalf("blocked --json: %+v", b)
	}
	c.ok("unblock", "did:key:zCarol")
	c.ok("unblock", "12D3KooWMallory")
	c.fails("not blocked", "unblock", "12D3KooWMallory")
	c.jsonOf(&b, "blocked")
	if len(b.Personas)+len(b.Peers) != 0 {
		t.Fatalf("blocked after unblock: %+v", b)
	}
}

func TestNetCommandsWithoutNetwork(t *testing.T) {
	c := newNetCLI(t, nil)
	for _, args := range [][]string{{"net"}, {"peers"}, {"contacts"}, {"invite"}, {"blocked"}} {
		c.fails("network_off", args...)
	}
	// ping stops at once: the answer cannot change.
	out, _, err := c.run("", "ping", "x", "-c", "5", "-i", "1h")
	if err == nil || strings.Count(out, "network_off") != 1 {
		t.Fatalf("ping without a network: %v\n%s", err, out)
	}
}
