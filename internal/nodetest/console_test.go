package nodetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// browser is a cookie-keeping HTTP client, as the web console's page is.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a JSON request; csrf adds the X-Peer-CSRF header. It returns
// the status and body.
func (b *browser) do(method, path, body string, csrf bool) (int, string) {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		r.Header.Set(apiv1.ConsoleCSRFHeader, "1")
	}
	resp, err := b.hc.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestConsoleSessionOverHTTP(t *testing.T) {
	n := Start(t, "network.enabled=false")
	ctx := Ctx(t, time.Minute)

	// The token holder pairs (the CLI's call), the phone redeems.
	p, err := n.Client.Pair(ctx, "", apiv1.ScopeAdmin, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.URL, p.Code) || !strings.HasSuffix(p.URL, "/#pair") {
		t.Fatalf("pairing URL %q", p.URL)
	}
	phone := newBrowser(t, n.APIURL())
	code := strings.ToLower(strings.ReplaceAll(p.Code, "-", " "))
	st, body := phone.do("POST", "/api/v1/console/session", `{"code":"`+code+`","name":"Phone"}`, false)
	if st != 201 {
		t.Fatalf("redeem: %d %s", st, body)
	}
	var sess apiv1.ConsoleSession
	if err := json.Unmarshal([]byte(body), &sess); err != nil {
		t.Fatal(err)
	}
	if st, body := phone.do("POST", "/api/v1/console/session", `{"code":"`+p.Code+`"}`, false); st != 401 {
		t.Fatalf("second redeem: %d %s", st, body)
	}

	// The cookie authenticates reads.
	if st, body := phone.do("GET", "/api/v1/status", "", false); st != 200 || !strings.Contains(body, `"version"`) {
		t.Fatalf("status with the cookie: %d %s", st, body)
	}
	// An unsafe request needs the CSRF header.
	if st, body := phone.do("POST", "/api/v1/personas", `{"name":"work"}`, false); st != 403 || !strings.Contains(body, apiv1.ConsoleCSRFHeader) {
		t.Fatalf("POST without the CSRF header: %d %s", st, body)
	}
	if st, body := phone.do("POST", "/api/v1/personas", `{"name":"work"}`, true); st != 201 {
		t.Fatalf("POST with the CSRF header: %d %s", st, body)
	}

	// Listed, marked current for the phone; the CLI's client sees it too.
	st, body = phone.do("GET", "/api/v1/console/sessions", "", false)
	var l []apiv1.ConsoleSessionInfo
	if err := json.Unmarshal([]byte(body), &l); st != 200 || err != nil || len(l) != 1 || l[0].ID != sess.ID || !l[0].Current || l[0].Name != "Phone" {
		t.Fatalf("sessions: %d %s", st, body)
	}

	// It survives a restart of the node (the jar sends the cookie to the
	// new port: cookies are not bound to ports).
	n = Restart(t, n, "network.enabled=false")
	phone.base = n.APIURL()
	if st, body := phone.do("GET", "/api/v1/console/whoami", "", false); st != 200 || !strings.Contains(body, sess.ID) {
		t.Fatalf("after restart: %d %s", st, body)
	}
	l2, err := n.Client.Sessions(Ctx(t, time.Minute))
	if err != nil || len(l2) != 1 || l2[0].ID != sess.ID || l2[0].Current {
		t.Fatalf("sessions via the token after restart: %+v, %v", l2, err)
	}

	// Revoked with the token, it is refused at once.
	if err := n.Client.RevokeSession(Ctx(t, time.Minute), sess.ID); err != nil {
		t.Fatal(err)
	}
	if st, body := phone.do("GET", "/api/v1/status", "", false); st != 401 {
		t.Fatalf("after revoke: %d %s", st, body)
	}
}
