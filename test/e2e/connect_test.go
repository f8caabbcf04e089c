package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestConnectToBlockingPeer: B blocks A's persona; `peer connect` on A to
// B, by peer ID, by its TCP address and by its QUIC address, fails every
// time with a message saying B refused or blocked us (the bug this guards
// reported "connected … direct" on 2 of 3 tries). Once B lifts the block,
// the same command connects.
func TestConnectToBlockingPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	noDHT := "PEER_NETWORK_DHT=off"
	a := upShare(t, t.TempDir(), noDHT)
	b := upShare(t, t.TempDir(), noDHT)

	// B accepts A's invite: each is the other's contact and A knows B's
	// addresses.
	inv, err := a.c.CreateInvite(ctx, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.AcceptInvite(ctx, inv.Link, "alice"); err != nil {
		t.Fatal(err)
	}
	st, err := b.c.Net(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tcp, quic string
	for _, ad := range st.ListenAddrs {
		switch {
		case strings.Contains(ad, "/quic-v1"):
			quic = ad + "/p2p/" + st.PeerID
		case strings.Contains(ad, "/tcp/"):
			tcp = ad + "/p2p/" + st.PeerID
		}
	}
	if tcp == "" || quic == "" {
		t.Fatalf("B listens on %v, want TCP and QUIC", st.ListenAddrs)
	}

	connect := func(target string) result {
		return run(t, "", nil, "connect", "--data", a.data, target)
	}
	// B blocks A, which closes the connection the invite left open.
	if r := run(t, "", nil, "block", "--data", b.data, "alice"); r.code != 0 {
		t.Fatalf("peer block alice: %+v", r)
	}
	for _, target := range []string{st.PeerID, tcp, quic} {
		for try := range 3 {
			r := connect(target)
			msg := r.stdout + r.stderr
			if r.code == 0 || !strings.Contains(msg, "refused the connection or blocked us") {
				t.Fatalf("try %d of peer connect %s to a peer that blocks us: exit %d, %q; want a failure saying it refused or blocked us",
					try+1, target, r.code, msg)
			}
			if try == 0 {
				t.Logf("peer connect %s: exit %d: %s", target, r.code, strings.TrimSpace(msg))
			}
		}
	}

	if r := run(t, "", nil, "unblock", "--data", b.data, "alice"); r.code != 0 {
		t.Fatalf("peer unblock alice: %+v", r)
	}
	if r := connect(tcp); r.code != 0 || !strings.Contains(r.stdout, "connected to "+st.PeerID) {
		t.Fatalf("peer connect to B after the block was lifted: %+v", r)
	}
}
