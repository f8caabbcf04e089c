package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/skip2/go-qrcode"
)

// Limits of the console routes.
const (
	DefaultConsolePairTTLSec = 600  // a console pairing code's life when none is asked for
	MaxConsolePairTTLSec     = 3600 // the longest a console pairing code may live
)

var errConsoleOff = Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "the web console is not available on this node")

// consoleRoutes adds /api/v1/console: pairing, the two ways to get a
// session cookie, and listing, revoking and ending sessions.
func (s *Server) consoleRoutes() {
	m := s.mux
	m.Handle("POST /api/v1/console/pair", s.consoleJSON(http.StatusCreated, func(r *http.Request, c ConsoleBackend) (any, error) {
		var req apiv1.ConsolePair
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if req.Scope == "" {
			req.Scope = apiv1.ScopeAdmin
		}
		if req.Scope != apiv1.ScopeAdmin && req.Scope != apiv1.ScopeRead {
			return nil, badRequest("scope %q: use %q or %q", req.Scope, apiv1.ScopeAdmin, apiv1.ScopeRead)
		}
		if req.TTLSeconds == 0 {
			req.TTLSeconds = DefaultConsolePairTTLSec
		}
		if req.TTLSeconds < 0 || req.TTLSeconds > MaxConsolePairTTLSec {
			return nil, badRequest("ttl_seconds %d is out of range: give 1 to %d (absent or 0: %d)", req.TTLSeconds, MaxConsolePairTTLSec, DefaultConsolePairTTLSec)
		}
		if err := checkName("name", req.Name, true); err != nil {
			return nil, err
		}
		p, err := c.Pair(r.Context(), req)
		if err != nil {
			return nil, err
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		// The URL only leads to the console's pairing page: the code, the
		// one secret, is typed or scanned separately.
		p.URL = scheme + "://" + r.Host + "/#pair"
		if p.QRSVG, err = QRSVG(apiv1.ConsoleQRPrefix + p.Code); err != nil {
			return nil, err
		}
		return p, nil
	}))
	m.HandleFunc("POST /api/v1/console/session", s.consoleLogin(func(r *http.Request, c ConsoleBackend) (apiv1.ConsoleSession, string, error) {
		var req apiv1.ConsoleRedeem
		if err := decodeJSON(r, &req); err != nil {
			return apiv1.ConsoleSession{}, "", err
		}
		if err := checkName("name", req.Name, true); err != nil {
			return apiv1.ConsoleSession{}, "", err
		}
		if len(req.Code) > 64 {
			return apiv1.ConsoleSession{}, "", badRequest("the code of %d bytes is too long: it has 12 characters", len(req.Code))
		}
		return c.Redeem(context.WithValue(r.Context(), sourceKey{}, clientSource(r)), req.Code, req.Name)
	}))
	m.HandleFunc("POST /api/v1/console/local", s.consoleLogin(func(r *http.Request, c ConsoleBackend) (apiv1.ConsoleSession, string, error) {
		if !loopbackRequest(r) {
			return apiv1.ConsoleSession{}, "", Errorf(http.StatusForbidden, apiv1.CodeForbidden,
				"logging in with the API token works only from the node's own machine (loopback address and host name); pair this device with `peer console pair` instead")
		}
		var req apiv1.ConsoleLocal
		if err := decodeJSON(r, &req); err != nil {
			return apiv1.ConsoleSession{}, "", err
		}
		if err := checkName("name", req.Name, true); err != nil {
			return apiv1.ConsoleSession{}, "", err
		}
		if !s.tokenOK(strings.TrimSpace(req.Token)) {
			return apiv1.ConsoleSession{}, "", Errorf(http.StatusUnauthorized, apiv1.CodeUnauthorized,
				"wrong API token: give the contents of the data directory's api.token")
		}
		return c.Local(r.Context(), req.Name)
	}))
	m.Handle("GET /api/v1/console/sessions", s.consoleJSON(http.StatusOK, func(r *http.Request, c ConsoleBackend) (any, error) {
		l, err := c.Sessions(r.Context())
		if err != nil {
			return nil, err
		}
		cur := callerSession(r)
		out := make([]apiv1.ConsoleSessionInfo, 0, len(l))
		for _, x := range l {
			out = append(out, apiv1.ConsoleSessionInfo{ConsoleSession: x, Current: cur != nil && cur.ID == x.ID})
		}
		return out, nil
	}))
	m.Handle("DELETE /api/v1/console/sessions/{id}", s.consoleJSON(http.StatusNoContent, func(r *http.Request, c ConsoleBackend) (any, error) {
		id := r.PathValue("id")
		if err := checkText("session ID", id, 64); err != nil {
			return nil, err
		}
		return nil, c.Revoke(r.Context(), id)
	}))
	m.Handle("GET /api/v1/console/whoami", s.consoleJSON(http.StatusOK, func(r *http.Request, c ConsoleBackend) (any, error) {
		if cur := callerSession(r); cur != nil {
			return apiv1.ConsoleWhoami{Kind: "session", Scope: cur.Scope, Session: cur}, nil
		}
		return apiv1.ConsoleWhoami{Kind: "token", Scope: apiv1.ScopeAdmin}, nil
	}))
	// A read session may end itself: logout is the one unsafe method its
	// scope allows.
	m.Handle("POST /api/v1/console/logout", s.authAllowing(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.opts.Console
		cur := callerSession(r)
		switch {
		case c == nil:
			writeError(w, errConsoleOff)
			return
		case cur == nil:
			writeError(w, badRequest("logout ends a console session, and this request carried the API token, not a session cookie"))
			return
		}
		if err := c.Revoke(r.Context(), cur.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		clearSessionCookie(w, r)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})))
}

// consoleJSON serves an authenticated console route (see backendJSON).
func (s *Server) consoleJSON(status int, f func(r *http.Request, c ConsoleBackend) (any, error)) http.Handler {
	return backendJSON(s, status, s.opts.Console, errConsoleOff, f)
}

// consoleLogin serves an unauthenticated route that starts a session: f
// makes it, and the answer sets the cookie and describes the session. A
// browser sends no Origin of another site here, as everywhere.
func (s *Server) consoleLogin(f func(r *http.Request, c ConsoleBackend) (apiv1.ConsoleSession, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Console == nil {
			writeError(w, errConsoleOff)
			return
		}
		if err := checkOrigin(r); err != nil {
			writeError(w, err)
			return
		}
		sess, secret, err := f(r, s.opts.Console)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(int(sessionRetryAfter/time.Second)))
			}
			s.fail(w, r, err)
			return
		}
		// Kept across browser restarts (a phone should not need pairing
		// again each time); the session ends when it is revoked.
		http.SetCookie(w, &http.Cookie{Name: apiv1.ConsoleCookie, Value: secret, Path: "/", MaxAge: sessionCookieMaxAge,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		writeJSON(w, http.StatusCreated, sess)
	}
}

// sessionCookieMaxAge is how long a browser keeps the session cookie:
// 400 days, the most browsers allow.
const sessionCookieMaxAge = 400 * 24 * 3600

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: apiv1.ConsoleCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

type sourceKey struct{}

// RequestSource is where the request in ctx came from, as the pairing
// guard counts sources: the client's IP address, an IPv6 one by its /64
// (one host may hold a whole /64). "" when unknown. The API sets it on
// the context of ConsoleBackend.Redeem.
func RequestSource(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

func clientSource(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

type sessionKey struct{}

// callerSession is the console session that authenticated r, or nil when
// the API token did.
func callerSession(r *http.Request) *apiv1.ConsoleSession {
	s, _ := r.Context().Value(sessionKey{}).(*apiv1.ConsoleSession)
	return s
}

func withSession(r *http.Request, s *apiv1.ConsoleSession) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
}

// safeMethod: methods that change nothing, so need no CSRF proof.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkSessionRequest applies the rules for a cookie-authenticated
// request: an unsafe method needs the X-Peer-CSRF header (which no other
// site can send without a CORS preflight, and we never grant one) and, if
// the browser sent an Origin, our own; a read session may only read.
func checkSessionRequest(r *http.Request, sess apiv1.ConsoleSession, readMayPost bool) *Error {
	if safeMethod(r.Method) {
		return nil
	}
	if r.Header.Get(apiv1.ConsoleCSRFHeader) != "1" {
		return Errorf(http.StatusForbidden, apiv1.CodeForbidden,
			"a %s with a session cookie needs the header %s: 1 (protection against cross-site requests)", r.Method, apiv1.ConsoleCSRFHeader)
	}
	if err := checkOrigin(r); err != nil {
		return err
	}
	if sess.Scope != apiv1.ScopeAdmin && !readMayPost {
		return Errorf(http.StatusForbidden, apiv1.CodeForbidden,
			"this session has scope %q: it may only read (GET, HEAD); pair with scope admin to change things", sess.Scope)
	}
	return nil
}

// checkOrigin refuses a request whose Origin header, when present, is not
// the host the request came to.
func checkOrigin(r *http.Request) *Error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
		return Errorf(http.StatusForbidden, apiv1.CodeForbidden,
			"cross-origin request refused: Origin %q is not this node (%s)", o, r.Host)
	}
	return nil
}

// loopbackRequest reports whether r came over a loopback connection and
// names a loopback host (so a page of another site that a DNS rebinding
// points at 127.0.0.1 is refused too: its Host is not ours).
func loopbackRequest(r *http.Request) bool {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if ip, err := netip.ParseAddr(peer); err != nil || !ip.Unmap().IsLoopback() {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// QRSVG draws text as a QR code (medium error correction, with the quiet
// zone) in SVG: one path of black modules on a white square, in module
// units so it scales to any size.
func QRSVG(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	bm := q.Bitmap()
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// ConsoleErrorf returns an *Error with code and the status docs/api.md
// gives for it on the console routes.
func ConsoleErrorf(code, format string, args ...any) *Error {
	status := map[string]int{
		apiv1.CodeUnauthorized:    http.StatusUnauthorized,
		apiv1.CodeTooManyRequests: http.StatusTooManyRequests,
		apiv1.CodeNotFound:        http.StatusNotFound,
		apiv1.CodeBadRequest:      http.StatusBadRequest,
		apiv1.CodeForbidden:       http.StatusForbidden,
	}[code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return Errorf(status, code, format, args...)
}

// sessionRetryAfter is sent with 429: the guard counts failures over a minute.
const sessionRetryAfter = time.Minute
