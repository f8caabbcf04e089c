package pebblekv_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/peer-node/peer/internal/kv"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "PEBBLEKV_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		helper(dir)
		return
	}
	os.Exit(m.Run())
}

// helper opens the store in dir, writes n synced keys, reports "written" and
// waits (holding the store open) until its stdin closes or it is killed.
func helper(dir string) {
	s, err := pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for i := 0; i < 100; i++ {
		if err := s.Set(fmt.Appendf(nil, "k%03d", i), []byte("v")); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	b := s.NewBatch()
	for i := 0; i < 100; i++ {
		b.Set(fmt.Appendf(nil, "b%03d", i), []byte("batch"))
	}
	if err := b.Commit(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("written")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}

func TestPersistsAcrossReopen(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			s, err := pebblekv.Open(dir, pebblekv.Options{NoSync: noSync})
			if err != nil {
				t.Fatal(err)
			}
			s.Set([]byte("a"), []byte("1"))
			s.Set([]byte("gone"), []byte("x"))
			s.Delete([]byte("gone"))
			b := s.NewBatch()
			for i := 0; i < 1000; i++ {
				b.Set(fmt.Appendf(nil, "batch/%04d", i), fmt.Appendf(nil, "%d", i))
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = open(t, dir, pebblekv.Options{NoSync: noSync})
			if v, err := s.Get([]byte("a")); err != nil || string(v) != "1" {
				t.Fatalf("Get(a) after reopen = %q, %v", v, err)
			}
			if _, err := s.Get([]byte("gone")); !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("deleted key after reopen: %v", err)
			}
			it := s.Iter(kv.IterOptions{Prefix: []byte("batch/")})
			n := 0
			for ; it.Next(); n++ {
				if want := fmt.Sprintf("batch/%04d=%d", n, n); string(it.Key())+"="+string(it.Value()) != want {
					t.Fatalf("entry %d = %s=%s; want %s", n, it.Key(), it.Value(), want)
				}
			}
			if err := it.Close(); err != nil || n != 1000 {
				t.Fatalf("batch keys after reopen: %d, %v", n, err)
			}
		})
	}
}

// TestKilledProcessKeepsWrites kills (SIGKILL) a process that holds the store
// open after acknowledged writes: the writes survive, and while the process
// lives the directory cannot be opened.
func TestKilledProcessKeepsWrites(t *testing.T) {
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "written\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = pebblekv.Open(dir, pebblekv.Options{})
	if !errors.Is(err, pebblekv.ErrLocked) {
		t.Fatalf("Open while another process holds the store = %v; want ErrLocked", err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s := open(t, dir, pebblekv.Options{})
	for _, k := range []string{"k000", "k099", "b000", "b099"} {
		if _, err := s.Get([]byte(k)); err != nil {
			t.Errorf("Get(%s) after the writer was killed: %v", k, err)
		}
	}
}

func TestLockedInSameProcess(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, pebblekv.Options{})

	_, err := pebblekv.Open(dir, pebblekv.Options{})
	if !errors.Is(err, pebblekv.ErrLocked) {
		t.Fatalf("second Open = %v; want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "already open") {
		t.Errorf("error %q does not say the store is already open", err)
	}

	// Other spellings of the same directory are caught too.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := pebblekv.Open(link, pebblekv.Options{}); !errors.Is(err, pebblekv.ErrLocked) {
		t.Fatalf("Open via symlink = %v; want ErrLocked", err)
	}
	if _, err := pebblekv.Open(dir+"/./", pebblekv.Options{}); !errors.Is(err, pebblekv.ErrLocked) {
		t.Fatalf("Open via unclean path = %v; want ErrLocked", err)
	}
}

func TestReopenAfterClose(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		s, err := pebblekv.Open(dir, pebblekv.Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFormatMarker(t *testing.T) {
	// rawSet writes straight into the Pebble database, as a different
	// version of this package (or another program) would.
	rawSet := func(t *testing.T, dir string, k, v string) {
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("unknown version", func(t *testing.T) {
		dir := t.TempDir()
		s, err := pebblekv.Open(dir, pebblekv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		rawSet(t, dir, "\x00meta/format", "7")
		_, err = pebblekv.Open(dir, pebblekv.Options{})
		if !errors.Is(err, kv.ErrUnsupportedFormat) {
			t.Fatalf("Open = %v; want ErrUnsupportedFormat", err)
		}
		if !strings.Contains(err.Error(), `"7"`) {
			t.Errorf("error %q does not name the version found", err)
		}
		// The failed Open released the directory.
		rawSet(t, dir, "\x00meta/format", "1")
		open(t, dir, pebblekv.Options{})
	})
	t.Run("foreign database", func(t *testing.T) {
		dir := t.TempDir()
		rawSet(t, dir, "user", "data")
		if _, err := pebblekv.Open(dir, pebblekv.Options{}); !errors.Is(err, kv.ErrUnsupportedFormat) {
			t.Fatalf("Open of a Pebble database without a marker = %v; want ErrUnsupportedFormat", err)
		}
	})
	t.Run("marker written at creation", func(t *testing.T) {
		dir := t.TempDir()
		s, err := pebblekv.Open(dir, pebblekv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		v, closer, err := db.Get([]byte("\x00meta/format"))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		if string(v) != fmt.Sprint(pebblekv.FormatVersion) {
			t.Fatalf("format marker = %q", v)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	if _, err := pebblekv.Open("", pebblekv.Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := pebblekv.Open(file, pebblekv.Options{}); err == nil {
		t.Error("Open(a regular file) succeeded")
	}
}

// TestQuiet checks that the engine prints nothing to stdout, stderr or the
// standard logger, and that its messages reach Options.Logger instead.
func TestQuiet(t *testing.T) {
	var logBuf bytes.Buffer
	log.SetOutput(&logBuf)
	defer log.SetOutput(os.Stderr)
	restore := captureStdio(t)

	var slogBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&slogBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		s, err := pebblekv.Open(dir, pebblekv.Options{Logger: logger})
		if err != nil {
			restore()
			t.Fatal(err)
		}
		b := s.NewBatch()
		for i := 0; i < 20000; i++ { // enough to flush a memtable
			b.Set(fmt.Appendf(nil, "key/%06d", i), bytes.Repeat([]byte{'v'}, 200))
		}
		b.Commit()
		s.Close()
	}
	out := restore()
	if out != "" || logBuf.Len() != 0 {
		t.Fatalf("engine printed %q to stdio and %q to the standard logger", out, logBuf.String())
	}
	t.Logf("routed to slog: %d bytes", slogBuf.Len())
}

// captureStdio redirects os.Stdout and os.Stderr to a pipe until the
// returned function is called; that returns what was written.
func captureStdio(t *testing.T) (restore func() string) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	var out *string
	return func() string {
		if out == nil {
			os.Stdout, os.Stderr = oldOut, oldErr
			w.Close()
			s := <-done
			out = &s
		}
		return *out
	}
}

type quiet struct{}

func (quiet) Infof(string, ...any)         {}
func (quiet) Errorf(string, ...any)        {}
func (quiet) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// TestReadOnly: a store opened read-only reads what it holds and refuses
// every write with the error it was given; a new store cannot be.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := pebblekv.Open(dir, pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused: disk full")
	ro, err := pebblekv.Open(dir, pebblekv.Options{ReadOnly: refused})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, err := ro.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	b := ro.NewBatch()
	_ = b.Set([]byte("b"), []byte("1"))
	for name, err := range map[string]error{
		"set": ro.Set([]byte("k2"), []byte("v")), "delete": ro.Delete([]byte("k")), "batch": b.Commit(),
	} {
		if !errors.Is(err, refused) {
			t.Errorf("%s on a read-only store = %v", name, err)
		}
	}
	if err := ro.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := pebblekv.Open(t.TempDir(), pebblekv.Options{ReadOnly: refused}); err == nil {
		t.Fatalf("new store opened read-only: %v", err)
	}
}
