package apibackend

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/sealing"
	"github.com/peer-node/peer/internal/share"
)

// Share serves the sharing endpoints (httpapi.ShareBackend) over the
// sharing state and, when the network is on, its flows. Contacts and MiMei
// are required; set every field before the API serves.
type Share struct {
	Service  *share.Service // nil: the endpoints that need it answer network_off
	Flows    *share.Flows   // nil when the network is off
	Contacts ContactBook
	MiMei    *mimei.Store
}

// ContactBook is what Share needs of the contacts (*contacts.Store): a
// contact by pet name or did:key, contacts.ErrNotFound if there is none.
type ContactBook interface {
	Get(ref string) (contacts.Contact, error)
}

var (
	_ ContactBook          = (*contacts.Store)(nil)
	_ httpapi.ShareBackend = (*Share)(nil)
)

// shareError maps sharing errors to API errors.
func shareError(err error) error {
	var he *httpapi.Error
	e := func(status int, code string) error { return httpapi.Errorf(status, code, "%v", err) }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return err
	case errors.Is(err, share.ErrNetworkOff):
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
	return NetError(err)
}

func (a *Share) svc() (*share.Service, error) {
	if a.Service == nil {
		return nil, share.ErrNetworkOff
	}
	return a.Service, nil
}

// flows is the sharing capability on the network, or ErrNetworkOff.
func (a *Share) flows() (*share.Flows, error) {
	if a.Flows == nil {
		return nil, share.ErrNetworkOff
	}
	return a.Flows, nil
}

// persona resolves a contact ref (pet name or did:key) to a did:key.
func (a *Share) persona(ref string) (string, error) {
	if strings.HasPrefix(ref, "did:key:") {
		return ref, nil
	}
	c, err := a.Contacts.Get(ref)
	if err != nil {
		return "", httpapi.Errorf(http.StatusNotFound, apiv1.CodeNotFound, "%q is not a contact (give a pet name or a did:key)", ref)
	}
	return c.Persona, nil
}

func (a *Share) name(persona string) string {
	if persona == "" {
		return ""
	}
	if c, err := a.Contacts.Get(persona); err == nil {
		return c.Name
	}
	return ""
}

func (a *Share) sharees(list []string) []apiv1.Sharee {
	out := make([]apiv1.Sharee, 0, len(list))
	for _, p := range list {
		out = append(out, apiv1.Sharee{Persona: p, Name: a.name(p)})
	}
	return out
}

func (a *Share) Sharing(ctx context.Context, mid string) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	ss, err := a.svc()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	m, err := a.MiMei.Registry().Get(id)
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	out := apiv1.Sharing{MiMei: id.String(), Owner: m.Rights.Owner, Public: m.Rights.Public,
		Readers: a.sharees(m.Rights.Readers), Writers: a.sharees(m.Rights.Writers)}
	if out.Epoch, err = ss.Epoch(id); err != nil {
		return out, shareError(err)
	}
	subs, err := ss.Subscribers(id)
	if err != nil {
		return out, shareError(err)
	}
	out.Subscribers = len(subs)
	heads, err := ss.Heads(id)
	if err != nil {
		return out, shareError(err)
	}
	out.Published = len(heads)
	return out, nil
}

func (a *Share) Share(ctx context.Context, mid string, req apiv1.ShareRequest) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	fl, err := a.flows()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	if req.Public {
		if err := fl.MakePublic(ctx, id); err != nil {
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
	if c, err := a.Contacts.Get(p); err != nil {
		return apiv1.Sharing{}, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "%s is not a contact: add them first (peer invite, or peer contacts add)", p)
	} else if c.Blocked {
		return apiv1.Sharing{}, httpapi.Errorf(http.StatusBadRequest, apiv1.CodeBlocked, "%s is blocked", p)
	}
	if _, err := fl.ShareWith(ctx, id, p, req.Write); err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	return a.Sharing(ctx, mid)
}

func (a *Share) Unshare(ctx context.Context, mid, ref string) (apiv1.Sharing, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	fl, err := a.flows()
	if err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	p, err := a.persona(ref)
	if err != nil {
		return apiv1.Sharing{}, err
	}
	if err := fl.Unshare(ctx, id, p); err != nil {
		return apiv1.Sharing{}, shareError(err)
	}
	return a.Sharing(ctx, mid)
}

func (a *Share) SharedWithMe(ctx context.Context) ([]apiv1.Incoming, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	ins, err := ss.SharedWithMe()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Incoming, 0, len(ins))
	for _, in := range ins {
		id := mimei.ID(in.MiMei)
		_, sub, _ := ss.Subscription(id)
		vs, _ := a.MiMei.Versions(ctx, id)
		w := apiv1.Incoming{
			MiMei: id.String(), From: in.From, FromName: a.name(in.From), Author: in.Author,
			AppType: in.AppType, Ext: in.Ext, Mark: in.Mark, Write: in.Write, Received: in.Received,
			Subscribed: sub, Versions: len(vs),
		}
		if !in.Revoked.IsZero() {
			w.Revoked = &in.Revoked
		}
		out = append(out, w)
	}
	return out, nil
}

func wireFetched(id mimei.ID, got []share.Got) apiv1.FetchResult {
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

func (a *Share) Subscribe(ctx context.Context, req apiv1.Subscribe) (apiv1.FetchResult, error) {
	id, err := parseMID(req.MiMei)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	fl, err := a.flows()
	if err != nil {
		return apiv1.FetchResult{}, shareError(err)
	}
	owner := ""
	if req.Owner != "" {
		if owner, err = a.persona(req.Owner); err != nil {
			return apiv1.FetchResult{}, err
		}
	}
	got, err := fl.Fetch(ctx, id, share.FetchOptions{Owner: owner, Subscribe: true})
	if err != nil {
		return wireFetched(id, got), shareError(err)
	}
	return wireFetched(id, got), nil
}

func (a *Share) Unsubscribe(ctx context.Context, mid string) error {
	id, err := parseMID(mid)
	if err != nil {
		return err
	}
	fl, err := a.flows()
	if err != nil {
		return shareError(err)
	}
	if _, ok, err := fl.Service().Subscription(id); err != nil {
		return shareError(err)
	} else if !ok {
		return httpapi.Errorf(http.StatusNotFound, apiv1.CodeNotFound, "not subscribed to %s", id)
	}
	return shareError(fl.Unsubscribe(ctx, id))
}

func (a *Share) Subscriptions(ctx context.Context) ([]apiv1.Subscription, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	subs, err := ss.Subscriptions()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Subscription, 0, len(subs))
	for _, s := range subs {
		out = append(out, apiv1.Subscription{MiMei: s.MiMei.String(), Owner: s.Owner, Since: s.Since, Checked: s.Checked, Have: s.Have, Error: s.Error})
	}
	return out, nil
}

func (a *Share) Fetch(ctx context.Context, mid string, req apiv1.FetchRequest) (apiv1.FetchResult, error) {
	id, err := parseMID(mid)
	if err != nil {
		return apiv1.FetchResult{}, err
	}
	fl, err := a.flows()
	if err != nil {
		return apiv1.FetchResult{}, shareError(err)
	}
	owner := ""
	if req.Owner != "" {
		if owner, err = a.persona(req.Owner); err != nil {
			return apiv1.FetchResult{}, err
		}
	}
	got, err := fl.Fetch(ctx, id, share.FetchOptions{Owner: owner, Version: req.Version})
	if err != nil {
		return wireFetched(id, got), shareError(err)
	}
	return wireFetched(id, got), nil
}

func (a *Share) AccessLog(ctx context.Context, mid string, limit int) ([]apiv1.Access, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, err
	}
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	if _, err := a.MiMei.Registry().Get(id); err != nil {
		return nil, shareError(err)
	}
	log, err := ss.AccessLog(id, limit)
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Access, 0, len(log))
	for _, e := range log {
		out = append(out, apiv1.Access{Time: e.Time, Version: e.Version, Persona: e.Persona, Name: a.name(e.Persona), Peer: e.Peer})
	}
	return out, nil
}

func (a *Share) Cache(ctx context.Context) ([]apiv1.CacheEntry, error) {
	ss, err := a.svc()
	if err != nil {
		return nil, shareError(err)
	}
	es, err := ss.Cached()
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.CacheEntry, 0, len(es))
	for _, e := range es {
		out = append(out, apiv1.CacheEntry{MiMei: e.MiMei.String(), Bytes: e.Bytes, LastUse: e.LastUse})
	}
	return out, nil
}

func (a *Share) Branches(ctx context.Context, mid string) ([]apiv1.Branch, error) {
	id, err := parseMID(mid)
	if err != nil {
		return nil, err
	}
	if _, err := a.MiMei.Registry().Get(id); err != nil {
		return nil, shareError(err)
	}
	bs, err := a.MiMei.Branches(ctx, id)
	if err != nil {
		return nil, shareError(err)
	}
	out := make([]apiv1.Branch, 0, len(bs))
	for _, b := range bs {
		out = append(out, apiv1.Branch{Version: b.Number, Record: b.Record.String(), Author: b.Author, Memo: b.Memo, Kind: string(b.Kind), Base: b.Base})
	}
	return out, nil
}
