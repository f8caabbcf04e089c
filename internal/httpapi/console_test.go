package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/console"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/kv/memkv"
)

// fakeConsole is a ConsoleBackend over the real console package on memkv,
// mapping its errors as the node does.
type fakeConsole struct{ c *console.Console }

func newFakeConsole(t *testing.T) *fakeConsole {
	t.Helper()
	c, err := console.New(memkv.New(), console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeConsole{c: c}
}

func fakeWire(s console.Session) apiv1.ConsoleSession {
	return apiv1.ConsoleSession{ID: s.ID, Name: s.Name, Scope: string(s.Scope), Created: s.Created, LastSeen: s.LastSeen}
}

func fakeErr(err error) error {
	switch {
	case errors.Is(err, console.ErrBadCode):
		return ConsoleErrorf(apiv1.CodeUnauthorized, "the pairing code is wrong, expired or already used")
	case errors.Is(err, console.ErrTooManyAttempts):
		return ConsoleErrorf(apiv1.CodeTooManyRequests, "too many failed pairing attempts")
	case errors.Is(err, console.ErrUnknownSession):
		return ConsoleErrorf(apiv1.CodeNotFound, "no such console session")
	}
	return err
}

func (f *fakeConsole) Pair(_ context.Context, req apiv1.ConsolePair) (apiv1.ConsolePairing, error) {
	p, err := f.c.Pair(req.Name, console.Scope(req.Scope), time.Duration(req.TTLSeconds)*time.Second)
	return apiv1.ConsolePairing{Code: p.Code, Expires: p.Expires}, fakeErr(err)
}
func (f *fakeConsole) Redeem(ctx context.Context, code, name string) (apiv1.ConsoleSession, string, error) {
	s, secret, err := f.c.RedeemFrom(RequestSource(ctx), code, name)
	return fakeWire(s), secret, fakeErr(err)
}
func (f *fakeConsole) Local(_ context.Context, name string) (apiv1.ConsoleSession, string, error) {
	s, secret, err := f.c.Create(name, console.ScopeAdmin)
	return fakeWire(s), secret, fakeErr(err)
}
func (f *fakeConsole) Authenticate(_ context.Context, secret string) (apiv1.ConsoleSession, error) {
	s, err := f.c.Lookup(secret)
	if err != nil {
		return apiv1.ConsoleSession{}, ConsoleErrorf(apiv1.CodeUnauthorized, "the console session is unknown or was revoked: log in again")
	}
	return fakeWire(s), nil
}
func (f *fakeConsole) Sessions(context.Context) ([]apiv1.ConsoleSession, error) {
	l, err := f.c.List()
	var out []apiv1.ConsoleSession
	for _, s := range l {
		out = append(out, fakeWire(s))
	}
	return out, err
}
func (f *fakeConsole) Revoke(_ context.Context, id string) error { return fakeErr(f.c.Revoke(id)) }

func newConsoleServer(t *testing.T, withConsole bool) (*httptest.Server, *fakeConsole) {
	t.Helper()
	bus := events.New(0)
	opts := Options{Token: token, Backend: &fakeBackend{personas: []apiv1.Persona{{ID: "did:key:zdefault", Name: "default", Default: true}}},
		Bus: bus, Heartbeat: 50 * time.Millisecond}
	var fc *fakeConsole
	if withConsole {
		fc = newFakeConsole(t)
		opts.Console = fc
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { bus.Close(); ts.Close() })
	return ts, fc
}

type consoleReq struct {
	method, path, body string
	bearer             bool
	cookie             string // peer_session value
	header             map[string]string
}

func consoleDo(t *testing.T, ts *httptest.Server, q consoleReq) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r, err := http.NewRequest(q.method, ts.URL+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if q.bearer {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if q.cookie != "" {
		r.AddCookie(&http.Cookie{Name: apiv1.ConsoleCookie, Value: q.cookie})
	}
	for k, v := range q.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// consoleLoginAs pairs with the token and redeems the code, returning the secret.
func consoleLoginAs(t *testing.T, ts *httptest.Server, scope string) (apiv1.ConsoleSession, string) {
	t.Helper()
	resp, body := consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"scope":"` + scope + `"}`, bearer: true})
	if resp.StatusCode != 201 {
		t.Fatalf("pair: %d %s", resp.StatusCode, body)
	}
	var p apiv1.ConsolePairing
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	resp, body = consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"` + p.Code + `","name":"Phone"}`})
	if resp.StatusCode != 201 {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	var s apiv1.ConsoleSession
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == apiv1.ConsoleCookie {
			return s, c.Value
		}
	}
	t.Fatal("no session cookie set")
	return s, ""
}

var codeRE = regexp.MustCompile(`^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`)

func TestConsolePairAndRedeem(t *testing.T) {
	ts, _ := newConsoleServer(t, true)
	resp, body := consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"name":"phone","scope":"read","ttl_seconds":120}`, bearer: true})
	if resp.StatusCode != 201 {
		t.Fatalf("pair: %d %s", resp.StatusCode, body)
	}
	var p apiv1.ConsolePairing
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	if !codeRE.MatchString(p.Code) {
		t.Errorf("code %q is not XXXX-XXXX-XXXX from the unambiguous alphabet", p.Code)
	}
	if p.URL != "http://"+host+"/#pair" {
		t.Errorf("url %q, want http://%s/#pair", p.URL, host)
	}
	if d := time.Until(p.Expires); d < 110*time.Second || d > 121*time.Second {
		t.Errorf("expires in %v, want ~120s", d)
	}
	if !strings.HasPrefix(p.QRSVG, "<svg") || !strings.HasSuffix(p.QRSVG, "</svg>") || !strings.Contains(p.QRSVG, `d="M`) {
		t.Errorf("qr_svg is not an SVG with modules: %.80s", p.QRSVG)
	}

	// Redeemed in lower case without dashes: the cookie is set as agreed.
	code := strings.ToLower(strings.ReplaceAll(p.Code, "-", ""))
	resp, body = consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"` + code + `","name":"Phone"}`})
	if resp.StatusCode != 201 {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	sc := resp.Header.Get("Set-Cookie")
	if !regexp.MustCompile(`^peer_session=[A-Za-z0-9_-]{43}; Path=/; Max-Age=34560000; HttpOnly; SameSite=Strict$`).MatchString(sc) {
		t.Errorf("Set-Cookie %q", sc)
	}
	var s apiv1.ConsoleSession
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID == "" || s.Name != "Phone" || s.Scope != "read" || s.Created.IsZero() || s.LastSeen.IsZero() {
		t.Errorf("session %+v", s)
	}
	if strings.Contains(body, strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], "peer_session=")) {
		t.Error("the secret is in the body")
	}

	// The code works once.
	resp, body = consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"` + p.Code + `"}`})
	if resp.StatusCode != 401 || !strings.Contains(body, apiv1.CodeUnauthorized) || !strings.Contains(body, "wrong, expired or already used") {
		t.Fatalf("reuse: %d %s", resp.StatusCode, body)
	}
}

func TestConsoleBruteForce(t *testing.T) {
	ts, _ := newConsoleServer(t, true)
	_, good := consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{}`, bearer: true})
	var p apiv1.ConsolePairing
	_ = json.Unmarshal([]byte(good), &p)
	for i := range console.MaxFailures {
		resp, body := consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"2222-3333-4444"}`})
		if resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := consoleDo(t, ts, consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"` + p.Code + `"}`})
	if resp.StatusCode != 429 || !strings.Contains(body, apiv1.CodeTooManyRequests) || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("11th attempt: %d %s (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(body, p.Code) {
		t.Fatal("the code is echoed")
	}
}

func TestConsoleRoutes(t *testing.T) {
	ts, _ := newConsoleServer(t, true)
	admin, adminSecret := consoleLoginAs(t, ts, "admin")
	_, readSecret := consoleLoginAs(t, ts, "read")
	_, victimSecret := consoleLoginAs(t, ts, "admin")
	victim := func() string { // the ID of the third session
		_, body := consoleDo(t, ts, consoleReq{method: "GET", path: "/api/v1/console/whoami", cookie: victimSecret})
		var w apiv1.ConsoleWhoami
		_ = json.Unmarshal([]byte(body), &w)
		return w.Session.ID
	}()
	host := strings.TrimPrefix(ts.URL, "http://")
	csrf := map[string]string{apiv1.ConsoleCSRFHeader: "1"}
	tests := []struct {
		name       string
		q          consoleReq
		wantStatus int
		wantCode   string
		want       string // substring of the body
	}{
		// Pairing.
		{"pair unauthenticated", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{}`}, 401, apiv1.CodeUnauthorized, ""},
		{"pair bad scope", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"scope":"root"}`, bearer: true}, 400, apiv1.CodeBadRequest, "scope"},
		{"pair ttl too long", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"ttl_seconds":3601}`, bearer: true}, 400, apiv1.CodeBadRequest, "ttl_seconds"},
		{"pair ttl negative", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"ttl_seconds":-1}`, bearer: true}, 400, apiv1.CodeBadRequest, "ttl_seconds"},
		{"pair unknown field", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{"code":"x"}`, bearer: true}, 400, apiv1.CodeBadRequest, ""},
		{"pair by admin session", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{}`, cookie: adminSecret, header: csrf}, 201, "", `"code"`},
		{"pair by read session", consoleReq{method: "POST", path: "/api/v1/console/pair", body: `{}`, cookie: readSecret, header: csrf}, 403, apiv1.CodeForbidden, "scope"},
		{"redeem malformed", consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"nope"}`}, 401, apiv1.CodeUnauthorized, "wrong, expired"},
		{"redeem empty body", consoleReq{method: "POST", path: "/api/v1/console/session"}, 400, apiv1.CodeBadRequest, ""},
		{"redeem from another origin", consoleReq{method: "POST", path: "/api/v1/console/session", body: `{"code":"2222-2222-2222"}`, header: map[string]string{"Origin": "https://evil.example"}}, 403, apiv1.CodeForbidden, "Origin"},

		// Local login (the test server is on loopback).
		{"local wrong token", consoleReq{method: "POST", path: "/api/v1/console/local", body: `{"token":"nope"}`}, 401, apiv1.CodeUnauthorized, "api.token"},
		{"local right token", consoleReq{method: "POST", path: "/api/v1/console/local", body: `{"token":"` + token + `","name":"laptop"}`}, 201, "", `"scope": "admin"`},
		{"local with a foreign Host", consoleReq{method: "POST", path: "/api/v1/console/local", body: `{"token":"` + token + `"}`, header: map[string]string{"Host": "rebound.example"}}, 403, apiv1.CodeForbidden, "not a name of this node"},

		// The middleware with a cookie.
		{"GET with admin cookie", consoleReq{method: "GET", path: "/api/v1/status", cookie: adminSecret}, 200, "", `"version"`},
		{"GET with read cookie", consoleReq{method: "GET", path: "/api/v1/status", cookie: readSecret}, 200, "", `"version"`},
		{"unknown cookie", consoleReq{method: "GET", path: "/api/v1/status", cookie: "AAAA"}, 401, apiv1.CodeUnauthorized, "log in again"},
		{"POST without CSRF header", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"a"}`, cookie: adminSecret}, 403, apiv1.CodeForbidden, apiv1.ConsoleCSRFHeader},
		{"POST with wrong CSRF value", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"a"}`, cookie: adminSecret, header: map[string]string{apiv1.ConsoleCSRFHeader: "yes"}}, 403, apiv1.CodeForbidden, apiv1.ConsoleCSRFHeader},
		{"POST with CSRF header", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"b"}`, cookie: adminSecret, header: csrf}, 201, "", `"b"`},
		{"POST with our Origin", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"c"}`, cookie: adminSecret,
			header: map[string]string{apiv1.ConsoleCSRFHeader: "1", "Origin": "http://" + host}}, 201, "", `"c"`},
		{"POST with another Origin", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"d"}`, cookie: adminSecret,
			header: map[string]string{apiv1.ConsoleCSRFHeader: "1", "Origin": "http://evil.example"}}, 403, apiv1.CodeForbidden, "cross-origin"},
		{"POST with Origin null", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"e"}`, cookie: adminSecret,
			header: map[string]string{apiv1.ConsoleCSRFHeader: "1", "Origin": "null"}}, 403, apiv1.CodeForbidden, "cross-origin"},
		{"read session may not POST", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"f"}`, cookie: readSecret, header: csrf}, 403, apiv1.CodeForbidden, "only read"},
		{"read session may not DELETE", consoleReq{method: "DELETE", path: "/api/v1/console/sessions/" + admin.ID, cookie: readSecret, header: csrf}, 403, apiv1.CodeForbidden, "only read"},
		{"bearer needs no CSRF header", consoleReq{method: "POST", path: "/api/v1/personas", body: `{"name":"g"}`, bearer: true}, 201, "", `"g"`},
		{"session secret in the URL", consoleReq{method: "GET", path: "/api/v1/status?peer_session=" + adminSecret}, 401, apiv1.CodeUnauthorized, "never in the URL"},

		// Who am I, sessions, revocation.
		{"whoami token", consoleReq{method: "GET", path: "/api/v1/console/whoami", bearer: true}, 200, "", `"session": null`},
		{"whoami session", consoleReq{method: "GET", path: "/api/v1/console/whoami", cookie: readSecret}, 200, "", `"kind": "session"`},
		{"bearer wins over a cookie", consoleReq{method: "GET", path: "/api/v1/console/whoami", bearer: true, cookie: readSecret}, 200, "", `"kind": "token"`},
		{"whoami unauthenticated", consoleReq{method: "GET", path: "/api/v1/console/whoami"}, 401, apiv1.CodeUnauthorized, ""},
		{"sessions marks the current one", consoleReq{method: "GET", path: "/api/v1/console/sessions", cookie: adminSecret}, 200, "", `"current": true`},
		{"revoke unknown", consoleReq{method: "DELETE", path: "/api/v1/console/sessions/nope", bearer: true}, 404, apiv1.CodeNotFound, ""},
		{"revoke by admin session", consoleReq{method: "DELETE", path: "/api/v1/console/sessions/" + victim, cookie: adminSecret, header: csrf}, 204, "", ""},
		{"revoked session refused at once", consoleReq{method: "GET", path: "/api/v1/status", cookie: victimSecret}, 401, apiv1.CodeUnauthorized, ""},
		{"logout with the token", consoleReq{method: "POST", path: "/api/v1/console/logout", bearer: true}, 400, apiv1.CodeBadRequest, "session"},
		{"logout without CSRF header", consoleReq{method: "POST", path: "/api/v1/console/logout", cookie: readSecret}, 403, apiv1.CodeForbidden, apiv1.ConsoleCSRFHeader},
		{"read session may log out", consoleReq{method: "POST", path: "/api/v1/console/logout", cookie: readSecret, header: csrf}, 204, "", ""},
		{"logged out session refused", consoleReq{method: "GET", path: "/api/v1/console/whoami", cookie: readSecret}, 401, apiv1.CodeUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := consoleDo(t, ts, tc.q)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantCode != "" && !strings.Contains(body, `"code": "`+tc.wantCode+`"`) {
				t.Errorf("body lacks code %q: %s", tc.wantCode, body)
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("body lacks %q: %s", tc.want, body)
			}
			for _, secret := range []string{adminSecret, readSecret, victimSecret, token} {
				if strings.Contains(body, secret) {
					t.Errorf("a secret is in the answer: %s", body)
				}
			}
			if tc.q.cookie != "" && tc.wantStatus == 401 || strings.Contains(tc.name, "log out") {
				if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "peer_session=;") || !strings.Contains(sc, "Max-Age=0") {
					t.Errorf("cookie not cleared: %q", sc)
				}
			}
		})
	}
}

func TestConsoleLocalNeedsLoopback(t *testing.T) {
	fc := newFakeConsole(t)
	s, err := New(Options{Token: token, Backend: &fakeBackend{}, Console: fc})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"token":"` + token + `"}`
	tests := []struct {
		name, remote, host string
		want               int
	}{
		{"loopback v4", "127.0.0.1:5000", "127.0.0.1:7357", 201},
		{"loopback v6", "[::1]:5000", "[::1]:7357", 201},
		{"localhost name", "127.0.0.1:5000", "localhost:7357", 201},
		{"remote peer", "192.0.2.1:5000", "127.0.0.1:7357", 403},
		{"remote peer, LAN host", "192.168.1.20:5000", "192.168.1.10:7357", 403},
		{"loopback peer, foreign host (DNS rebinding)", "127.0.0.1:5000", "attacker.example:7357", 403},
		{"loopback peer, LAN address as host", "127.0.0.1:5000", "192.168.1.10:7357", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/console/local", strings.NewReader(body))
			r.RemoteAddr, r.Host = tc.remote, tc.host
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 201 && !strings.HasPrefix(w.Header().Get("Set-Cookie"), "peer_session=") {
				t.Fatal("no cookie")
			}
		})
	}
}

func TestConsoleCookieSecureOverTLS(t *testing.T) {
	bus := events.New(0)
	t.Cleanup(bus.Close)
	s, err := New(Options{Token: token, Backend: &fakeBackend{}, Console: newFakeConsole(t), Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	r, _ := http.NewRequest("POST", ts.URL+"/api/v1/console/local", strings.NewReader(`{"token":"`+token+`"}`))
	resp, err := ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); resp.StatusCode != 201 || !strings.Contains(sc, "; Secure") {
		t.Fatalf("%d, Set-Cookie %q: want Secure over TLS", resp.StatusCode, sc)
	}
}

func TestConsoleEventsWithCookie(t *testing.T) {
	ts, _ := newConsoleServer(t, true)
	_, secret := consoleLoginAs(t, ts, "read")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
	r.AddCookie(&http.Cookie{Name: apiv1.ConsoleCookie, Value: secret})
	resp, err := ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events with a cookie: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q, %v", line, err)
	}
}

func TestConsoleOff(t *testing.T) {
	ts, _ := newConsoleServer(t, false)
	for _, q := range []consoleReq{
		{method: "POST", path: "/api/v1/console/pair", body: `{}`, bearer: true},
		{method: "POST", path: "/api/v1/console/session", body: `{"code":"2222-2222-2222"}`},
		{method: "POST", path: "/api/v1/console/local", body: `{"token":"` + token + `"}`},
		{method: "GET", path: "/api/v1/console/sessions", bearer: true},
		{method: "GET", path: "/api/v1/console/whoami", bearer: true},
		{method: "POST", path: "/api/v1/console/logout", bearer: true},
	} {
		resp, body := consoleDo(t, ts, q)
		if resp.StatusCode != 503 || !strings.Contains(body, apiv1.CodeUnavailable) {
			t.Errorf("%s %s without a console: %d %s", q.method, q.path, resp.StatusCode, body)
		}
	}
	// A cookie is ignored: without the token the request is unauthenticated.
	resp, _ := consoleDo(t, ts, consoleReq{method: "GET", path: "/api/v1/status", cookie: "whatever"})
	if resp.StatusCode != 401 {
		t.Errorf("cookie without a console: %d", resp.StatusCode)
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := QRSVG(apiv1.ConsoleQRPrefix + "ABCD-EFGH-JKMN")
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 at level M is 25 modules, plus a 4-module quiet zone each side.
	if !strings.Contains(svg, `viewBox="0 0 33 33"`) || strings.Count(svg, "M") < 50 {
		t.Fatalf("unexpected SVG: %s", svg)
	}
}
