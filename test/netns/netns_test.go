package netns

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// TestNAT builds two homes (one NAT of each kind) and a public host, and
// checks what later tests rely on: the NAT rewrites sources, preserves or
// randomises ports as asked, keeps unsolicited inbound traffic out, and
// nothing has a route out of the testbed.
func TestNAT(t *testing.T) {
	n := New(t)
	srv := n.AddPublic("server")
	a := n.AddHome("homeA", PortPreserving)
	b := n.AddHome("homeB", PortRandomising)

	if srv.Addr != "11.0.0.2" || a.Router.Addr != "11.0.0.11" || b.Router.Addr != "11.0.0.12" {
		t.Fatalf("addresses: server %s, routerA %s, routerB %s; want 11.0.0.2, 11.0.0.11, 11.0.0.12",
			srv.Addr, a.Router.Addr, b.Router.Addr)
	}
	if a.Addr != HomeAddr || b.Addr != HomeAddr {
		t.Fatalf("home addresses %s, %s; want %s", a.Addr, b.Addr, HomeAddr)
	}
	// libp2p must take the public segment for the Internet, and homes for
	// private networks.
	for addr, public := range map[string]bool{srv.Addr: true, a.Router.Addr: true, a.Addr: false} {
		if got := manet.IsPublicAddr(ma.StringCast("/ip4/" + addr)); got != public {
			t.Errorf("manet.IsPublicAddr(%s) = %v; want %v", addr, got, public)
		}
	}

	startHelper(t, n, srv, "tcp-server", srv.Addr+":7000")
	startHelper(t, n, srv, "udp-server", srv.Addr+":7001")
	startHelper(t, n, b, "tcp-server", "0.0.0.0:7002")

	t.Run("SourceIsRouterWAN", func(t *testing.T) {
		out, err := runHelper(t, n, a, 10*time.Second, "tcp-dial", srv.Addr+":7000")
		if err != nil {
			t.Fatal(err)
		}
		host := hostOf(t, strings.TrimPrefix(out, "from "))
		if host != a.Router.Addr {
			t.Fatalf("public host saw homeA as %q; want the router's WAN address %s", out, a.Router.Addr)
		}
	})

	ports := []int{40001, 40002, 40003}
	t.Run("PortPreserving", func(t *testing.T) {
		seen := udpObserved(t, n, a, srv.Addr+":7001", ports)
		for _, p := range ports {
			if want := net.JoinHostPort(a.Router.Addr, strconv.Itoa(p)); seen[p] != want {
				t.Errorf("UDP from homeA port %d arrived from %s; want %s", p, seen[p], want)
			}
		}
	})

	t.Run("PortRandomising", func(t *testing.T) {
		seen := udpObserved(t, n, b, srv.Addr+":7001", ports)
		kept := 0
		for _, p := range ports {
			host, port := hostPort(t, seen[p])
			if host != b.Router.Addr {
				t.Errorf("UDP from homeB port %d arrived from %s; want host %s", p, seen[p], b.Router.Addr)
			}
			if port == p {
				kept++
			}
			t.Logf("homeB port %d -> %s", p, seen[p])
		}
		// --random-fully picks from ~28k ports; keeping all three is
		// practically impossible unless the rule is missing.
		if kept == len(ports) {
			t.Fatalf("port-randomising NAT kept all source ports %v", ports)
		}
	})

	t.Run("NoUnsolicitedInbound", func(t *testing.T) {
		// Control: homeB's server answers inside homeB.
		if _, err := runHelper(t, n, b, 10*time.Second, "tcp-dial", HomeAddr+":7002"); err != nil {
			t.Fatalf("homeB cannot reach its own server: %v", err)
		}
		// From another home and from the public segment, routerB's WAN
		// address does not lead to homeB's server.
		for _, from := range []*Host{a, srv} {
			out, err := runHelper(t, n, from, 10*time.Second, "tcp-dial", b.Router.Addr+":7002")
			if err == nil {
				t.Errorf("%s reached homeB's server through routerB (%s): %q", from.Name, b.Router.Addr, out)
			} else if !strings.Contains(err.Error(), "dial tcp4") {
				t.Errorf("%s: want a failed dial, got %v", from.Name, err)
			} else {
				t.Logf("%s -> %s:7002: %v", from.Name, b.Router.Addr, err)
			}
		}
	})

	t.Run("NoRouteOut", func(t *testing.T) {
		// Public hosts and routers have no route beyond 11.0.0.0/24.
		for _, h := range []*Host{srv, a.Router, b.Router} {
			if out, err := runTool("ip", "-n", h.NS, "route", "get", "1.1.1.1"); err == nil {
				t.Errorf("%s has a route to 1.1.1.1: %s", h.Name, out)
			}
		}
		// A home's default route ends at its router, which has none.
		out, err := runHelper(t, n, a, 10*time.Second, "tcp-dial", "1.1.1.1:80")
		if err == nil {
			t.Errorf("homeA reached 1.1.1.1:80: %q", out)
		} else if !strings.Contains(err.Error(), "dial tcp4") {
			t.Errorf("homeA: want a failed dial, got %v", err)
		} else {
			t.Logf("homeA -> 1.1.1.1:80: %v", err)
		}
	})
}

// udpObserved asks the UDP echo at server, from each local port of h, how
// it sees h; it returns port -> "ip:port".
func udpObserved(t *testing.T, n *Net, h *Host, server string, ports []int) map[int]string {
	t.Helper()
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = strconv.Itoa(p)
	}
	out, err := runHelper(t, n, h, 15*time.Second, "udp-dial", server, strings.Join(ps, ","))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("udp-dial output line %q", line)
		}
		p, _ := strconv.Atoi(f[0])
		seen[p] = f[1]
	}
	if len(seen) != len(ports) {
		t.Fatalf("udp-dial answered for %d of %d ports: %q", len(seen), len(ports), out)
	}
	return seen
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	p, err := strconv.Atoi(ps)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return host, p
}

func hostOf(t *testing.T, addr string) string {
	h, _ := hostPort(t, addr)
	return h
}

// TestLAN checks the router-less segment: TCP between its hosts, and a
// multicast packet (the mDNS group and port) from one reaching the other.
func TestLAN(t *testing.T) {
	n := New(t)
	hs := n.AddLAN("lan-a", "lan-b")
	a, b := hs[0], hs[1]
	if a.Addr == b.Addr || manet.IsPublicAddr(ma.StringCast("/ip4/"+a.Addr)) {
		t.Fatalf("LAN addresses %s, %s: want two distinct private ones", a.Addr, b.Addr)
	}

	startHelper(t, n, b, "tcp-server", b.Addr+":7000")
	out, err := runHelper(t, n, a, 10*time.Second, "tcp-dial", b.Addr+":7000")
	if err != nil {
		t.Fatal(err)
	}
	if got := hostOf(t, strings.TrimPrefix(out, "from ")); got != a.Addr {
		t.Fatalf("lan-b saw lan-a as %q; want %s (no NAT on a LAN)", out, a.Addr)
	}

	recv, lines := startHelper(t, n, b, "mcast-recv", "224.0.0.251:5353", "eth0")
	sendCmd := helperCmd(n, a, "mcast-send", "224.0.0.251:5353", "hello-mdns")
	sender, err := n.StartCmd(sendCmd)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Kill(sender)
	line, ok := lines.next(10 * time.Second)
	if !ok {
		t.Fatal("no multicast packet from lan-a reached lan-b in 10s")
	}
	if want := fmt.Sprintf("from %s hello-mdns", a.Addr); line != want {
		t.Fatalf("lan-b got %q; want %q", line, want)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("mcast-recv: %v", err)
	}
}

// TestCleanup checks that Close kills the Net's processes and deletes all
// its namespaces, and that New removes namespaces of dead runs.
func TestCleanup(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		n := New(t)
		n.AddPublic("srv")
		h := n.AddHome("home", PortRandomising)
		n.AddLAN("x", "y")
		p, _ := startHelper(t, n, h, "sleep")
		if got := len(ourNamespaces(t, n.Prefix())); got != 7 {
			t.Fatalf("%d namespaces with prefix %s; want 7 (pub, srv, home-r, home, lan1, x, y)", got, n.Prefix())
		}
		n.Close()
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("process in the home namespace survived Close")
		}
		if left := ourNamespaces(t, n.Prefix()); len(left) != 0 {
			t.Fatalf("namespaces left after Close: %v", left)
		}
		n.Close() // again: nothing to do, no error
	})

	t.Run("Stale", func(t *testing.T) {
		// A PID that has just exited stands for a crashed run.
		c := exec.Command("true")
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		stale := fmt.Sprintf("pn%d-beef-leftover", c.Process.Pid)
		if out, err := runTool("ip", "netns", "add", stale); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Cleanup(func() { runTool("ip", "netns", "del", stale) })
		New(t)
		if left := ourNamespaces(t, stale); len(left) != 0 {
			t.Fatalf("New left the stale namespace %v", left)
		}
	})
}

// ourNamespaces lists the namespaces whose names start with prefix.
func ourNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := runTool("ip", "netns", "list")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			found = append(found, f[0])
		}
	}
	return found
}
