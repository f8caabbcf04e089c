package node

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
	"github.com/peer-node/peer/internal/share"
)

// shareAPI serves the sharing endpoints.
type shareAPI struct{ n *Node }

var _ httpapi.ShareBackend = (*shareAPI)(nil)

// shareError maps sharing errors to API errors.
func shareError(err error) error {
	var he *httpapi.Error
	e := func(status int, code string) error { return httpapi.Errorf(status, code, "%v", err) }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return err
	case errors.Is(err, errNetworkOff):
		return httpapi.NetErrorf(apiv1.CodeNetworkOff, "%v", err)
	case errors.Is(err, share.ErrNotShared), errors.Is(err, share.ErrNoKey), errors.Is(err, share.ErrDenied):
		return e(http.StatusForbidden, apiv1.CodeNotShared)
	case errors.Is(err, share.ErrNotOwner):
		return e(http.StatusForbidden, apiv1.CodeNotOwner)
	case errors.Is(err, share.ErrNotPublished):
		return e(http.StatusNotFound, apiv1.CodeNoVersion)
	case errors.Is(err, exchange.ErrNoProviders), errors.Is(err, exchange.ErrUnavailable), errors.Is(err, share.ErrUnavailable):
		return e(http.StatusServiceUnavailable, apiv1.CodeUnavailable)
	case errors.Is(err, sealing.ErrMalformed) && strings.Contains(err.Error(), "readers"):
		return e(http.StatusBadRequest, apiv1.CodeBadRequest)
	}
	if se := storeError(err); se != err {
		return se
	}
	return netError(err)
}

func (a *shareAPI) svc() (*shareSvc, error) {
	if a.n.share == nil {
		return nil, errNetworkOff
	}
	return a.n.share, nil
}

// persona resolves a contact ref (pet name or did:key) to a did:key.
func (a *shareAPI) persona(ref string) (string, error) {
	if strings.HasPrefix(ref, "did:key:") {
		return ref, nil
	}
	c, err := a.n.contacts.Get(ref)
	if err != nil {
		return "", httpapi.Errorf(http.StatusNotFound, apiv1.CodeNotFound, "%q is not a contact (give a pet name or a did:key)", ref)
	}
	return c.Persona, nil
}

func (a *shareAPI) name(persona string) string {
	if persona == "" {
		return ""
	}
	if c, err := a.n.contacts.Get(persona); err == nil {
		return c.Name
	}
	return ""
}

func (a *shareAPI) sharees(list []string) []apiv1.Sharee {
	out := make([]apiv1.Sharee, 0, len(list))
	for _, p := range list {
		out = append(out, apiv1.Sharee{Persona: p, Name: a.name(p)})
	}
	return out
}

func (a *shareAPI) Sharing(ctx context.Context, mid string) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	m, err := a.n.mimei.Registry().Get(id)
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	out := apiv1.Sharing{MiMei: id.String(), Owner: m.Rights.Owner, Public: m.Rights.Public,
		Readers: a.sharees(m.Rights.Readers), Writers: a.sharees(m.Rights.Writers)}
	if out.Epoch, err = ss.svc.Epoch(id); err != nil {
		return out, shareError(err)
	}
	subs, err := ss.svc.Subscribers(id)
	if err != nil {
		return out, shareError(err)
	}
	out.Subscribers = len(subs)
	heads, err := ss.svc.Heads(id)
	if err != nil {
		return out, shareError(err)
	}
	out.Published = len(heads)
	return out, nil
}

func (a *shareAPI) Share(ctx context.Context, mid string, req apiv1.ShareRequest) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	if req.Public {
		if err := ss.makePublic(ctx, id); err != nil {
			return apiv1.Sharing{}, shareError(err)
		}
		return a.Sharing(ctx, mid)
	}
	p, err := a.persona(req.With)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	// The owner's node knows a persona behind a connection only for
	// contacts (their identity records list their devices), so a share
	// with anyone else could never be fetched.
	if c, err := a.n.contacts.Get(p); err != nil {
		return apiv1.Sharing{}, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "%s is not a contact: add them first (peer invite, or peer contacts add)", p)
	} else if c.Blocked {
		return apiv1.Sharing{}, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBlocked, "%s is blocked", p)
	}
	if _, err := ss.Share(ctx, id, p, req.Write); err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	return a.Sharing(ctx, mid)
}

func (a *shareAPI) Unshare(ctx context.Context, mid, ref string) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	p, err := a.persona(ref)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	if err := ss.svc.Unshare(ctx, id, p, ss.encKey); err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	return a.Sharing(ctx, mid)
}

func (a *shareAPI) SharedWithMe(ctx context.Context) ([]apiv1.Incoming, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	ins, err := ss.svc.SharedWithMe()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Incoming, 0, len(ins))
	for _, in := range ins {
		id := mimei.ID(in.MiMei)
		_, sub, _ := ss.svc.Subscription(id)
		vs, _ := a.n.mimei.Versions(ctx, id)
		out = append(out, apiv1.Incoming{
			MiMei: id.String(), From: in.From, FromName: a.name(in.From), Author: in.Author,
			AppType: in.AppType, Ext: in.Ext, Mark: in.Mark, Write: in.Write, Received: in.Received,
			Subscribed: sub, Versions: len(vs),
		})
	}
	return out, nil
}

func wireFetched(id mimei.ID, got []gotVersion) apiv1.FetchResult {
	out := apiv1.FetchResult{MiMei: id.String(), Versions: []apiv1.Fetched{}}
	for _, g := range got {
		f := apiv1.Fetched{Version: g.Head.Number, Blocks: g.Head.Blocks, Bytes: g.Head.Bytes, Fetched: g.Fetched, Skipped: g.Skipped}
		if g.Conflict != nil {
			f.Conflict = g.Conflict.Error()
		}
		if g.Diverged != nil {
			f.Diverged = g.Diverged.Error()
		}
		f.MovedCur = g.MovedCur
		out.Versions = append(out.Versions, f)
	}
	return out
}

func (a *shareAPI) Subscribe(ctx context.Context, req apiv1.Subscribe) (apiv1.FetchResult, error) {
	id, err := parseMID(req.MiMei)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.FetchResult{}, shareError(err)
	}
	owner := ""
	if req.Owner != "" {
		if owner, err = a.persona(req.Owner); err != nil {
			return apiv1.FetchResult{}, err
		}
	}
	got, err := ss.fetch(ctx, id, fetchOpts{owner: owner, subscribe: true})
	if err != nil {
		return wireFetched(id, got), shareError(err)
	}
	return wireFetched(id, got), nil
}

func (a *shareAPI) Unsubscribe(ctx context.Context, mid string) error {
	id, err := parseMID(mid)
	if err != nil {
		return err
	}
	ss, err := a.svc()
	if err != nil {
		return shareError(err)
	}
	sub, ok, err := ss.svc.Subscription(id)
	if err != nil {
		return shareError(err)
	}
	if !ok {
		return httpapi.Errorf(http.StatusNotFound, apiv1.CodeNotFound, "not subscribed to %s", id)
	}
	if err := ss.svc.Unsubscribe(id); err != nil {
		return shareError(err)
	}
	// Tell the owner, best effort.
	if p, err := ss.ownerDevice(ctx, sub.Owner); err == nil {
		_, _ = ss.ask(ctx, p, &share.Request{Kind: share.KindUnsubscribe, MiMei: id})
	}
	return nil
}

func (a *shareAPI) Subscriptions(ctx context.Context) ([]apiv1.Subscription, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	subs, err := ss.svc.Subscriptions()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, apiv1.Subscription{MiMei: s.MiMei.String(), Owner: s.Owner, Since: s.Since, Checked: s.Checked, Have: s.Have, Error: s.Error})
	}
	return out, nil
}

func (a *shareAPI) Fetch(ctx context.Context, mid string, req apiv1.FetchRequest) (apiv1.FetchResult, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.FetchResult{}, shareError(err)
	}
	owner := ""
	if req.Owner != "" {
		if owner, err = a.persona(req.Owner); err != nil {
			return apiv1.FetchResult{}, err
		}
	}
	got, err := ss.fetch(ctx, id, fetchOpts{owner: owner, version: req.Version})
	if err != nil {
		return wireFetched(id, got), shareError(err)
	}
	return wireFetched(id, got), nil
}

func (a *shareAPI) AccessLog(ctx context.Context, mid string, limit int) ([]apiv1.Access, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, err
	}
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	if _, err := a.n.mimei.Registry().Get(id); err != nil {
		return nil, shareError(err)
	}
	log, err := ss.svc.AccessLog(id, limit)
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Access, 0, len(log))
	for _, e := range log {
		out = append(out, apiv1.Access{Time: e.Time, Version: e.Version, Persona: e.Persona, Name: a.name(e.Persona), Peer: e.Peer})
	}
	return out, nil
}

func (a *shareAPI) Cache(ctx context.Context) ([]apiv1.CacheEntry, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	es, err := ss.svc.Cached()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.CacheEntry, 0, len(es))
	for _, e := range es {
		out = append(out, apiv1.CacheEntry{MiMei: e.MiMei.String(), Bytes: e.Bytes, LastUse: e.LastUse})
	}
	return out, nil
}

func (a *shareAPI) Branches(ctx context.Context, mid string) ([]apiv1.Branch, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, err
	}
	if _, err := a.n.mimei.Registry().Get(id); err != nil {
		return nil, shareError(err)
	}
	bs, err := a.n.mimei.Branches(ctx, id)
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Branch, 0, len(bs))
	for _, b := range bs {
		out = append(out, apiv1.Branch{Version: b.Number, Record: b.Record.String(), Author: b.Author, Memo: b.Memo, Kind: string(b.Kind), Base: b.Base})
	}
	return out, nil
}
