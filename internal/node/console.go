package node

import (
	"context"
	"errors"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/console"
	"github.com/peer-node/peer/internal/httpapi"
)

// consoleAPI adapts the web console's sessions (package console, kept in
// the node's kv store under "cs/") to the HTTP API.
type consoleAPI struct {
	n *Node
	c *console.Console
}

// consoleBackend opens the console over the node's store (open by the
// time the API starts). Should that fail, the console routes answer 503
// and session cookies are ignored: the token still works.
func (n *Node) consoleBackend() httpapi.ConsoleBackend {
	c, err := console.New(n.store, console.Options{})
	if err != nil {
		n.log.Error("web console sessions unavailable", "err", err)
		return nil
	}
	return &consoleAPI{n: n, c: c}
}

func wireSession(s console.Session) apiv1.ConsoleSession {
	return apiv1.ConsoleSession{ID: s.ID, Name: s.Name, Scope: string(s.Scope), Created: s.Created.UTC(), LastSeen: s.LastSeen.UTC()}
}

// consoleError maps the console's sentinel errors to API errors. Messages
// name no secret.
func consoleError(err error) error {
	switch {
	case errors.Is(err, console.ErrBadCode):
		return httpapi.ConsoleErrorf(apiv1.CodeUnauthorized, "the pairing code is wrong, expired or already used: make a new one with `peer console pair`")
	case errors.Is(err, console.ErrTooManyAttempts):
		return httpapi.ConsoleErrorf(apiv1.CodeTooManyRequests, "too many failed pairing attempts: wait a minute and try again")
	case errors.Is(err, console.ErrUnknownSession):
		return httpapi.ConsoleErrorf(apiv1.CodeNotFound, "no such console session (it may have been revoked)")
	case errors.Is(err, console.ErrBadRequest):
		return httpapi.ConsoleErrorf(apiv1.CodeBadRequest, "%v", err)
	}
	return err
}

func (a *consoleAPI) Pair(_ context.Context, req apiv1.ConsolePair) (apiv1.ConsolePairing, error) {
	p, err := a.c.Pair(req.Name, console.Scope(req.Scope), time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		return apiv1.ConsolePairing{}, consoleError(err)
	}
	a.n.log.Info("console pairing code made", "scope", p.Scope, "name", p.Name, "expires", p.Expires)
	return apiv1.ConsolePairing{Code: p.Code, Expires: p.Expires.UTC()}, nil
}

func (a *consoleAPI) Redeem(_ context.Context, code, name string) (apiv1.ConsoleSession, string, error) {
	s, secret, err := a.c.Redeem(code, name)
	if err != nil {
		if errors.Is(err, console.ErrBadCode) || errors.Is(err, console.ErrTooManyAttempts) {
			a.n.log.Warn("console pairing attempt failed", "err", err)
		}
		return apiv1.ConsoleSession{}, "", consoleError(err)
	}
	a.n.log.Info("console session created by pairing", "session", s.ID, "name", s.Name, "scope", s.Scope)
	return wireSession(s), secret, nil
}

func (a *consoleAPI) Local(_ context.Context, name string) (apiv1.ConsoleSession, string, error) {
	if name == "" {
		name = "local"
	}
	s, secret, err := a.c.Create(name, console.ScopeAdmin)
	if err != nil {
		return apiv1.ConsoleSession{}, "", consoleError(err)
	}
	a.n.log.Info("console session created with the local token", "session", s.ID, "name", s.Name)
	return wireSession(s), secret, nil
}

func (a *consoleAPI) Authenticate(_ context.Context, secret string) (apiv1.ConsoleSession, error) {
	s, err := a.c.Lookup(secret)
	if err == nil {
		s, err = a.c.Touch(s)
	}
	if errors.Is(err, console.ErrUnknownSession) {
		return apiv1.ConsoleSession{}, httpapi.ConsoleErrorf(apiv1.CodeUnauthorized,
			"the console session is unknown or was revoked: log in again")
	}
	if err != nil {
		return apiv1.ConsoleSession{}, err
	}
	return wireSession(s), nil
}

func (a *consoleAPI) Sessions(context.Context) ([]apiv1.ConsoleSession, error) {
	l, err := a.c.List()
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.ConsoleSession, 0, len(l))
	for _, s := range l {
		out = append(out, wireSession(s))
	}
	return out, nil
}

func (a *consoleAPI) Revoke(_ context.Context, id string) error {
	if err := a.c.Revoke(id); err != nil {
		return consoleError(err)
	}
	a.n.log.Info("console session revoked", "session", id)
	return nil
}
