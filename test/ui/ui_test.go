// Package ui runs the web app in a real browser against real nodes: it
// builds the peer binary, starts two `peer up` processes on loopback, and
// runs run.mjs, which drives the system's headless Chromium with
// playwright-core (installed by `npm ci --prefix test/ui`). Without
// Chromium, Node.js or node_modules the test is skipped, except in CI
// (CI set), where it fails. Screenshots go to a temporary directory unless
// PEER_UI_SCREENSHOTS names one (PEER_UI_SCREENSHOTS=docs/screenshots
// regenerates those of the documentation).
package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// loopbackNet keeps the nodes' networking on loopback, as in test/e2e.
var loopbackNet = []string{
	"PEER_NETWORK_LISTEN=/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
	"PEER_NETWORK_MDNS=false",
	"PEER_NETWORK_NAT_PORT_MAP=false",
}

// prerequisites returns the Chromium and node executables, or why they
// cannot be had.
func prerequisites() (chromium, node string, missing string) {
	chromium = os.Getenv("PEER_UI_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		return "", "", chromium + " is missing (apt-get install chromium, or set PEER_UI_CHROMIUM)"
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "", "node is not in PATH (apt-get install nodejs npm)"
	}
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		return "", "", "test/ui/node_modules is missing (run: npm ci --prefix test/ui)"
	}
	return chromium, node, ""
}

func TestBrowser(t *testing.T) {
	chromium, nodeBin, missing := prerequisites()
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests cannot run in CI: %s", missing)
		}
		t.Skipf("browser tests skipped: %s", missing)
	}
	bin := filepath.Join(t.TempDir(), "peer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/peer")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build peer: %v\n%s", err, out)
	}

	a := startNode(t, bin)
	// B warns of a low disk whatever its disk holds (the banner's check).
	b := startNode(t, bin, "PEER_STORE_WARN_FREE_MB=1048576")
	// B connects to A, so A's Network page has a (direct) connection to show.
	var ns struct {
		PeerID      string   `json:"peer_id"`
		ListenAddrs []string `json:"listen_addrs"`
	}
	a.call(t, "GET", "/api/v1/net", nil, &ns)
	for _, addr := range ns.ListenAddrs {
		if strings.Contains(addr, "/tcp/") {
			b.call(t, "POST", "/api/v1/peers/connect", map[string]string{"target": addr + "/p2p/" + ns.PeerID}, nil)
			break
		}
	}

	shots, err := screenshotDir(t)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "run.mjs")
	cmd.Env = append(os.Environ(),
		"PEER_UI_CHROMIUM="+chromium,
		"PEER_UI_A_URL="+a.api, "PEER_UI_A_TOKEN="+a.token, "PEER_UI_A_PERSONA="+a.persona, "PEER_UI_A_DEVICE="+a.device,
		"PEER_UI_B_URL="+b.api, "PEER_UI_B_TOKEN="+b.token, "PEER_UI_B_PERSONA="+b.persona, "PEER_UI_B_DEVICE="+b.device,
		"PEER_UI_SCREENSHOTS="+shots,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		t.Log(l)
	}
	if err != nil {
		t.Fatalf("browser tests failed: %v\nnode A stderr:\n%s\nnode B stderr:\n%s", err, a.stderr.String(), b.stderr.String())
	}
}

// screenshotDir is where run.mjs writes its screenshots: a temporary
// directory, so that a test run leaves the tracked docs/screenshots/ alone,
// unless PEER_UI_SCREENSHOTS names one (relative to the repository's root:
// PEER_UI_SCREENSHOTS=docs/screenshots regenerates the documentation's).
func screenshotDir(t *testing.T) (string, error) {
	dir := os.Getenv("PEER_UI_SCREENSHOTS")
	if dir == "" {
		return t.TempDir(), nil
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // the test runs in test/ui
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	t.Logf("screenshots go to %s", dir)
	return dir, os.MkdirAll(dir, 0o755)
}

// node is a running `peer up`.
type node struct {
	cmd                         *exec.Cmd
	api, token, persona, device string
	stderr                      *syncBuffer
}

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

// startNode runs `peer up` on a fresh data directory and waits for its
// start-up lines (persona, device, api).
func startNode(t *testing.T, bin string, extraEnv ...string) *node {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(bin, "up", "--data", data, "--api-listen", "127.0.0.1:0")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PEER_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, loopbackNet...)
	cmd.Env = append(cmd.Env, extraEnv...)
	n := &node{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = n.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for n.api == "" || n.persona == "" || n.device == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("peer up exited early; stderr:\n%s", n.stderr)
			}
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "persona":
				n.persona = v
			case "device":
				n.device = v
			case "api":
				n.api = v
			}
		case <-deadline:
			t.Fatalf("peer up printed no start-up lines within 30 s; stderr:\n%s", n.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	tok, err := os.ReadFile(filepath.Join(data, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	n.token = strings.TrimSpace(string(tok))
	return n
}

// call sends one API request with the bearer token and decodes the answer.
func (n *node) call(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, fmt.Errorf("decode %s: %w", b, err))
		}
	}
}
