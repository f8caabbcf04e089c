package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/test/netns"
)

// The tests in this file run real `peer up` processes in network
// namespaces (package test/netns): homes behind NAT routers, public peers
// serving as bootstrap, index and relay, and a LAN segment. They skip, with
// the reason, where namespaces are not available (not root, no iptables).

// nsPort is the fixed port every namespaced node listens on (TCP and
// QUIC): each host has its own network stack, so there is no clash.
const nsPort = "4001"

// nsNode is one `peer up` inside a namespace.
type nsNode struct {
	t       *testing.T
	n       *netns.Net
	h       *netns.Host
	data    string
	proc    *netns.Proc
	log     *syncBuffer
	persona string
	device  string // libp2p peer ID
}

// startNS starts `peer up` in h with a fresh data directory; the network
// settings come from extra (PEER_NETWORK_… variables), on top of listening
// on every address of the host at nsPort with mDNS and UPnP off.
func startNS(t *testing.T, n *netns.Net, h *netns.Host, extra ...string) *nsNode {
	t.Helper()
	x := &nsNode{t: t, n: n, h: h, data: t.TempDir(), log: &syncBuffer{}}
	x.start(extra...)
	return x
}

func (x *nsNode) start(extra ...string) {
	t := x.t
	t.Helper()
	cmd := x.n.Command(x.h, peerBin, "up", "--data", x.data, "--api-listen", "127.0.0.1:0")
	cmd.Env = env(append([]string{
		"PEER_NETWORK_LISTEN=/ip4/0.0.0.0/tcp/" + nsPort + ",/ip4/0.0.0.0/udp/" + nsPort + "/quic-v1",
		"PEER_NETWORK_MDNS=false",
		"PEER_NETWORK_NAT_PORT_MAP=false",
		"PEER_LOG_LEVEL=info",
		"GOLOG_LOG_LEVEL=p2p-holepunch=debug",
	}, extra...)...)
	cmd.Stdout, cmd.Stderr = x.log, x.log
	p, err := x.n.StartCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	x.proc = p
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", x.h.Name, tail(x.log.String(), 100))
		}
	})
	var id apiv1.Identity
	awaitNS(t, 20*time.Second, x.h.Name+" API up", func() error {
		select {
		case <-p.Done():
			t.Fatalf("peer up in %s exited: %v\n%s", x.h.Name, p.Wait(), x.log)
		default:
		}
		return x.cliJSON(&id, "id")
	})
	x.persona, x.device = id.Persona.ID, id.Device.PeerID
	t.Logf("%s (%s): persona %s, device %s", x.h.Name, x.h.Addr, x.persona, x.device)
}

// cli runs the peer CLI against the node, inside its namespace.
func (x *nsNode) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := x.n.Command(x.h, peerBin, append([]string{"--data", x.data}, args...)...)
	cmd.Env = env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("peer %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		}
		return out.String(), nil
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("peer %s: no answer within 60 s", strings.Join(args, " "))
	}
}

func (x *nsNode) cliJSON(v any, args ...string) error {
	out, err := x.cli(append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("peer %s: %v: %q", strings.Join(args, " "), err, out)
	}
	return nil
}

func (x *nsNode) net() apiv1.NetStatus {
	x.t.Helper()
	var st apiv1.NetStatus
	if err := x.cliJSON(&st, "net"); err != nil {
		x.t.Fatal(err)
	}
	return st
}

// ping pings target once and returns the result.
func (x *nsNode) ping(target string) (apiv1.PingResult, error) {
	var rs []apiv1.PingResult
	if err := x.cliJSON(&rs, "ping", "-c", "1", target); err != nil {
		return apiv1.PingResult{}, err
	}
	if len(rs) == 0 {
		return apiv1.PingResult{}, fmt.Errorf("ping %s: no result", target)
	}
	return rs[0], nil
}

// connsTo returns x's connections to peer p.
func connsTo(st apiv1.NetStatus, p string) []apiv1.Conn {
	var out []apiv1.Conn
	for _, c := range st.Conns {
		if c.PeerID == p {
			out = append(out, c)
		}
	}
	return out
}

// awaitNS polls f every 500 ms until it returns nil, failing the test with
// f's last error after timeout.
func awaitNS(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		err := f()
		if err == nil {
			t.Logf("%s after %v", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// publicInfra starts two public peers, each a DHT server, index and relay
// for strangers, the second bootstrapped from the first.
func publicInfra(t *testing.T, n *netns.Net, tr transports) (p1, p2 *nsNode) {
	t.Helper()
	infra := []string{
		"PEER_NETWORK_REACHABILITY=public",
		"PEER_NETWORK_DHT=server",
		"PEER_NETWORK_INDEX=true",
		"PEER_NETWORK_RELAY_SERVICE=true",
		"PEER_NETWORK_RELAY_STRANGERS=true",
	}
	p1 = startNS(t, n, n.AddPublic("pub1"), infra...)
	p2 = startNS(t, n, n.AddPublic("pub2"), append(infra, "PEER_NETWORK_BOOTSTRAP="+strings.Join(p1.addrs(tr), ","))...)
	return p1, p2
}

// transports selects which of a public peer's addresses homes are given.
type transports int

const (
	tcpAndQUIC transports = iota // as a real configuration would: QUIC is preferred
	tcpOnly
)

// addrs are the node's multiaddrs on its segment, with /p2p/.
func (x *nsNode) addrs(tr transports) []string {
	out := []string{"/ip4/" + x.h.Addr + "/tcp/" + nsPort + "/p2p/" + x.device}
	if tr == tcpAndQUIC {
		out = append(out, "/ip4/"+x.h.Addr+"/udp/"+nsPort+"/quic-v1/p2p/"+x.device)
	}
	return out
}

// homeEnv configures a home node to bootstrap from the public peers and
// hold relay reservations on them; with indexes, also to use them as index
// peers.
func homeEnv(tr transports, indexes bool, pubs ...*nsNode) []string {
	var addrs []string
	for _, p := range pubs {
		addrs = append(addrs, p.addrs(tr)...)
	}
	list := strings.Join(addrs, ",")
	env := []string{"PEER_NETWORK_BOOTSTRAP=" + list, "PEER_NETWORK_RELAYS=" + list}
	if indexes {
		env = append(env, "PEER_NETWORK_INDEXES="+list)
	}
	return env
}

// awaitRelayReady waits until x holds reservations on want relays and
// advertises circuit addresses: anyone who resolves it can reach it.
func (x *nsNode) awaitRelayReady(t *testing.T, want int) {
	t.Helper()
	awaitNS(t, 90*time.Second, x.h.Name+" reachable through relays", func() error {
		st := x.net()
		if len(st.Relays) < want || !slices.ContainsFunc(st.Addrs, func(a string) bool { return strings.Contains(a, "/p2p-circuit") }) {
			return fmt.Errorf("reachability %s, relays %v, addrs %v", st.Reachability, st.Relays, st.Addrs)
		}
		if st.Reachability != "private" {
			return fmt.Errorf("reachability %s, want private (AutoNAT behind a NAT)", st.Reachability)
		}
		return nil
	})
}

// awaitPing pings target from x until an answer comes.
func (x *nsNode) awaitPing(t *testing.T, target string, timeout time.Duration) apiv1.PingResult {
	t.Helper()
	var r apiv1.PingResult
	awaitNS(t, timeout, x.h.Name+" pings "+target, func() (err error) {
		r, err = x.ping(target)
		if err != nil {
			t.Logf("%v", err)
		}
		return err
	})
	t.Logf("ping: %.2f ms, relayed %v, found through %s", r.RTTMs, r.Relayed, r.Source)
	return r
}

// TestNetnsHolePunch: two homes behind port-preserving NATs find each
// other by persona ID alone (DHT and index peers on the public segment),
// connect through a relay and then directly, by hole punching.
func TestNetnsHolePunch(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   transports
		want string // transport of the direct connection
	}{
		{"quic", tcpAndQUIC, "quic"},
		{"tcp", tcpOnly, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := netns.New(t)
			p1, p2 := publicInfra(t, n, tc.tr)
			a := startNS(t, n, n.AddHome("a", netns.PortPreserving), homeEnv(tc.tr, true, p1, p2)...)
			b := startNS(t, n, n.AddHome("b", netns.PortPreserving), homeEnv(tc.tr, true, p1, p2)...)
			a.awaitRelayReady(t, 2)
			b.awaitRelayReady(t, 2)

			a.awaitPing(t, b.persona, 60*time.Second)
			var direct apiv1.Conn
			awaitNS(t, 60*time.Second, "direct connection a→b", func() error {
				st := a.net()
				cs := connsTo(st, b.device)
				for _, c := range cs {
					if !c.Relayed {
						direct = c
						return nil
					}
				}
				return fmt.Errorf("connections %+v; hole punch %+v", cs, st.HolePunch)
			})
			if direct.Transport != tc.want || !strings.HasPrefix(direct.Addr, "/ip4/"+b.h.Router.Addr+"/") {
				t.Errorf("direct connection %+v: want %s to b's router %s", direct, tc.want, b.h.Router.Addr)
			}
			if hp := b.net().HolePunch; hp.Succeeded+a.net().HolePunch.Succeeded == 0 {
				t.Errorf("direct connection but no hole punch counted: %+v", hp)
			}
			if r := a.awaitPing(t, b.persona, 30*time.Second); r.Relayed {
				t.Errorf("ping after the hole punch went through a relay: %+v", r)
			}
		})
	}
}

// TestNetnsRelayFailover: behind port-randomising NATs (--random-fully)
// hole punching cannot work; A still reaches B (found through the DHT
// alone) through a relay, and when that relay dies, through the other.
func TestNetnsRelayFailover(t *testing.T) {
	t.Parallel()
	n := netns.New(t)
	p1, p2 := publicInfra(t, n, tcpAndQUIC)
	a := startNS(t, n, n.AddHome("a", netns.PortRandomising), homeEnv(tcpAndQUIC, false, p1, p2)...)
	b := startNS(t, n, n.AddHome("b", netns.PortRandomising), homeEnv(tcpAndQUIC, false, p1, p2)...)
	a.awaitRelayReady(t, 2)
	b.awaitRelayReady(t, 2)

	if r := a.awaitPing(t, b.persona, 60*time.Second); !r.Relayed || r.Source != "dht" {
		t.Errorf("first ping %+v: want relayed, found through the DHT", r)
	}
	// Hole punching is tried and fails; the connection stays relayed.
	awaitNS(t, 90*time.Second, "a failed hole punch", func() error {
		ha, hb := a.net().HolePunch, b.net().HolePunch
		if ha.Succeeded+hb.Succeeded > 0 {
			t.Fatalf("hole punch succeeded through port-randomising NATs: a %+v, b %+v", ha, hb)
		}
		if ha.Failed+hb.Failed == 0 {
			return fmt.Errorf("no hole punch finished yet: a %+v, b %+v", ha, hb)
		}
		return nil
	})
	relayOf := func() *nsNode {
		t.Helper()
		cs := connsTo(a.net(), b.device)
		if len(cs) == 0 {
			t.Fatal("a has no connection to b")
		}
		for _, c := range cs {
			if !c.Relayed {
				t.Fatalf("direct connection through port-randomising NATs: %+v", c)
			}
		}
		for _, p := range []*nsNode{p1, p2} {
			if strings.Contains(cs[0].Addr, "/p2p/"+p.device+"/p2p-circuit") {
				return p
			}
		}
		t.Fatalf("connection %+v is through neither relay", cs[0])
		return nil
	}
	if r := a.awaitPing(t, b.persona, 30*time.Second); !r.Relayed {
		t.Errorf("ping %+v: want relayed", r)
	}
	first := relayOf()
	t.Logf("a↔b through %s; killing it", first.h.Name)
	n.Kill(first.proc)

	if r := a.awaitPing(t, b.persona, 60*time.Second); !r.Relayed {
		t.Errorf("ping after the relay died %+v: want relayed", r)
	}
	if second := relayOf(); second == first {
		t.Fatalf("still through the killed relay %s", first.h.Name)
	}
}

// TestNetnsMDNS: two nodes on one LAN segment, with no bootstrap, index or
// relay configured, find each other by mDNS and ping by persona ID.
func TestNetnsMDNS(t *testing.T) {
	t.Parallel()
	n := netns.New(t)
	hs := n.AddLAN("a", "b")
	a := startNS(t, n, hs[0], "PEER_NETWORK_MDNS=true")
	b := startNS(t, n, hs[1], "PEER_NETWORK_MDNS=true")
	r := a.awaitPing(t, b.persona, 60*time.Second)
	if r.Relayed || r.PeerID != b.device {
		t.Errorf("ping %+v: want direct to %s", r, b.device)
	}
	if r := b.awaitPing(t, a.persona, 30*time.Second); r.Relayed {
		t.Errorf("ping back %+v: want direct", r)
	}
}
