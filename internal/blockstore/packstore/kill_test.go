package packstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/blockstore/storetest"
	"github.com/peer-node/peer/internal/kv/pebblekv"
)

const childEnv = "PACKSTORE_KILL_CHILD_DIR"

func killBlock(i int) (size int) { return 1000 + (i*7919)%(300<<10) }

// TestKillDuringPut re-executes the test binary as a child that puts blocks
// and flushes now and then, SIGKILLs it mid-stream, and checks the store.
func TestKillDuringPut(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("skipped in -short mode: spawns a process and kills it")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringPut$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushed := 0
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		if n, ok := strings.CutPrefix(sc.Text(), "flushed "); ok {
			flushed, _ = strconv.Atoi(n)
			if flushed >= 400 {
				break
			}
		}
	}
	// Let it run on into the next records (often mid-write) before the kill.
	time.Sleep(time.Duration(time.Now().UnixNano()%50) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if flushed == 0 {
		t.Fatal("child never reported a flush")
	}

	idx, err := pebblekv.Open(filepath.Join(dir, "index"), pebblekv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	s, err := Open(dir, idx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range flushed {
		c, b := storetest.Block(uint64(i), killBlock(i))
		got, err := s.Get(ctx, c)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("block %d, flushed before the kill: %v", i, err)
		}
	}
	rep := mustVerifyClean(t, s)
	t.Logf("killed after %d flushed blocks; %d blocks indexed after restart", flushed, rep.Checked)
	if rep.Checked < flushed {
		t.Fatalf("only %d blocks indexed; %d were flushed", rep.Checked, flushed)
	}
}

func killChild(dir string) {
	idx, err := pebblekv.Open(filepath.Join(dir, "index"), pebblekv.Options{})
	if err != nil {
		panic(err)
	}
	s, err := Open(dir, idx, Options{MaxPackSize: 8 << 20, AutoFlushBytes: 4 << 20})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		c, b := storetest.Block(uint64(i), killBlock(i))
		if err := s.Put(ctx, c, b); err != nil {
			panic(err)
		}
		if i%25 == 24 {
			if err := s.Flush(ctx); err != nil {
				panic(err)
			}
			fmt.Printf("flushed %d\n", i+1)
		}
	}
}
