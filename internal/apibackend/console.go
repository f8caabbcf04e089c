package apibackend

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/console"
	"github.com/peer-node/peer/internal/httpapi"
)

// Console adapts the web console's sessions (package console) to the HTTP
// API (httpapi.ConsoleBackend). Console is required.
type Console struct {
	Console *console.Console
	Log     *slog.Logger // nil: no logging
}

var _ httpapi.ConsoleBackend = (*Console)(nil)

// OpenConsole opens the console's sessions over db (the node's kv store,
// open by the time the API starts). Should that fail it logs why and
// returns nil, so that the console routes answer 503 and session cookies
// are ignored: the token still works.
func OpenConsole(db console.Store, log *slog.Logger) httpapi.ConsoleBackend {
	c, err := console.New(db, console.Options{})
	if err != nil {
		logger(log).Error("web console sessions unavailable", "err", err)
		return nil
	}
	return &Console{Console: c, Log: log}
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

func (a *Console) Pair(_ context.Context, req apiv1.ConsolePair) (apiv1.ConsolePairing, error) {
	p, err := a.Console.Pair(req.Name, console.Scope(req.Scope), time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		return apiv1.ConsolePairing{}, consoleError(err)
	}
	logger(a.Log).Info("console pairing code made", "scope", p.Scope, "name", p.Name, "expires", p.Expires)
	return apiv1.ConsolePairing{Code: p.Code, Expires: p.Expires.UTC()}, nil
}

func (a *Console) Redeem(ctx context.Context, code, name string) (apiv1.ConsoleSession, string, error) {
	s, secret, err := a.Console.RedeemFrom(httpapi.RequestSource(ctx), code, name)
	if err != nil {
		if errors.Is(err, console.ErrBadCode) || errors.Is(err, console.ErrTooManyAttempts) {
			logger(a.Log).Warn("console pairing attempt failed", "err", err)
		}
		return apiv1.ConsoleSession{}, "", consoleError(err)
	}
	logger(a.Log).Info("console session created by pairing", "session", s.ID, "name", s.Name, "scope", s.Scope)
	return wireSession(s), secret, nil
}

func (a *Console) Local(_ context.Context, name string) (apiv1.ConsoleSession, string, error) {
	if name == "" {
		name = "local"
	}
	s, secret, err := a.Console.Create(name, console.ScopeAdmin)
	if err != nil {
		return apiv1.ConsoleSession{}, "", consoleError(err)
	}
	logger(a.Log).Info("console session created with the local token", "session", s.ID, "name", s.Name)
	return wireSession(s), secret, nil
}

func (a *Console) Authenticate(_ context.Context, secret string) (apiv1.ConsoleSession, error) {
	s, err := a.Console.Lookup(secret)
	if err == nil {
		s, err = a.Console.Touch(s)
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

func (a *Console) Sessions(context.Context) ([]apiv1.ConsoleSession, error) {
	l, err := a.Console.List()
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.ConsoleSession, 0, len(l))
	for _, s := range l {
		out = append(out, wireSession(s))
	}
	return out, nil
}

func (a *Console) Revoke(_ context.Context, id string) error {
	if err := a.Console.Revoke(id); err != nil {
		return consoleError(err)
	}
	logger(a.Log).Info("console session revoked", "session", id)
	return nil
}
