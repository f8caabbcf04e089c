package httpapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
)

// idBackend is fakeBackend answering a given identity.
type idBackend struct {
	fakeBackend
	id apiv1.Identity
}

func (b *idBackend) Identity(context.Context) (apiv1.Identity, error) { return b.id, nil }

func newIdentityServer(t *testing.T, id apiv1.Identity) *httptest.Server {
	t.Helper()
	s, err := New(Options{Token: token, Backend: &idBackend{fakeBackend: fakeBackend{personas: []apiv1.Persona{id.Persona}}, id: id},
		Console: newFakeConsole(t)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func TestIdentityQR(t *testing.T) {
	const persona, device = "did:key:z6MkqrTestPersona", "12D3KooWQRTestDevice"
	full := newIdentityServer(t, apiv1.Identity{Persona: apiv1.Persona{ID: persona}, Device: apiv1.Device{PeerID: device}})
	_, readSecret := consoleLoginAs(t, full, apiv1.ScopeRead)
	noDevice := newIdentityServer(t, apiv1.Identity{Persona: apiv1.Persona{ID: persona}})
	qr := func(text string) string {
		svg, err := QRSVG(text)
		if err != nil {
			t.Fatal(err)
		}
		return svg
	}
	tests := []struct {
		name       string
		ts         *httptest.Server
		req        consoleReq
		wantStatus int
		want       apiv1.IdentityQR
	}{
		{"token", full, consoleReq{bearer: true}, 200, apiv1.IdentityQR{PersonaSVG: qr(persona), DeviceSVG: qr(device)}},
		{"read-scope session", full, consoleReq{cookie: readSecret}, 200, apiv1.IdentityQR{PersonaSVG: qr(persona), DeviceSVG: qr(device)}},
		{"no device ID yet", noDevice, consoleReq{bearer: true}, 200, apiv1.IdentityQR{PersonaSVG: qr(persona)}},
		{"not logged in", full, consoleReq{}, 401, apiv1.IdentityQR{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.method, tc.req.path = "GET", "/api/v1/identity/qr"
			resp, body := consoleDo(t, tc.ts, tc.req)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus != 200 {
				return
			}
			var got apiv1.IdentityQR
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant the QR codes of %q and %q", got, persona, device)
			}
		})
	}
	if qr(persona) == qr(device) {
		t.Fatal("the two IDs drew the same QR code")
	}
}
