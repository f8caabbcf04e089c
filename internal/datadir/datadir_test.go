package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a lock-holding helper process.
const helperEnv = "PEER_DATADIR_TEST_LOCK_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		lockHelper(dir)
		return
	}
	os.Exit(m.Run())
}

// lockHelper takes the lock on dir, writes node.json, prints "locked" and
// holds on until stdin closes or it is killed.
func lockHelper(dir string) {
	if _, err := Lock(dir); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	err := WriteRuntime(dir, Runtime{PID: os.Getpid(), API: "http://127.0.0.1:7357", Started: time.Now()})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
}

func TestDefault(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		t.Skipf("env-driven cases are written for Linux and BSD; see TestDefaultDir for %s", runtime.GOOS)
	}
	cases := []struct {
		name, xdg, home, want string
		wantErr               bool
	}{
		{"xdg", "/xdg/data", "/home/u", "/xdg/data/peer", false},
		{"home", "", "/home/u", "/home/u/.local/share/peer", false},
		{"relative xdg ignored", "rel/data", "/home/u", "/home/u/.local/share/peer", false},
		{"no home", "", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", c.xdg)
			t.Setenv("HOME", c.home)
			t.Setenv("PEER_DATA", "/must/not/be/used")
			got, err := Default()
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("Default() = %q, %v; want %q (error: %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestDefaultDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	j := filepath.Join
	cases := []struct {
		goos string
		env  func(string) string
		want string // "" means an error is expected
	}{
		{"linux", env("XDG_DATA_HOME", "/x", "HOME", "/h"), j("/x", "peer")},
		{"linux", env("HOME", "/h"), j("/h", ".local", "share", "peer")},
		{"linux", env("XDG_DATA_HOME", "x", "HOME", "/h"), j("/h", ".local", "share", "peer")},
		{"linux", env(), ""},
		{"freebsd", env("HOME", "/h"), j("/h", ".local", "share", "peer")},
		{"darwin", env("HOME", "/Users/u", "XDG_DATA_HOME", "/x"), j("/Users/u", "Library", "Application Support", "Peer")},
		{"darwin", env(), ""},
		{"windows", env("LocalAppData", `C:\Users\u\AppData\Local`), j(`C:\Users\u\AppData\Local`, "Peer")},
		{"windows", env("HOME", "/h"), ""},
		{"plan9", env("home", "/usr/u"), j("/usr/u", "lib", "peer")},
	}
	for _, c := range cases {
		got, err := defaultDir(c.goos, c.env)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: got %q; want an error", c.goos, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.goos, got, err, c.want)
		}
	}
}

func TestPrepare(t *testing.T) {
	base := t.TempDir()

	dir := filepath.Join(base, "a", "b", "peer")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("Prepare did not create %s: %v", dir, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("mode = %v; want 0700", fi.Mode().Perm())
	}
	if err := Prepare(dir); err != nil {
		t.Fatalf("Prepare on an existing directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Prepare left files behind: %v", entries)
	}

	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	err = Prepare(file)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Prepare(file) = %v; want a 'not a directory' error", err)
	}
	if err := Prepare(filepath.Join(file, "sub")); err == nil {
		t.Error("Prepare(file/sub) succeeded")
	}
	if err := Prepare(""); err == nil {
		t.Error(`Prepare("") succeeded`)
	}

	t.Run("not writable", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("permission bits do not stop root (or Windows)")
		}
		ro := filepath.Join(base, "ro")
		os.Mkdir(ro, 0o500)
		defer os.Chmod(ro, 0o700)
		err := Prepare(ro)
		if err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("Prepare(read-only dir) = %v; want a 'not writable' error", err)
		}
	})
}

func TestLockInProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(LockPath(dir)); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("LOCK holds %q; want our pid %d", b, os.Getpid())
	}

	// A second Lock in the same process conflicts (flock locks belong to
	// the open file description, not the process).
	_, err = Lock(dir)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v; want ErrLocked", err)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Lock error %#v; want a *LockedError with our pid", err)
	}
	want := fmt.Sprintf("peer is already running on data directory %s (pid %d)", dir, os.Getpid())
	if err.Error() != want {
		t.Errorf("message %q; want %q", err, want)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if b, _ := os.ReadFile(LockPath(dir)); len(b) != 0 {
		t.Errorf("LOCK holds %q after Release; want it empty", b)
	}
	l2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	l2.Release()
}

func TestLockMissingDir(t *testing.T) {
	_, err := Lock(filepath.Join(t.TempDir(), "missing"))
	if err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("Lock(missing dir) = %v; want a plain error", err)
	}
}

// TestLockAcrossProcesses: a helper process holds the lock; we see ErrLocked
// with its pid and ProbeRunning reports it; after SIGKILL the lock is free
// although the helper never released it, and ProbeRunning sees the left-over
// node.json as stale.
func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	child := cmd.Process.Pid

	_, err = Lock(dir)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.PID != child {
		t.Fatalf("Lock while the helper holds it = %v; want ErrLocked naming pid %d", err, child)
	}
	if want := fmt.Sprintf("peer is already running on data directory %s (pid %d)", dir, child); err.Error() != want {
		t.Errorf("message %q; want %q", err, want)
	}
	r, ok := ProbeRunning(dir)
	if !ok || r.PID != child || r.API != "http://127.0.0.1:7357" {
		t.Fatalf("ProbeRunning = %+v, %v; want the helper's runtime", r, ok)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	cmd.Wait()

	if _, ok := ProbeRunning(dir); ok {
		t.Fatal("ProbeRunning reports a killed node as running")
	}
	if _, err := ReadRuntime(dir); err != nil {
		t.Fatalf("the stale node.json should still be there: %v", err)
	}
	l, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	l.Release()
}

func TestRuntime(t *testing.T) {
	dir := t.TempDir()

	_, err := ReadRuntime(dir)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "peer up") {
		t.Fatalf("ReadRuntime without node.json = %v; want ErrNotRunning suggesting `peer up`", err)
	}

	started := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	in := Runtime{PID: 4242, API: "http://127.0.0.1:7357", Started: started}
	if err := WriteRuntime(dir, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(RuntimePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("node.json mode = %v; want 0600", fi.Mode().Perm())
	}
	out, err := ReadRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	in.Version = RuntimeVersion
	if out.Version != in.Version || out.PID != in.PID || out.API != in.API || !out.Started.Equal(in.Started) {
		t.Fatalf("read %+v; want %+v", out, in)
	}
	raw, _ := os.ReadFile(RuntimePath(dir))
	for _, field := range []string{`"version": 1`, `"pid": 4242`, `"api": "http://127.0.0.1:7357"`, `"started": "2025-03-04T05:06:07.000000008Z"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("node.json %s lacks %s", raw, field)
		}
	}

	// Overwrite, then remove (twice).
	in.PID = 7
	if err := WriteRuntime(dir, in); err != nil {
		t.Fatal(err)
	}
	if out, _ := ReadRuntime(dir); out.PID != 7 {
		t.Fatalf("after overwrite PID = %d", out.PID)
	}
	for i := 0; i < 2; i++ {
		if err := RemoveRuntime(dir); err != nil {
			t.Fatalf("RemoveRuntime #%d: %v", i+1, err)
		}
	}
	if _, err := ReadRuntime(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after RemoveRuntime: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestRuntimeInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRuntime(dir, Runtime{Version: 2, PID: 1}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("WriteRuntime(version 2) = %v; want ErrUnsupportedVersion", err)
	}
	if err := WriteRuntime(dir, Runtime{}); err == nil {
		t.Error("WriteRuntime without a pid succeeded")
	}
	cases := []struct {
		name, content string
		want          error // nil: any error
	}{
		{"future version", `{"version": 2, "pid": 1}`, ErrUnsupportedVersion},
		{"no version", `{"pid": 1}`, ErrUnsupportedVersion},
		{"bad pid", `{"version": 1, "pid": -3}`, nil},
		{"garbage", `not json`, nil},
		{"truncated", `{"version": 1, "pid"`, nil},
		{"huge", `{"api": "` + strings.Repeat("x", maxRuntimeSize) + `"}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(RuntimePath(dir), []byte(c.content), 0o600)
			_, err := ReadRuntime(dir)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || errors.Is(err, ErrNotRunning) {
				t.Fatalf("ReadRuntime = %v; want %v", err, c.want)
			}
		})
	}
}

func TestProbeRunning(t *testing.T) {
	dir := t.TempDir()
	if _, ok := ProbeRunning(dir); ok {
		t.Fatal("empty directory reported running")
	}
	if _, ok := ProbeRunning(filepath.Join(dir, "missing")); ok {
		t.Fatal("missing directory reported running")
	}
	if _, err := os.Stat(LockPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("ProbeRunning created the lock file")
	}

	// Stale node.json, nobody holds the lock.
	WriteRuntime(dir, Runtime{PID: os.Getpid(), API: "http://x"})
	if _, ok := ProbeRunning(dir); ok {
		t.Fatal("stale node.json without a lock holder reported running")
	}

	l, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ProbeRunning(dir)
	if !ok || r.API != "http://x" {
		t.Fatalf("ProbeRunning with lock and node.json = %+v, %v", r, ok)
	}
	// Probing neither took the lock nor disturbed the holder's pid.
	if _, err := Lock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock no longer held after a probe: %v", err)
	}
	if b, _ := os.ReadFile(LockPath(dir)); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("LOCK holds %q after a probe", b)
	}

	// node.json naming another pid than the lock holder is stale.
	WriteRuntime(dir, Runtime{PID: os.Getpid() + 1, API: "http://old"})
	if _, ok := ProbeRunning(dir); ok {
		t.Error("node.json of another pid reported running")
	}

	// Locked but no node.json yet.
	RemoveRuntime(dir)
	if _, ok := ProbeRunning(dir); ok {
		t.Error("lock without node.json reported running")
	}
	l.Release()
}

func TestTokenPath(t *testing.T) {
	if got, want := TokenPath(filepath.Join("a", "b")), filepath.Join("a", "b", "api.token"); got != want {
		t.Fatalf("TokenPath = %q; want %q", got, want)
	}
}
