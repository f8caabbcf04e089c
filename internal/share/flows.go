package share

import (
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/netport"
)

// The sharing capability on the network: Flows serves /peer/share/1.0.0
// and the block exchange for shared MiMei, fetches and subscribes, tells
// subscribers and own devices of new versions, sends writers' versions to
// owners and takes them, and runs the safety net that catches lost
// notifications. It reaches other devices only through the network port;
// what it decides and stores is the Service's.

// Flow timing and limits.
const (
	// askTimeout bounds one request of the sharing protocol.
	askTimeout = 20 * time.Second
	// notifyTimeout bounds pushing one notification.
	notifyTimeout = 10 * time.Second
	// maxProviders bounds the public providers asked at once.
	maxProviders = 8
	// ownSyncTimeout bounds one pass over one own device.
	ownSyncTimeout = 30 * time.Minute
	// syncTimeout bounds one background sync of a subscription.
	syncTimeout = 30 * time.Minute
	// progressEvery is the least time between two share.progress events.
	progressEvery = 250 * time.Millisecond
	// resubscribeEvery is how often a subscription is renewed at the
	// owner (its devices forget subscribers after SubscriberTTL).
	resubscribeEvery = 24 * time.Hour
)

// ErrNetworkOff: the node runs without a network (network.enabled = false).
var ErrNetworkOff = errors.New("the network is off (network.enabled = false)")

// errBadRequest: a request of the sharing protocol that makes no sense.
var errBadRequest = errors.New("bad request")

// Directory is what the flows need to know of other personas.
type Directory interface {
	// PersonaOf names the persona of a device: a contact's, ours for our
	// own devices, "" for a stranger.
	PersonaOf(p netport.PeerID) string
	// ConnectPersona connects to a device of persona and returns it.
	ConnectPersona(ctx context.Context, persona string) (netport.PeerID, error)
	// EncryptionKey is persona's encryption key, from its signed identity
	// record.
	EncryptionKey(ctx context.Context, persona string) (hpke.PublicKey, error)
}

// OwnDevices is what the flows need of this persona's other devices.
type OwnDevices interface {
	// Devices lists the paired devices of our persona (not this one).
	Devices() []netport.PeerID
	// Connect makes sure there is a connection to own device p.
	Connect(ctx context.Context, p netport.PeerID) error
}

// FlowsConfig wires Flows. Service, Net and Directory are required.
type FlowsConfig struct {
	Service   *Service
	Net       netport.Network
	Providers netport.Providers // nil: public MiMei are not announced or looked up in the DHT
	Directory Directory
	Own       OwnDevices // nil: no own devices
	// CheckEvery is how often the safety net asks owners and own devices
	// for what it may have missed (0: 30 minutes).
	CheckEvery time.Duration
	// RateBytesPerSec limits the block bytes served to each persona (all
	// its devices together, as Directory.PersonaOf names them), and to
	// each stranger's device on its own (0: none).
	RateBytesPerSec int64
	// AddrBytesPerSec limits the block bytes served to all devices at one
	// address together (one IPv4 address or IPv6 /64; see
	// netport.Addr.Source), whoever they are (0: none).
	AddrBytesPerSec int64
	// TotalBytesPerSec limits the block bytes served to all peers
	// together (0: none).
	TotalBytesPerSec int64
	Logger           *slog.Logger
	// Event is told what happens (kinds under "share." in docs/api.md).
	Event func(kind string, data any)
}

// Flows is the sharing capability on the network. Start it once; Close
// stops its handlers and waits for its background work.
type Flows struct {
	cfg FlowsConfig
	svc *Service
	net netport.Network
	dir Directory
	log *slog.Logger
	xs  *exchange.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[mimei.ID]chan struct{} // one sync per MiMei at a time
	again   map[mimei.ID]bool          // a notification came during a sync
	atOwner map[mimei.ID]time.Time     // when we last subscribed at the owner (see Fetch)
	closed  bool
}

// NewFlows returns the flows over cfg; nothing runs before Start.
func NewFlows(cfg FlowsConfig) (*Flows, error) {
	if cfg.Service == nil || cfg.Net == nil || cfg.Directory == nil {
		return nil, errors.New("share: flows need Service, Net and Directory")
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Flows{cfg: cfg, svc: cfg.Service, net: cfg.Net, dir: cfg.Directory, log: cfg.Logger,
		running: map[mimei.ID]chan struct{}{}, again: map[mimei.ID]bool{}, atOwner: map[mimei.ID]time.Time{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f, nil
}

// Start registers the protocol handlers (sharing and block exchange) and
// starts the safety net and a first pass over the own devices.
func (f *Flows) Start() error {
	f.net.Handle(ProtocolID, f.serve)
	f.xs = exchange.NewServer(f.net, f.svc, exchange.ServerConfig{
		Authorize: func(remote netport.PeerID, mid string, c cid.CID) error {
			return f.svc.Authorize(f.dir.PersonaOf(remote), remote.String(), mid, c)
		},
		// A persona's devices share one budget; strangers have one each
		// (and share their address's with whoever else is there).
		RateKey:          f.dir.PersonaOf,
		Unlimited:        f.ownDevice,
		RateBytesPerSec:  f.cfg.RateBytesPerSec,
		AddrBytesPerSec:  f.cfg.AddrBytesPerSec,
		TotalBytesPerSec: f.cfg.TotalBytesPerSec,
		Logger:           f.log.With("part", "exchange"),
	})
	f.goBackground(f.safetyNet)
	f.goBackground(f.SyncOwn)
	return nil
}

// ownDevice says whether p is one of our own paired devices.
func (f *Flows) ownDevice(p netport.PeerID) bool {
	if f.cfg.Own == nil {
		return false
	}
	return slices.Contains(f.cfg.Own.Devices(), p)
}

// Close removes the handlers, cancels background work and waits for it.
func (f *Flows) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.net.Handle(ProtocolID, nil)
	f.cancel()
	if f.xs != nil {
		f.xs.Close()
	}
	f.wg.Wait()
	return nil
}

// Service is the sharing state the flows act on.
func (f *Flows) Service() *Service { return f.svc }

// ExchangeStats are the block exchange server's counters.
func (f *Flows) ExchangeStats() exchange.Stats {
	if f.xs == nil {
		return exchange.Stats{}
	}
	return f.xs.Stats()
}

func (f *Flows) goBackground(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

func (f *Flows) event(kind string, data any) {
	if f.cfg.Event != nil {
		f.cfg.Event(kind, data)
	}
}

func (f *Flows) ownDevices() []netport.PeerID {
	if f.cfg.Own == nil {
		return nil
	}
	return f.cfg.Own.Devices()
}

func (f *Flows) connectOwn(ctx context.Context, p netport.PeerID) error {
	if f.cfg.Own == nil {
		return fmt.Errorf("own device %s: no own devices", p)
	}
	return f.cfg.Own.Connect(ctx, p)
}

// encKey learns a persona's encryption key (for wrapping content keys).
func (f *Flows) encKey(ctx context.Context, persona string) (hpke.PublicKey, error) {
	return f.dir.EncryptionKey(ctx, persona)
}

// ---- serving /peer/share/1.0.0 ----

func (f *Flows) serve(st netport.Stream) {
	defer st.Close()
	remote := st.Remote()
	_ = st.SetDeadline(time.Now().Add(askTimeout))
	req, err := ReadRequest(st)
	if err != nil {
		_ = st.Reset()
		return
	}
	persona := f.dir.PersonaOf(remote)
	payload, err := f.answer(remote, persona, req)
	rep := &Reply{Status: StatusOK}
	if err != nil {
		rep.Status, rep.Message = replyStatus(err), truncate(err.Error(), MaxMessageLen)
		if rep.Status == StatusDenied {
			// One answer whether or not we hold the MiMei: the reason
			// would tell a stranger what exists here.
			rep.Message = deniedMessage
		}
	}
	if err := WriteReply(st, rep); err != nil {
		_ = st.Reset()
		return
	}
	if rep.Status == StatusOK && req.Kind.HasPayload() {
		if err := WritePayload(st, payload); err != nil {
			_ = st.Reset()
		}
	}
}

// deniedMessage is the one message of every denial.
const deniedMessage = "not shared with this persona, or no such MiMei"

// replyStatus maps an error to the status a remote sees.
func replyStatus(err error) Status {
	switch {
	case errors.Is(err, ErrNotShared), errors.Is(err, ErrNoKey), errors.Is(err, ErrNotOwner):
		return StatusDenied
	case errors.Is(err, mimei.ErrNotFound), errors.Is(err, ErrNotPublished):
		// A MiMei we do not hold and one we do not share look the same to
		// a stranger.
		return StatusDenied
	case errors.Is(err, ErrMalformed), errors.Is(err, errBadRequest):
		return StatusBadRequest
	}
	return StatusUnavailable
}

func (f *Flows) answer(remote netport.PeerID, persona string, req *Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(f.ctx, askTimeout)
	defer cancel()
	id := mimei.ID(req.MiMei)
	switch req.Kind {
	case KindCatalog:
		if persona != "" && persona == f.svc.Persona() {
			// Another of our devices: publish what it may lack first.
			if m, err := f.svc.store.Registry().Get(id); err == nil && m.Rights.Owner == persona {
				if err := f.publishMissing(ctx, id); err != nil {
					return nil, err
				}
			}
		}
		c, err := f.svc.Catalog(ctx, id, persona)
		if err != nil {
			return nil, err
		}
		if f.svc.IsCached(id) {
			f.svc.Touch(id)
		}
		return EncodeCatalog(c)
	case KindKeyRecord:
		return f.svc.KeyRecordFor(id, req.Epoch, persona)
	case KindList:
		l, err := f.svc.OwnList(ctx, req.Epoch, persona)
		if err != nil {
			return nil, err
		}
		return EncodeOwnList(l)
	case KindSubscribe:
		return nil, f.svc.AddSubscriber(id, persona, remote.String())
	case KindUnsubscribe:
		return nil, f.svc.RemoveSubscriber(id, remote.String())
	case KindNotify:
		h, err := f.headFor(req)
		if err != nil {
			return nil, err
		}
		if persona != "" && persona == f.svc.Persona() {
			f.event("share.notified", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona, "device": remote.String()})
			f.SyncLater(id)
			return nil, nil
		}
		sub, ok, err := f.svc.Subscription(id)
		if err != nil || !ok {
			return nil, err // not subscribed (any more): nothing to do
		}
		if persona == "" || persona != sub.Owner {
			return nil, fmt.Errorf("%w: only the owner's devices notify", ErrNotShared)
		}
		f.event("share.notified", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona})
		f.SyncLater(id)
		return nil, nil
	case KindPush:
		h, err := f.headFor(req)
		if err != nil {
			return nil, err
		}
		m, err := f.svc.store.Registry().Get(id)
		if err != nil {
			return nil, err
		}
		if m.Rights.Owner != f.svc.Persona() || RoleOf(m.Rights, persona) != RoleWriter {
			return nil, fmt.Errorf("%w: only writers push versions, to the owner", ErrNotShared)
		}
		f.event("share.pushed", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona})
		f.takePush(id, *h, remote, persona)
		return nil, nil
	case KindRevoke:
		if persona == "" {
			return nil, fmt.Errorf("%w: revocations are taken from contacts only", ErrNotShared)
		}
		return nil, f.svc.Revoke(id, persona)
	case KindOffer:
		o, err := ParseOffer(req.Payload)
		if err != nil {
			return nil, err
		}
		if persona == "" {
			return nil, fmt.Errorf("%w: offers are taken from contacts only", ErrNotShared)
		}
		_, err = f.svc.AddOffer(o, persona)
		return nil, err
	}
	return nil, fmt.Errorf("%w: kind %s", errBadRequest, req.Kind)
}

// headFor parses the Head a notify or push carries, for req's MiMei.
func (f *Flows) headFor(req *Request) (*Head, error) {
	h, err := ParseHead(req.Payload)
	if err != nil {
		return nil, err
	}
	if h.MiMei != req.MiMei {
		return nil, fmt.Errorf("%w: head for another MiMei", errBadRequest)
	}
	return h, nil
}

// ---- asking ----

// ask sends one request to p and returns the payload of the answer.
func (f *Flows) ask(ctx context.Context, p netport.PeerID, req *Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	st, err := f.net.NewStream(netport.AllowLimited(ctx, "share"), p, ProtocolID)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := WriteRequest(st, req); err != nil {
		_ = st.Reset()
		return nil, err
	}
	_ = st.CloseWrite()
	rep, err := ReadReply(st)
	if err != nil {
		_ = st.Reset()
		return nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	if !req.Kind.HasPayload() {
		return nil, nil
	}
	b, err := ReadPayload(st)
	if err != nil {
		_ = st.Reset()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(st, 1))
	return b, nil
}

// catalog asks p for the catalog of id and checks it.
func (f *Flows) catalog(ctx context.Context, p netport.PeerID, id mimei.ID) (*Catalog, error) {
	b, err := f.ask(ctx, p, &Request{Kind: KindCatalog, MiMei: id})
	if err != nil {
		return nil, err
	}
	c, err := ParseCatalog(b)
	if err != nil {
		return nil, err
	}
	if _, _, err := CheckCatalog(c, id); err != nil {
		return nil, err
	}
	return c, nil
}

// notify pushes head h of id to device p, connecting first with connect
// when p is not connected. Failures are logged at debug level: the safety
// net catches up.
func (f *Flows) notify(p netport.PeerID, id mimei.ID, payload []byte, connect func(context.Context) error) {
	f.goBackground(func() {
		ctx, cancel := context.WithTimeout(f.ctx, notifyTimeout)
		defer cancel()
		if !f.net.Connected(p) {
			if err := connect(ctx); err != nil {
				f.log.Debug("notify: device unreachable", "mimei", id.String(), "peer", p, "err", err)
				return
			}
		}
		if _, err := f.ask(ctx, p, &Request{Kind: KindNotify, MiMei: id, Payload: payload}); err != nil {
			f.log.Debug("notify device", "mimei", id.String(), "peer", p, "err", err)
		}
	})
}
