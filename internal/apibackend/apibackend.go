// Package apibackend adapts the node's services to the backend interfaces
// of internal/httpapi: Identity (httpapi.Backend: status, personas, device
// certificates), Store (httpapi.StoreBackend: the MiMei store), Share
// (httpapi.ShareBackend: sharing and its network flows) and Console
// (httpapi.ConsoleBackend: web console sessions). It parses the wire's IDs
// and references, converts domain values into wire types (apiv1) and maps
// domain errors to API statuses and codes, at this edge, so that neither
// the domain packages nor httpapi know each other.
//
// It is an edge package: the composition root (package node) builds the
// adapters from its services as plain struct literals and hands them to
// httpapi.New; nothing else imports it.
package apibackend

import (
	"context"
	"errors"
	"log/slog"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/contacts"
	"github.com/peer-node/peer/internal/devices"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/idrecord"
	"github.com/peer-node/peer/internal/netport"
	"github.com/peer-node/peer/internal/p2p"
	"github.com/peer-node/peer/internal/p2p/discovery"
)

// logger is log, or one that discards everything when log is nil.
func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Errors of the network side that NetError maps; the node's flows wrap
// them with %w and details.
var (
	// ErrBadTarget: a target (peer ID, persona, address, pairing request)
	// that cannot be used as given: 400 bad_request.
	ErrBadTarget = errors.New("bad target")
	// ErrBlockedTarget: the target is blocked: 403 blocked.
	ErrBlockedTarget = errors.New("the target is blocked")
)

// NetError maps the errors of the network side (contacts, invites,
// discovery, connections) to API errors; an *httpapi.Error passes
// unchanged, and an error it does not know is returned as is (a 500).
func NetError(err error) error {
	var he *httpapi.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return err
	case errors.Is(err, ErrBadTarget), errors.Is(err, contacts.ErrBadName), errors.Is(err, contacts.ErrBadPersona), errors.Is(err, contacts.ErrBadPeerID), errors.Is(err, contacts.ErrTooMany),
		errors.Is(err, devices.ErrTooManyDevices), errors.Is(err, devices.ErrBadTTL):
		return httpapi.NetErrorf(apiv1.CodeBadRequest, "%v", err)
	case errors.Is(err, ErrBlockedTarget), errors.Is(err, p2p.ErrBlocked):
		return httpapi.NetErrorf(apiv1.CodeBlocked, "%v", err)
	case errors.Is(err, discovery.ErrNotFound), errors.Is(err, idrecord.ErrExpired):
		return httpapi.NetErrorf(apiv1.CodeNotFoundPeer, "%v", err)
	// An inviter that refused says why (used, expired): that code first.
	case errors.Is(err, contacts.ErrInviteExpired):
		return httpapi.NetErrorf(apiv1.CodeInviteExpired, "%v", err)
	case errors.Is(err, contacts.ErrInviteUsed):
		return httpapi.NetErrorf(apiv1.CodeInviteUsed, "%v", err)
	case errors.Is(err, discovery.ErrUnreachable), errors.Is(err, netport.ErrUnreachable), errors.Is(err, p2p.ErrDialSelf),
		errors.Is(err, contacts.ErrInviteRefused), errors.Is(err, context.DeadlineExceeded):
		return httpapi.NetErrorf(apiv1.CodeUnreachable, "%v", err)
	case errors.Is(err, contacts.ErrBadInvite), errors.Is(err, contacts.ErrInviteUnknown):
		return httpapi.NetErrorf(apiv1.CodeBadInvite, "%v", err)
	case errors.Is(err, contacts.ErrNotFound), errors.Is(err, contacts.ErrNotBlocked):
		return httpapi.NetErrorf(apiv1.CodeNotFound, "%v", err)
	case errors.Is(err, contacts.ErrExists), errors.Is(err, contacts.ErrNameTaken):
		return httpapi.NetErrorf(apiv1.CodeConflict, "%v", err)
	}
	return err
}
