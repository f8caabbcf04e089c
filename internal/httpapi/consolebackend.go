package httpapi

import (
	"context"

	"github.com/peer-node/peer/internal/apiv1"
)

// ConsoleBackend keeps the web console's pairing codes and sessions, served
// under /api/v1/console and consulted by the auth middleware for the
// session cookie. Secrets pass through it, never into errors. Errors map to
// statuses as for Backend: a wrong, expired or used code is 401
// unauthorized, too many failed attempts 429 too_many_requests, an unknown
// session ID 404 not_found (ConsoleErrorf picks the status).
type ConsoleBackend interface {
	// Pair makes a one-time code (Code and Expires set; the API fills URL
	// and QRSVG). The request's scope and TTL are checked already.
	Pair(ctx context.Context, req apiv1.ConsolePair) (apiv1.ConsolePairing, error)
	// Redeem exchanges a code for a session and its secret.
	Redeem(ctx context.Context, code, name string) (apiv1.ConsoleSession, string, error)
	// Local makes an admin session for a browser on the node's own machine
	// that presented the API token.
	Local(ctx context.Context, name string) (apiv1.ConsoleSession, string, error)
	// Authenticate returns the live session with this secret (noting that
	// it was seen), or a 401 *Error.
	Authenticate(ctx context.Context, secret string) (apiv1.ConsoleSession, error)
	Sessions(ctx context.Context) ([]apiv1.ConsoleSession, error)
	Revoke(ctx context.Context, id string) error
}
