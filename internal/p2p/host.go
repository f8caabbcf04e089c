package p2p

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/netport"
)

// Timeouts for dials the host makes on its own behalf.
const (
	bootstrapDialTimeout  = 15 * time.Second
	discoveredDialTimeout = 15 * time.Second
	contactTag            = "peer-contact"
)

// Host is the node's libp2p host: transports, security, limits, gater,
// relay, AutoNAT, the DHT and LAN discovery, wired from Options.
type Host struct {
	h   host.Host
	dht *dht.IpfsDHT // nil when the DHT is off
	cm  *connmgr.BasicConnMgr
	cfg *config
	log *slog.Logger
	hp  *hpTracer

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sub    event.Subscription
	mdns   io.Closer

	mu     sync.Mutex
	reach  network.Reachability
	nat    map[network.NATTransportProtocol]network.NATDeviceType
	relays []peer.ID // from autorelay's latest address update
	found  []func(peer.AddrInfo)

	confirms map[peer.ID]*confirmCall // under mu: confirms under way (confirm)

	closed    bool // under mu; no new goroutines once set
	closeOnce sync.Once
	closeErr  error
}

// New starts a host whose identity is the device key priv.
func New(ctx context.Context, priv ed25519.PrivateKey, o Options) (*Host, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: device key has %d bytes, want %d", ErrInvalidOptions, len(priv), ed25519.PrivateKeySize)
	}
	c, err := o.parse()
	if err != nil {
		return nil, err
	}
	listen, moves, err := checkListen(c.listen, c.ListenFallback)
	if err != nil {
		return nil, err
	}
	c.listen = listen
	sk, err := PrivKey(priv)
	if err != nil {
		return nil, err
	}
	rm, err := newResourceManager()
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(c.ConnLow, c.ConnHigh, connmgr.WithGracePeriod(ConnGracePeriod))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}

	opts := []libp2p.Option{
		libp2p.Identity(sk),
		libp2p.ListenAddrs(c.listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gater{blocked: c.Blocked}),
		libp2p.Ping(true),
		libp2p.UserAgent(c.UserAgent),
		libp2p.DisableMetrics(),
		libp2p.EnableRelay(),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableNATService(),
	}
	if f := addrsFactory(c); f != nil {
		opts = append(opts, libp2p.AddrsFactory(f))
	}
	switch c.Reachability {
	case "public":
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case "private":
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if c.NATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	hp := &hpTracer{notify: c.OnHolePunch}
	if c.HolePunching {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(hp)))
	}
	if c.RelayService {
		opts = append(opts, libp2p.EnableRelayService(relayServiceOptions(c)...))
	}
	if len(c.static) > 0 || c.RelayCandidates != nil {
		static, source, aropts := autoRelayOptions(c)
		if source != nil {
			opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(source, aropts...))
		} else {
			opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(static, aropts...))
		}
	}

	lh, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	logListen(c.Logger.With("peer", lh.ID().String()), c.listen, moves, lh.Network().ListenAddresses())
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Host{
		h: lh, cm: cm, cfg: c, log: c.Logger.With("peer", lh.ID().String()), hp: hp,
		ctx: hctx, cancel: cancel,
		reach: network.ReachabilityUnknown,
		nat:   map[network.NATTransportProtocol]network.NATDeviceType{},
	}
	if err := h.start(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// addrsFactory returns the advertised-address rewrite, or nil to keep
// libp2p's own choice. Announce addresses replace the direct ones; relay
// circuit addresses are kept so that autorelay still works.
func addrsFactory(c *config) func([]ma.Multiaddr) []ma.Multiaddr {
	if len(c.announce) == 0 && c.addrsFactory == nil {
		return nil
	}
	return func(addrs []ma.Multiaddr) []ma.Multiaddr {
		if len(c.announce) > 0 {
			out := append([]ma.Multiaddr(nil), c.announce...)
			for _, a := range addrs {
				if isRelayed(a) {
					out = append(out, a)
				}
			}
			addrs = out
		}
		if c.addrsFactory != nil {
			addrs = c.addrsFactory(addrs)
		}
		return addrs
	}
}

func (h *Host) start() error {
	sub, err := h.h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtNATDeviceTypeChanged),
		new(event.EvtAutoRelayAddrsUpdated),
	})
	if err != nil {
		return fmt.Errorf("event bus: %w", err)
	}
	h.sub = sub
	h.wg.Go(h.events)

	if h.cfg.IsContact != nil {
		h.h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
			if p := c.RemotePeer(); h.cfg.IsContact(portID(p)) {
				h.cm.Protect(p, contactTag)
			}
		}})
	}

	if h.cfg.DHT != "off" {
		if err := h.startDHT(); err != nil {
			return err
		}
	}
	if h.cfg.MDNS {
		m, err := startMDNS(h)
		if err != nil {
			return fmt.Errorf("mDNS: %w", err)
		}
		h.mdns = m
	}
	return nil
}

func (h *Host) startDHT() error {
	var mode dht.ModeOpt
	switch h.cfg.DHT {
	case "server":
		mode = dht.ModeServer
	case "client":
		mode = dht.ModeClient
	default:
		mode = dht.ModeAuto
	}
	// Our own validator replaces kad-dht's default, which would add IPFS's
	// "pk" and "ipns" namespaces.
	nsval := record.NamespacedValidator{}
	for ns, v := range h.cfg.Validators {
		nsval[ns] = v
	}
	opts := []dht.Option{
		dht.ProtocolPrefix(protocol.ID(DHTProtocolPrefix)),
		dht.Mode(mode),
		dht.Validator(nsval),
	}
	if len(h.cfg.bootstrap) > 0 {
		opts = append(opts, dht.BootstrapPeers(h.cfg.bootstrap...))
	}
	d, err := dht.New(h.h, opts...)
	if err != nil {
		return fmt.Errorf("DHT: %w", err)
	}
	h.dht = d
	return nil
}

// events follows AutoNAT, NAT-type and autorelay events for Status.
func (h *Host) events() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-h.sub.Out():
			if !ok {
				return
			}
			h.mu.Lock()
			switch e := ev.(type) {
			case event.EvtLocalReachabilityChanged:
				h.reach = e.Reachability
				h.log.Info("reachability", "status", reachabilityString(e.Reachability))
			case event.EvtNATDeviceTypeChanged:
				h.nat[e.TransportProtocol] = e.NatDeviceType
			case event.EvtAutoRelayAddrsUpdated:
				h.relays = relayIDs(e.RelayAddrs)
			}
			h.mu.Unlock()
		}
	}
}

// Host returns the underlying libp2p host (for protocol handlers).
func (h *Host) Host() host.Host { return h.h }

// ID returns our peer ID.
func (h *Host) ID() peer.ID { return h.h.ID() }

// Close stops discovery, the DHT and the host. It is safe to call twice.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.cancel()
		var errs []error
		if h.mdns != nil {
			errs = append(errs, h.mdns.Close())
		}
		if h.dht != nil {
			errs = append(errs, h.dht.Close())
		}
		if h.sub != nil {
			errs = append(errs, h.sub.Close())
		}
		errs = append(errs, h.h.Close())
		h.wg.Wait()
		h.closeErr = errors.Join(errs...)
	})
	return h.closeErr
}

// Connect dials a peer, or finds it connected, and succeeds only once the
// peer has answered on the connection (see confirm): a peer that refuses
// us, by its gater or by closing, fails with ErrRefused. With no
// addresses and the DHT on, it looks the peer up in the DHT first.
func (h *Host) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if ai.ID == h.h.ID() {
		return fmt.Errorf("connect %s: %w", ai.ID, ErrDialSelf)
	}
	if h.cfg.Blocked != nil && h.cfg.Blocked(portID(ai.ID)) {
		return fmt.Errorf("connect %s: %w", ai.ID, ErrBlocked)
	}
	if len(ai.Addrs) == 0 && h.dht != nil && len(h.h.Peerstore().Addrs(ai.ID)) == 0 {
		found, err := h.dht.FindPeer(ctx, ai.ID)
		if err != nil {
			return fmt.Errorf("connect %s: find peer: %w", ai.ID, err)
		}
		ai = found
	}
	if err := h.h.Connect(ctx, ai); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, explainDial(err))
	}
	if err := h.confirm(ctx, ai.ID); err != nil {
		return fmt.Errorf("connect %s: %w", ai.ID, err)
	}
	return nil
}

// confirmTimeout bounds the round trip that confirms a connection.
const confirmTimeout = 15 * time.Second

// confirmCall is one confirm of a peer's connection, shared by every
// Connect to that peer while it runs.
type confirmCall struct {
	done chan struct{}
	err  error
}

// confirm checks that a connection to p survived the other side's gater,
// by one ping round trip on the connections open (no new dial). A dial can
// complete before the remote's gater has seen our peer ID (over QUIC
// always), and a peer that refuses us then closes the connection, which
// libp2p's Connect does not report; a connection we still see as open may
// be one the remote is closing (one a background dial opened a moment
// ago, say). The remote answers a stream only on a connection it accepted,
// so an answer proves one: a pong, "I do not speak ping", or a stream
// reset for its limits. If our own limits leave no stream for the ping,
// what is open is trusted. Concurrent Connects to p share one confirm.
func (h *Host) confirm(ctx context.Context, p peer.ID) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errors.New("p2p: host closed")
	}
	c := h.confirms[p]
	if c == nil {
		c = &confirmCall{done: make(chan struct{})}
		if h.confirms == nil {
			h.confirms = map[peer.ID]*confirmCall{}
		}
		h.confirms[p] = c
		// The host's context, not one caller's: others may be waiting.
		h.wg.Go(func() {
			cctx, cancel := context.WithTimeout(h.ctx, confirmTimeout)
			defer cancel()
			c.err = h.confirmOnce(cctx, p)
			h.mu.Lock()
			delete(h.confirms, p)
			h.mu.Unlock()
			close(c.done)
		})
	}
	h.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Host) confirmOnce(ctx context.Context, p peer.ID) error {
	_, err := h.ping(network.WithNoDial(ctx, "confirm a connection"), p)
	var unsupported msmux.ErrNotSupported[protocol.ID]
	var reset *network.StreamError
	switch {
	case err == nil, errors.As(err, &unsupported):
		return nil
	case errors.As(err, &reset) && reset.Remote &&
		(reset.ErrorCode == network.StreamResourceLimitExceeded || reset.ErrorCode == network.StreamRateLimited):
		return nil // its limits refused the stream, not the connection
	case errors.Is(err, network.ErrResourceLimitExceeded) && h.connected(p):
		return nil // our limits left no stream to ask with
	}
	return fmt.Errorf("%w (%w)", ErrRefused, err)
}

// ConnectAddr dials the peer a multiaddr with /p2p/<peer ID> names and
// returns it. Text that is no such address fails with ErrBadAddr; a failed
// dial fails as Connect does.
func (h *Host) ConnectAddr(ctx context.Context, addr string) (netport.PeerID, error) {
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadAddr, err)
	}
	if err := h.Connect(ctx, *ai); err != nil {
		return "", err
	}
	return portID(ai.ID), nil
}

// ConnectPeer dials a device at the addresses the host knows for it (the
// DHT is asked when it knows none), as Connect does.
func (h *Host) ConnectPeer(ctx context.Context, id netport.PeerID) error {
	p, err := peer.Decode(id.String())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadAddr, err)
	}
	return h.Connect(ctx, peer.AddrInfo{ID: p})
}

// connected reports whether we have an open connection to p.
func (h *Host) connected(p peer.ID) bool {
	for _, c := range h.h.Network().ConnsToPeer(p) {
		if !c.IsClosed() {
			return true
		}
	}
	return false
}

// Ping measures the round trip to a connected (or dialable) device with
// the libp2p ping protocol. It works over relayed (limited) connections too.
func (h *Host) Ping(ctx context.Context, id netport.PeerID) (time.Duration, error) {
	p, err := decode(id)
	if err != nil {
		return 0, err
	}
	return h.ping(ctx, p)
}

func (h *Host) ping(ctx context.Context, p peer.ID) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the pinger after one round
	select {
	case r := <-ping.Ping(ctx, h.h, p):
		if r.Error != nil {
			return 0, fmt.Errorf("ping %s: %w", p, r.Error)
		}
		return r.RTT, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("ping %s: %w", p, ctx.Err())
	}
}

// Bootstrap connects to the configured bootstrap peers in parallel and
// bootstraps the DHT. It fails with ErrNoBootstrap when peers are configured
// and none is reachable.
func (h *Host) Bootstrap(ctx context.Context) error {
	peers := h.cfg.bootstrap
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, ai := range peers {
		if ai.ID == h.h.ID() {
			continue // a bootstrap node lists itself
		}
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, bootstrapDialTimeout)
			defer cancel()
			errs[i] = h.h.Connect(dctx, ai)
		})
	}
	wg.Wait()
	ok, tried := 0, 0
	for i, ai := range peers {
		if ai.ID == h.h.ID() {
			continue
		}
		tried++
		if errs[i] == nil {
			ok++
		} else {
			h.log.Warn("bootstrap peer unreachable", "bootstrap", ai.ID.String(), "err", errs[i])
		}
	}
	if tried > 0 && ok == 0 {
		return fmt.Errorf("%w: %w", ErrNoBootstrap, errors.Join(errs...))
	}
	if h.dht != nil {
		if err := h.dht.Bootstrap(ctx); err != nil {
			return fmt.Errorf("DHT bootstrap: %w", err)
		}
	}
	return nil
}

// PutValue stores a record in the DHT under key ("/<namespace>/…"); the
// namespace must have a validator in Options.Validators.
func (h *Host) PutValue(ctx context.Context, key string, val []byte) error {
	if h.dht == nil {
		return ErrNoDHT
	}
	if err := h.dht.PutValue(ctx, key, val); err != nil {
		return fmt.Errorf("DHT put %s: %w", printableKey(key), err)
	}
	return nil
}

// printableKey shows a DHT key "/<namespace>/<binary>" with the binary
// part in hex, fit for logs and error messages.
func printableKey(key string) string {
	ns, rest, ok := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	if !ok {
		return fmt.Sprintf("%q", key)
	}
	return "/" + ns + "/" + hex.EncodeToString([]byte(rest))
}

// getQuorum is how many peers must answer a DHT get before the search
// stops. The library's default (0) walks the whole query and, when the
// context ends first, reports the deadline even though a record arrived;
// on a loaded node that turned found records into failures.
const getQuorum = 3

// GetValue fetches the best record for key from the DHT: the best of the
// first getQuorum answers, or the best seen when ctx ends first;
// ErrNotFound when no peer has one.
func (h *Host) GetValue(ctx context.Context, key string) ([]byte, error) {
	if h.dht == nil {
		return nil, ErrNoDHT
	}
	// SearchValue streams ever better records (already validated and
	// selected by the namespace's validator); the last one is the best.
	ch, err := h.dht.SearchValue(ctx, key, dht.Quorum(getQuorum))
	if err != nil {
		return nil, fmt.Errorf("DHT get %s: %w", printableKey(key), err)
	}
	var best []byte
	for v := range ch {
		best = v
	}
	switch {
	case best != nil:
		return best, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("DHT get %s: %w", printableKey(key), ctx.Err())
	default:
		return nil, fmt.Errorf("DHT get %s: %w: %w", printableKey(key), ErrNotFound, routing.ErrNotFound)
	}
}

// Provide announces in the DHT that this node can serve the content
// named by c (provider records; they expire unless announced again).
func (h *Host) Provide(ctx context.Context, c cid.CID) error {
	if h.dht == nil {
		return ErrNoDHT
	}
	if err := h.dht.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("DHT provide %s: %w", c, err)
	}
	return nil
}

// FindProviders returns up to n peers that announced c, with addresses;
// this node is left out.
func (h *Host) FindProviders(ctx context.Context, c cid.CID, n int) ([]peer.AddrInfo, error) {
	if h.dht == nil {
		return nil, ErrNoDHT
	}
	var out []peer.AddrInfo
	for ai := range h.dht.FindProvidersAsync(ctx, c, n) {
		if ai.ID != h.h.ID() {
			out = append(out, ai)
		}
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("DHT find providers of %s: %w", c, ctx.Err())
	}
	return out, nil
}

// OnPeerFound registers fn to hear of peers found by discovery (mDNS for
// now). fn runs on its own goroutine; it must not block for long.
func (h *Host) OnPeerFound(fn func(peer.AddrInfo)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.found = append(h.found, fn)
}

// HandlePeerFound takes a discovered peer: the host connects to it (unless
// it is us, blocked or already connected) and tells the OnPeerFound
// callbacks. It is the mDNS notifee and may be fed by other discoveries.
func (h *Host) HandlePeerFound(ai peer.AddrInfo) {
	if ai.ID == h.h.ID() {
		return
	}
	if h.cfg.Blocked != nil && h.cfg.Blocked(portID(ai.ID)) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	fns := slices.Clone(h.found)
	h.wg.Go(func() {
		if h.h.Network().Connectedness(ai.ID) != network.Connected {
			ctx, cancel := context.WithTimeout(h.ctx, discoveredDialTimeout)
			defer cancel()
			if err := h.h.Connect(ctx, ai); err != nil {
				h.log.Debug("discovered peer unreachable", "found", ai.ID.String(), "err", err)
			}
		}
		for _, fn := range fns {
			fn(ai)
		}
	})
}
