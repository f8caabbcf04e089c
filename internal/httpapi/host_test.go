package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// TestHostHeader: a request naming a host that is not the node's (a DNS
// rebinding) is refused before anything else; the node's own names pass.
func TestHostHeader(t *testing.T) {
	s, err := New(Options{Token: token, Backend: &fakeBackend{personas: []apiv1.Persona{{ID: "did:key:zP"}}}, Console: newFakeConsole(t), Hosts: []string{"peer.home.arpa"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:7357", true},
		{"[::1]:7357", true},
		{"localhost:7357", true},
		{"LOCALHOST.:7357", true},
		{"app.localhost:7357", true},
		{"192.168.1.10:7357", true},
		{"[fe80::1%25eth0]:7357", true},
		{"127.0.0.1", true},
		{"peer.home.arpa:7357", true},
		{"Peer.Home.Arpa.", true},
		{"attacker.example:7357", false},
		{"attacker.example", false},
		{"localhost.attacker.example:7357", false},
		{"127.0.0.1.nip.io:7357", false},
		{"peer.home.arpa.attacker.example", false},
	}
	for _, tc := range tests {
		for _, path := range []string{"/api/v1/status", "/api/v1/console/session", "/"} {
			t.Run(tc.host+path, func(t *testing.T) {
				method, body := "GET", ""
				if path == "/api/v1/console/session" {
					method, body = "POST", `{"code":"2222-2222-2222"}`
				}
				r := httptest.NewRequest(method, path, strings.NewReader(body))
				r.Host = tc.host
				r.RemoteAddr = "127.0.0.1:5000"
				r.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, r)
				refused := w.Code == http.StatusForbidden && strings.Contains(w.Body.String(), `"`+apiv1.CodeForbidden+`"`) &&
					strings.Contains(w.Body.String(), "api.hosts")
				if refused == tc.ok {
					t.Fatalf("Host %q: status %d %s; want refused %v", tc.host, w.Code, w.Body, !tc.ok)
				}
			})
		}
	}
}

// TestPairingGuardPerSource: one client's failed pairing attempts, over
// the API, get it 429 without locking out another client; addresses of
// one IPv6 /64 count as one client.
func TestPairingGuardPerSource(t *testing.T) {
	fc := newFakeConsole(t)
	s, err := New(Options{Token: token, Backend: &fakeBackend{}, Console: fc})
	if err != nil {
		t.Fatal(err)
	}
	redeem := func(remote, code string) int {
		r := httptest.NewRequest("POST", "/api/v1/console/session", strings.NewReader(`{"code":"`+code+`"}`))
		r.RemoteAddr, r.Host = remote, "192.168.1.10:7357"
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code
	}
	for i := range 10 {
		if code := redeem(fmt.Sprintf("[2001:db8::%x]:5000", i+1), "2222-2222-2222"); code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: status %d", i, code)
		}
	}
	if code := redeem("[2001:db8::ff]:5000", "2222-2222-2222"); code != http.StatusTooManyRequests {
		t.Fatalf("the same /64 after 10 failures: status %d, want 429", code)
	}
	p, err := fc.c.Pair("", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code := redeem("192.168.1.20:5000", p.Code); code != http.StatusCreated {
		t.Fatalf("another client with the right code: status %d, want 201", code)
	}
}
