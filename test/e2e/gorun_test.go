package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGoRunUp runs the README's first command as written, `go run ./cmd/peer
// up --data DIR` with no other flag, and awaits its three lines. TestMain's
// build has warmed the build cache, so the wait covers linking and start-up,
// not compiling the dependencies.
func TestGoRunUp(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/peer", "up", "--data", data)
	cmd.Dir = "../.."
	cmd.Env = env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // signal go run and its child together
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(15 * time.Second)
	for len(got) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("go run exited before printing the three lines")
			}
			if k, v, ok := strings.Cut(l, ": "); ok {
				got[k] = v
			}
		case <-deadline:
			t.Fatalf("no three lines within 15 s; got %v", got)
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
	for _, tc := range []struct {
		token string
		want  int
	}{{strings.TrimSpace(string(tok)), 200}, {"", 401}} {
		req, _ := http.NewRequest("GET", got["api"]+"/api/v1/status", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("status with token %v: %d, want %d", tc.token != "", resp.StatusCode, tc.want)
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("go run ./cmd/peer up did not stop within 5 s of SIGTERM")
	}
}
