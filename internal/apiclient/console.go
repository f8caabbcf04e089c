package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// This file holds the client of the web console's sessions
// (/api/v1/console). The client authenticates with the API token, so it can
// make pairing codes and list and revoke sessions; redeeming a code is for
// the browser. A node without the console answers 503 unavailable.

// Pair makes a one-time pairing code for a console session named name
// ("" for none) with scope apiv1.ScopeAdmin or apiv1.ScopeRead ("" for
// admin), valid for ttl (0: 10 minutes; at most an hour; whole seconds).
func (c *Client) Pair(ctx context.Context, name, scope string, ttl time.Duration) (apiv1.ConsolePairing, error) {
	var p apiv1.ConsolePairing
	req := apiv1.ConsolePair{Name: name, Scope: scope, TTLSeconds: int64(ttl / time.Second)}
	return p, c.do(ctx, http.MethodPost, "/api/v1/console/pair", req, &p)
}

// Sessions lists the console sessions, oldest first.
func (c *Client) Sessions(ctx context.Context) ([]apiv1.ConsoleSessionInfo, error) {
	var l []apiv1.ConsoleSessionInfo
	return l, c.do(ctx, http.MethodGet, "/api/v1/console/sessions", nil, &l)
}

// RevokeSession ends the console session with this ID at once.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/console/sessions/"+url.PathEscape(id), nil, nil)
}
