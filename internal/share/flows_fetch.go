package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/netport"
)

// ---- owner side ----

// ShareWith gives persona read (or write) access to id and tells them
// with an offer; a failed offer is logged and reported as the event
// share.offer_failed (the contact can still subscribe by ID).
func (f *Flows) ShareWith(ctx context.Context, id mimei.ID, persona string, write bool) (*Offer, error) {
	o, err := f.svc.Share(ctx, id, persona, write, f.encKey)
	if err != nil {
		return nil, err
	}
	f.offer(ctx, persona, o)
	return o, nil
}

// Unshare takes persona's access to id away (a new key epoch follows) and
// tells persona's devices in the background, so that they stop showing a
// subscription they can no longer follow. A device that is away learns it
// at its next fetch, which the owner denies.
func (f *Flows) Unshare(ctx context.Context, id mimei.ID, persona string) error {
	subs, _ := f.svc.Subscribers(id)
	if err := f.svc.Unshare(ctx, id, persona, f.encKey); err != nil {
		return err
	}
	var devices []netport.PeerID
	for _, sb := range subs {
		if sb.Persona == persona {
			devices = append(devices, netport.PeerID(sb.Device))
		}
	}
	f.goBackground(func() {
		ctx, cancel := context.WithTimeout(f.ctx, notifyTimeout)
		defer cancel()
		if len(devices) == 0 {
			p, err := f.dir.ConnectPersona(ctx, persona)
			if err != nil {
				f.log.Debug("revoke: persona unreachable", "mimei", id.String(), "persona", persona, "err", err)
				return
			}
			devices = append(devices, p)
		}
		for _, p := range devices {
			if _, err := f.ask(ctx, p, &Request{Kind: KindRevoke, MiMei: id}); err != nil {
				f.log.Debug("tell a device of a revocation", "mimei", id.String(), "peer", p, "err", err)
			}
		}
	})
	return nil
}

func (f *Flows) offer(ctx context.Context, persona string, o *Offer) {
	payload, err := EncodeOffer(o)
	if err == nil {
		var p netport.PeerID
		if p, err = f.dir.ConnectPersona(ctx, persona); err == nil {
			_, err = f.ask(ctx, p, &Request{Kind: KindOffer, MiMei: o.MiMei, Payload: payload})
		}
	}
	if err != nil {
		f.log.Warn("could not tell a contact about a share", "mimei", mimei.ID(o.MiMei).String(), "persona", persona, "err", err)
		f.event("share.offer_failed", map[string]any{"mimei": mimei.ID(o.MiMei).String(), "persona": persona, "error": err.Error()})
	}
}

// MakePublic lets anyone fetch id: its versions are published as they
// are (plaintext) and announced to the providers' table.
func (f *Flows) MakePublic(ctx context.Context, id mimei.ID) error {
	reg := f.svc.store.Registry()
	m, err := reg.Get(id)
	if err != nil {
		return err
	}
	if m.Rights.Owner != f.svc.Persona() {
		return fmt.Errorf("%w: %s", ErrNotOwner, id)
	}
	if !m.Rights.Public {
		r := m.Rights
		r.Public = true
		if _, err := reg.SetRights(id, r); err != nil {
			return err
		}
	}
	if _, err := f.svc.PublishAll(ctx, id, f.encKey); err != nil {
		return err
	}
	f.provide(id)
	return nil
}

// AfterBackup publishes version n of id when others may want it (shared,
// public, or we have other devices) and tells them; for a MiMei we only
// write to, it sends the version to the owner in the background. Errors
// are logged: the backup itself stands.
func (f *Flows) AfterBackup(id mimei.ID, n uint64) { f.afterBackup(id, n) }

func (f *Flows) afterBackup(id mimei.ID, n uint64) {
	m, err := f.svc.store.Registry().Get(id)
	if err == nil && RoleOf(m.Rights, f.svc.Persona()) == RoleWriter {
		f.goBackground(func() { f.pushToOwner(m, n) })
		return
	}
	if err != nil || m.Rights.Owner != f.svc.Persona() {
		return
	}
	own := len(f.ownDevices()) > 0
	if !own && !m.Rights.Public && len(m.Rights.Readers) == 0 && len(m.Rights.Writers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Minute)
	defer cancel()
	h, err := f.svc.Publish(ctx, id, fmt.Sprint(n), f.encKey)
	if err != nil {
		f.log.Warn("publish version for sharing", "mimei", id.String(), "version", n, "err", err)
		return
	}
	f.notifySubscribers(id, h)
	if own {
		f.notifyOwn(id, h)
	}
	if m.Rights.Public {
		f.provide(id)
	}
}

// notifySubscribers pushes a new head to every subscribed device.
func (f *Flows) notifySubscribers(id mimei.ID, h Head) {
	subs, err := f.svc.Subscribers(id)
	if err != nil || len(subs) == 0 {
		return
	}
	payload, err := EncodeHead(&h)
	if err != nil {
		return
	}
	for _, sb := range subs {
		persona := sb.Persona
		f.notify(netport.PeerID(sb.Device), id, payload, func(ctx context.Context) error {
			_, err := f.dir.ConnectPersona(ctx, persona)
			return err
		})
	}
}

// notifyOwn tells our other devices about a new version of id.
func (f *Flows) notifyOwn(id mimei.ID, h Head) {
	payload, err := EncodeHead(&h)
	if err != nil {
		return
	}
	for _, d := range f.ownDevices() {
		f.notify(d, id, payload, func(ctx context.Context) error { return f.connectOwn(ctx, d) })
	}
}

// ProviderKey is the key under which providers of a public MiMei announce
// themselves.
func ProviderKey(id mimei.ID) []byte {
	return append([]byte("peer/mimei-provider\x00"), id[:]...)
}

// provide announces, in the background, that we serve id.
func (f *Flows) provide(id mimei.ID) {
	if f.cfg.Providers == nil {
		return
	}
	f.goBackground(func() {
		ctx, cancel := context.WithTimeout(f.ctx, time.Minute)
		defer cancel()
		if err := f.cfg.Providers.Provide(ctx, ProviderKey(id)); err != nil {
			f.log.Debug("provide public MiMei", "mimei", id.String(), "err", err)
		}
	})
}

// publishMissing publishes the versions of our own id that have no head
// yet, so that another of our devices can fetch them.
func (f *Flows) publishMissing(ctx context.Context, id mimei.ID) error {
	vs, err := f.svc.store.Versions(ctx, id)
	if err != nil {
		return err
	}
	heads, err := f.svc.Heads(id)
	if err != nil {
		return err
	}
	have := map[uint64]bool{}
	for _, h := range heads {
		have[h.Number] = true
	}
	for _, v := range vs {
		if have[v.Number] {
			continue
		}
		if _, err := f.svc.Publish(ctx, id, fmt.Sprint(v.Number), f.encKey); err != nil {
			return err
		}
	}
	return nil
}

// ---- reader side ----

// FetchOptions say what Fetch does.
type FetchOptions struct {
	Owner     string  // the owner persona ("" = learn it from an offer, a subscription or the registry)
	Version   *uint64 // one version; nil = every published version not held
	Subscribe bool    // subscribe at the owner too
}

// Got is a version that arrived and how.
type Got struct {
	Received
	exchange.Result
}

// Fetch brings id up to date from its owner's devices or, for a public
// MiMei, from any provider, and returns what arrived.
func (f *Flows) Fetch(ctx context.Context, id mimei.ID, o FetchOptions) ([]Got, error) {
	if o.Owner == "" {
		if in, ok, err := f.svc.Incoming(id); err == nil && ok {
			o.Owner = in.From
		} else if sub, ok, err := f.svc.Subscription(id); err == nil && ok {
			o.Owner = sub.Owner
		} else if m, err := f.svc.store.Registry().Get(id); err == nil {
			o.Owner = m.Rights.Owner
		}
	}
	if o.Owner == f.svc.Persona() && o.Version == nil && !o.Subscribe {
		if len(f.ownDevices()) == 0 {
			return nil, fmt.Errorf("%w: %s is this persona's own and no other device of it is paired", exchange.ErrNoProviders, id)
		}
		return f.fetchOwnAll(ctx, id)
	}
	var providers []netport.PeerID
	var cat *Catalog
	trusted := false
	if o.Owner != "" && o.Owner != f.svc.Persona() {
		if p, err := f.dir.ConnectPersona(ctx, o.Owner); err == nil {
			if c, err := f.catalog(ctx, p, id); err == nil {
				cat, trusted = c, true
				providers = append(providers, p)
			} else if errors.Is(err, ErrDenied) {
				if _, offered, _ := f.svc.Incoming(id); offered {
					// The owner's own device says no: our access is gone.
					_ = f.svc.Revoke(id, o.Owner)
				}
				return nil, err
			} else {
				f.log.Debug("catalog from owner", "mimei", id.String(), "err", err)
			}
		} else {
			f.log.Debug("owner unreachable", "mimei", id.String(), "owner", o.Owner, "err", err)
		}
	}
	// Public MiMei: any provider will do (the owner may be away).
	if (cat == nil || cat.Rights.Public) && f.cfg.Providers != nil {
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ps, _ := f.cfg.Providers.FindProviders(fctx, ProviderKey(id), maxProviders)
		cancel()
		for _, p := range ps {
			if p == f.net.Self() || slices.Contains(providers, p) {
				continue
			}
			if cat == nil {
				c, err := f.catalog(ctx, p, id)
				if err != nil || !c.Rights.Public {
					continue
				}
				cat = c
			}
			providers = append(providers, p)
		}
	}
	if cat == nil {
		return nil, fmt.Errorf("%w: no provider of %s answered (is its owner online, and is it shared with you?)", exchange.ErrNoProviders, id)
	}
	if o.Subscribe {
		if _, err := f.svc.Subscribe(id, cat.Rights.Owner); err != nil {
			return nil, err
		}
	}
	if trusted {
		f.subscribeAtOwner(ctx, id, providers[0], o.Subscribe)
	}
	var heads []Head
	for _, h := range cat.Heads {
		if o.Version != nil && h.Number != *o.Version {
			continue
		}
		if o.Version == nil && f.held(ctx, id, h) {
			continue
		}
		heads = append(heads, h)
	}
	if o.Version != nil && len(heads) == 0 {
		return nil, fmt.Errorf("%w: version %d of %s is not published", ErrNotPublished, *o.Version, id)
	}
	var out []Got
	var have uint64
	for _, h := range heads {
		r, err := f.fetchHead(ctx, providers, cat, h, trusted, "")
		if err != nil {
			_ = f.svc.Checked(id, have, err)
			f.event("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
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
	_ = f.svc.Checked(id, have, nil)
	if cat.Rights.Public && len(out) > 0 {
		if _, sub, _ := f.svc.Subscription(id); !sub {
			var n int64
			for _, r := range out {
				n += int64(r.Head.Bytes)
			}
			if ev, err := f.svc.AddToCache(ctx, id, n); err != nil {
				f.log.Warn("cache", "err", err)
			} else if len(ev) > 0 {
				f.log.Info("cache over quota: evicted", "count", len(ev))
			}
		}
		f.provide(id)
	}
	return out, nil
}

// subscribeAtOwner asks the owner's device p to notify us of new versions
// of id: always when we just subscribed (now), else when we are subscribed
// and last asked more than resubscribeEvery ago (or not since this node
// started), so the owner, who forgets subscribers after SubscriberTTL,
// keeps us while we keep the subscription.
func (f *Flows) subscribeAtOwner(ctx context.Context, id mimei.ID, p netport.PeerID, now bool) {
	if !now {
		if _, ok, err := f.svc.Subscription(id); err != nil || !ok {
			return
		}
		f.mu.Lock()
		last, ok := f.atOwner[id]
		f.mu.Unlock()
		if ok && f.svc.now().Sub(last) < resubscribeEvery {
			return
		}
	}
	if _, err := f.ask(ctx, p, &Request{Kind: KindSubscribe, MiMei: id}); err != nil {
		lvl := slog.LevelDebug // a renewal is tried again on the next round
		if now {
			lvl = slog.LevelWarn
		}
		f.log.Log(ctx, lvl, "subscribe at owner", "mimei", id.String(), "err", err)
		return
	}
	f.mu.Lock()
	f.atOwner[id] = f.svc.now()
	f.mu.Unlock()
}

// Unsubscribe stops following id and tells the owner's device, if it can
// be reached, to stop notifying us.
func (f *Flows) Unsubscribe(ctx context.Context, id mimei.ID) error {
	sub, ok, err := f.svc.Subscription(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: not subscribed to %s", mimei.ErrNotFound, id)
	}
	if err := f.svc.Unsubscribe(id); err != nil {
		return err
	}
	f.mu.Lock()
	delete(f.atOwner, id)
	f.mu.Unlock()
	if p, err := f.dir.ConnectPersona(ctx, sub.Owner); err == nil {
		_, _ = f.ask(ctx, p, &Request{Kind: KindUnsubscribe, MiMei: id})
	}
	return nil
}

// held reports whether version h of id is already here.
func (f *Flows) held(ctx context.Context, id mimei.ID, h Head) bool {
	if known, err := f.svc.Known(h.Manifest); err == nil && known {
		// Received before: on our line, or kept as a branch.
		_, _, err = f.svc.store.Version(ctx, id, fmt.Sprint(h.Number))
		return err == nil
	}
	got, err := f.svc.Head(id, h.Number)
	if err != nil || got.Manifest != h.Manifest {
		return false
	}
	_, _, err = f.svc.store.Version(ctx, id, fmt.Sprint(h.Number))
	return err == nil
}

// fetchHead fetches and imports one version from providers (the first is
// asked for the key record). writer, if set, is the persona that pushed it.
func (f *Flows) fetchHead(ctx context.Context, providers []netport.PeerID, cat *Catalog, h Head, trusted bool, writer string) (Got, error) {
	id := mimei.ID(h.MiMei)
	var rec []byte
	if h.Epoch > 0 {
		var err error
		if rec, err = f.ask(ctx, providers[0], &Request{Kind: KindKeyRecord, MiMei: id, Epoch: h.Epoch}); err != nil {
			return Got{}, fmt.Errorf("key record of epoch %d: %w", h.Epoch, err)
		}
	}
	r, err := f.svc.Receive(cat, h, rec, false, trusted)
	if err != nil {
		return Got{}, err
	}
	defer r.Release()
	if writer != "" {
		r.FromWriter(writer)
	}
	start := time.Now()
	var last time.Time
	// The exchange counts manifest blocks too, the version's totals do
	// not: the event's total adds them, and its bytes (which include the
	// manifests' few KiB) never pass the version's.
	manifests := manifestBlocks(h.Blocks)
	res, err := exchange.Fetch(ctx, f.net, r, exchange.Request{
		MiMei: id.String(), Roots: r.Roots(), Links: r.Links, Verify: r.Verify,
		Progress: func(p exchange.Progress) {
			if now := time.Now(); now.Sub(last) >= progressEvery || uint64(p.Done) == h.Blocks+manifests {
				last = now
				f.event("share.progress", map[string]any{
					"mimei": id.String(), "version": h.Number, "done": p.Done, "known": p.Known,
					"total": h.Blocks + manifests, "bytes": min(p.Bytes, int64(h.Bytes)), "total_bytes": h.Bytes,
				})
			}
		},
	}, providers)
	if err != nil {
		// Keep what arrived, so the next try does not fetch it again.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if ferr := r.Flush(fctx); ferr != nil {
			f.log.Warn("share: keeping the blocks of a broken fetch", "mimei", id.String(), "err", ferr)
		}
		cancel()
		return Got{}, err
	}
	fetched := time.Now()
	got, err := r.Finish(ctx)
	if err != nil {
		return Got{}, err
	}
	ev := map[string]any{
		"mimei": id.String(), "version": h.Number, "fetched": res.Fetched, "skipped": res.Skipped,
		"bytes": res.Bytes, "ms": time.Since(start).Milliseconds(), "providers": len(res.PerProvider),
		"check_ms": time.Since(fetched).Milliseconds(),
	}
	ev["moved_cur"] = got.MovedCur
	if got.Diverged != nil {
		ev["diverged"] = got.Diverged.Error()
	}
	if got.Conflict != nil {
		ev["conflict"] = got.Conflict.Error()
		f.event("share.conflict", map[string]any{"mimei": id.String(), "version": h.Number, "error": got.Conflict.Error()})
	}
	f.event("share.received", ev)
	return Got{Received: got, Result: res}, nil
}

func manifestBlocks(n uint64) uint64 {
	return (n + MaxManifestEntries - 1) / MaxManifestEntries
}

// SyncLater brings id up to date in the background; calls while one runs
// make it run once more after.
func (f *Flows) SyncLater(id mimei.ID) {
	f.mu.Lock()
	if _, busy := f.running[id]; busy {
		f.again[id] = true
		f.mu.Unlock()
		return
	}
	done := make(chan struct{})
	f.running[id] = done
	f.mu.Unlock()
	f.goBackground(func() {
		defer close(done)
		for {
			ctx, cancel := context.WithTimeout(f.ctx, syncTimeout)
			_, err := f.Fetch(ctx, id, FetchOptions{})
			cancel()
			if err != nil && f.ctx.Err() == nil {
				f.log.Warn("sync subscription", "mimei", id.String(), "err", err)
			}
			f.mu.Lock()
			if !f.again[id] || f.ctx.Err() != nil {
				delete(f.running, id)
				delete(f.again, id)
				f.mu.Unlock()
				return
			}
			delete(f.again, id)
			f.mu.Unlock()
		}
	})
}

// safetyNet asks the owners of every subscription, and our own devices,
// for new versions every CheckEvery, in case a notification was lost.
func (f *Flows) safetyNet() {
	t := time.NewTimer(f.cfg.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
		subs, err := f.svc.Subscriptions()
		if err != nil {
			f.log.Warn("list subscriptions", "err", err)
		}
		for _, sub := range subs {
			f.SyncLater(sub.MiMei)
		}
		f.SyncOwn()
		t.Reset(f.cfg.CheckEvery)
	}
}

// ---- own devices ----

// SyncOwn brings here, from every paired device, the MiMei of our persona
// it has and we lack. Failures are logged: a device may be away.
func (f *Flows) SyncOwn() {
	for _, d := range f.ownDevices() {
		ctx, cancel := context.WithTimeout(f.ctx, ownSyncTimeout)
		err := f.syncOwnDevice(ctx, d)
		cancel()
		if err != nil && f.ctx.Err() == nil {
			f.log.Info("sync with own device", "device", d, "err", err)
		}
	}
}

// syncOwnDevice lists the MiMei own device d holds and fetches what is new.
func (f *Flows) syncOwnDevice(ctx context.Context, d netport.PeerID) error {
	if err := f.connectOwn(ctx, d); err != nil {
		return err
	}
	var start uint32
	var errs []error
	for {
		b, err := f.ask(ctx, d, &Request{Kind: KindList, Epoch: start})
		if err != nil {
			return err
		}
		l, err := ParseOwnList(b)
		if err != nil {
			return err
		}
		for _, e := range l.Entries {
			if e.Versions == 0 {
				continue
			}
			if _, err := f.fetchOwn(ctx, e.MiMei, d); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", mimei.ID(e.MiMei), err))
			}
		}
		if !l.More || len(l.Entries) == 0 {
			break
		}
		start += uint32(len(l.Entries))
	}
	f.event("device.synced", map[string]any{"device": d.String(), "errors": len(errs)})
	return errors.Join(errs...)
}

// fetchOwnAll fetches id from every reachable own device.
func (f *Flows) fetchOwnAll(ctx context.Context, id mimei.ID) ([]Got, error) {
	var out []Got
	var errs []error
	for _, d := range f.ownDevices() {
		if err := f.connectOwn(ctx, d); err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := f.fetchOwn(ctx, id, d)
		out = append(out, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// fetchOwn fetches from own device p every published version of id that
// is not here yet, and tells our subscribers of each (it published it; we
// serve it too).
func (f *Flows) fetchOwn(ctx context.Context, id mimei.ID, p netport.PeerID) ([]Got, error) {
	cat, err := f.catalog(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if cat.Rights.Owner != f.svc.Persona() {
		return nil, fmt.Errorf("%w: %s is not our persona's", ErrNotShared, id)
	}
	var out []Got
	for _, h := range cat.Heads {
		if f.held(ctx, id, h) {
			continue
		}
		r, err := f.fetchHead(ctx, []netport.PeerID{p}, cat, h, true, "")
		if err != nil {
			f.event("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
			return out, err
		}
		out = append(out, r)
		if r.Conflict == nil {
			f.notifySubscribers(id, h)
		}
	}
	return out, nil
}

// ---- writers ----

// pushToOwner publishes version n of m, a MiMei we may write to, and
// tells a device of its owner, which fetches it from us.
func (f *Flows) pushToOwner(m mimei.Meta, n uint64) {
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Minute)
	defer cancel()
	h, err := f.svc.Publish(ctx, m.ID, fmt.Sprint(n), f.encKey)
	if err == nil {
		var payload []byte
		if payload, err = EncodeHead(&h); err == nil {
			var p netport.PeerID
			if p, err = f.dir.ConnectPersona(ctx, m.Rights.Owner); err == nil {
				_, err = f.ask(ctx, p, &Request{Kind: KindPush, MiMei: m.ID, Payload: payload})
			}
		}
	}
	if err != nil {
		f.log.Warn("push a version to the owner", "mimei", m.ID.String(), "version", n, "err", err)
		f.event("share.push_failed", map[string]any{"mimei": m.ID.String(), "version": n, "error": err.Error()})
		return
	}
	f.event("share.push_sent", map[string]any{"mimei": m.ID.String(), "version": n, "owner": m.Rights.Owner})
}

// takePush fetches version h of our MiMei id from writer's device p,
// imports it (verified: signed by writer, whom our rights name) and
// publishes it to our readers and other devices.
func (f *Flows) takePush(id mimei.ID, h Head, p netport.PeerID, writer string) {
	f.goBackground(func() {
		ctx, cancel := context.WithTimeout(f.ctx, syncTimeout)
		defer cancel()
		err := func() error {
			cat, err := f.catalog(ctx, p, id)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(cat.Heads, func(x Head) bool { return x.Number == h.Number && x.Manifest == h.Manifest })
			if i < 0 {
				return fmt.Errorf("%w: the writer's catalog does not list the pushed version", ErrNotPublished)
			}
			if f.held(ctx, id, cat.Heads[i]) {
				return nil
			}
			got, err := f.fetchHead(ctx, []netport.PeerID{p}, cat, cat.Heads[i], false, writer)
			if err != nil {
				return err
			}
			if got.Conflict == nil {
				f.afterBackup(id, h.Number)
			}
			return nil
		}()
		if err != nil && f.ctx.Err() == nil {
			f.log.Warn("take a pushed version", "mimei", id.String(), "version", h.Number, "writer", writer, "err", err)
			f.event("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
		}
	})
}
