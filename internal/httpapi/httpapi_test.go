package httpapi

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/events"
)

const token = "test-token-0123456789abcdef"

type fakeBackend struct {
	mu       sync.Mutex
	personas []apiv1.Persona
}

func (f *fakeBackend) Status(context.Context) (apiv1.Status, error) {
	return apiv1.Status{Version: "test", Persona: f.personas[0].ID}, nil
}
func (f *fakeBackend) Identity(context.Context) (apiv1.Identity, error) {
	return apiv1.Identity{Persona: f.personas[0]}, nil
}
func (f *fakeBackend) Personas(context.Context) ([]apiv1.Persona, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiv1.Persona(nil), f.personas...), nil
}
func (f *fakeBackend) Persona(_ context.Context, ref string) (apiv1.Persona, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.personas {
		if p.ID == ref || p.Name == ref {
			return p, nil
		}
	}
	return apiv1.Persona{}, Errorf(http.StatusNotFound, apiv1.CodeUnknownPersona, "unknown persona %q", ref)
}
func (f *fakeBackend) NewPersona(_ context.Context, name string) (apiv1.Persona, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := apiv1.Persona{ID: "did:key:z" + name, Name: name, Index: uint32(len(f.personas))}
	f.personas = append(f.personas, p)
	return p, nil
}
func (f *fakeBackend) DeviceCert(_ context.Context, ref string) (apiv1.DeviceCert, error) {
	return apiv1.DeviceCert{}, Errorf(http.StatusNotFound, apiv1.CodeUnknownPersona, "unknown persona %q", ref)
}

func newServer(t *testing.T) (*httptest.Server, *events.Bus) {
	t.Helper()
	bus := events.New(0)
	s, err := New(Options{Token: token, Backend: &fakeBackend{personas: []apiv1.Persona{{ID: "did:key:zdefault", Name: "default", Default: true}}},
		Bus: bus, MaxBodyBytes: 1024, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { bus.Close(); ts.Close() })
	return ts, bus
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{Token: "short", Backend: &fakeBackend{}}); err == nil {
		t.Fatal("want error for short token")
	}
	if _, err := New(Options{Token: token}); err == nil {
		t.Fatal("want error for missing backend")
	}
}

func TestRequests(t *testing.T) {
	ts, _ := newServer(t)
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name        string
		method      string
		path        string
		auth        string
		ctype       string
		body        string
		chunked     bool
		wantStatus  int
		wantCode    string
		wantContain string
	}{
		{"health needs no token", "GET", "/healthz", "", "", "", false, 200, "", `"ok"`},
		{"status without token", "GET", "/api/v1/status", "", "", "", false, 401, apiv1.CodeUnauthorized, "Authorization"},
		{"status wrong token", "GET", "/api/v1/status", "Bearer nope", "", "", false, 401, apiv1.CodeUnauthorized, "invalid"},
		{"status wrong scheme", "GET", "/api/v1/status", "Basic " + token, "", "", false, 401, apiv1.CodeUnauthorized, ""},
		{"status with token", "GET", "/api/v1/status", "Bearer " + token, "", "", false, 200, "", `"version": "test"`},
		{"token in URL refused", "GET", "/api/v1/status?token=" + token, "", "", "", false, 401, apiv1.CodeUnauthorized, "never in the URL"},
		{"token in URL refused even with header", "GET", "/api/v1/status?access_token=x", "Bearer " + token, "", "", false, 401, apiv1.CodeUnauthorized, "URL"},
		{"metrics need token", "GET", "/metrics", "", "", "", false, 401, apiv1.CodeUnauthorized, ""},
		{"metrics", "GET", "/metrics", "Bearer " + token, "", "", false, 200, "", "peer_http_requests_total"},
		{"unknown endpoint", "GET", "/api/v1/nope", "Bearer " + token, "", "", false, 404, apiv1.CodeNotFound, "no such endpoint"},
		{"wrong method", "DELETE", "/api/v1/status", "Bearer " + token, "", "", false, 405, apiv1.CodeMethod, "not allowed"},
		{"unknown persona", "GET", "/api/v1/personas/bob", "Bearer " + token, "", "", false, 404, apiv1.CodeUnknownPersona, "bob"},
		{"persona by name", "GET", "/api/v1/personas/default", "Bearer " + token, "", "", false, 200, "", "did:key:zdefault"},
		{"new persona", "POST", "/api/v1/personas", "Bearer " + token, "application/json", `{"name":"work"}`, false, 201, "", `"work"`},
		{"new persona oversized", "POST", "/api/v1/personas", "Bearer " + token, "application/json", big, false, 413, apiv1.CodeTooLarge, "limit"},
		{"new persona oversized chunked", "POST", "/api/v1/personas", "Bearer " + token, "application/json", big, true, 413, apiv1.CodeTooLarge, "limit"},
		{"new persona bad json", "POST", "/api/v1/personas", "Bearer " + token, "application/json", `{"name":`, false, 400, apiv1.CodeBadRequest, "invalid JSON"},
		{"new persona unknown field", "POST", "/api/v1/personas", "Bearer " + token, "application/json", `{"nmae":"x"}`, false, 400, apiv1.CodeBadRequest, "nmae"},
		{"new persona trailing data", "POST", "/api/v1/personas", "Bearer " + token, "application/json", `{"name":"a"}{}`, false, 400, apiv1.CodeBadRequest, "trailing"},
		{"new persona empty body", "POST", "/api/v1/personas", "Bearer " + token, "application/json", ``, false, 400, apiv1.CodeBadRequest, "empty"},
		{"new persona wrong media type", "POST", "/api/v1/personas", "Bearer " + token, "text/plain", `{}`, false, 415, apiv1.CodeUnsupportedMT, "application/json"},
		{"new persona unauthenticated", "POST", "/api/v1/personas", "", "application/json", `{"name":"evil"}`, false, 401, apiv1.CodeUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
			}
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, body)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantCode != "" && !strings.Contains(string(b), `"code": "`+tc.wantCode+`"`) {
				t.Fatalf("body %s lacks code %q", b, tc.wantCode)
			}
			if tc.wantStatus >= 400 && tc.path != "/metrics" && resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("error not JSON: %q", resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(b), tc.wantContain) {
				t.Fatalf("body %s lacks %q", b, tc.wantContain)
			}
		})
	}
	// Rejected requests changed nothing: only "work" was added.
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/personas", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(b), `"id"`); n != 2 {
		t.Fatalf("want 2 personas after the table, got %d: %s", n, b)
	}
}

func TestEventStream(t *testing.T) {
	ts, bus := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(lastID string, query string) *bufio.Reader {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return bufio.NewReader(resp.Body)
	}
	awaitLine := func(r *bufio.Reader, want string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended before %q: %v", want, err)
			}
			if strings.Contains(line, want) {
				return
			}
		}
	}
	r := open("", "")
	awaitLine(r, "retry:")
	bus.Publish("a.one", map[string]int{"n": 1})
	bus.Publish("b.two", nil)
	awaitLine(r, "event: a.one")
	awaitLine(r, "event: b.two")
	awaitLine(r, ": ping") // keep-alive

	// Resume after event 1: event 2 is replayed.
	r2 := open("1", "")
	awaitLine(r2, "id: 2")
	// Filtered by type prefix.
	r3 := open("0", "?types=b.*")
	bus.Publish("a.three", nil)
	bus.Publish("b.four", nil)
	awaitLine(r3, "event: b.four")

	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad Last-Event-ID: status %d", resp.StatusCode)
	}
}
