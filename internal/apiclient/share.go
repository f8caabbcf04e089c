package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/peer-node/peer/internal/apiv1"
)

// This file holds the client of the sharing side: /api/v1/mimei/{mid}/
// shares, fetch, access and branches, /api/v1/shared, /api/v1/subscriptions
// and /api/v1/cache. A ref names a contact by did:key or pet name; an owner
// is a did:key or a contact's pet name. A node without the network answers
// every call with an *Error of code apiv1.CodeNetworkOff.
//
// Share, Unshare, Subscribe and Fetch may reach other peers, seal versions
// again under a new key or move many blocks: they have no overall timeout,
// only their context ends them. Their progress is on the event stream
// (share.progress, share.received, share.failed).

// Share gives a contact (req.With) read or, with req.Write, write access to
// a MiMei of ours, or makes it public (req.Public). It returns who may
// fetch it now.
func (c *Client) Share(ctx context.Context, mid string, req apiv1.ShareRequest) (apiv1.Sharing, error) {
	var sh apiv1.Sharing
	return sh, c.send(ctx, c.long(), http.MethodPost, mimeiPath(mid)+"/shares", req, &sh)
}

// Unshare takes a contact's access away and rotates the MiMei's content
// key, so that versions made from now on are sealed against them; what
// they already fetched stays theirs. It returns who may fetch it now.
func (c *Client) Unshare(ctx context.Context, mid, ref string) (apiv1.Sharing, error) {
	var sh apiv1.Sharing
	return sh, c.send(ctx, c.long(), http.MethodDelete, mimeiPath(mid)+"/shares/"+url.PathEscape(ref), nil, &sh)
}

// Sharing says who may fetch a MiMei of ours.
func (c *Client) Sharing(ctx context.Context, mid string) (apiv1.Sharing, error) {
	var sh apiv1.Sharing
	return sh, c.do(ctx, http.MethodGet, mimeiPath(mid)+"/shares", nil, &sh)
}

// SharedWithMe lists the MiMei others shared with us.
func (c *Client) SharedWithMe(ctx context.Context) ([]apiv1.Incoming, error) {
	var l []apiv1.Incoming
	return l, c.do(ctx, http.MethodGet, "/api/v1/shared", nil, &l)
}

// Subscribe keeps a MiMei shared with us up to date, fetching at once the
// versions not held. owner (a did:key or contact) is needed only when no
// offer named it, as for a public MiMei.
func (c *Client) Subscribe(ctx context.Context, mid, owner string) (apiv1.FetchResult, error) {
	var r apiv1.FetchResult
	return r, c.send(ctx, c.long(), http.MethodPost, "/api/v1/subscriptions", apiv1.Subscribe{MiMei: mid, Owner: owner}, &r)
}

// Unsubscribe stops keeping a MiMei up to date; what was fetched stays.
func (c *Client) Unsubscribe(ctx context.Context, mid string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/subscriptions/"+url.PathEscape(mid), nil, nil)
}

// Subscriptions lists the MiMei kept up to date.
func (c *Client) Subscriptions(ctx context.Context) ([]apiv1.Subscription, error) {
	var l []apiv1.Subscription
	return l, c.do(ctx, http.MethodGet, "/api/v1/subscriptions", nil, &l)
}

// Fetch fetches one version (req.Version) or every published version not
// held of a MiMei shared with us or public.
func (c *Client) Fetch(ctx context.Context, mid string, req apiv1.FetchRequest) (apiv1.FetchResult, error) {
	var r apiv1.FetchResult
	return r, c.send(ctx, c.long(), http.MethodPost, mimeiPath(mid)+"/fetch", req, &r)
}

// AccessLog lists who fetched which version of a MiMei of ours: the latest
// limit fetches (0: the node's default, 100; at most 10000), oldest first.
func (c *Client) AccessLog(ctx context.Context, mid string, limit int) ([]apiv1.Access, error) {
	p := mimeiPath(mid) + "/access"
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var l []apiv1.Access
	return l, c.do(ctx, http.MethodGet, p, nil, &l)
}

// Cache lists the public MiMei kept as a cache.
func (c *Client) Cache(ctx context.Context) ([]apiv1.CacheEntry, error) {
	var l []apiv1.CacheEntry
	return l, c.do(ctx, http.MethodGet, "/api/v1/cache", nil, &l)
}

// Branches lists the versions of a MiMei kept beside its main line after
// conflicts.
func (c *Client) Branches(ctx context.Context, mid string) ([]apiv1.Branch, error) {
	var l []apiv1.Branch
	return l, c.do(ctx, http.MethodGet, mimeiPath(mid)+"/branches", nil, &l)
}
