package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
)

// TestWebUIMounted: the web app answers every path outside the API with
// its security headers and no token, while unknown API paths keep their
// JSON errors.
func TestWebUIMounted(t *testing.T) {
	ts, _ := newServer(t)
	for _, p := range []string{"/", "/files/deep/link", "/js/app.js", "/app.css"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200 without a token", p, resp.StatusCode)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/v1/nope", 404, apiv1.CodeNotFound},
		{"GET", "/api/", 404, apiv1.CodeNotFound},
		{"GET", "/api", 404, apiv1.CodeNotFound},
		{"DELETE", "/api/v1/status", 405, apiv1.CodeMethod},
		{"POST", "/metrics", 405, apiv1.CodeMethod},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiv1.Error
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != c.status || e.Code != c.code {
			t.Errorf("%s %s: %d %s, want %d with JSON code %s", c.method, c.path, resp.StatusCode, b, c.status, c.code)
		}
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}
