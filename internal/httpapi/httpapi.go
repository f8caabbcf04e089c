// Package httpapi is the node's HTTP API: JSON under /api/v1/, bearer-token
// or console-session auth (with its CSRF rules), server-sent events, Prometheus metrics and a health check. It is an
// edge: it converts between wire types (package apiv1) and whatever the node
// plugs in as its Backend, and holds no state of its own.
//
// Only the composition root (package node) and tests import it.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/diskspace"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/webui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Backend is what the API serves. The node implements it; errors it returns
// are sent as JSON, with the status and code of an *Error and 500 otherwise.
type Backend interface {
	Status(ctx context.Context) (apiv1.Status, error)
	Identity(ctx context.Context) (apiv1.Identity, error)
	Personas(ctx context.Context) ([]apiv1.Persona, error)
	Persona(ctx context.Context, ref string) (apiv1.Persona, error)
	NewPersona(ctx context.Context, name string) (apiv1.Persona, error)
	DeviceCert(ctx context.Context, ref string) (apiv1.DeviceCert, error)
}

// Error is an error with an HTTP status and a stable code for clients.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// DefaultMaxBodyBytes bounds request bodies when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// Options configure a Server. Token and Backend are required.
type Options struct {
	Token        string               // the bearer token clients must present
	MaxBodyBytes int64                // request body limit; 0 = DefaultMaxBodyBytes
	Backend      Backend              // what to serve
	Bus          *events.Bus          // event stream source; nil = no events
	Registry     *prometheus.Registry // metrics registry; nil = a new one
	Logger       *slog.Logger         // nil = slog.Default()
	Heartbeat    time.Duration        // SSE keep-alive comment interval; 0 = 15s
	Store        StoreBackend         // the MiMei store; nil = its routes answer 503
	Net          NetBackend           // the peer-to-peer side; nil = its routes answer 503 with code network_off
	Share        ShareBackend         // the sharing side; nil = its routes answer 503 with code network_off
	Console      ConsoleBackend       // web console sessions; nil = its routes answer 503 and session cookies are ignored
	// Hosts are host names, besides IP addresses and localhost, that
	// requests may name in their Host header (see hostAllowed).
	Hosts []string
	// Stall bounds slow clients: a request body must bring StallBytes
	// more within every Stall, and each write of an answer must complete
	// within it; 0 = DefaultStall. See stall.go.
	Stall time.Duration
}

// Server serves the API. Create it with New and mount Handler().
type Server struct {
	opts     Options
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ui       http.Handler // the web app (package webui), at every path outside the API
}

// New validates opts and builds the routes.
func New(opts Options) (*Server, error) {
	if len(opts.Token) < 16 {
		return nil, errors.New("httpapi: token missing or too short")
	}
	if opts.Backend == nil {
		return nil, errors.New("httpapi: no backend")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Stall <= 0 {
		opts.Stall = DefaultStall
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peer_http_requests_total", Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "peer_http_request_duration_seconds", Help: "HTTP API request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
	}, []string{"route"})
	for _, c := range []prometheus.Collector{s.requests, s.latency} {
		if err := opts.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	s.routes()
	return s, nil
}

// Handler is the root handler: every request passes through logging,
// metrics, authentication and the body limit (which the streaming upload
// routes are exempt from).
func (s *Server) Handler() http.Handler { return s }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.Handle("GET /metrics", s.auth(promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{})))
	m.Handle("GET /api/v1/status", s.authJSON(func(r *http.Request) (any, error) {
		return s.opts.Backend.Status(r.Context())
	}))
	m.Handle("GET /api/v1/identity", s.authJSON(func(r *http.Request) (any, error) {
		return s.opts.Backend.Identity(r.Context())
	}))
	s.identityQRRoute()
	m.Handle("GET /api/v1/personas", s.authJSON(func(r *http.Request) (any, error) {
		ps, err := s.opts.Backend.Personas(r.Context())
		return apiv1.Personas{Personas: ps}, err
	}))
	m.Handle("POST /api/v1/personas", s.auth(http.HandlerFunc(s.newPersona)))
	m.Handle("GET /api/v1/personas/{ref}", s.authJSON(func(r *http.Request) (any, error) {
		return s.opts.Backend.Persona(r.Context(), r.PathValue("ref"))
	}))
	m.Handle("GET /api/v1/personas/{ref}/certificate", s.authJSON(func(r *http.Request) (any, error) {
		return s.opts.Backend.DeviceCert(r.Context(), r.PathValue("ref"))
	}))
	m.Handle("GET /api/v1/events", s.auth(http.HandlerFunc(s.events)))
	s.storeRoutes()
	s.netRoutes()
	s.shareRoutes()
	s.consoleRoutes()
	s.ui = webui.Handler()
}

// ServeHTTP routes the request, answering unknown paths and methods in JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // left by the last answer on this connection
	var body *stallReader
	if r.Body != nil && r.Body != http.NoBody {
		body = newStallReader(r.Body, rc, s.opts.Stall)
		r.Body = body
	}
	rec := &statusRecorder{ResponseWriter: &stallWriter{ResponseWriter: w, rc: rc, stall: s.opts.Stall}, code: http.StatusOK, body: body}
	// The server flushes what is buffered after ServeHTTP returns.
	defer func() { _ = rc.SetWriteDeadline(time.Now().Add(s.opts.Stall)) }()
	h, pattern := s.mux.Handler(r)
	route := pattern
	ui := pattern == "" && uiPath(r.URL.Path)
	switch {
	case ui:
		route = "webui"
	case route == "":
		route = "unmatched"
	}
	// File uploads and tar imports stream bodies of any size; every other
	// body is bounded.
	limited := !streamingRoutes[pattern]
	if limited {
		r.Body = http.MaxBytesReader(rec, r.Body, s.opts.MaxBodyBytes)
	}
	if e := s.checkHost(r); e != nil {
		writeError(rec, e)
	} else if e := checkURLPath(r); e != nil {
		writeError(rec, e)
	} else if limited && r.ContentLength > s.opts.MaxBodyBytes {
		writeError(rec, Errorf(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge,
			"request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.opts.MaxBodyBytes))
	} else if ui {
		s.ui.ServeHTTP(rec, r)
	} else if pattern == "" {
		// The mux found no route: 405 if the path exists with another method.
		status, code, msg := http.StatusNotFound, apiv1.CodeNotFound, "no such endpoint: "+r.URL.Path
		probe := httptestRecorder{}
		h.ServeHTTP(&probe, r)
		if probe.code == http.StatusMethodNotAllowed {
			status, code, msg = http.StatusMethodNotAllowed, apiv1.CodeMethod, r.Method+" is not allowed on "+r.URL.Path
			if a := probe.header.Get("Allow"); a != "" {
				rec.Header().Set("Allow", a)
			}
		}
		writeError(rec, Errorf(status, code, "%s", msg))
	} else {
		s.mux.ServeHTTP(rec, r) // sets the path values that Handler does not
	}
	s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	if !strings.HasSuffix(route, "/events") {
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
	// The URL is logged without its query: nothing secret travels there, but
	// nothing forces us to keep what a careless client put in it.
	s.opts.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.code,
		"dur", time.Since(start).Round(time.Microsecond))
}

// checkHost refuses a request whose Host header is not one of the node's
// names. A page of another site that points its DNS name at the node (DNS
// rebinding) reaches us with its own name in Host; an IP address cannot be
// rebound, so every IP literal is accepted, as are localhost, *.localhost,
// the names in Options.Hosts, and no Host at all (HTTP/1.0: no browser).
// The port is not checked: a rebound name carries the attacker's choice of
// port as easily as ours.
func (s *Server) checkHost(r *http.Request) *Error {
	if hostAllowed(r.Host, s.opts.Hosts) {
		return nil
	}
	return Errorf(http.StatusForbidden, apiv1.CodeForbidden,
		"the Host %q is not a name of this node: use its IP address or localhost (a web page of another site may not reach the node through a DNS name pointed at it), or add the name to api.hosts", r.Host)
}

// hostAllowed reports whether a Host header names this node (see
// checkHost); names are compared without case or a final dot.
func hostAllowed(host string, names []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, n := range names {
		if strings.EqualFold(strings.TrimSuffix(n, "."), host) {
			return true
		}
	}
	return false
}

// checkURLPath refuses an API path with an empty, "." or ".." segment
// before the mux sees it: the mux would redirect to the cleaned path, and
// docs/api.md promises 400 instead. Paths of the web app keep the mux's
// redirect.
func checkURLPath(r *http.Request) *Error {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/metrics/") && !strings.HasPrefix(p, "/healthz/") {
		return nil
	}
	if strings.Contains(p, "//") {
		return badRequest("the path %q has an empty segment (a double slash)", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return badRequest("the path %q has a %q segment: give paths from the root", p, seg)
		}
	}
	return nil
}

// uiPath reports whether a path the API has no route for belongs to the
// web app: everything but /api/, /metrics and /healthz, which keep their
// JSON 404 and 405 answers.
func uiPath(p string) bool {
	return p != "/api" && !strings.HasPrefix(p, "/api/") && p != "/metrics" && p != "/healthz"
}

// httptestRecorder captures what the mux's fallback handler would answer.
type httptestRecorder struct {
	header http.Header
	code   int
}

func (h *httptestRecorder) Header() http.Header {
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}
func (h *httptestRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *httptestRecorder) WriteHeader(code int)        { h.code = code }

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	body        *stallReader // nil: the request has no body
}

// WriteHeader records the status. An answer sent before the request body
// was read to its end (a refusal: 401, 403, 413, …) closes the connection,
// so the server neither reads the rest of the body first (it would, to
// keep the connection, delaying the answer as long as a slow client
// trickles) nor parses it as the next request.
func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
		// 413 is left to the server, which sends it at once, takes a
		// bounded part of the rest and closes: a client that is still
		// sending a body too large then reads the 413 instead of a reset.
		if s.body != nil && !s.body.eof && code >= 200 && code != http.StatusRequestEntityTooLarge {
			s.Header().Set("Connection", "close")
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write sends the header first through WriteHeader, so its rule applies.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// auth admits requests carrying the token in the Authorization header, or
// the cookie of a live console session (see checkSessionRequest for the
// rules such a request must also follow). A token in the URL is refused
// even when it is right: URLs end up in logs, histories and Referer
// headers. Secrets never appear in an answer or a log line.
func (s *Server) auth(next http.Handler) http.Handler { return s.authAllowing(false, next) }

// authAllowing is auth; readMayPost lets a read-scope session use an unsafe
// method (only logout, which ends the session itself, needs that).
func (s *Server) authAllowing(readMayPost bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, k := range []string{"token", "access_token", "auth", "bearer", apiv1.ConsoleCookie} {
			if q.Has(k) {
				writeError(w, Errorf(http.StatusUnauthorized, apiv1.CodeUnauthorized,
					"tokens are accepted only in the Authorization header, never in the URL"))
				return
			}
		}
		h := r.Header.Get("Authorization")
		if h == "" && s.opts.Console != nil {
			if c, err := r.Cookie(apiv1.ConsoleCookie); err == nil && c.Value != "" {
				sess, err := s.opts.Console.Authenticate(r.Context(), c.Value)
				if err != nil {
					var e *Error
					if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
						clearSessionCookie(w, r)
					}
					s.fail(w, r, err)
					return
				}
				if e := checkSessionRequest(r, sess, readMayPost); e != nil {
					writeError(w, e)
					return
				}
				next.ServeHTTP(w, withSession(r, &sess))
				return
			}
		}
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !s.tokenOK(strings.TrimSpace(tok)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="peer"`)
			msg := "missing bearer token: send Authorization: Bearer <token> (the token is in the data directory's api.token), or pair this browser with `peer console pair`"
			if h != "" {
				msg = "invalid bearer token"
			}
			writeError(w, Errorf(http.StatusUnauthorized, apiv1.CodeUnauthorized, "%s", msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenOK compares a presented token with the API token in constant time.
func (s *Server) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
}

func (s *Server) authJSON(f func(r *http.Request) (any, error)) http.Handler {
	return s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}))
}

func (s *Server) newPersona(w http.ResponseWriter, r *http.Request) {
	var req apiv1.NewPersona
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.opts.Backend.NewPersona(r.Context(), req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.Bus != nil {
		s.opts.Bus.Publish("persona.created", p)
	}
	writeJSON(w, http.StatusCreated, p)
}

// decodeJSON reads one JSON object from the body, strictly: a known media
// type, no unknown fields, no trailing data, within the body limit.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return Errorf(http.StatusUnsupportedMediaType, apiv1.CodeUnsupportedMT, "send application/json, not %q", ct)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge, "request body exceeds the limit of %d bytes", tooLarge.Limit)
	case errors.Is(err, errEOF()):
		return Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "empty request body: send a JSON object")
	case err != nil:
		return Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var full *diskspace.FullError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &full):
		e = Errorf(http.StatusInsufficientStorage, apiv1.CodeDiskFull, "%v", full)
	case errors.Is(err, diskspace.ErrDiskFull):
		e = Errorf(http.StatusInsufficientStorage, apiv1.CodeDiskFull, "disk full: %v; free space by deleting MiMei or old versions and running `peer store gc`, or by freeing space on the disk", err)
	default:
		s.opts.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = Errorf(http.StatusInternalServerError, apiv1.CodeInternal, "internal error: %v", err)
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, apiv1.Error{Code: e.Code, Message: e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
