package apibackend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/cid"
	"github.com/peer-node/peer/internal/console"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/exchange"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/keystore"
	"github.com/peer-node/peer/internal/mimei"
	"github.com/peer-node/peer/internal/mimeidb"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/p2p/discovery"
	"github.com/peer-node/peer/internal/share"
)

// wantAPIError checks that got is an *httpapi.Error with status and code,
// still carrying the domain error's text.
func wantAPIError(t *testing.T, name string, in, got error, status int, code string) {
	t.Helper()
	var he *httpapi.Error
	if !errors.As(got, &he) {
		t.Fatalf("%s: %v became %T %v, want *httpapi.Error", name, in, got, got)
	}
	if he.Status != status || he.Code != code {
		t.Fatalf("%s: %v became %d %s, want %d %s", name, in, he.Status, he.Code, status, code)
	}
	if he.Message != in.Error() {
		t.Fatalf("%s: message %q, want the domain error's %q", name, he.Message, in.Error())
	}
}

func TestErrorMapping(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("doing it: %w", err) }
	cases := []struct {
		name   string
		mapper func(error) error
		err    error
		status int
		code   string
	}{
		{"store not found", storeError, mimei.ErrNotFound, 404, apiv1.CodeNotFound},
		{"store no version", storeError, mimei.ErrNoVersion, 404, apiv1.CodeNoVersion},
		{"store unknown persona", storeError, keystore.ErrUnknownPersona, 404, apiv1.CodeUnknownPersona},
		{"store bad path", storeError, mimei.ErrBadPath, 400, apiv1.CodeBadRequest},
		{"store bad name", storeError, mimei.CheckName("a\x1b"), 400, apiv1.CodeBadRequest},
		{"store exists", storeError, mimei.ErrExistsAt, 409, apiv1.CodeExists},
		{"store integrity", storeError, cid.ErrIntegrity, 500, apiv1.CodeIntegrity},
		{"store tx conflict", storeError, mimeidb.ErrConflict, 409, apiv1.CodeTxConflict},
		{"store redis error", storeError, mimeidb.ErrWrongArgs, 400, apiv1.CodeDBError},
		{"store reply too large", storeError, mimeidb.ErrReplyTooLarge, 413, apiv1.CodeTooLarge},
		{"share network off", shareError, share.ErrNetworkOff, http.StatusServiceUnavailable, apiv1.CodeNetworkOff},
		{"share denied", shareError, share.ErrDenied, 403, apiv1.CodeNotShared},
		{"share not owner", shareError, share.ErrNotOwner, 403, apiv1.CodeNotOwner},
		{"share no providers", shareError, exchange.ErrNoProviders, 503, apiv1.CodeUnavailable},
		{"share falls back to store", shareError, mimei.ErrNotFound, 404, apiv1.CodeNotFound},
		{"share falls back to net", shareError, contacts.ErrNameTaken, 409, apiv1.CodeConflict},
		{"identity unknown persona", apiError, keystore.ErrUnknownPersona, 404, apiv1.CodeUnknownPersona},
		{"identity name taken", apiError, keystore.ErrNameTaken, 409, apiv1.CodeConflict},
		{"identity bad name", apiError, keystore.ErrBadName, 400, apiv1.CodeBadRequest},
		{"console bad request", consoleError, console.ErrBadRequest, 400, apiv1.CodeBadRequest},
		{"net bad target", NetError, ErrBadTarget, 400, apiv1.CodeBadRequest},
		{"net bad peer ID", NetError, contacts.ErrBadPeerID, 400, apiv1.CodeBadRequest},
		{"net blocked target", NetError, ErrBlockedTarget, 403, apiv1.CodeBlocked},
		{"net blocked by p2p", NetError, p2p.ErrBlocked, 403, apiv1.CodeBlocked},
		{"net not found", NetError, discovery.ErrNotFound, 404, apiv1.CodeNotFoundPeer},
		{"net unreachable", NetError, discovery.ErrUnreachable, 502, apiv1.CodeUnreachable},
		{"net refused", NetError, contacts.ErrInviteRefused, 502, apiv1.CodeUnreachable},
		{"net deadline", NetError, context.DeadlineExceeded, 502, apiv1.CodeUnreachable},
		{"net invite expired", NetError, contacts.ErrInviteExpired, 410, apiv1.CodeInviteExpired},
		{"net invite used", NetError, contacts.ErrInviteUsed, 409, apiv1.CodeInviteUsed},
		{"net bad invite", NetError, contacts.ErrInviteUnknown, 400, apiv1.CodeBadInvite},
		{"net no contact", NetError, contacts.ErrNotFound, 404, apiv1.CodeNotFound},
		{"net exists", NetError, contacts.ErrExists, 409, apiv1.CodeConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := wrap(c.err)
			wantAPIError(t, c.name, in, c.mapper(in), c.status, c.code)
		})
	}
}

// TestErrorPassThrough: API errors keep their status, unknown errors stay
// as they are (a 500 with their text), nil stays nil.
func TestErrorPassThrough(t *testing.T) {
	mappers := map[string]func(error) error{
		"store": storeError, "share": shareError, "identity": apiError, "console": consoleError, "net": NetError,
	}
	api := httpapi.Errorf(http.StatusTeapot, "teapot", "short and stout")
	other := errors.New("disk on fire")
	for name, m := range mappers {
		if got := m(nil); got != nil {
			t.Errorf("%s: nil became %v", name, got)
		}
		if got := m(other); got != other {
			t.Errorf("%s: an unknown error became %v", name, got)
		}
		if name == "identity" || name == "console" {
			continue // they never see API errors
		}
		if got := m(fmt.Errorf("wrapped: %w", api)); !errors.Is(got, api) {
			t.Errorf("%s: an API error became %v", name, got)
		}
	}
}
