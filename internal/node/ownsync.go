package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/share"
)

// Keeping the persona's MiMei in sync between its own devices. Each device
// publishes its versions (sealed with the MiMei's content key, which every
// device of the persona can open) and tells the others of a new one; the
// others fetch what they lack through the same block exchange readers use.
// A device that was away lists the MiMei of each other device when it
// starts and every share.check_minutes. Versions made on two devices with
// the same number are both kept: the one that arrives second becomes a
// branch (mimei.ErrConflict, event share.conflict, `peer branches`).

// ownSyncTimeout bounds one pass over one device.
const ownSyncTimeout = 30 * time.Minute

// syncOwnAll brings here, from every paired device, the MiMei of our
// persona it has and we lack. Failures are logged: a device may be away.
func (ss *shareSvc) syncOwnAll() {
	s, err := ss.net()
	if err != nil {
		return
	}
	for _, d := range s.ownDevices() {
		ctx, cancel := context.WithTimeout(s.ctx, ownSyncTimeout)
		err := ss.syncOwnDevice(ctx, d)
		cancel()
		if err != nil && s.ctx.Err() == nil {
			ss.n.log.Info("sync with own device", "device", d.PeerID, "err", err)
		}
	}
}

// syncOwnDevice lists the MiMei own device d holds and fetches what is new.
func (ss *shareSvc) syncOwnDevice(ctx context.Context, d ownDevice) error {
	s, err := ss.net()
	if err != nil {
		return err
	}
	if err := s.connectOwn(ctx, d); err != nil {
		return err
	}
	var start uint32
	var errs []error
	for {
		b, err := ss.ask(ctx, d.PeerID, &share.Request{Kind: share.KindList, Epoch: start})
		if err != nil {
			return err
		}
		l, err := share.ParseOwnList(b)
		if err != nil {
			return err
		}
		for _, e := range l.Entries {
			if e.Versions == 0 {
				continue
			}
			if _, err := ss.fetchOwn(ctx, e.MiMei, d.PeerID); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", mimei.ID(e.MiMei), err))
			}
		}
		if !l.More || len(l.Entries) == 0 {
			break
		}
		start += uint32(len(l.Entries))
	}
	ss.n.bus.Publish("device.synced", map[string]any{"device": d.PeerID.String(), "errors": len(errs)})
	return errors.Join(errs...)
}

// fetchOwnAll fetches id from every reachable own device.
func (ss *shareSvc) fetchOwnAll(ctx context.Context, id mimei.ID) ([]gotVersion, error) {
	s, err := ss.net()
	if err != nil {
		return nil, err
	}
	var out []gotVersion
	var errs []error
	for _, d := range s.ownDevices() {
		if err := s.connectOwn(ctx, d); err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := ss.fetchOwn(ctx, id, d.PeerID)
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
// is not here yet.
func (ss *shareSvc) fetchOwn(ctx context.Context, id mimei.ID, p peer.ID) ([]gotVersion, error) {
	cat, err := ss.catalog(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if cat.Rights.Owner != ss.svc.Persona() {
		return nil, fmt.Errorf("%w: %s is not our persona's", share.ErrNotShared, id)
	}
	var out []gotVersion
	for _, h := range cat.Heads {
		if ss.held(ctx, id, h) {
			continue
		}
		r, err := ss.fetchHead(ctx, []peer.ID{p}, cat, h, true)
		if err != nil {
			ss.n.bus.Publish("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
			return out, err
		}
		out = append(out, r)
		if r.Conflict == nil {
			ss.passOn(id, h)
		}
	}
	return out, nil
}

// passOn tells the subscribers of a shared MiMei about a version that
// arrived from another of our devices (it published it; we serve it too).
func (ss *shareSvc) passOn(id mimei.ID, h share.Head) {
	if subs, err := ss.svc.Subscribers(id); err == nil && len(subs) > 0 {
		ss.notifyAll(id, h)
	}
}

// notifyOwn tells our other devices about a new version of id.
func (ss *shareSvc) notifyOwn(id mimei.ID, h share.Head) {
	s, err := ss.net()
	if err != nil {
		return
	}
	payload, err := share.EncodeHead(&h)
	if err != nil {
		return
	}
	for _, d := range s.ownDevices() {
		s.goBackground(func() {
			ctx, cancel := context.WithTimeout(s.ctx, notifyTimeout)
			defer cancel()
			if s.host.Host().Network().Connectedness(d.PeerID) != network.Connected {
				if err := s.connectOwn(ctx, d); err != nil {
					ss.n.log.Debug("notify own device: unreachable", "device", d.PeerID, "err", err)
					return
				}
			}
			if _, err := ss.ask(ctx, d.PeerID, &share.Request{Kind: share.KindNotify, MiMei: id, Payload: payload}); err != nil {
				ss.n.log.Debug("notify own device", "device", d.PeerID, "err", err)
			}
		})
	}
}

// publishMissing publishes the versions of our own id that have no head
// yet, so that another of our devices can fetch them.
func (ss *shareSvc) publishMissing(ctx context.Context, id mimei.ID) error {
	vs, err := ss.n.mimei.Versions(ctx, id)
	if err != nil {
		return err
	}
	heads, err := ss.svc.Heads(id)
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
		if _, err := ss.svc.Publish(ctx, id, fmt.Sprint(v.Number), ss.encKey); err != nil {
			return err
		}
	}
	return nil
}

// ---- writers ----

// pushToOwner publishes version n of id, a MiMei we may write to, and
// tells a device of its owner, which fetches it from us.
func (ss *shareSvc) pushToOwner(m mimei.Meta, n uint64) {
	s, err := ss.net()
	if err != nil {
		return
	}
	s.goBackground(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
		defer cancel()
		h, err := ss.svc.Publish(ctx, m.ID, fmt.Sprint(n), ss.encKey)
		if err == nil {
			var payload []byte
			if payload, err = share.EncodeHead(&h); err == nil {
				var p peer.ID
				if p, err = ss.ownerDevice(ctx, m.Rights.Owner); err == nil {
					_, err = ss.ask(ctx, p, &share.Request{Kind: share.KindPush, MiMei: m.ID, Payload: payload})
				}
			}
		}
		if err != nil {
			ss.n.log.Warn("push a version to the owner", "mimei", m.ID.String(), "version", n, "err", err)
			ss.n.bus.Publish("share.push_failed", map[string]any{"mimei": m.ID.String(), "version": n, "error": err.Error()})
			return
		}
		ss.n.bus.Publish("share.push_sent", map[string]any{"mimei": m.ID.String(), "version": n, "owner": m.Rights.Owner})
	})
}

// takePush fetches version h of our MiMei id from writer's device p,
// imports it (verified: signed by writer, whom our rights name) and
// publishes it to our readers and other devices.
func (ss *shareSvc) takePush(id mimei.ID, h share.Head, p peer.ID, writer string) {
	s, err := ss.net()
	if err != nil {
		return
	}
	s.goBackground(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Minute)
		defer cancel()
		err := func() error {
			cat, err := ss.catalog(ctx, p, id)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(cat.Heads, func(x share.Head) bool { return x.Number == h.Number && x.Manifest == h.Manifest })
			if i < 0 {
				return fmt.Errorf("%w: the writer's catalog does not list the pushed version", share.ErrNotPublished)
			}
			if ss.held(ctx, id, cat.Heads[i]) {
				return nil
			}
			got, err := ss.fetchPushed(ctx, p, cat, cat.Heads[i], writer)
			if err != nil {
				return err
			}
			if got.Conflict == nil {
				ss.afterBackup(id, h.Number)
			}
			return nil
		}()
		if err != nil && s.ctx.Err() == nil {
			ss.n.log.Warn("take a pushed version", "mimei", id.String(), "version", h.Number, "writer", writer, "err", err)
			ss.n.bus.Publish("share.failed", map[string]any{"mimei": id.String(), "version": h.Number, "error": err.Error()})
		}
	})
}
