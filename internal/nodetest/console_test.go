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

// A read-scope browser may run database commands that read, and no others.
func TestConsoleReadSessionDatabase(t *testing.T) {
	n := Start(t, "network.enabled=false")
	ctx := Ctx(t, time.Minute)
	m, err := n.Client.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Client.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"SET", "k", "v"}}); err != nil {
		t.Fatal(err)
	}
	p, err := n.Client.Pair(ctx, "", apiv1.ScopeRead, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	phone := newBrowser(t, n.APIURL())
	if st, body := phone.do("POST", "/api/v1/console/session", `{"code":"`+p.Code+`"}`, false); st != 201 {
		t.Fatalf("redeem: %d %s", st, body)
	}
	path := "/api/v1/mimei/" + m.ID + "/db"
	tests := []struct {
		name string
		body string
		csrf bool
		want int
		in   string // substring of the answer
	}{
		{"GET reads", `{"args":["GET","k"]}`, true, 200, `"v"`},
		{"SCAN reads", `{"args":["SCAN","0"]}`, true, 200, `"k"`},
		{"lower case", `{"args":["type","k"]}`, true, 200, `"string"`},
		{"SET writes", `{"args":["SET","k","w"]}`, true, 403, "only run database commands that read"},
		{"DEL writes", `{"args":["DEL","k"]}`, true, 403, "only run database commands that read"},
		{"unknown command", `{"args":["FLUSHALL"]}`, true, 403, "only run database commands that read"},
		{"still needs the CSRF header", `{"args":["GET","k"]}`, false, 403, apiv1.ConsoleCSRFHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := phone.do("POST", path, tc.body, tc.csrf)
			if st != tc.want || !strings.Contains(body, tc.in) {
				t.Fatalf("%d %s, want %d with %q", st, body, tc.want, tc.in)
			}
		})
	}
	// Nothing was changed.
	r, err := n.Client.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"GET", "k"}})
	if err != nil || !strings.Contains(string(mustJSON(t, r)), `"v"`) {
		t.Fatalf("k after the read session: %+v %v", r, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
