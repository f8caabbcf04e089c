// Package netns builds throw-away network topologies in Linux network
// namespaces, so end-to-end tests can run real peer processes behind real
// NAT routers, on a "public" segment, or on a shared LAN.
//
// # Topology
//
// One [Net] is one testbed. It always has a "public" segment: a bridge br0
// in its own namespace, with addresses from 11.0.0.0/24. That range is
// globally routable, so go-multiaddr's manet.IsPublicAddr counts it as
// public (which libp2p's AutoNAT, hole punching and relays require), yet it
// exists only inside the test:
//
//	homeA ──veth── routerA ─┐                   ┌─ routerB ──veth── homeB
//	192.168.1.2  192.168.1.1 (LAN)              │ 192.168.1.1    192.168.1.2
//	             11.0.0.11 (WAN) └─ br0 in "pub" ┘ 11.0.0.12 (WAN)
//	                public hosts 11.0.0.2, 11.0.0.3, ... on br0
//
// The parts:
//
//   - [Net.AddPublic] adds a host on the public segment. Public hosts get
//     11.0.0.2 to 11.0.0.10, then 11.0.0.100 upwards; routers' WAN
//     addresses are 11.0.0.11 upwards. Public hosts have no default route:
//     the /24 is the whole world.
//   - [Net.AddHome] adds a router namespace (WAN side on the public segment,
//     ip_forward on, MASQUERADE on its WAN interface, unsolicited inbound
//     packets dropped silently, whether to be forwarded or for the router) and a home host behind it
//     with a default route via the router. Every home uses 192.168.1.0/24,
//     like real homes do. [PortPreserving] is plain MASQUERADE (the NAT
//     keeps the source port when it can); [PortRandomising] adds
//     --random-fully (a new random port per mapping: "symmetric-like").
//   - [Net.AddLAN] adds hosts on one private segment (10.77.N.0/24, a bridge
//     with multicast snooping off in its own namespace) with no router: for
//     mDNS tests. Interfaces carry MULTICAST and hosts on the public segment
//     and on LANs have a route for 224.0.0.0/4 on eth0.
//
// In every host the interface is eth0 and lo is up.
//
// # Rules
//
//   - Isolation: no namespace is ever linked to the root namespace or to the
//     machine's uplink, and no namespace has a route out. Interfaces are
//     created inside the test's namespaces (never in the root namespace),
//     so names cannot clash with the machine's.
//   - Names: every namespace of a Net is called pn<pid>-<4 hex>-<name>, where
//     pid is the test process's PID. [New] first deletes namespaces of the
//     form pn<pid>-… whose PID is no longer running: the leftovers of runs
//     that were killed (test timeout, SIGKILL) before their cleanup ran.
//   - Cleanup: t.Cleanup kills every process started in the Net's
//     namespaces (the tracked process groups, then whatever `ip netns pids`
//     still reports) and deletes the namespaces, which removes their veths
//     and bridges. SIGINT and SIGTERM run the same cleanup for all live Nets
//     before the process dies. Processes started by the Net also get
//     Pdeathsig=SIGKILL, so they die with the test binary.
//   - Privileges: namespaces need root (CI runs as root), iproute2 and
//     iptables. [New] skips the test, with the reason from [Available],
//     when they are missing — unless PEER_NETNS_REQUIRED is set (CI should set it),
//     in which case it fails the test instead.
//   - Every `ip`/`iptables` failure fails the test with the command and its
//     output. Add* methods must be called from the test goroutine.
//
// # Use from end-to-end tests
//
//	n := netns.New(t)
//	relay := n.AddPublic("relay")
//	a := n.AddHome("a", netns.PortPreserving)
//	b := n.AddHome("b", netns.PortRandomising)
//	cmd := n.Command(relay, peerBin, "up", "--listen", "/ip4/"+relay.Addr+"/tcp/4001")
//	cmd.Env, cmd.Stdout = ..., ...
//	p, err := n.StartCmd(cmd) // tracked; killed at cleanup
//	...
//	n.Kill(p) // e.g. take the relay away mid-test
//
// Programs run with `ip netns exec`, so they see the machine's file system
// (binaries and temp dirs built by the test work as usual) but only the
// namespace's network.
//
// This package is for tests only; nothing under internal/ or cmd/ may
// import it.
package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NAT selects how a home router translates source ports.
type NAT int

const (
	// PortPreserving is plain MASQUERADE: a mapping keeps the inside
	// source port unless another mapping already holds it.
	PortPreserving NAT = iota
	// PortRandomising is MASQUERADE --random-fully: each mapping gets a
	// random outside port, so the port a peer observes says nothing about
	// the port used toward anyone else.
	PortRandomising
)

func (n NAT) String() string {
	switch n {
	case PortPreserving:
		return "port-preserving"
	case PortRandomising:
		return "port-randomising"
	}
	return "NAT(" + strconv.Itoa(int(n)) + ")"
}

// Addresses of the topology.
const (
	PublicNet = "11.0.0.0/24"    // the public segment
	HomeNet   = "192.168.1.0/24" // every home's LAN
	HomeAddr  = "192.168.1.2"    // the home host's address
	RouterLAN = "192.168.1.1"    // a router's LAN-side address
)

// Host is one namespace with one address on eth0.
type Host struct {
	Name string // as given to Add*
	NS   string // namespace name, for `ip netns exec`
	Addr string // IPv4 address on eth0 (for a router: its WAN address)

	// Router is, for a home host, its NAT router (whose Addr is the home's
	// public address); nil otherwise.
	Router *Host
	// NAT is, for a home host or a router, the router's port behaviour.
	NAT NAT
}

// Net is one testbed. Create it with [New].
type Net struct {
	t      testing.TB
	prefix string

	mu        sync.Mutex
	closed    bool
	ns        []string // created namespaces, in creation order
	names     map[string]bool
	procs     map[*Proc]bool
	nextPub   int // last octet of the next public host
	nextRtr   int // last octet of the next router WAN address
	nextLAN   int // number of the next LAN segment
	pubPortNo int // next bridge-port number in the public namespace
	pubNS     string
}

// RequiredEnv, when set to a non-empty value, makes [New] fail instead of
// skip where namespaces are unavailable (CI sets it).
const RequiredEnv = "PEER_NETNS_REQUIRED"

var (
	availOnce sync.Once
	availErr  error
)

// Available reports whether testbeds can be built here: nil if we are
// root on Linux, ip, iptables and sh exist, and a namespace with NAT rules
// can be created; otherwise an error saying why.
func Available() error {
	availOnce.Do(func() { availErr = probe() })
	return availErr
}

func probe() error {
	if err := platformOK(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("netns: network namespaces need root (run as root, as CI does)")
	}
	for _, bin := range []string{"ip", "iptables", "sh"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("netns: %s not found (apt-get install -y iproute2 iptables): %v", bin, err)
		}
	}
	name := newPrefix() + "probe"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: `ip netns add` not permitted here: %v: %s", err, bytes.TrimSpace(out))
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	for _, rule := range [][]string{
		{"-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE"},
		{"-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE", "--random-fully"},
		{"-A", "FORWARD", "-i", "lo", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
	} {
		args := append([]string{"netns", "exec", name, "iptables"}, rule...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("netns: iptables does not work in a namespace (ip %s): %v: %s",
				strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// newPrefix returns pn<pid>-<4 hex>-, unique per Net.
func newPrefix() string {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("pn%d-%s-", os.Getpid(), hex.EncodeToString(b[:]))
}

// ourName matches the namespaces of this package; group 1 is the PID of
// the process that created them.
var ourName = regexp.MustCompile(`^pn([0-9]+)-[0-9a-f]{4}-`)

// New creates an empty testbed (with its public segment) and arranges its
// deletion at t.Cleanup. It skips t when [Available] fails, or fails t if
// PEER_NETNS_REQUIRED is set.
func New(t testing.TB) *Net {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequiredEnv) != "" {
			t.Fatalf("%v (and %s is set)", err, RequiredEnv)
		}
		t.Skip(err)
	}
	removeStale(t)
	n := &Net{
		t:       t,
		prefix:  newPrefix(),
		names:   map[string]bool{},
		procs:   map[*Proc]bool{},
		nextPub: 2,
		nextRtr: 11,
		nextLAN: 1,
	}
	register(n)
	t.Cleanup(n.Close)

	n.pubNS = n.addNS(t, "pub")
	n.ip(t, "-n", n.pubNS, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.ip(t, "-n", n.pubNS, "link", "set", "br0", "up")
	return n
}

// Prefix is the prefix of all of this Net's namespace names.
func (n *Net) Prefix() string { return n.prefix }

// Namespaces lists the namespaces this Net created and has not deleted.
func (n *Net) Namespaces() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.ns...)
}

// AddPublic adds a host on the public segment, with the next free address
// of 11.0.0.0/24 and no route beyond it.
func (n *Net) AddPublic(name string) *Host {
	t := n.t
	t.Helper()
	n.mu.Lock()
	octet := n.nextPub
	n.nextPub++
	if n.nextPub == 11 {
		n.nextPub = 100 // 11–99 are the routers'
	}
	n.mu.Unlock()
	if octet > 254 {
		t.Fatalf("netns: public segment full, cannot add %q", name)
	}
	h := &Host{Name: name, Addr: fmt.Sprintf("11.0.0.%d", octet)}
	h.NS = n.addNS(t, name)
	n.plugPublic(t, h.NS, "eth0", h.Addr)
	n.ip(t, "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "eth0")
	return h
}

// AddHome adds a NAT router with the given behaviour and a home host
// behind it; it returns the home host (its Router field is the router).
// The router namespace is named <name>-r.
func (n *Net) AddHome(name string, nat NAT) *Host {
	t := n.t
	t.Helper()
	if nat != PortPreserving && nat != PortRandomising {
		t.Fatalf("netns: AddHome(%q): unknown NAT %d", name, nat)
	}
	n.mu.Lock()
	octet := n.nextRtr
	n.nextRtr++
	n.mu.Unlock()
	if octet > 99 {
		t.Fatalf("netns: too many routers, cannot add %q", name)
	}
	rtr := &Host{Name: name + "-r", Addr: fmt.Sprintf("11.0.0.%d", octet), NAT: nat}
	home := &Host{Name: name, Addr: HomeAddr, Router: rtr, NAT: nat}
	rtr.NS = n.addNS(t, rtr.Name)
	home.NS = n.addNS(t, home.Name)

	// Router: WAN on the public bridge, LAN to the home host.
	n.plugPublic(t, rtr.NS, "wan", rtr.Addr)
	n.ip(t, "-n", rtr.NS, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", home.NS)
	n.ip(t, "-n", rtr.NS, "addr", "add", RouterLAN+"/24", "dev", "lan")
	n.ip(t, "-n", rtr.NS, "link", "set", "lan", "up")
	n.ip(t, "netns", "exec", rtr.NS, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	masq := []string{"-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"}
	if nat == PortRandomising {
		masq = append(masq, "--random-fully")
	}
	n.iptables(t, rtr.NS, masq...)
	// Like a home router: replies come in, unsolicited connections do not,
	// and unsolicited packets to the router itself are dropped silently
	// (no RST or ICMP "port unreachable" that would abort a peer's half of
	// a hole punch arriving before our own half went out).
	n.iptables(t, rtr.NS, "-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
	n.iptables(t, rtr.NS, "-A", "FORWARD", "-i", "wan", "-j", "DROP")
	n.iptables(t, rtr.NS, "-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
	n.iptables(t, rtr.NS, "-A", "INPUT", "-i", "wan", "-j", "DROP")

	// Home host: default route via the router.
	n.ip(t, "-n", home.NS, "addr", "add", HomeAddr+"/24", "dev", "eth0")
	n.ip(t, "-n", home.NS, "link", "set", "eth0", "up")
	n.ip(t, "-n", home.NS, "route", "add", "default", "via", RouterLAN)
	return home
}

// AddLAN adds hosts on one new private segment with no router: the k-th
// LAN of a Net is 10.77.k.0/24 and its hosts get 10.77.k.2, .3, ... .
func (n *Net) AddLAN(names ...string) []*Host {
	t := n.t
	t.Helper()
	if len(names) == 0 || len(names) > 250 {
		t.Fatalf("netns: AddLAN needs 1 to 250 hosts, got %d", len(names))
	}
	n.mu.Lock()
	k := n.nextLAN
	n.nextLAN++
	n.mu.Unlock()
	if k > 254 {
		t.Fatalf("netns: too many LANs")
	}
	br := n.addNS(t, fmt.Sprintf("lan%d", k))
	n.ip(t, "-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.ip(t, "-n", br, "link", "set", "br0", "up")
	hosts := make([]*Host, len(names))
	for i, name := range names {
		h := &Host{Name: name, Addr: fmt.Sprintf("10.77.%d.%d", k, i+2)}
		h.NS = n.addNS(t, name)
		port := fmt.Sprintf("p%d", i)
		n.ip(t, "-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		n.ip(t, "-n", br, "link", "set", port, "master", "br0", "up")
		n.ip(t, "-n", h.NS, "addr", "add", h.Addr+"/24", "dev", "eth0")
		n.ip(t, "-n", h.NS, "link", "set", "eth0", "multicast", "on", "up")
		n.ip(t, "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "eth0")
		hosts[i] = h
	}
	return hosts
}

// plugPublic creates a veth from ns (named ifname there, with addr/24) to
// a port of the public bridge.
func (n *Net) plugPublic(t testing.TB, ns, ifname, addr string) {
	t.Helper()
	n.mu.Lock()
	port := fmt.Sprintf("p%d", n.pubPortNo)
	n.pubPortNo++
	n.mu.Unlock()
	n.ip(t, "-n", ns, "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", n.pubNS)
	n.ip(t, "-n", n.pubNS, "link", "set", port, "master", "br0", "up")
	n.ip(t, "-n", ns, "addr", "add", addr+"/24", "dev", ifname)
	n.ip(t, "-n", ns, "link", "set", ifname, "multicast", "on", "up")
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}$`)

// addNS creates the namespace prefix+name with lo up.
func (n *Net) addNS(t testing.TB, name string) string {
	t.Helper()
	if !validName.MatchString(name) {
		t.Fatalf("netns: bad host name %q (want letters, digits, _ . -; at most 40)", name)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		t.Fatalf("netns: Add after Close")
	}
	if n.names[name] {
		n.mu.Unlock()
		t.Fatalf("netns: name %q already used in this testbed (routers are <home>-r, LAN bridges lanN, the public bridge pub)", name)
	}
	n.names[name] = true
	ns := n.prefix + name
	n.mu.Unlock()

	n.ip(t, "netns", "add", ns)
	n.mu.Lock()
	n.ns = append(n.ns, ns)
	n.mu.Unlock()
	n.ip(t, "-n", ns, "link", "set", "lo", "up")
	return ns
}

// ip runs `ip args...` and fails t with the command and output on error.
func (n *Net) ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := runTool("ip", args...); err != nil {
		t.Fatalf("netns: %v\n%s", err, out)
	}
}

// iptables runs iptables inside ns.
func (n *Net) iptables(t testing.TB, ns string, args ...string) {
	t.Helper()
	n.ip(t, append([]string{"netns", "exec", ns, "iptables"}, args...)...)
}

// runTool runs a setup command with a deadline; the error names the command.
func runTool(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.Bytes(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return out.Bytes(), nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s %s: no answer in 30s", name, strings.Join(args, " "))
	}
}

// Close kills every process in the Net's namespaces and deletes them. It
// is registered with t.Cleanup by [New]; calling it again does nothing.
func (n *Net) Close() {
	for _, err := range n.close() {
		n.t.Errorf("netns: cleanup: %v", err)
	}
	unregister(n)
}

// close is Close without reporting, safe from the signal handler.
func (n *Net) close() []error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	procs := make([]*Proc, 0, len(n.procs))
	for p := range n.procs {
		procs = append(procs, p)
	}
	nss := append([]string(nil), n.ns...)
	n.mu.Unlock()

	for _, p := range procs {
		p.Kill()
	}
	var errs []error
	for i := len(nss) - 1; i >= 0; i-- {
		if err := deleteNS(nss[i]); err != nil {
			errs = append(errs, err)
		}
	}
	n.mu.Lock()
	n.ns = nil
	n.mu.Unlock()
	return errs
}

// deleteNS kills whatever still runs in ns, then deletes it.
func deleteNS(ns string) error {
	killNSProcs(ns)
	out, err := runTool("ip", "netns", "del", ns)
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// killNSProcs SIGKILLs every process in ns (a namespace lives on while a
// process is in it, even after `ip netns del`) and waits briefly for them
// to go.
func killNSProcs(ns string) {
	for try := 0; try < 50; try++ {
		out, err := runTool("ip", "netns", "pids", ns)
		if err != nil {
			return
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeStale deletes namespaces of this package left by processes that
// no longer exist.
func removeStale(t testing.TB) {
	t.Helper()
	out, err := runTool("ip", "netns", "list")
	if err != nil {
		t.Fatalf("netns: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := ourName.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || processExists(pid) {
			continue
		}
		if err := deleteNS(f[0]); err != nil {
			t.Logf("netns: removing stale namespace: %v", err)
		} else {
			t.Logf("netns: removed stale namespace %s (pid %d is gone)", f[0], pid)
		}
	}
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Live Nets, for the signal handler.
var (
	liveMu   sync.Mutex
	live     = map[*Net]bool{}
	sigOnce  sync.Once
	sigCh    = make(chan os.Signal, 1)
	sigNames = []os.Signal{syscall.SIGINT, syscall.SIGTERM}
)

func register(n *Net) {
	liveMu.Lock()
	live[n] = true
	liveMu.Unlock()
	sigOnce.Do(func() {
		signal.Notify(sigCh, sigNames...)
		go func() {
			sig := <-sigCh
			liveMu.Lock()
			nets := make([]*Net, 0, len(live))
			for n := range live {
				nets = append(nets, n)
			}
			liveMu.Unlock()
			for _, n := range nets {
				for _, err := range n.close() {
					fmt.Fprintln(os.Stderr, "netns: cleanup on", sig, err)
				}
			}
			// Die of the signal, as we would have without the handler.
			signal.Reset(sigNames...)
			if s, ok := sig.(syscall.Signal); ok {
				syscall.Kill(os.Getpid(), s)
			}
			time.Sleep(time.Second)
			os.Exit(2)
		}()
	})
}

func unregister(n *Net) {
	liveMu.Lock()
	delete(live, n)
	liveMu.Unlock()
}
