package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// cliConsole is a fixed httpapi.ConsoleBackend for the CLI's tests.
type cliConsole struct {
	lastPair apiv1.ConsolePair
	revoked  []string
}

func (f *cliConsole) Pair(_ context.Context, req apiv1.ConsolePair) (apiv1.ConsolePairing, error) {
	f.lastPair = req
	return apiv1.ConsolePairing{Code: "K7QM-4RTA-9XZE", Expires: time.Now().Add(time.Duration(req.TTLSeconds) * time.Second)}, nil
}
func (f *cliConsole) Redeem(context.Context, string, string) (apiv1.ConsoleSession, string, error) {
	return apiv1.ConsoleSession{}, "", httpapi.ConsoleErrorf(apiv1.CodeUnauthorized, "no")
}
func (f *cliConsole) Local(context.Context, string) (apiv1.ConsoleSession, string, error) {
	return apiv1.ConsoleSession{}, "", httpapi.ConsoleErrorf(apiv1.CodeUnauthorized, "no")
}
func (f *cliConsole) Authenticate(context.Context, string) (apiv1.ConsoleSession, error) {
	return apiv1.ConsoleSession{}, httpapi.ConsoleErrorf(apiv1.CodeUnauthorized, "no")
}
func (f *cliConsole) Sessions(context.Context) ([]apiv1.ConsoleSession, error) {
	t := time.Date(2026, 11, 21, 22, 1, 0, 0, time.UTC)
	return []apiv1.ConsoleSession{{ID: "d454bt83tezbk", Name: "tablet", Scope: "read", Created: t, LastSeen: t}}, nil
}
func (f *cliConsole) Revoke(_ context.Context, id string) error {
	if id != "d454bt83tezbk" {
		return httpapi.ConsoleErrorf(apiv1.CodeNotFound, "no such console session")
	}
	f.revoked = append(f.revoked, id)
	return nil
}

func TestConsoleCommands(t *testing.T) {
	fc := &cliConsole{}
	ts := httpapitest.Serve(t, httpapi.Options{Console: fc})
	dir := t.TempDir()
	lock, err := datadir.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release() })
	if err := datadir.WriteRuntime(dir, datadir.Runtime{PID: os.Getpid(), API: ts.URL, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(datadir.TokenPath(dir), []byte(httpapitest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, dir: dir}

	out := c.ok("console", "pair", "--scope", "read", "--name", "tablet", "--ttl", "90s")
	wantIn(t, "console pair", out, "K 7 Q M - 4 R T A - 9 X Z E", "read access", "/#pair", "expires")
	if strings.Contains(out, "█") {
		t.Error("QR code printed although stdout is not a terminal")
	}
	if fc.lastPair != (apiv1.ConsolePair{Name: "tablet", Scope: "read", TTLSeconds: 90}) {
		t.Errorf("pair request %+v", fc.lastPair)
	}
	var p apiv1.ConsolePairing
	c.jsonOf(&p, "console", "pair")
	if p.Code != "K7QM-4RTA-9XZE" || !strings.HasPrefix(p.QRSVG, "<svg") || fc.lastPair.TTLSeconds != 600 || fc.lastPair.Scope != "admin" {
		t.Errorf("pair --json: %+v (request %+v)", p, fc.lastPair)
	}
	c.fails("--scope", "console", "pair", "--scope", "root")
	c.fails("--ttl", "console", "pair", "--ttl", "2h")

	out = c.ok("console", "sessions")
	wantIn(t, "console sessions", out, "ID", "LAST SEEN", "d454bt83tezbk", "tablet", "read")
	out = c.ok("console", "revoke", "d454bt83tezbk")
	wantIn(t, "console revoke", out, "revoked console session d454bt83tezbk")
	c.fails("no such console session", "console", "revoke", "nope")
}
