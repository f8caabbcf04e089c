// Package memnet is an in-memory network of many nodes in one process that
// implements the network port (netport.Network, netport.Watcher and
// netport.Providers), for tests of capability flows without libp2p.
//
// Streams are in-memory pipes with backpressure: each direction buffers at
// most Window bytes, and a writer blocks while the reader does not read.
// The Net has knobs per link (a pair of nodes): one-way latency, a
// bandwidth cap, relayed (limited) links, dropping the connection, and
// partitions of the nodes into groups that cannot reach each other until
// Heal. By default every node can reach every other one.
//
// Every node has an address, the IP its streams report to the other end
// (Stream.RemoteAddr): by default one of its own in 10.0.0.0/8, given in
// the order the nodes are made; SetAddr gives several nodes one address,
// as behind one NAT.
//
// Only tests import it (and test harnesses such as nodetest).
package memnet

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/netport"
)

// Window is how many bytes one direction of a stream buffers (in flight
// plus unread) before the writer blocks.
const Window = 256 << 10

// Net is an in-memory network. Its zero value is not usable; call New.
// Close it (t.Cleanup(net.Close)) to stop every node and goroutine.
type Net struct {
	mu        sync.Mutex
	nodes     map[netport.PeerID]*Node
	links     map[pairKey]*link
	conns     map[pairKey]*conn
	group     map[netport.PeerID]int // partition; nil when whole
	providers map[string][]netport.PeerID
	addrs     map[netport.PeerID]netip.Addr // outlive restarts
	lastAddr  uint32                        // of the default addresses given
	closed    bool
}

// New returns an empty network.
func New() *Net {
	return &Net{
		nodes:     map[netport.PeerID]*Node{},
		links:     map[pairKey]*link{},
		conns:     map[pairKey]*conn{},
		providers: map[string][]netport.PeerID{},
		addrs:     map[netport.PeerID]netip.Addr{},
	}
}

// pairKey names a link: its two ends in order.
type pairKey struct{ lo, hi netport.PeerID }

// key returns the link of a and b and a's side of it (0 or 1).
func key(a, b netport.PeerID) (pairKey, int) {
	if a < b {
		return pairKey{a, b}, 0
	}
	return pairKey{b, a}, 1
}

// link holds the settings and counters of a pair of nodes; it outlives
// the connections between them.
type link struct {
	mu      sync.Mutex
	latency time.Duration
	bw      int64 // bytes per second and direction; 0: no cap
	limited bool
	next    [2]time.Time // per sending side: when the link is free again
	streams [2]int       // opened by each side
	bytes   [2]int64     // written by each side
}

// schedule accounts n bytes written by side at now and returns when they
// reach the other end.
func (l *link) schedule(side, n int, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes[side] += int64(n)
	at := now
	if l.bw > 0 {
		if l.next[side].After(at) {
			at = l.next[side]
		}
		at = at.Add(time.Duration(float64(n) / float64(l.bw) * float64(time.Second)))
		l.next[side] = at
	}
	return at.Add(l.latency)
}

func (l *link) count(side, n int) {
	l.mu.Lock()
	l.bytes[side] += int64(n)
	l.mu.Unlock()
}

func (l *link) delay() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latency
}

func (l *link) isLimited() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limited
}

// linkLocked returns the link of a and b, creating it; n.mu is held.
func (n *Net) linkLocked(a, b netport.PeerID) (*link, int) {
	k, side := key(a, b)
	l := n.links[k]
	if l == nil {
		l = &link{}
		n.links[k] = l
	}
	return l, side
}

func (n *Net) link(a, b netport.PeerID) (*link, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.linkLocked(a, b)
}

// conn is the open connection of a pair of nodes.
type conn struct {
	key     pairKey
	streams map[*pair]struct{} // under Net.mu
}

// Node returns the node named id, creating it. A closed node's ID gets a
// fresh node (a restart). On a closed Net the node returned is closed.
func (n *Net) Node(id netport.PeerID) *Node {
	if id == "" {
		panic("memnet: empty PeerID")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd := n.nodes[id]; nd != nil && !nd.closed {
		return nd
	}
	nd := &Node{
		net: n, id: id,
		handlers: map[netport.ProtocolID]netport.Handler{},
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if n.closed {
		nd.closed = true
		close(nd.done)
		return nd
	}
	n.nodes[id] = nd
	if _, ok := n.addrs[id]; !ok {
		n.lastAddr++
		v := n.lastAddr
		n.addrs[id] = netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
	}
	nd.wg.Go(nd.deliver)
	return nd
}

// SetAddr sets the IP that streams of node id report to the other end
// (netport.Stream.RemoteAddr), from the next stream opened on; several
// nodes may share one, as devices behind one NAT do. It may be called
// before the node is made, and holds across its restarts.
func (n *Net) SetAddr(id netport.PeerID, ip netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs[id] = ip
}

// Addr is the IP of node id's streams (the zero Addr before the node is
// made, unless set).
func (n *Net) Addr(id netport.PeerID) netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs[id]
}

// SetLatency sets the one-way delay between a and b, both directions: data
// arrives d after it was written, a stream opens d after NewStream, a
// connection takes a round trip (2d). It applies to open streams too.
func (n *Net) SetLatency(a, b netport.PeerID, d time.Duration) {
	l, _ := n.link(a, b)
	l.mu.Lock()
	l.latency = d
	l.mu.Unlock()
}

// SetBandwidth caps what a and b send each other at bytesPerSec in each
// direction, shared by all streams between them; 0 removes the cap.
func (n *Net) SetBandwidth(a, b netport.PeerID, bytesPerSec int64) {
	l, _ := n.link(a, b)
	l.mu.Lock()
	l.bw = max(bytesPerSec, 0)
	l.mu.Unlock()
}

// SetLimited marks the link of a and b as relayed (limited): NewStream on
// it fails with netport.ErrLimited unless ctx came from
// netport.AllowLimited, and connection events say Relayed, as do the
// RemoteAddr of streams opened on it (with the other node's own IP:
// memnet has no relay nodes). NewStream sees the change at once; events
// and streams already open keep what they said.
func (n *Net) SetLimited(a, b netport.PeerID, limited bool) {
	l, _ := n.link(a, b)
	l.mu.Lock()
	l.limited = limited
	l.mu.Unlock()
}

// DropLink closes the connection between a and b, if any: its streams are
// reset and both nodes' watchers see the disconnection. The next
// NewStream or Connect dials again.
func (n *Net) DropLink(a, b netport.PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k, _ := key(a, b)
	if c := n.conns[k]; c != nil {
		n.dropLocked(c, "link dropped")
	}
}

// Partition splits the nodes into groups that cannot reach each other:
// connections across groups are closed (their streams reset) and new ones
// fail with netport.ErrUnreachable. Nodes named in no group form one more
// group together. It replaces any earlier partition.
func (n *Net) Partition(groups ...[]netport.PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = map[netport.PeerID]int{}
	for i, g := range groups {
		for _, id := range g {
			n.group[id] = i + 1
		}
	}
	for k, c := range n.conns {
		if n.group[k.lo] != n.group[k.hi] {
			n.dropLocked(c, "partitioned")
		}
	}
}

// Heal ends the partition; nodes connect again on their next dial.
func (n *Net) Heal() {
	n.mu.Lock()
	n.group = nil
	n.mu.Unlock()
}

// Streams is how many streams a has opened to b.
func (n *Net) Streams(a, b netport.PeerID) int {
	l, side := n.link(a, b)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.streams[side]
}

// BytesSent is how many bytes a has written on streams with b.
func (n *Net) BytesSent(a, b netport.PeerID) int64 {
	l, side := n.link(a, b)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes[side]
}

// Close closes every node: all streams are reset, handlers and watchers
// are waited for. Nodes made afterwards are closed. It must not be called
// from a handler or a watcher.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	for _, c := range n.conns {
		n.dropLocked(c, "network closed")
	}
	nodes := make([]*Node, 0, len(n.nodes))
	for _, nd := range n.nodes {
		nodes = append(nodes, nd)
	}
	n.mu.Unlock()
	for _, nd := range nodes {
		nd.Close()
	}
}

// reachableLocked says why from cannot connect to to, or nil.
func (n *Net) reachableLocked(from *Node, to netport.PeerID) error {
	switch {
	case n.closed || from.closed:
		return fmt.Errorf("memnet: %s: %w", from.id, netport.ErrClosed)
	case to == from.id:
		return fmt.Errorf("memnet: %s: dial to self: %w", to, netport.ErrUnreachable)
	}
	if nd := n.nodes[to]; nd == nil || nd.closed {
		return fmt.Errorf("memnet: %s: no such node: %w", to, netport.ErrUnreachable)
	}
	if n.group != nil && n.group[from.id] != n.group[to] {
		return fmt.Errorf("memnet: %s: partitioned from %s: %w", to, from.id, netport.ErrUnreachable)
	}
	return nil
}

// dial returns the connection of from and to, making one if need be.
func (n *Net) dial(ctx context.Context, from *Node, to netport.PeerID) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memnet: dial %s: %w", to, err)
	}
	k, _ := key(from.id, to)
	n.mu.Lock()
	if c := n.conns[k]; c != nil && !from.closed {
		n.mu.Unlock()
		return c, nil
	}
	if err := n.reachableLocked(from, to); err != nil {
		n.mu.Unlock()
		return nil, err
	}
	l, _ := n.linkLocked(from.id, to)
	n.mu.Unlock()

	if err := sleep(ctx, 2*l.delay()); err != nil {
		return nil, fmt.Errorf("memnet: dial %s: %w", to, err)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.reachableLocked(from, to); err != nil {
		return nil, err
	}
	if c := n.conns[k]; c != nil {
		return c, nil
	}
	c := &conn{key: k, streams: map[*pair]struct{}{}}
	n.conns[k] = c
	relayed := l.isLimited()
	n.nodes[k.lo].emit(netport.Event{Peer: k.hi, Connected: true, Relayed: relayed, Addr: addr(k.hi)})
	n.nodes[k.hi].emit(netport.Event{Peer: k.lo, Connected: true, Relayed: relayed, Addr: addr(k.lo)})
	return c, nil
}

// dropLocked closes c: resets its streams and tells both ends.
func (n *Net) dropLocked(c *conn, why string) {
	if n.conns[c.key] != c {
		return
	}
	delete(n.conns, c.key)
	err := fmt.Errorf("memnet: connection closed (%s): %w", why, netport.ErrReset)
	for p := range c.streams {
		p.pipes[0].reset(err)
		p.pipes[1].reset(err)
	}
	c.streams = nil
	for _, e := range []struct{ at, peer netport.PeerID }{{c.key.lo, c.key.hi}, {c.key.hi, c.key.lo}} {
		if nd := n.nodes[e.at]; nd != nil {
			nd.emit(netport.Event{Peer: e.peer, Connected: false, Addr: addr(e.peer)})
		}
	}
}

// open opens a stream from from to to for proto on the connection c.
func (n *Net) open(c *conn, from *Node, to netport.PeerID, proto netport.ProtocolID) (netport.Stream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[c.key] != c {
		return nil, fmt.Errorf("memnet: %s: connection closed while opening a stream: %w", to, netport.ErrUnreachable)
	}
	if from.closed {
		return nil, fmt.Errorf("memnet: %s: %w", from.id, netport.ErrClosed)
	}
	target := n.nodes[to]
	target.mu.Lock()
	h := target.handlers[proto]
	if h == nil || target.closed {
		target.mu.Unlock()
		return nil, fmt.Errorf("memnet: %s does not handle %s: %w", to, proto, netport.ErrNoHandler)
	}
	target.wg.Add(1)
	target.mu.Unlock()

	l, side := n.linkLocked(from.id, to)
	l.mu.Lock()
	l.streams[side]++
	l.mu.Unlock()
	relayed := l.isLimited()
	p := newPair(n, c, l, side, from.id, to)
	p.ends[0].addr = netport.Addr{IP: n.addrs[to], Relayed: relayed}
	p.ends[1].addr = netport.Addr{IP: n.addrs[from.id], Relayed: relayed}
	c.streams[p] = struct{}{}
	go func() {
		defer target.wg.Done()
		h(p.ends[1])
	}()
	return p.ends[0], nil
}

// done notes that end i of p is finished; a pair whose two ends are
// finished leaves its connection.
func (n *Net) done(p *pair, i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p.finished[i] = true
	if p.finished[0] && p.finished[1] && p.c.streams != nil {
		delete(p.c.streams, p)
	}
}

func addr(id netport.PeerID) string { return "/memnet/" + string(id) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Node is one device on a Net. It implements netport.Network,
// netport.Watcher and netport.Providers.
type Node struct {
	net *Net
	id  netport.PeerID

	mu       sync.Mutex
	handlers map[netport.ProtocolID]netport.Handler
	watchers []func(netport.Event)
	queue    []netport.Event
	closed   bool // set under Net.mu and mu both
	kick     chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup // handlers and the event goroutine
}

var (
	_ netport.Network   = (*Node)(nil)
	_ netport.Watcher   = (*Node)(nil)
	_ netport.Providers = (*Node)(nil)
)

// Self is the node's ID.
func (nd *Node) Self() netport.PeerID { return nd.id }

// NewStream opens a stream to p for proto, connecting first if need be.
func (nd *Node) NewStream(ctx context.Context, p netport.PeerID, proto netport.ProtocolID) (netport.Stream, error) {
	c, err := nd.net.dial(ctx, nd, p)
	if err != nil {
		return nil, err
	}
	l, _ := nd.net.link(nd.id, p)
	if _, ok := netport.LimitedAllowed(ctx); !ok && l.isLimited() {
		return nil, fmt.Errorf("memnet: stream to %s for %s: %w", p, proto, netport.ErrLimited)
	}
	if err := sleep(ctx, l.delay()); err != nil {
		return nil, fmt.Errorf("memnet: stream to %s: %w", p, err)
	}
	return nd.net.open(c, nd, p, proto)
}

// Handle serves proto with h; nil removes the handler.
func (nd *Node) Handle(proto netport.ProtocolID, h netport.Handler) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if h == nil {
		delete(nd.handlers, proto)
	} else {
		nd.handlers[proto] = h
	}
}

// Connect makes sure nd is connected to p; addrs are ignored.
func (nd *Node) Connect(ctx context.Context, p netport.PeerID, _ []string) error {
	_, err := nd.net.dial(ctx, nd, p)
	return err
}

// Connected reports whether a connection to p is open.
func (nd *Node) Connected(p netport.PeerID) bool {
	k, _ := key(nd.id, p)
	nd.net.mu.Lock()
	defer nd.net.mu.Unlock()
	return nd.net.conns[k] != nil && !nd.closed
}

// Watch calls fn for every later connection change of nd, in order, on
// nd's event goroutine. Event.Addr is "/memnet/<peer>".
func (nd *Node) Watch(fn func(netport.Event)) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.closed {
		nd.watchers = append(nd.watchers, fn)
	}
}

// Provide records nd as a provider of key in the network's shared table.
// Records stay when a node closes, as a DHT's do until they expire.
func (nd *Node) Provide(ctx context.Context, key []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd.closed {
		return fmt.Errorf("memnet: %s: %w", nd.id, netport.ErrClosed)
	}
	if !slices.Contains(n.providers[string(key)], nd.id) {
		n.providers[string(key)] = append(n.providers[string(key)], nd.id)
	}
	return nil
}

// FindProviders returns up to max providers of key (all when max <= 0) in
// the order they announced, leaving nd out.
func (nd *Node) FindProviders(ctx context.Context, key []byte, max int) ([]netport.PeerID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := nd.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd.closed {
		return nil, fmt.Errorf("memnet: %s: %w", nd.id, netport.ErrClosed)
	}
	var out []netport.PeerID
	for _, p := range n.providers[string(key)] {
		if p != nd.id && (max <= 0 || len(out) < max) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Close takes nd off the network: its connections close (streams reset,
// peers see the disconnection), it becomes unreachable, and Close waits
// for its handlers and watchers to return. It must not be called from one
// of nd's handlers or watchers. Net.Node(nd.Self()) makes a fresh node.
func (nd *Node) Close() error {
	n := nd.net
	n.mu.Lock()
	nd.mu.Lock()
	already := nd.closed
	nd.closed = true
	nd.mu.Unlock()
	if !already {
		for k, c := range n.conns {
			if k.lo == nd.id || k.hi == nd.id {
				n.dropLocked(c, "node closed")
			}
		}
	}
	n.mu.Unlock()
	if !already {
		close(nd.done)
	}
	nd.wg.Wait()
	return nil
}

// emit queues ev for nd's watchers; the caller holds Net.mu.
func (nd *Node) emit(ev netport.Event) {
	nd.mu.Lock()
	nd.queue = append(nd.queue, ev)
	nd.mu.Unlock()
	select {
	case nd.kick <- struct{}{}:
	default:
	}
}

// deliver runs nd's watchers, in order, until nd closes.
func (nd *Node) deliver() {
	for {
		stop := false
		select {
		case <-nd.kick:
		case <-nd.done:
			stop = true
		}
		nd.mu.Lock()
		q, ws := nd.queue, slices.Clone(nd.watchers)
		nd.queue = nil
		nd.mu.Unlock()
		for _, ev := range q {
			for _, fn := range ws {
				fn(ev)
			}
		}
		if stop {
			return
		}
	}
}
