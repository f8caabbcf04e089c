package httpapi

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/peer-node/peer/internal/apiv1"
)

// Limits on what the network routes accept, checked before the backend
// sees a request.
const (
	MaxTargetBytes      = 1024           // a did:key, pet name, peer ID or multiaddr
	MaxLinkBytes        = 8192           // an invite link
	MaxNameBytes        = 128            // a pet name or suggested name
	MaxInviteTTLSec     = 30 * 24 * 3600 // 30 days
	MaxDevicePairTTLSec = 3600           // 1 hour
)

// netRoutes adds the routes of the peer-to-peer side: the network status,
// connections, invites, contacts and blocks. Each checks the shape of its
// input (a target, link or name present and sane, a TTL in range); the
// backend resolves and validates the rest.
func (s *Server) netRoutes() {
	m := s.mux

	m.Handle("GET /api/v1/net", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		st, err := n.Net(r.Context())
		st.ListenAddrs, st.Addrs, st.Relays = nonNil(st.ListenAddrs), nonNil(st.Addrs), nonNil(st.Relays)
		st.Indexes, st.Conns = nonNil(st.Indexes), nonNil(st.Conns)
		return st, err
	}))
	m.Handle("GET /api/v1/peers", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		cs, err := n.Peers(r.Context())
		return nonNil(cs), err
	}))
	m.Handle("POST /api/v1/peers/ping", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		t, err := decodeTarget(r)
		if err != nil {
			return nil, err
		}
		return n.Ping(r.Context(), t)
	}))
	m.Handle("POST /api/v1/peers/connect", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		t, err := decodeTarget(r)
		if err != nil {
			return nil, err
		}
		return n.Connect(r.Context(), t)
	}))

	// Own devices.
	m.Handle("GET /api/v1/devices", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		l, err := n.Devices(r.Context())
		return nonNil(l), err
	}))
	m.Handle("POST /api/v1/devices/pair", s.netJSON(http.StatusCreated, func(r *http.Request, n NetBackend) (any, error) {
		var req apiv1.PairDevice
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if req.TTLSeconds < 0 || req.TTLSeconds > MaxDevicePairTTLSec {
			return nil, badRequest("ttl_seconds %d is out of range: give 0 (the default, 10 minutes) up to %d (1 hour)", req.TTLSeconds, MaxDevicePairTTLSec)
		}
		return n.PairDevice(r.Context(), req)
	}))

	// Invites.
	m.Handle("POST /api/v1/invites", s.netJSON(http.StatusCreated, func(r *http.Request, n NetBackend) (any, error) {
		var req apiv1.CreateInvite
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if req.TTLSeconds < 0 || req.TTLSeconds > MaxInviteTTLSec {
			return nil, badRequest("ttl_seconds %d is out of range: give 0 (the default, 24 hours) up to %d (30 days)", req.TTLSeconds, MaxInviteTTLSec)
		}
		if err := checkName("name", req.Name, true); err != nil {
			return nil, err
		}
		qr, err := boolQuery(r, "qr")
		if err != nil {
			return nil, err
		}
		inv, err := n.CreateInvite(r.Context(), req)
		if err != nil || !qr {
			return inv, err
		}
		// A phone can scan the invite instead of pasting it; the QR code
		// is drawn here, like the console's pairing code, and only when
		// asked for (it is some 25 KB).
		if inv.QRSVG, err = QRSVG(inv.Link); err != nil {
			return nil, err
		}
		return inv, nil
	}))
	m.Handle("GET /api/v1/invites", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		l, err := n.Invites(r.Context())
		return nonNil(l), err
	}))
	m.Handle("DELETE /api/v1/invites/{id}", s.netJSON(http.StatusNoContent, func(r *http.Request, n NetBackend) (any, error) {
		id := r.PathValue("id")
		if err := checkText("invite ID", id, MaxTargetBytes); err != nil {
			return nil, err
		}
		return nil, n.RevokeInvite(r.Context(), id)
	}))
	m.Handle("POST /api/v1/invites/accept", s.netJSON(http.StatusCreated, func(r *http.Request, n NetBackend) (any, error) {
		var req apiv1.AcceptInvite
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.Link = strings.TrimSpace(req.Link)
		if req.Link == "" {
			return nil, badRequest("give the invite link in \"link\"")
		}
		if err := checkText("link", req.Link, MaxLinkBytes); err != nil {
			return nil, err
		}
		if err := checkName("name", req.Name, true); err != nil {
			return nil, err
		}
		return n.AcceptInvite(r.Context(), req)
	}))

	// Contacts.
	const contact = "/api/v1/contacts/{ref}"
	m.Handle("GET /api/v1/contacts", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		l, err := n.Contacts(r.Context())
		return nonNil(l), err
	}))
	m.Handle("POST /api/v1/contacts", s.netJSON(http.StatusCreated, func(r *http.Request, n NetBackend) (any, error) {
		var req apiv1.AddContact
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if req.Persona == "" {
			return nil, badRequest("give the contact's persona (did:key:…) in \"persona\"")
		}
		if err := checkText("persona", req.Persona, MaxTargetBytes); err != nil {
			return nil, err
		}
		if err := checkName("name", req.Name, false); err != nil {
			return nil, err
		}
		return n.AddContact(r.Context(), req)
	}))
	m.Handle("GET "+contact, s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		ref, err := refValue(r)
		if err != nil {
			return nil, err
		}
		return n.Contact(r.Context(), ref)
	}))
	m.Handle("PATCH "+contact, s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		ref, err := refValue(r)
		if err != nil {
			return nil, err
		}
		var req apiv1.UpdateContact
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if req.Name == nil {
			return nil, badRequest("nothing to change: give \"name\"")
		}
		if err := checkName("name", *req.Name, false); err != nil {
			return nil, err
		}
		return n.UpdateContact(r.Context(), ref, req)
	}))
	m.Handle("DELETE "+contact, s.netJSON(http.StatusNoContent, func(r *http.Request, n NetBackend) (any, error) {
		ref, err := refValue(r)
		if err != nil {
			return nil, err
		}
		return nil, n.RemoveContact(r.Context(), ref)
	}))

	// Blocks.
	m.Handle("GET /api/v1/blocks", s.netJSON(http.StatusOK, func(r *http.Request, n NetBackend) (any, error) {
		b, err := n.Blocked(r.Context())
		b.Personas, b.Peers = nonNil(b.Personas), nonNil(b.Peers)
		return b, err
	}))
	m.Handle("POST /api/v1/blocks", s.netJSON(http.StatusNoContent, func(r *http.Request, n NetBackend) (any, error) {
		t, err := decodeTarget(r)
		if err != nil {
			return nil, err
		}
		return nil, n.Block(r.Context(), t)
	}))
	m.Handle("DELETE /api/v1/blocks/{target}", s.netJSON(http.StatusNoContent, func(r *http.Request, n NetBackend) (any, error) {
		t := r.PathValue("target")
		if err := checkText("target", t, MaxTargetBytes); err != nil {
			return nil, err
		}
		return nil, n.Unblock(r.Context(), t)
	}))
}

var errNetOff = Errorf(http.StatusServiceUnavailable, apiv1.CodeNetworkOff,
	"the peer-to-peer network is off: this node runs without it")

// netJSON serves a network route answering f's value as JSON with status
// (see backendJSON). Without a NetBackend it answers 503 network_off.
func (s *Server) netJSON(status int, f func(r *http.Request, n NetBackend) (any, error)) http.Handler {
	return backendJSON(s, status, s.opts.Net, errNetOff, f)
}

// backendJSON serves an authenticated route answering f's value as JSON
// with status; with 204 No Content f's value is ignored and no body is
// sent. When the backend b is nil it answers missing.
func backendJSON[B any](s *Server, status int, b B, missing *Error, f func(r *http.Request, b B) (any, error)) http.Handler {
	return s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if any(b) == nil {
			writeError(w, missing)
			return
		}
		v, err := f(r, b)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if status == http.StatusNoContent {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	}))
}

// decodeTarget reads a Target body and returns its target, checked.
func decodeTarget(r *http.Request) (string, error) {
	var req apiv1.Target
	if err := decodeJSON(r, &req); err != nil {
		return "", err
	}
	t := strings.TrimSpace(req.Target)
	if t == "" {
		return "", badRequest("give a target in \"target\": a persona did:key, a contact's name, a peer ID or a multiaddr ending in /p2p/<peer ID>")
	}
	return t, checkText("target", t, MaxTargetBytes)
}

// refValue returns the {ref} of a contact route, checked.
func refValue(r *http.Request) (string, error) {
	ref := r.PathValue("ref")
	return ref, checkText("contact", ref, MaxTargetBytes)
}

// checkText refuses a value no node could mean: empty, longer than limit
// bytes, not UTF-8, or holding control characters.
func checkText(what, v string, limit int) error {
	switch {
	case v == "":
		return badRequest("the %s is empty", what)
	case len(v) > limit:
		return badRequest("the %s of %d bytes exceeds the limit of %d bytes", what, len(v), limit)
	case !utf8.ValidString(v):
		return badRequest("the %s is not valid UTF-8", what)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return badRequest("the %s %q holds a control character", what, v)
	}
	return nil
}

// checkName checks a pet name or suggested name; empty passes if optional.
func checkName(field, v string, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return badRequest("give a name in %q", field)
	}
	if strings.TrimSpace(v) != v {
		return badRequest("the name %q starts or ends with a space", v)
	}
	return checkText(field, v, MaxNameBytes)
}

// netStatus is the HTTP status the API sends with each error code of the
// network side; NetErrorf picks it so every backend maps codes the same way.
var netStatus = map[string]int{
	apiv1.CodeBadRequest:    http.StatusBadRequest,
	apiv1.CodeNotFound:      http.StatusNotFound,
	apiv1.CodeConflict:      http.StatusConflict,
	apiv1.CodeExists:        http.StatusConflict,
	apiv1.CodeForbidden:     http.StatusForbidden,
	apiv1.CodeUnavailable:   http.StatusServiceUnavailable,
	apiv1.CodeInternal:      http.StatusInternalServerError,
	apiv1.CodeNetworkOff:    http.StatusServiceUnavailable,
	apiv1.CodeNotFoundPeer:  http.StatusNotFound,
	apiv1.CodeUnreachable:   http.StatusBadGateway,
	apiv1.CodeBadInvite:     http.StatusBadRequest,
	apiv1.CodeInviteExpired: http.StatusGone,
	apiv1.CodeInviteUsed:    http.StatusConflict,
	apiv1.CodeBlocked:       http.StatusForbidden,
}

// NetErrorf returns an *Error with code and the status docs/api.md gives
// for it (500 for a code it does not know). Network backends use it so
// that a code always travels with the same status.
func NetErrorf(code, format string, args ...any) *Error {
	status, ok := netStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return Errorf(status, code, format, args...)
}
