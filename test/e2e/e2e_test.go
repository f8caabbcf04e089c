// Package e2e runs the real peer binary in separate processes: start-up
// output, the API and CLI against a running node, the data-directory lock,
// signals, sealed keys and crashes during first initialisation.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var peerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peer-e2e-bin-")
	if err != nil {
		panic(err)
	}
	peerBin = filepath.Join(dir, "peer")
	build := exec.Command("go", "build", "-o", peerBin, "./cmd/peer")
	build.Dir = "../.."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build peer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a clean environment: no PEER_* from the caller's shell, and the
// network confined to loopback (no mDNS or UPnP traffic on the machine's
// networks, no fixed ports). Later entries win, so extra may override.
func env(extra ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PEER_") {
			out = append(out, e)
		}
	}
	out = append(out, loopbackNet...)
	return append(out, extra...)
}

// loopbackNet keeps test nodes' networking on loopback.
var loopbackNet = []string{
	"PEER_NETWORK_LISTEN=/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
	"PEER_NETWORK_MDNS=false",
	"PEER_NETWORK_NAT_PORT_MAP=false",
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the peer binary to completion with a deadline.
func run(t *testing.T, stdin string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, peerBin, args...)
	cmd.Env = env(extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run peer %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// daemon is a running `peer up`.
type daemon struct {
	cmd     *exec.Cmd
	persona string
	device  string
	api     string
	listen  string // the "listen:" line's addresses; "" with the network off
	stderr  *bytes.Buffer
	done    chan error
}

// startUp runs `peer up` and awaits its three start-up lines.
func startUp(t *testing.T, dataDir string, extraEnv []string, args ...string) *daemon {
	t.Helper()
	d, err := tryUp(dataDir, extraEnv, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.kill() })
	return d
}

func tryUp(dataDir string, extraEnv []string, args ...string) (*daemon, error) {
	cmd := exec.Command(peerBin, append([]string{"up", "--data", dataDir, "--api-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = env(extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		d.done <- cmd.Wait()
	}()
	// The bound: the three lines within 15 s of starting.
	deadline := time.After(15 * time.Second)
	// The listen line follows the api line when the network is on.
	var listenWait <-chan time.Time
	for d.persona == "" || d.device == "" || d.api == "" || (d.listen == "" && listenWait != nil) {
		select {
		case <-listenWait:
			listenWait = nil
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("peer up exited before printing its identity; stderr:\n%s", d.stderr)
			}
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "persona":
				d.persona = v
			case "device":
				d.device = v
			case "api":
				d.api = v
				listenWait = time.After(2 * time.Second)
			case "listen":
				d.listen = v
			}
		case <-deadline:
			d.kill()
			return nil, fmt.Errorf("peer up printed no identity within 15 s; stderr:\n%s", d.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return d, nil
}

func (d *daemon) kill() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Kill()
	}
}

// stop signals the daemon and waits for it to exit.
func (d *daemon) stop(t *testing.T, sig os.Signal, within time.Duration) error {
	t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		t.Logf("stopped by %v in %v", sig, time.Since(start).Round(time.Millisecond))
		return err
	case <-time.After(within):
		t.Fatalf("no exit within %v of %v; stderr:\n%s", within, sig, d.stderr)
	}
	return nil
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func readToken(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dataDir, "api.token"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("api.token mode %v, want 0600", st.Mode().Perm())
	}
	return strings.TrimSpace(string(b))
}

func TestUpServesAPIAndCLI(t *testing.T) {
	data := t.TempDir()
	d := startUp(t, data, nil)
	if !strings.HasPrefix(d.persona, "did:key:z6Mk") || !strings.HasPrefix(d.device, "12D3KooW") || !strings.HasPrefix(d.api, "http://127.0.0.1:") {
		t.Fatalf("start-up lines: persona %q device %q api %q", d.persona, d.device, d.api)
	}
	// What the network listens on (a busy default port moves: it says where).
	if !strings.Contains(d.listen, "/ip4/127.0.0.1/tcp/") || !strings.Contains(d.listen, "/quic-v1") {
		t.Fatalf("listen line %q, want the TCP and QUIC addresses", d.listen)
	}
	token := readToken(t, data)
	if code, _ := get(t, d.api+"/api/v1/status", token); code != 200 {
		t.Fatalf("status with token: %d", code)
	}
	if code, body := get(t, d.api+"/api/v1/status", ""); code != 401 || !bytes.Contains(body, []byte(`"code"`)) {
		t.Fatalf("status without token: %d %s", code, body)
	}
	if code, _ := get(t, d.api+"/api/v1/status?token="+token, ""); code != 401 {
		t.Fatalf("token in URL accepted: %d", code)
	}
	if code, _ := get(t, d.api+"/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get(t, d.api+"/metrics", token); code != 200 || !bytes.Contains(body, []byte("peer_personas 1")) {
		t.Fatalf("metrics: %d %.200s", code, body)
	}

	// The CLI finds the node through the data directory.
	r := run(t, "", nil, "status", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, d.persona) || !strings.Contains(r.stdout, d.device) {
		t.Fatalf("peer status: %+v", r)
	}
	r = run(t, "", []string{"PEER_DATA=" + data}, "id", "--json")
	var id struct {
		Persona struct{ ID string }
		Device  struct {
			PeerID string `json:"peer_id"`
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &id) != nil || id.Persona.ID != d.persona || id.Device.PeerID != d.device {
		t.Fatalf("peer id --json: %+v", r)
	}

	// A second persona with its own did:key.
	r = run(t, "", nil, "persona", "new", "work", "--data", data, "--json")
	var p struct{ ID, Name string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &p) != nil || !strings.HasPrefix(p.ID, "did:key:z6Mk") || p.ID == d.persona || p.Name != "work" {
		t.Fatalf("persona new: %+v", r)
	}
	r = run(t, "", nil, "persona", "list", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, p.ID) || !strings.Contains(r.stdout, d.persona) {
		t.Fatalf("persona list: %+v", r)
	}
	r = run(t, "", nil, "persona", "show", "work", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "verified true") || !strings.Contains(r.stdout, d.device) {
		t.Fatalf("persona show: %+v", r)
	}
	// Bad input: an unknown persona and a duplicate name are clear errors.
	r = run(t, "", nil, "persona", "show", "nobody", "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, `"nobody"`) {
		t.Fatalf("unknown persona: %+v", r)
	}
	r = run(t, "", nil, "persona", "new", "work", "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, "work") {
		t.Fatalf("duplicate persona name: %+v", r)
	}
	// An oversized body is refused and creates nothing.
	req, _ := http.NewRequest("POST", d.api+"/api/v1/personas", strings.NewReader(`{"name":"`+strings.Repeat("a", 2<<20)+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	// The node answers 413 without reading the body and closes the
	// connection; a client still writing may see that close (a reset)
	// before it reads the answer. Either way nothing is created.
	if resp, err := http.DefaultClient.Do(req); err != nil {
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatal(err)
		}
	} else if resp.Body.Close(); resp.StatusCode != 413 {
		t.Fatalf("oversized body: %d", resp.StatusCode)
	}
	r = run(t, "", nil, "persona", "list", "--data", data, "--json")
	if strings.Count(r.stdout, `"id"`) != 2 {
		t.Fatalf("after rejected requests want 2 personas: %s", r.stdout)
	}

	// A second node on the same directory fails at once.
	start := time.Now()
	r = run(t, "", nil, "up", "--data", data, "--api-listen", "127.0.0.1:0")
	if r.code != 3 || !strings.Contains(r.stderr, "already running") {
		t.Fatalf("second peer up: %+v", r)
	}
	t.Logf("second up refused in %v", time.Since(start).Round(time.Millisecond))

	// SIGTERM: clean exit within 5 s, runtime file gone, CLI says so.
	if err := d.stop(t, syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, d.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "node.json")); !os.IsNotExist(err) {
		t.Fatalf("node.json left after shutdown: %v", err)
	}
	r = run(t, "", nil, "status", "--data", data)
	if r.code != 4 || !strings.Contains(r.stderr, "peer up") {
		t.Fatalf("status of a stopped node: %+v", r)
	}

	// Restart (SIGINT this time): same identity, personas kept.
	d2 := startUp(t, data, nil)
	if d2.persona != d.persona || d2.device != d.device {
		t.Fatalf("identity changed across restart: %s %s", d2.persona, d2.device)
	}
	r = run(t, "", nil, "persona", "show", p.ID, "--data", data)
	if r.code != 0 {
		t.Fatalf("persona lost across restart: %+v", r)
	}
	if err := d2.stop(t, os.Interrupt, 5*time.Second); err != nil {
		t.Fatalf("exit after SIGINT: %v", err)
	}
}

func TestUpWithOpenEventStreamStopsQuickly(t *testing.T) {
	data := t.TempDir()
	d := startUp(t, data, nil)
	req, _ := http.NewRequest("GET", d.api+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+readToken(t, data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "retry:") {
		t.Fatalf("event stream began with %q", l)
	}
	if err := d.stop(t, syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
