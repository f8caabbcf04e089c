package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// smallDisk mounts a tmpfs of size for the test. It skips with a message
// where that cannot be done (no root, no mount), except in CI, where the
// test must run.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("mounting a tmpfs as the data directory needs root")
		return ""
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		skip("cannot mount a tmpfs: %v %s", err, out)
		return ""
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// diskFree is what statfs says is free under dir.
func diskFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fillFile writes zeros to path until the file system refuses.
func fillFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil && !errors.Is(err, unix.ENOSPC) {
		t.Fatal(err)
	}
	if f == nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Down to the last bytes: smaller writes until nothing fits.
	for n := 32 << 10; n > 0; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

// TestFullDisk is issue 16's acceptance on real processes: a node on a
// 64 MiB tmpfs is filled through `peer put`; the fill is refused with
// disk_full before the disk is exhausted and the node stays up; deleting a
// MiMei and `peer store gc` give the space back (a pack too large to
// rewrite in the room left is punched out in place); verify is clean; a
// restart on a full disk opens in seconds and serves reads, with new
// writes refused; and once space is freed outside, writes work again.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	mnt := smallDisk(t, "64m")
	data := filepath.Join(mnt, "data")
	envs := []string{"PEER_DATA=" + data}
	if r := run(t, "", envs, "init"); r.code != 0 {
		t.Fatalf("init: %s", r.stderr)
	}
	n := upStore(t, data)

	keep := newMiMei(t, ctx, n.c)
	kept := randBytes(1, 6<<20)
	putBytes(t, ctx, n.c, keep, "kept.bin", kept)

	fill := newMiMei(t, ctx, n.c)
	src := filepath.Join(t.TempDir(), "chunk")
	var refused result
	put := 0
	for i := range 20 {
		if err := os.WriteFile(src, randBytes(uint64(100+i), 6<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, "", envs, "put", fill, src, "f"+string(rune('a'+i)))
		if r.code != 0 {
			refused = r
			break
		}
		put++
	}
	free := diskFree(t, mnt)
	t.Logf("%d puts of 6 MiB, then: %q; %d bytes free", put, strings.TrimSpace(refused.stderr), free)
	if refused.code == 0 || !strings.Contains(refused.stderr, "disk full") || !strings.Contains(refused.stderr, "disk_full") {
		t.Fatalf("filling the disk ended with code %d: %s", refused.code, refused.stderr)
	}
	if free < 2<<20 {
		t.Fatalf("the disk was exhausted (%d bytes free) before the fill was refused", free)
	}
	st, err := n.c.Status(ctx)
	if err != nil || st.Disk == nil || st.Disk.Level == "ok" {
		t.Fatalf("status on a full disk: %+v %v", st.Disk, err)
	}
	// Reads, deletion, GC and verification all work on the full disk.
	checkFile(t, ctx, n.c, keep, "", "kept.bin", kept)
	if r := run(t, "", envs, "mimei", "rm", fill); r.code != 0 {
		t.Fatalf("mimei rm: %s", r.stderr)
	}
	gc := run(t, "", envs, "store", "gc")
	if gc.code != 0 {
		t.Fatalf("store gc: %s", gc.stderr)
	}
	freed := diskFree(t, mnt) - free
	t.Logf("gc:\n%s\nfreed %d bytes", gc.stdout, freed)
	if freed < int64(put)*5<<20 {
		t.Fatalf("gc gave back %d bytes of the %d puts of 6 MiB", freed, put)
	}
	if v := run(t, "", envs, "store", "verify"); v.code != 0 {
		t.Fatalf("store verify: %s %s", v.stdout, v.stderr)
	}
	checkFile(t, ctx, n.c, keep, "", "kept.bin", kept)

	// Full again, through the node's own writes, then by another program
	// taking every byte left; restart.
	for i := range 20 {
		if err := os.WriteFile(src, randBytes(uint64(200+i), 6<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := run(t, "", envs, "put", keep, src, "g"+string(rune('a'+i))); r.code != 0 {
			break
		}
	}
	n.term(t)
	fillFile(t, filepath.Join(mnt, "filler"))
	t.Logf("%d bytes free before the restart", diskFree(t, mnt))
	start := time.Now()
	d := startUp(t, data, nil)
	t.Logf("node up on a full disk in %v", time.Since(start).Round(time.Millisecond))
	tok, err := os.ReadFile(filepath.Join(data, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	c := apiclient.New(d.api, strings.TrimSpace(string(tok)))
	st, err = c.Status(ctx)
	if err != nil || st.Disk == nil || st.Disk.Level != "full" {
		t.Fatalf("status after a restart on a full disk: %+v %v", st.Disk, err)
	}
	checkFile(t, ctx, c, keep, "", "kept.bin", kept)
	_, err = c.PutFile(ctx, keep, "new.bin", strings.NewReader("x"), 1, apiclient.PutOptions{})
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Code != apiv1.CodeDiskFull || ae.Status != 507 {
		t.Fatalf("put on a full disk after restart: %v", err)
	}
	if err := d.stop(t, os.Interrupt, 20*time.Second); err != nil {
		t.Logf("stop: %v", err)
	}

	// Space freed outside: a restart writes again.
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	n = upStore(t, data)
	putBytes(t, ctx, n.c, keep, "after.bin", randBytes(3, 1<<20))
	verifyOK(t, ctx, n.c)
}
