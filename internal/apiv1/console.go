package apiv1

import "time"

// The web console's sessions (/api/v1/console/…): see docs/api.md.
const (
	// ConsoleCookie is the cookie that carries a console session's secret.
	ConsoleCookie = "peer_session"
	// ConsoleCSRFHeader must be sent, with the value "1", on every
	// cookie-authenticated request with an unsafe method.
	ConsoleCSRFHeader = "X-Peer-CSRF"
	// ConsoleQRPrefix starts the text of a pairing QR code; the code follows.
	ConsoleQRPrefix = "peer-console:"

	CodeTooManyRequests = "too_many_requests" // too many failed pairing attempts: wait a minute
)

// Console session scopes.
const (
	ScopeAdmin = "admin" // everything the API token may do
	ScopeRead  = "read"  // GET and HEAD only
)

// ConsolePair is the body of POST /api/v1/console/pair.
type ConsolePair struct {
	Name       string `json:"name,omitempty"`        // a label for the session
	Scope      string `json:"scope,omitempty"`       // "admin" (default) or "read"
	TTLSeconds int64  `json:"ttl_seconds,omitempty"` // 0: 600; at most 3600
}

// ConsolePairing answers POST /api/v1/console/pair: a one-time code. URL
// holds no secret; the code is typed or scanned separately.
type ConsolePairing struct {
	Code    string    `json:"code"` // XXXX-XXXX-XXXX
	Expires time.Time `json:"expires"`
	URL     string    `json:"url"`
	QRSVG   string    `json:"qr_svg"` // an SVG QR code of ConsoleQRPrefix + Code
}

// ConsoleRedeem is the body of POST /api/v1/console/session.
type ConsoleRedeem struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// ConsoleLocal is the body of POST /api/v1/console/local.
type ConsoleLocal struct {
	Token string `json:"token"`
	Name  string `json:"name,omitempty"`
}

// ConsoleSession is one console session. Its secret travels only in the
// Set-Cookie header that creates it.
type ConsoleSession struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Scope    string    `json:"scope"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// ConsoleSessionInfo is an entry of GET /api/v1/console/sessions; Current
// marks the session that asked.
type ConsoleSessionInfo struct {
	ConsoleSession
	Current bool `json:"current"`
}

// ConsoleWhoami answers GET /api/v1/console/whoami.
type ConsoleWhoami struct {
	Kind    string          `json:"kind"` // "token" or "session"
	Scope   string          `json:"scope"`
	Session *ConsoleSession `json:"session"` // null for the token
}
