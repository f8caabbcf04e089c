package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/config"
	"github.com/peer-node/peer/internal/datadir"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, dir string, logs io.Writer) *Node {
	t.Helper()
	opts := Options{DataDir: dir, Overrides: append([]string{"api.listen=127.0.0.1:0"}, LoopbackNetwork...)}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		opts.LogOutput = io.Discard
	}
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestStartServesAndStops(t *testing.T) {
	dir := t.TempDir()
	n := start(t, dir, nil)
	c, err := apiclient.FromDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Persona != n.Persona() || st.Device != n.Device() || st.Personas != 1 {
		t.Fatalf("status %+v", st)
	}
	// A second node on the same directory is refused at once.
	if _, err := Start(Options{DataDir: dir, LogOutput: io.Discard, Overrides: LoopbackNetwork}); !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("second start: %v", err)
	}
	// Events: a persona created through the API shows on the stream.
	evctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	evs, err := c.Events(evctx, 0, "persona.*")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.NewPersona(ctx, "travel")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-evs:
		if ev.Type != "persona.created" || !strings.Contains(string(ev.Data), p.ID) {
			t.Fatalf("event %+v", ev)
		}
	case <-evctx.Done():
		t.Fatal("no persona.created event")
	}
	// Errors carry codes clients branch on.
	if _, err := c.Persona(ctx, "did:key:zNope"); !apiclient.IsCode(err, "unknown_persona") {
		t.Fatalf("unknown persona: %v", err)
	}
	if _, err := c.NewPersona(ctx, "travel"); !apiclient.IsCode(err, "conflict") {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := c.NewPersona(ctx, "bad name!"); !apiclient.IsCode(err, "bad_request") {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := apiclient.New(n.APIURL(), "wrong-token").Status(ctx); !apiclient.IsCode(err, "unauthorized") {
		t.Fatalf("wrong token: %v", err)
	}
	cert, err := c.DeviceCert(ctx, "travel")
	if err != nil || !cert.Verified || cert.Device != n.Device() || cert.Persona != p.ID {
		t.Fatalf("certificate %+v, %v", cert, err)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := apiclient.FromDataDir(dir); !errors.Is(err, apiclient.ErrNotRunning) {
		t.Fatalf("after close: %v", err)
	}
	// Restart keeps identity and personas.
	n2 := start(t, dir, nil)
	if n2.Persona() != n.Persona() || n2.Device() != n.Device() {
		t.Fatal("identity changed on restart")
	}
	if got := len(n2.keys.Personas()); got != 2 {
		t.Fatalf("%d personas after restart", got)
	}
}

// TestSecretsNeverLeave checks that no private key or seed appears in any
// API answer or log line, nor in config, token or runtime files.
func TestSecretsNeverLeave(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	n := start(t, dir, logs)
	c := apiclient.New(n.APIURL(), n.Token())
	ctx := context.Background()
	p, err := c.NewPersona(ctx, "second")
	if err != nil {
		t.Fatal(err)
	}
	var answers bytes.Buffer
	for _, path := range []string{"/api/v1/status", "/api/v1/identity", "/api/v1/personas", "/api/v1/personas/default",
		"/api/v1/personas/second/certificate", "/metrics", "/api/v1/nope"} {
		req, _ := http.NewRequest("GET", n.APIURL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+n.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&answers, resp.Body)
		resp.Body.Close()
	}
	var secrets [][]byte
	secrets = append(secrets, n.keys.DeviceKey().Seed())
	for _, id := range []string{n.Persona(), p.ID} {
		k, err := n.keys.PersonaKey(id)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, k.Seed())
	}
	var files bytes.Buffer
	for _, f := range []string{"config.toml", "node.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		files.Write(b)
	}
	haystacks := map[string][]byte{"API answers": answers.Bytes(), "logs": []byte(logs.String()), "config/runtime files": files.Bytes()}
	for _, s := range secrets {
		forms := [][]byte{s, []byte(hex.EncodeToString(s)), []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))}
		for name, hay := range haystacks {
			for _, f := range forms {
				if bytes.Contains(hay, f) {
					t.Errorf("a private key appears in %s", name)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "node started") {
		t.Fatal("log capture did not work")
	}
	// The token itself never appears in logs.
	if strings.Contains(logs.String(), n.Token()) {
		t.Error("the API token appears in the logs")
	}
}

func TestDefaultPortBusyFallsBack(t *testing.T) {
	// Occupy the default port (or find it occupied already: either way busy).
	def := config.Default().API.Listen
	if ln, err := net.Listen("tcp", def); err == nil {
		defer ln.Close()
	}
	// A node that never chose a port moves to a free one…
	n, err := Start(Options{DataDir: t.TempDir(), LogOutput: io.Discard, Overrides: LoopbackNetwork})
	if err != nil {
		t.Fatalf("default port busy: %v", err)
	}
	defer n.Close()
	if strings.HasSuffix(n.APIURL(), def) {
		t.Fatalf("got the busy default %s", n.APIURL())
	}
	// …but one that asked for a busy port explicitly fails, naming it.
	_, err = Start(Options{DataDir: t.TempDir(), LogOutput: io.Discard, Overrides: append([]string{"api.listen=" + def}, LoopbackNetwork...)})
	if err == nil || !strings.Contains(err.Error(), def) {
		t.Fatalf("explicit busy port: %v", err)
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	res, err := Init(dir, InitOptions{PersonaName: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(res.Mnemonic)) != 24 || !strings.HasPrefix(res.Persona, "did:key:") {
		t.Fatalf("init result %+v", res)
	}
	if _, err := Init(dir, InitOptions{}); !errors.Is(err, ErrAlreadyInitialised) {
		t.Fatalf("second init: %v", err)
	}
	// Restoring the same words elsewhere yields the same persona.
	res2, err := Init(t.TempDir(), InitOptions{Restore: res.Mnemonic})
	if err != nil || res2.Persona != res.Persona || res2.Mnemonic != "" || res2.Device == res.Device {
		t.Fatalf("restore: %+v %v", res2, err)
	}
	n := start(t, dir, nil)
	if n.Persona() != res.Persona || n.keys.DefaultPersona().Name != "me" {
		t.Fatal("up after init changed the persona")
	}
	// Init while the node runs is refused by the lock.
	if _, err := Init(dir, InitOptions{}); !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("init while running: %v", err)
	}
}
