package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// Busy listen ports.
//
// libp2p's TCP transport binds its listeners with SO_REUSEPORT, so that
// outgoing dials can leave from the listen port: NAT mappings and TCP hole
// punching (DCUtR's simultaneous open) depend on it. The price is that a
// second node on the same machine binds the same TCP port without an error;
// the kernel then deals incoming connections to either process, and the
// swarm of each node refuses to dial the other's address because it is one
// of its own ("dial to self attempted"). QUIC's UDP socket has no
// SO_REUSEPORT, so its bind fails, and the swarm, which succeeds when any
// address does, only logs that: QUIC disappears without a word.
//
// The transport's DisableReuseport switches reuse off for dials and
// listeners together, which would cost hole punching. So New probes each
// listen address first with an exclusive bind (no SO_REUSEPORT), which
// fails with EADDRINUSE while any other socket listens on the port, from
// this process or another. A busy address then moves to port 0 (the kernel
// picks a free one) when Options.ListenFallback is set, each address on its
// own; otherwise New fails with ErrPortBusy instead of sharing the port.
// The probe is closed before libp2p binds: two nodes starting in the same
// instant can still both pass it; that window is milliseconds wide and only
// matters for nodes started together by a script.

// Errors callers branch on.
var (
	// ErrPortBusy: a listen address's port is held by another socket and
	// Options.ListenFallback is off.
	ErrPortBusy = errors.New("p2p: listen port taken by another program (another node on this machine?)")
	// ErrDialSelf: the peer to dial is this host, or addresses given for
	// another peer are this host's own listen addresses (the swarm's "dial
	// to self attempted").
	ErrDialSelf = errors.New("p2p: that address is this node itself " +
		"(two nodes on one machine sharing a listen port? give each node its own port)")
)

// portMove records a listen address moved off a busy port.
type portMove struct {
	want ma.Multiaddr // the address asked for
	err  error        // why its port was refused
}

// checkListen probes the port of every listen address and returns the
// addresses to listen on: busy ones moved to port 0 when fallback is set
// (moves lists them), else an ErrPortBusy error. Addresses without an IP
// and a TCP or UDP port, port 0 and probes that fail for another reason
// (no IPv6 on the machine, an address not on any interface) are left to
// libp2p, which reports or skips them as before.
func checkListen(addrs []ma.Multiaddr, fallback bool) (out []ma.Multiaddr, moves []portMove, err error) {
	out = make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		i, network, hostport, ok := portOf(a)
		if !ok {
			out = append(out, a)
			continue
		}
		perr := probe(network, hostport)
		if !errors.Is(perr, syscall.EADDRINUSE) {
			out = append(out, a)
			continue
		}
		if !fallback {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrPortBusy, a, perr)
		}
		free, err := withPort0(a, i)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, free)
		moves = append(moves, portMove{want: a, err: perr})
	}
	return out, moves, nil
}

// portOf finds the TCP or UDP component of an /ip4 or /ip6 address with a
// port other than 0: its index, the Go network and host:port to probe.
func portOf(a ma.Multiaddr) (i int, network, hostport string, ok bool) {
	if len(a) < 2 {
		return 0, "", "", false
	}
	var family string
	switch a[0].Code() {
	case ma.P_IP4:
		family = "4"
	case ma.P_IP6:
		family = "6"
	default:
		return 0, "", "", false
	}
	switch a[1].Code() {
	case ma.P_TCP:
		network = "tcp" + family
	case ma.P_UDP:
		network = "udp" + family
	default:
		return 0, "", "", false
	}
	if a[1].Value() == "0" {
		return 0, "", "", false
	}
	return 1, network, net.JoinHostPort(a[0].Value(), a[1].Value()), true
}

// probe binds hostport exclusively and lets it go at once.
func probe(network, hostport string) error {
	if strings.HasPrefix(network, "tcp") {
		l, err := net.Listen(network, hostport)
		if err != nil {
			return err
		}
		return l.Close()
	}
	c, err := net.ListenPacket(network, hostport)
	if err != nil {
		return err
	}
	return c.Close()
}

// withPort0 is a with its i-th component's port replaced by 0.
func withPort0(a ma.Multiaddr, i int) (ma.Multiaddr, error) {
	c, err := ma.NewComponent(a[i].Protocol().Name, "0")
	if err != nil {
		return nil, fmt.Errorf("listen address %s: %w", a, err)
	}
	out := append(ma.Multiaddr(nil), a...)
	out[i] = *c
	return out, nil
}

// logListen tells of moved addresses, and of requested ones libp2p did not
// bind (the swarm starts when any address works and reports the rest only
// to libp2p's own logger).
func logListen(log *slog.Logger, want []ma.Multiaddr, moves []portMove, have []ma.Multiaddr) {
	if len(moves) > 0 {
		busy := make([]string, len(moves))
		for i, m := range moves {
			busy[i] = m.want.String()
		}
		log.Warn("listen ports busy (another node on this machine?); using free ports instead",
			"busy", strings.Join(busy, ","), "err", moves[0].err)
	}
	for _, a := range missing(want, have) {
		log.Warn("not listening on a requested address (libp2p could not bind it)", "addr", a.String())
	}
}

// missing returns the addresses of want that no listener in have serves:
// an address with a port must match a listener exactly, one with port 0
// any listener of the same IP and transport.
func missing(want, have []ma.Multiaddr) []ma.Multiaddr {
	used := make([]bool, len(have))
	var out []ma.Multiaddr
	for _, w := range want {
		_, _, _, fixed := portOf(w)
		found := false
		for j, h := range have {
			if !used[j] && (fixed && w.Equal(h) || !fixed && anyPortKey(w) == anyPortKey(h)) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// anyPortKey is a's text with its TCP or UDP port as 0.
func anyPortKey(a ma.Multiaddr) string {
	if i, _, _, ok := portOf(a); ok {
		if z, err := withPort0(a, i); err == nil {
			a = z
		}
	}
	return a.String()
}

// explainDial wraps a dial error that came from dialling ourselves, which
// the swarm reports as "dial to self attempted", with ErrDialSelf.
func explainDial(err error) error {
	if errors.Is(err, swarm.ErrDialToSelf) && !errors.Is(err, ErrDialSelf) {
		return fmt.Errorf("%w: %w", ErrDialSelf, err)
	}
	return err
}
