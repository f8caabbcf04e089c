package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// Helpers of the store tests: a node with its API client, SIGKILL and
// restart, directory sizes, deterministic data and polling with deadlines.

// storeNode is a running node and a client found through its data directory.
type storeNode struct {
	d    *daemon
	c    *apiclient.Client
	data string
}

// upStore starts `peer up` on data and connects to it the way the CLI does.
func upStore(t *testing.T, data string) *storeNode {
	t.Helper()
	start := time.Now()
	d := startUp(t, data, nil)
	c, err := apiclient.FromDataDir(data)
	if err != nil {
		t.Fatalf("client for %s: %v", data, err)
	}
	if c.BaseURL() != d.api {
		t.Fatalf("runtime file names %s, the node printed %s", c.BaseURL(), d.api)
	}
	t.Logf("node up in %v", time.Since(start).Round(time.Millisecond))
	return &storeNode{d: d, c: c, data: data}
}

// sigkill kills the node with SIGKILL and waits for it to be gone.
func (n *storeNode) sigkill(t *testing.T) {
	t.Helper()
	if err := n.d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-n.d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("node still running 10 s after SIGKILL")
	}
}

// term stops the node with SIGTERM and checks it exits cleanly.
func (n *storeNode) term(t *testing.T) {
	t.Helper()
	if err := n.d.stop(t, syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, n.d.stderr)
	}
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a file removed while we walk
			}
			return err
		}
		if e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("size of %s: %v", dir, err)
	}
	return n
}

func blocksSize(t *testing.T, data string) int64 { return dirSize(t, filepath.Join(data, "blocks")) }
func storeSize(t *testing.T, data string) int64  { return dirSize(t, filepath.Join(data, "store")) }

// await polls cond every interval until it holds, failing the test after
// timeout.
func await(t *testing.T, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// randReader is a deterministic pseudo-random stream.
func randReader(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(randReader(seed), b); err != nil {
		panic(err)
	}
	return b
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// newMiMei creates a MiMei for the default persona.
func newMiMei(t *testing.T, ctx context.Context, c *apiclient.Client) string {
	t.Helper()
	m, err := c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "e2e-test"})
	if err != nil {
		t.Fatalf("create MiMei: %v", err)
	}
	return m.ID
}

// putBytes stores b as the file at p.
func putBytes(t *testing.T, ctx context.Context, c *apiclient.Client, mid, p string, b []byte) apiv1.FileInfo {
	t.Helper()
	fi, err := c.PutFile(ctx, mid, p, bytes.NewReader(b), int64(len(b)), apiclient.PutOptions{Parents: true})
	if err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
	if fi.Size != int64(len(b)) {
		t.Fatalf("put %s: size %d, want %d", p, fi.Size, len(b))
	}
	return fi
}

// getBytes reads the file at p of version.
func getBytes(ctx context.Context, c *apiclient.Client, mid, version, p string) ([]byte, error) {
	var buf bytes.Buffer
	_, err := c.GetFile(ctx, mid, version, p, &buf)
	return buf.Bytes(), err
}

// checkFile fails the test unless the file at p of version holds want.
func checkFile(t *testing.T, ctx context.Context, c *apiclient.Client, mid, version, p string, want []byte) {
	t.Helper()
	got, err := getBytes(ctx, c, mid, version, p)
	if err != nil {
		t.Fatalf("read %s of version %s: %v", p, version, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s of version %s: %d bytes differ from the %d written", p, version, len(got), len(want))
	}
}

// verifyOK fails the test unless the store's verify finds nothing wrong.
func verifyOK(t *testing.T, ctx context.Context, c *apiclient.Client) apiv1.VerifyReport {
	t.Helper()
	start := time.Now()
	rep, err := c.StoreVerify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK || len(rep.Problems) > 0 || len(rep.Missing) > 0 {
		t.Fatalf("verify: ok=%v problems=%+v missing=%v", rep.OK, rep.Problems, rep.Missing)
	}
	t.Logf("verify OK: %d blocks, %d bytes in %v", rep.Checked, rep.Bytes, time.Since(start).Round(time.Millisecond))
	return rep
}

const mib = 1 << 20
