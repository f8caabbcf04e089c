package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/peer-node/peer/internal/apiv1"
)

// Limits on what the sharing routes accept, besides those of the network
// routes (MaxTargetBytes bounds a contact and an owner).
const (
	MaxMiMeiBytes  = 128   // a MiMei ID ("m" and 32 base32 characters today)
	DefaultAccess  = 100   // access log entries answered without ?limit
	MaxAccessLimit = 10000 // the most ?limit may ask for
)

// shareRoutes adds the routes of the sharing side: who a MiMei is shared
// with, what is shared with us, subscriptions, fetches, the access log, the
// cache of public MiMei and the branches kept after conflicts. Each checks
// the shape of its input (a MiMei ID, contact or owner present and sane,
// exactly one of with and public, a limit in range); the backend resolves
// and validates the rest.
func (s *Server) shareRoutes() {
	m := s.mux
	const mi = "/api/v1/mimei/{mid}"

	// Who may fetch a MiMei.
	m.Handle("POST "+mi+"/shares", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		var req apiv1.ShareRequest
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.With = strings.TrimSpace(req.With)
		switch {
		case req.With == "" && !req.Public:
			return nil, badRequest("give the contact to share with (pet name or did:key) in \"with\", or \"public\": true")
		case req.With != "" && req.Public:
			return nil, badRequest("give either \"with\" or \"public\", not both: a public MiMei is open to everyone")
		case req.Public && req.Write:
			return nil, badRequest("\"write\" needs a contact in \"with\": write access is never public")
		}
		if req.With != "" {
			if err := checkText("contact", req.With, MaxTargetBytes); err != nil {
				return nil, err
			}
		}
		sh, err := sb.Share(r.Context(), mid, req)
		return sharing(sh), err
	}))
	m.Handle("GET "+mi+"/shares", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		sh, err := sb.Sharing(r.Context(), mid)
		return sharing(sh), err
	}))
	m.Handle("DELETE "+mi+"/shares/{ref}", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		ref, err := refValue(r)
		if err != nil {
			return nil, err
		}
		sh, err := sb.Unshare(r.Context(), mid, ref)
		return sharing(sh), err
	}))

	// What is shared with us, and keeping it up to date.
	m.Handle("GET /api/v1/shared", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		l, err := sb.SharedWithMe(r.Context())
		return nonNil(l), err
	}))
	m.Handle("POST /api/v1/subscriptions", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		var req apiv1.Subscribe
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		req.MiMei = strings.TrimSpace(req.MiMei)
		if req.MiMei == "" {
			return nil, badRequest("give the MiMei to subscribe to in \"mimei\"")
		}
		if err := checkMiMei(req.MiMei); err != nil {
			return nil, err
		}
		if err := checkOwner(&req.Owner); err != nil {
			return nil, err
		}
		res, err := sb.Subscribe(r.Context(), req)
		return fetchResult(res), err
	}))
	m.Handle("GET /api/v1/subscriptions", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		l, err := sb.Subscriptions(r.Context())
		return nonNil(l), err
	}))
	m.Handle("DELETE /api/v1/subscriptions/{mid}", s.shareJSON(http.StatusNoContent, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		return nil, sb.Unsubscribe(r.Context(), mid)
	}))
	m.Handle("POST "+mi+"/fetch", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		var req apiv1.FetchRequest
		if err := decodeOptionalJSON(r, &req); err != nil {
			return nil, err
		}
		if err := checkOwner(&req.Owner); err != nil {
			return nil, err
		}
		res, err := sb.Fetch(r.Context(), mid, req)
		return fetchResult(res), err
	}))

	// What happened to a MiMei: who fetched it, what conflicted.
	m.Handle("GET "+mi+"/access", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		limit, err := limitQuery(r)
		if err != nil {
			return nil, err
		}
		l, err := sb.AccessLog(r.Context(), mid, limit)
		return nonNil(l), err
	}))
	m.Handle("GET "+mi+"/branches", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		mid, err := midValue(r)
		if err != nil {
			return nil, err
		}
		l, err := sb.Branches(r.Context(), mid)
		return nonNil(l), err
	}))
	m.Handle("GET /api/v1/cache", s.shareJSON(http.StatusOK, func(r *http.Request, sb ShareBackend) (any, error) {
		l, err := sb.Cache(r.Context())
		return nonNil(l), err
	}))
}

// shareJSON serves a sharing route answering f's value as JSON with status
// (see backendJSON). Without a ShareBackend it answers 503 network_off:
// sharing needs the network.
func (s *Server) shareJSON(status int, f func(r *http.Request, sb ShareBackend) (any, error)) http.Handler {
	return backendJSON(s, status, s.opts.Share, errShareOff, f)
}

var errShareOff = Errorf(http.StatusServiceUnavailable, apiv1.CodeNetworkOff,
	"sharing is off: this node runs without the peer-to-peer network")

// sharing makes a Sharing's lists encode as [], never null.
func sharing(sh apiv1.Sharing) apiv1.Sharing {
	sh.Readers, sh.Writers = nonNil(sh.Readers), nonNil(sh.Writers)
	return sh
}

// fetchResult makes a FetchResult's list encode as [], never null.
func fetchResult(res apiv1.FetchResult) apiv1.FetchResult {
	res.Versions = nonNil(res.Versions)
	return res
}

// midValue returns the {mid} of a route, checked.
func midValue(r *http.Request) (string, error) {
	mid := r.PathValue("mid")
	return mid, checkMiMei(mid)
}

// checkMiMei refuses a MiMei ID no node could mean; the backend parses it.
func checkMiMei(mid string) error { return checkText("MiMei ID", mid, MaxMiMeiBytes) }

// checkOwner trims an optional owner (a did:key or contact) and checks it.
func checkOwner(owner *string) error {
	*owner = strings.TrimSpace(*owner)
	if *owner == "" {
		return nil
	}
	return checkText("owner", *owner, MaxTargetBytes)
}

// decodeOptionalJSON is decodeJSON, except that an empty body (none at
// all, or a chunked one with no bytes) stands for the empty object {}.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return decodeJSON(r, v)
}

// limitQuery reads ?limit= of the access log: 1 to MaxAccessLimit; absent
// or 0 is DefaultAccess. The backend always gets a bound.
func limitQuery(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultAccess, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxAccessLimit {
		return 0, badRequest("?limit=%s: give a number of entries from 1 to %d (0: the default, %d)", v, MaxAccessLimit, DefaultAccess)
	}
	if n == 0 {
		n = DefaultAccess
	}
	return n, nil
}

// shareStatus is the HTTP status the API sends with each error code of the
// sharing side; ShareErrorf picks it so every backend maps codes the same
// way.
var shareStatus = map[string]int{
	apiv1.CodeBadRequest:   http.StatusBadRequest,
	apiv1.CodeNotFound:     http.StatusNotFound,
	apiv1.CodeConflict:     http.StatusConflict,
	apiv1.CodeForbidden:    http.StatusForbidden,
	apiv1.CodeNotShared:    http.StatusForbidden,
	apiv1.CodeNotOwner:     http.StatusForbidden,
	apiv1.CodeNoVersion:    http.StatusNotFound,
	apiv1.CodeUnavailable:  http.StatusServiceUnavailable,
	apiv1.CodeNetworkOff:   http.StatusServiceUnavailable,
	apiv1.CodeNotFoundPeer: http.StatusNotFound,
	apiv1.CodeUnreachable:  http.StatusBadGateway,
	apiv1.CodeBlocked:      http.StatusForbidden,
	apiv1.CodeIntegrity:    http.StatusInternalServerError,
	apiv1.CodeInternal:     http.StatusInternalServerError,
}

// ShareErrorf returns an *Error with code and the status docs/api.md gives
// for it (500 for a code it does not know). The sharing backend uses it so
// that a code always travels with the same status.
func ShareErrorf(code, format string, args ...any) *Error {
	status, ok := shareStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return Errorf(status, code, format, args...)
}
