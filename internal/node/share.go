package node

import (
	"context"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/identity"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
	"github.com/peer-node/peer/internal/share"
)

const (
	// shareAskTimeout bounds one request of the sharing protocol.
	shareAskTimeout = 20 * time.Second
	// notifyTimeout bounds pushing one notification.
	notifyTimeout = 10 * time.Second
	// maxProviders bounds the public providers asked at once.
	maxProviders = 8
)

// shareSvc is the node's sharing side: the share.Service (state, sealing,
// access decisions) plus what needs the network: the /peer/share protocol,
// the block exchange server and client, notifications and the safety net.
type shareSvc struct {
	n   *Node
	svc *share.Service

	mu      sync.Mutex
	xs      *exchange.Server
	running map[mimei.ID]chan struct{} // one sync per MiMei at a time
	again   map[mimei.ID]bool          // a notification came during a sync
	wg      sync.WaitGroup
}

// openShare builds the sharing service over the MiMei store.
func (n *Node) openShare() error {
	persona := n.keys.DefaultPersona().ID
	suite, err := sealing.ParseSuite(n.cfg.Share.Cipher)
	if err != nil {
		return err
	}
	svc, err := share.New(share.Config{
		KV: n.store, Store: n.mimei, Persona: persona,
		PersonaKey: n.keys.PersonaKey,
		Suite:      suite,
		CacheQuota: int64(n.cfg.Share.CacheMB) << 20,
		Logger:     n.log.With("part", "share"),
		Event: func(kind string, data any) {
			if n.bus != nil {
				n.bus.Publish(kind, data)
			}
		},
	})
	if err != nil {
		return err
	}
	n.share = &shareSvc{n: n, svc: svc, running: map[mimei.ID]chan struct{}{}, again: map[mimei.ID]bool{}}
	return nil
}

// attach starts the network side once the host is up.
func (ss *shareSvc) attach(s *netSvc) {
	h := s.host.Host()
	h.SetStreamHandler(share.ProtocolID, ss.serve)
	ss.mu.Lock()
	ss.xs = exchange.NewServer(h, ss.svc, exchange.ServerConfig{
		Authorize: func(remote peer.ID, mid string, c cid.CID) error {
			return ss.svc.Authorize(s.personaOf(remote), remote.String(), mid, c)
		},
		RateBytesPerSec: int64(ss.n.cfg.Share.RateMB) << 20,
		Logger:          ss.n.log.With("part", "exchange"),
	})
	ss.mu.Unlock()
	s.goBackground(ss.safetyNet)
	s.goBackground(ss.syncOwnAll)
}

func (ss *shareSvc) close() {
	ss.mu.Lock()
	xs := ss.xs
	ss.mu.Unlock()
	if xs != nil {
		xs.Close()
	}
	ss.wg.Wait()
}

// net returns the network service, or an error when the network is off.
func (ss *shareSvc) net() (*netSvc, error) {
	if ss.n.net == nil {
		return nil, errNetworkOff
	}
	return ss.n.net, nil
}

var errNetworkOff = errors.New("the network is off (network.enabled = false)")

// encKey learns a persona's encryption key from its signed identity record.
func (ss *shareSvc) encKey(ctx context.Context, persona string) (hpke.PublicKey, error) {
	s, err := ss.net()
	if err != nil {
		return nil, err
	}
	r, err := s.disc.Resolve(ctx, persona)
	if err != nil {
		return nil, err
	}
	if len(r.Record.EncKey) == 0 {
		return nil, fmt.Errorf("the identity record of %s has no encryption key", persona)
	}
	return identity.EncryptionKEM().NewPublicKey(r.Record.EncKey)
}

// ---- serving /peer/share/1.0.0 ----

func (ss *shareSvc) serve(st network.Stream) {
	defer st.Close()
	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(shareAskTimeout))
	req, err := share.ReadRequest(st)
	if err != nil {
		_ = st.Reset()
		return
	}
	s := ss.n.net
	persona := s.personaOf(remote)
	payload, err := ss.answer(remote, persona, req)
	rep := &share.Reply{Status: share.StatusOK}
	if err != nil {
		rep.Status, rep.Message = shareStatus(err), truncateMsg(err.Error())
	}
	if err := share.WriteReply(st, rep); err != nil {
		_ = st.Reset()
		return
	}
	if rep.Status == share.StatusOK && req.Kind.HasPayload() {
		if err := share.WritePayload(st, payload); err != nil {
			_ = st.Reset()
		}
	}
}

func truncateMsg(s string) string {
	if len(s) > share.MaxMessageLen {
		return s[:share.MaxMessageLen]
	}
	return s
}

func shareStatus(err error) share.Status {
	switch {
	case errors.Is(err, share.ErrNotShared), errors.Is(err, share.ErrNoKey), errors.Is(err, share.ErrNotOwner):
		return share.StatusDenied
	case errors.Is(err, mimei.ErrNotFound), errors.Is(err, share.ErrNotPublished):
		// A MiMei we do not hold and one we do not share look the same to
		// a stranger.
		return share.StatusDenied
	case errors.Is(err, share.ErrMalformed), errors.Is(err, errBadShareRequest):
		return share.StatusBadRequest
	}
	return share.StatusUnavailable
}

var errBadShareRequest = errors.New("bad request")

func (ss *shareSvc) answer(remote peer.ID, persona string, req *share.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), shareAskTimeout)
	defer cancel()
	id := mimei.ID(req.MiMei)
	switch req.Kind {
	case share.KindCatalog:
		if persona != "" && persona == ss.svc.Persona() {
			// Another of our devices: publish what it may lack first.
			if m, err := ss.n.mimei.Registry().Get(id); err == nil && m.Rights.Owner == persona {
				if err := ss.publishMissing(ctx, id); err != nil {
					return nil, err
				}
			}
		}
		c, err := ss.svc.Catalog(ctx, id, persona)
		if err != nil {
			return nil, err
		}
		if ss.svc.IsCached(id) {
			ss.svc.Touch(id)
		}
		return share.EncodeCatalog(c)
	case share.KindKeyRecord:
		return ss.svc.KeyRecordFor(id, req.Epoch, persona)
	case share.KindList:
		l, err := ss.svc.OwnList(ctx, req.Epoch, persona)
		if err != nil {
			return nil, err
		}
		return share.EncodeOwnList(l)
	case share.KindSubscribe:
		return nil, ss.svc.AddSubscriber(id, persona, remote.String())
	case share.KindUnsubscribe:
		return nil, ss.svc.RemoveSubscriber(id, remote.String())
	case share.KindNotify:
		h, err := share.ParseHead(req.Payload)
		if err != nil {
			return nil, err
		}
		if h.MiMei != req.MiMei {
			return nil, fmt.Errorf("%w: head for another MiMei", errBadShareRequest)
		}
		if persona != "" && persona == ss.svc.Persona() {
			ss.n.bus.Publish("share.notified", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona, "device": remote.String()})
			ss.syncLater(id)
			return nil, nil
		}
		sub, ok, err := ss.svc.Subscription(id)
		if err != nil || !ok {
			return nil, err // not subscribed (any more): nothing to do
		}
		if persona == "" || persona != sub.Owner {
			return nil, fmt.Errorf("%w: only the owner's devices notify", share.ErrNotShared)
		}
		ss.n.bus.Publish("share.notified", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona})
		ss.syncLater(id)
		return nil, nil
	case share.KindPush:
		h, err := share.ParseHead(req.Payload)
		if err != nil {
			return nil, err
		}
		if h.MiMei != req.MiMei {
			return nil, fmt.Errorf("%w: head for another MiMei", errBadShareRequest)
		}
		m, err := ss.n.mimei.Registry().Get(id)
		if err != nil {
			return nil, err
		}
		if m.Rights.Owner != ss.svc.Persona() || share.RoleOf(m.Rights, persona) != share.RoleWriter {
			return nil, fmt.Errorf("%w: only writers push versions, to the owner", share.ErrNotShared)
		}
		ss.n.bus.Publish("share.pushed", map[string]any{"mimei": id.String(), "version": h.Number, "from": persona})
		ss.takePush(id, *h, remote, persona)
		return nil, nil
	case share.KindOffer:
		o, err := share.ParseOffer(req.Payload)
		if err != nil {
			return nil, err
		}
		if persona == "" {
			return nil, fmt.Errorf("%w: offers are taken from contacts only", share.ErrNotShared)
		}
		_, err = ss.svc.AddOffer(o, persona)
		return nil, err
	}
	return nil, fmt.Errorf("%w: kind %s", errBadShareRequest, req.Kind)
}

// ---- asking ----

// ask sends one request to p and returns the payload of the answer.
func (ss *shareSvc) ask(ctx context.Context, p peer.ID, req *share.Request) ([]byte, error) {
	s, err := ss.net()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, shareAskTimeout)
	defer cancel()
	st, err := s.host.Host().NewStream(network.WithAllowLimitedConn(ctx, "share"), p, share.ProtocolID)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := share.WriteRequest(st, req); err != nil {
		_ = st.Reset()
		return nil, err
	}
	_ = st.CloseWrite()
	rep, err := share.ReadReply(st)
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
	b, err := share.ReadPayload(st)
	if err != nil {
		_ = st.Reset()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(st, 1))
	return b, nil
}

// ownerDevice connects to a device of persona and returns it.
func (ss *shareSvc) ownerDevice(ctx context.Context, persona string) (peer.ID, error) {
	s, err := ss.net()
	if err != nil {
		return "", err
	}
	p, _, _, err := s.connectPersona(ctx, persona)
	return p, err
}

// ---- owner side ----

// Share gives persona read (or write) access to id and tells them.
func (ss *shareSvc) Share(ctx context.Context, id mimei.ID, persona string, write bool) (*share.Offer, error) {
	o, err := ss.svc.Share(ctx, id, persona, write, ss.encKey)
	if err != nil {
		return nil, err
	}
	ss.offer(ctx, persona, o)
	return o, nil
}

// offer sends an offer to persona's device; a failure is logged (the
// contact can still subscribe by ID).
func (ss *shareSvc) offer(ctx context.Context, persona string, o *share.Offer) {
	payload, err := share.EncodeOffer(o)
	if err == nil {
		var p peer.ID
		if p, err = ss.ownerDevice(ctx, persona); err == nil {
			_, err = ss.ask(ctx, p, &share.Request{Kind: share.KindOffer, MiMei: o.MiMei, Payload: payload})
		}
	}
	if err != nil {
		ss.n.log.Warn("could not tell a contact about a share", "mimei", mimei.ID(o.MiMei).String(), "persona", persona, "err", err)
		ss.n.bus.Publish("share.offer_failed", map[string]any{"mimei": mimei.ID(o.MiMei).String(), "persona": persona, "error": err.Error()})
	}
}

// makePublic lets anyone fetch id: its versions are published as they
// are (plaintext) and announced in the DHT.
func (ss *shareSvc) makePublic(ctx context.Context, id mimei.ID) error {
	m, err := ss.n.mimei.Registry().Get(id)
	if err != nil {
		return err
	}
	if m.Rights.Owner != ss.svc.Persona() {
		return fmt.Errorf("%w: %s", share.ErrNotOwner, id)
	}
	if !m.Rights.Public {
		r := m.Rights
		r.Public = true
		if _, err := ss.n.mimei.Registry().SetRights(id, r); err != nil {
			return err
		}
	}
	if _, err := ss.svc.PublishAll(ctx, id, ss.encKey); err != nil {
		return err
	}
	ss.provide(id)
	return nil
}

// afterBackup publishes a new version of a shared or public MiMei and
// notifies its subscribers. Errors are logged: the backup itself stands.
func (ss *shareSvc) afterBackup(id mimei.ID, n uint64) {
	m, err := ss.n.mimei.Registry().Get(id)
	if err == nil && share.RoleOf(m.Rights, ss.svc.Persona()) == share.RoleWriter {
		ss.pushToOwner(m, n)
		return
	}
	if err != nil || m.Rights.Owner != ss.svc.Persona() {
		return
	}
	s, err := ss.net()
	if err != nil {
		return
	}
	own := len(s.ownDevices()) > 0
	if !own && !m.Rights.Public && len(m.Rights.Readers) == 0 && len(m.Rights.Writers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h, err := ss.svc.Publish(ctx, id, fmt.Sprint(n), ss.encKey)
	if err != nil {
		ss.n.log.Warn("publish version for sharing", "mimei", id.String(), "version", n, "err", err)
		return
	}
	ss.notifyAll(id, h)
	if own {
		ss.notifyOwn(id, h)
	}
	if m.Rights.Public {
		ss.provide(id)
	}
}

// notifyAll pushes a new head to every subscribed device, each on its own
// goroutine.
func (ss *shareSvc) notifyAll(id mimei.ID, h share.Head) {
	subs, err := ss.svc.Subscribers(id)
	if err != nil || len(subs) == 0 {
		return
	}
	payload, err := share.EncodeHead(&h)
	if err != nil {
		return
	}
	s, err := ss.net()
	if err != nil {
		return
	}
	for _, sb := range subs {
		p, err := peer.Decode(sb.Device)
		if err != nil {
			continue
		}
		s.goBackground(func() {
			ctx, cancel := context.WithTimeout(s.ctx, notifyTimeout)
			defer cancel()
			if s.host.Host().Network().Connectedness(p) != network.Connected {
				if _, _, _, err := s.connectPersona(ctx, sb.Persona); err != nil {
					ss.n.log.Debug("notify: subscriber unreachable", "mimei", id.String(), "peer", p, "err", err)
					return
				}
			}
			if _, err := ss.ask(ctx, p, &share.Request{Kind: share.KindNotify, MiMei: id, Payload: payload}); err != nil {
				ss.n.log.Debug("notify subscriber", "mimei", id.String(), "peer", p, "err", err)
			}
		})
	}
}

// providerKey is the DHT key under which providers of a public MiMei
// announce themselves.
func providerKey(id mimei.ID) cid.CID {
	return cid.Sum(cid.Raw, append([]byte("peer/mimei-provider\x00"), id[:]...))
}

// provide announces in the DHT, in the background, that we serve id.
func (ss *shareSvc) provide(id mimei.ID) {
	s, err := ss.net()
	if err != nil {
		return
	}
	s.goBackground(func() {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		if err := s.host.Provide(ctx, providerKey(id)); err != nil {
			ss.n.log.Debug("provide public MiMei", "mimei", id.String(), "err", err)
		}
	})
}

// ---- reader side ----

// FetchOptions say what Fetch does.
type fetchOpts struct {
	owner     string  // the owner persona ("" = learn it from an offer, or public lookup)
	version   *uint64 // one version; nil = every published version not held
	subscribe bool
}

// fetch brings id up to date from its owner's devices or, for a public
// MiMei, from any provider, and returns what arrived.
func (ss *shareSvc) fetch(ctx context.Context, id mimei.ID, o fetchOpts) ([]gotVersion, error) {
	s, err := ss.net()
	if err != nil {
		return nil, err
	}
	if o.owner == "" {
		if in, ok, err := ss.svc.Incoming(id); err == nil && ok {
			o.owner = in.From
		} else if sub, ok, err := ss.svc.Subscription(id); err == nil && ok {
			o.owner = sub.Owner
		} else if m, err := ss.n.mimei.Registry().Get(id); err == nil {
			o.owner = m.Rights.Owner
		}
	}
	if o.owner == ss.svc.Persona() && o.version == nil && !o.subscribe {
		if len(s.ownDevices()) == 0 {
			return nil, fmt.Errorf("%w: %s is this persona's own and no other device of it is paired", exchange.ErrNoProviders, id)
		}
		return ss.fetchOwnAll(ctx, id)
	}
	var providers []peer.ID
	var cat *share.Catalog
	trusted := false
	if o.owner != "" && o.owner != ss.svc.Persona() {
		if p, err := ss.ownerDevice(ctx, o.owner); err == nil {
			if c, err := ss.catalog(ctx, p, id); err == nil {
				cat, trusted = c, true
				providers = append(providers, p)
			} else if !errors.Is(err, share.ErrDenied) {
				ss.n.log.Debug("catalog from owner", "mimei", id.String(), "err", err)
			} else {
				return nil, err
			}
		} else {
			ss.n.log.Debug("owner unreachable", "mimei", id.String(), "owner", o.owner, "err", err)
		}
	}
	// Public MiMei: any provider in the DHT will do (the owner may be away).
	if cat == nil || cat.Rights.Public {
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ais, _ := s.host.FindProviders(fctx, providerKey(id), maxProviders)
		cancel()
		for _, ai := range ais {
			if len(providers) > 0 && ai.ID == providers[0] {
				continue
			}
			s.host.Host().Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
			if cat == nil {
				c, err := ss.catalog(ctx, ai.ID, id)
				if err != nil || !c.Rights.Public {
					continue
				}
				cat = c
			}
			providers = append(providers, ai.ID)
		}
	}
	if cat == nil {
		return nil, fmt.Errorf("%w: no provider of %s answered (is its owner online, and is it shared with you?)", exchange.ErrNoProviders, id)
	}
	if o.subscribe {
		if _, err := ss.svc.Subscribe(id, cat.Rights.Owner); err != nil {
			return nil, err
		}
		if trusted {
			if _, err := ss.ask(ctx, providers[0], &share.Request{Kind: share.KindSubscribe, MiMei: id}); err != nil {
				ss.n.log.Warn("subscribe at owner", "mimei", id.String(), "err", err)
			}
		}
	}
	var heads []share.Head
	for _, h := range cat.Heads {
		if o.version != nil && h.Number != *o.version {
			continue
		}
		if o.version == nil && ss.held(ctx, id, h) {
			continue
		}
		heads = append(heads, h)
	}
	if o.version != nil && len(heads) == 0 {
		return nil, fmt.Errorf("%w: version %d of %s is not published", share.ErrNotPublished, *o.version, id)
	}
	var out []gotVersion
	var have uint64
	for _, h := range heads {
		r, err := ss.fetchHead(ctx, providers, cat, h, trusted)
		if err != nil {
			_ = ss.svc.Checked(id, have, err)
			ss.n.bus.Publish("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
			return out, err
		}
		out = append(out, r)
		have = h.Number + 1
	}
	if len(heads) == 0 {
		if n := len(cat.Heads); n > 0 {
			have = cat.Heads[n-1].Number + 1
		}
	}
	_ = ss.svc.Checked(id, have, nil)
	if cat.Rights.Public && len(out) > 0 {
		if _, sub, _ := ss.svc.Subscription(id); !sub {
			var n int64
			for _, r := range out {
				n += int64(r.Head.Bytes)
			}
			if ev, err := ss.svc.AddToCache(ctx, id, n); err != nil {
				ss.n.log.Warn("cache", "err", err)
			} else if len(ev) > 0 {
				ss.n.log.Info("cache over quota: evicted", "count", len(ev))
			}
		}
		ss.provide(id)
	}
	return out, nil
}

// held reports whether version h of id is already here.
func (ss *shareSvc) held(ctx context.Context, id mimei.ID, h share.Head) bool {
	if known, err := ss.svc.Known(h.Manifest); err == nil && known {
		// Received before: on our line, or kept as a branch.
		_, _, err = ss.n.mimei.Version(ctx, id, fmt.Sprint(h.Number))
		return err == nil
	}
	got, err := ss.svc.Head(id, h.Number)
	if err != nil || got.Manifest != h.Manifest {
		return false
	}
	_, _, err = ss.n.mimei.Version(ctx, id, fmt.Sprint(h.Number))
	return err == nil
}

func (ss *shareSvc) catalog(ctx context.Context, p peer.ID, id mimei.ID) (*share.Catalog, error) {
	b, err := ss.ask(ctx, p, &share.Request{Kind: share.KindCatalog, MiMei: id})
	if err != nil {
		return nil, err
	}
	c, err := share.ParseCatalog(b)
	if err != nil {
		return nil, err
	}
	if _, _, err := share.CheckCatalog(c, id); err != nil {
		return nil, err
	}
	return c, nil
}

// fetchHead fetches and imports one version.
// gotVersion is a version that arrived and how.
type gotVersion struct {
	share.Received
	exchange.Result
}

func (ss *shareSvc) fetchHead(ctx context.Context, providers []peer.ID, cat *share.Catalog, h share.Head, trusted bool) (gotVersion, error) {
	return ss.fetchHeadFrom(ctx, providers, cat, h, trusted, "")
}

// fetchPushed fetches a version writer pushed to us from their device p.
func (ss *shareSvc) fetchPushed(ctx context.Context, p peer.ID, cat *share.Catalog, h share.Head, writer string) (gotVersion, error) {
	return ss.fetchHeadFrom(ctx, []peer.ID{p}, cat, h, false, writer)
}

func (ss *shareSvc) fetchHeadFrom(ctx context.Context, providers []peer.ID, cat *share.Catalog, h share.Head, trusted bool, writer string) (gotVersion, error) {
	s, _ := ss.net()
	id := mimei.ID(h.MiMei)
	var rec []byte
	if h.Epoch > 0 {
		var err error
		if rec, err = ss.ask(ctx, providers[0], &share.Request{Kind: share.KindKeyRecord, MiMei: id, Epoch: h.Epoch}); err != nil {
			return gotVersion{}, fmt.Errorf("key record of epoch %d: %w", h.Epoch, err)
		}
	}
	r, err := ss.svc.Receive(cat, h, rec, false, trusted)
	if err != nil {
		return gotVersion{}, err
	}
	defer r.Release()
	if writer != "" {
		r.FromWriter(writer)
	}
	start := time.Now()
	var last time.Time
	res, err := exchange.Fetch(ctx, s.host.Host(), r, exchange.Request{
		MiMei: id.String(), Roots: r.Roots(), Links: r.Links, Verify: r.Verify,
		Progress: func(p exchange.Progress) {
			if now := time.Now(); now.Sub(last) >= 250*time.Millisecond || uint64(p.Done) == h.Blocks+manifestBlocks(h.Blocks) {
				last = now
				ss.n.bus.Publish("share.progress", map[string]any{
					"mimei": id.String(), "version": h.Number, "done": p.Done, "known": p.Known,
					"total": h.Blocks, "bytes": p.Bytes, "total_bytes": h.Bytes,
				})
			}
		},
	}, providers)
	if err != nil {
		// Keep what arrived, so the next try does not fetch it again.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if ferr := r.Flush(fctx); ferr != nil {
			ss.n.log.Warn("share: keeping the blocks of a broken fetch", "mimei", id.String(), "err", ferr)
		}
		cancel()
		return gotVersion{}, err
	}
	fetched := time.Now()
	got, err := r.Finish(ctx)
	if err != nil {
		return gotVersion{}, err
	}
	ev := map[string]any{
		"mimei": id.String(), "version": h.Number, "fetched": res.Fetched, "skipped": res.Skipped,
		"bytes": res.Bytes, "ms": time.Since(start).Milliseconds(), "providers": len(res.PerProvider),
		"check_ms": time.Since(fetched).Milliseconds(),
	}
	if got.Conflict != nil {
		ev["conflict"] = got.Conflict.Error()
		ss.n.bus.Publish("share.conflict", map[string]any{"mimei": id.String(), "version": h.Number, "error": got.Conflict.Error()})
	}
	ss.n.bus.Publish("share.received", ev)
	return gotVersion{Received: got, Result: res}, nil
}

func manifestBlocks(n uint64) uint64 {
	return (n + share.MaxManifestEntries - 1) / share.MaxManifestEntries
}

// syncLater brings a subscription up to date in the background; calls
// while one runs make it run once more after.
func (ss *shareSvc) syncLater(id mimei.ID) {
	s, err := ss.net()
	if err != nil {
		return
	}
	ss.mu.Lock()
	if _, busy := ss.running[id]; busy {
		ss.again[id] = true
		ss.mu.Unlock()
		return
	}
	done := make(chan struct{})
	ss.running[id] = done
	ss.mu.Unlock()
	s.goBackground(func() {
		defer close(done)
		for {
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Minute)
			_, err := ss.fetch(ctx, id, fetchOpts{})
			cancel()
			if err != nil && s.ctx.Err() == nil {
				ss.n.log.Warn("sync subscription", "mimei", id.String(), "err", err)
			}
			ss.mu.Lock()
			if !ss.again[id] || s.ctx.Err() != nil {
				delete(ss.running, id)
				delete(ss.again, id)
				ss.mu.Unlock()
				return
			}
			delete(ss.again, id)
			ss.mu.Unlock()
		}
	})
}

// safetyNet asks the owners of every subscription for new versions every
// share.check_minutes, in case a notification was lost.
func (ss *shareSvc) safetyNet() {
	s := ss.n.net
	every := time.Duration(ss.n.cfg.Share.CheckMinutes) * time.Minute
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		subs, err := ss.svc.Subscriptions()
		if err != nil {
			ss.n.log.Warn("list subscriptions", "err", err)
		}
		for _, sub := range subs {
			ss.syncLater(sub.MiMei)
		}
		ss.syncOwnAll()
		t.Reset(every)
	}
}
