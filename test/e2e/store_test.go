package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiclient"
	"github.com/peer-node/peer/internal/apiv1"
)

// The MiMei store against real processes: SIGKILL during a large upload
// and during a backup, space returned by delete + gc, a corrupt block
// found and named, and the API's limits.

// TestKillDuringPut SIGKILLs the node in the middle of a large streaming
// upload. After a restart the store verifies clean, the version made
// before is intact, the upload left no file, and gc returns the space its
// orphaned blocks took.
func TestKillDuringPut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	n := upStore(t, data)
	mid := newMiMei(t, ctx, n.c)

	done := randBytes(1, 8*mib)
	putBytes(t, ctx, n.c, mid, "done.bin", done)
	v0, err := n.c.Backup(ctx, mid, "before the big put")
	if err != nil || v0.Number != 0 {
		t.Fatalf("backup: %+v %v", v0, err)
	}
	afterV0 := blocksSize(t, data)
	t.Logf("blocks/ after version 0: %d bytes", afterV0)

	// Stream 1 GiB; kill once 100 MiB more are in the packs, so at least
	// one automatic flush (every 64 MiB) has indexed blocks of the upload.
	const bigSize = 1 << 30
	const killAt = 100 * mib
	putCtx, putCancel := context.WithCancel(ctx)
	defer putCancel()
	putErr := make(chan error, 1)
	go func() {
		_, err := n.c.PutFile(putCtx, mid, "big.bin", ctxReader{putCtx, io.LimitReader(randReader(2), bigSize)}, bigSize, apiclient.PutOptions{})
		putErr <- err
	}()
	start := time.Now()
	var grown int64
	await(t, 60*time.Second, 10*time.Millisecond, "the packs to grow by 100 MiB", func() bool {
		select {
		case err := <-putErr:
			t.Fatalf("the 1 GiB put ended before the kill: %v", err)
		default:
		}
		grown = blocksSize(t, data) - afterV0
		return grown >= killAt
	})
	n.sigkill(t)
	t.Logf("SIGKILL after %v with blocks/ grown by %d MiB (of a 1 GiB put)", time.Since(start).Round(time.Millisecond), grown/mib)
	select {
	case err := <-putErr:
		if err == nil {
			t.Fatal("the put succeeded though the node was killed mid-transfer")
		}
		t.Logf("put ended with: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the put did not end within 10 s of the kill")
	}

	n = upStore(t, data)
	afterRestart := blocksSize(t, data)
	t.Logf("blocks/ after restart: %d bytes (%d MiB over version 0)", afterRestart, (afterRestart-afterV0)/mib)
	verifyOK(t, ctx, n.c)
	for _, v := range []string{"0", apiv1.RefLast, apiv1.RefCur} {
		checkFile(t, ctx, n.c, mid, v, "done.bin", done)
	}
	if _, err := n.c.Stat(ctx, mid, "", "big.bin"); !apiclient.IsCode(err, apiv1.CodeNotFound) {
		t.Fatalf("big.bin after the killed put: want %s, got %v", apiv1.CodeNotFound, err)
	}
	gcStart := time.Now()
	rep, err := n.c.StoreGC(ctx)
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	afterGC := blocksSize(t, data)
	t.Logf("gc in %v: %+v; blocks/ now %d bytes (version 0: %d)", time.Since(gcStart).Round(time.Millisecond), rep, afterGC, afterV0)
	if float64(afterGC) > 1.1*float64(afterV0) {
		t.Fatalf("blocks/ holds %d bytes after gc, more than 10%% over the %d after version 0", afterGC, afterV0)
	}
	verifyOK(t, ctx, n.c)
	checkFile(t, ctx, n.c, mid, "0", "done.bin", done)
}

// tree is the content of a MiMei's file space at one moment.
type tree map[string][]byte

func (tr tree) clone() tree {
	out := make(tree, len(tr))
	for k, v := range tr {
		out[k] = v
	}
	return out
}

// smallFile is deterministic content for path p at generation gen.
func smallFile(p string, gen int) []byte {
	r := rand.New(rand.NewPCG(uint64(len(p))*7919+uint64(gen), uint64(crc(p))))
	b := make([]byte, 100+r.IntN(1900))
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return append([]byte(fmt.Sprintf("%s gen %d\n", p, gen)), b...)
}

func crc(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// tarOf archives tr (with its directories) in memory.
func tarOf(t *testing.T, tr tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range tr {
			if !yield(p) {
				return
			}
		}
	})
	dirs := map[string]bool{}
	for _, p := range paths {
		if d := filepath.Dir(p); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(tr[p])), ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(tr[p]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestKillDuringBackup SIGKILLs the node at several moments after a backup
// request has been sent, the last once the backup has committed but its
// answer is still on the way. After each restart the store verifies clean,
// every listed version reads back as it was frozen (a backup whose answer
// the kill cut off may have made one), and a new backup succeeds with a
// higher number.
func TestKillDuringBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	data := t.TempDir()
	n := upStore(t, data)
	mid := newMiMei(t, ctx, n.c)

	// 5000 small files in 50 directories plus 4 MiB in four large ones.
	cur := tree{}
	var small []string
	for d := range 50 {
		for f := range 100 {
			p := fmt.Sprintf("d%02d/f%03d.txt", d, f)
			cur[p] = smallFile(p, 0)
			small = append(small, p)
		}
	}
	var big []string
	for i := range 4 {
		p := fmt.Sprintf("big/b%d.bin", i)
		cur[p] = randBytes(uint64(100+i), mib)
		big = append(big, p)
	}
	start := time.Now()
	res, err := n.c.Import(ctx, mid, "", bytes.NewReader(tarOf(t, cur)))
	if err != nil || res.Files != len(cur) {
		t.Fatalf("import: %+v %v", res, err)
	}
	t.Logf("imported %d files, %d bytes in %v", res.Files, res.Bytes, time.Since(start).Round(time.Millisecond))

	frozen := map[uint64]tree{}
	backup := func() apiv1.Version {
		t.Helper()
		start := time.Now()
		v, err := n.c.Backup(ctx, mid, "")
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		t.Logf("backup made version %d in %v", v.Number, time.Since(start).Round(time.Millisecond))
		frozen[v.Number] = cur.clone()
		return v
	}
	if v := backup(); v.Number != 0 {
		t.Fatalf("first backup is version %d", v.Number)
	}

	// sample picks the files compared in each version: every file ever
	// changed, the large ones and a spread of the rest.
	changed := map[string]bool{}
	sample := func() []string {
		out := slices.Clone(big)
		for p := range changed {
			out = append(out, p)
		}
		for i := 0; i < len(small); i += 150 {
			out = append(out, small[i])
		}
		return out
	}
	checkVersions := func(round int) []uint64 {
		t.Helper()
		vs, err := n.c.Versions(ctx, mid)
		if err != nil {
			t.Fatalf("versions: %v", err)
		}
		var nums []uint64
		for _, v := range vs {
			nums = append(nums, v.Number)
			want, ok := frozen[v.Number]
			if !ok {
				t.Fatalf("round %d: version %d listed, but no backup made it: %+v", round, v.Number, vs)
			}
			ver := strconv.FormatUint(v.Number, 10)
			for _, p := range sample() {
				checkFile(t, ctx, n.c, mid, ver, p, want[p])
			}
		}
		for num := range frozen {
			if !slices.Contains(nums, num) {
				t.Fatalf("round %d: version %d was made but is no longer listed: %v", round, num, nums)
			}
		}
		return nums
	}

	// Each round kills the node at one moment after the backup request is
	// sent: after a delay (the first ones usually land before the commit,
	// the last after the answer), and last once the backup has committed
	// while its answer is held back on the way, so the version is there
	// and the answer lost. A delay can land in that gap too (under load it
	// is wider), so every round accepts each of the three outcomes.
	landed, lost := 0, 0
	delays := []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 35 * time.Millisecond, 50 * time.Millisecond}
	const afterCommit = -1 // a delay that means: once the version is listed
	delays = append(delays, afterCommit)
	token, err := os.ReadFile(filepath.Join(data, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	for round, delay := range delays {
		// Change some files so the backup has something new to freeze.
		for i := range 10 {
			p := small[(round*397+i*211)%len(small)]
			cur[p] = smallFile(p, round+1)
			changed[p] = true
			putBytes(t, ctx, n.c, mid, p, cur[p])
		}
		bp := big[round%len(big)]
		cur[bp] = randBytes(uint64(1000+round), mib)
		putBytes(t, ctx, n.c, mid, bp, cur[bp])

		next := uint64(0)
		for num := range frozen {
			next = max(next, num+1)
		}
		state := cur.clone()
		wrote := make(chan struct{})
		type result struct {
			v   apiv1.Version
			err error
			at  time.Duration
		}
		got := make(chan result, 1)
		var sent time.Time
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
			sent = time.Now()
			close(wrote)
		}}
		moment := fmt.Sprintf("%v after the request", delay)
		c := n.c
		if delay == afterCommit {
			moment = "once the version was listed"
			c = apiclient.New(dropAnswers(t, n.d.api), strings.TrimSpace(string(token)))
		}
		go func() {
			v, err := c.Backup(httptrace.WithClientTrace(ctx, trace), mid, "killed "+moment)
			select {
			case <-wrote: // sent is set
				got <- result{v, err, time.Since(sent)}
			case <-ctx.Done():
				got <- result{v, err, 0}
			}
		}()
		select {
		case <-wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("the backup request was not sent within 10 s")
		}
		switch {
		case delay == afterCommit:
			await(t, 30*time.Second, 5*time.Millisecond, fmt.Sprintf("version %d listed", next), func() bool {
				vs, err := n.c.Versions(ctx, mid)
				return err == nil && slices.ContainsFunc(vs, func(v apiv1.Version) bool { return v.Number == next })
			})
		case delay > 0:
			time.Sleep(delay) // the moment of the kill is what this loop varies
		}
		n.sigkill(t)
		killedAt := time.Since(sent)
		var r result
		select {
		case r = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("the backup call did not end within 10 s of the kill")
		}
		if r.err == nil {
			t.Logf("round %d: kill %s (%v) came after the backup answered in %v: version %d", round, moment, killedAt.Round(time.Microsecond), r.at.Round(time.Microsecond), r.v.Number)
			frozen[r.v.Number] = state
		}

		if delay == afterCommit && r.err == nil {
			t.Fatalf("round %d: the answer of version %d came through although it was held back", round, r.v.Number)
		}

		n = upStore(t, data)
		verifyOK(t, ctx, n.c)
		// Whether the backup the kill cut off committed is known only now:
		// settle that before checking the versions, which must each be one
		// a backup made.
		vs, err := n.c.Versions(ctx, mid)
		if err != nil {
			t.Fatalf("versions: %v", err)
		}
		committed := slices.ContainsFunc(vs, func(v apiv1.Version) bool { return v.Number == next })
		switch {
		case committed && r.err != nil:
			// The kill hit between the commit and the answer.
			lost++
			t.Logf("round %d: kill %s (%v): version %d committed, the answer lost (%v)", round, moment, killedAt.Round(time.Microsecond), next, r.err)
			frozen[next] = state
		case !committed:
			landed++
			t.Logf("round %d: kill %s (%v) left no version %d: the backup was cut short (%v)", round, moment, killedAt.Round(time.Microsecond), next, r.err)
		}
		checkVersions(round)
		// cur survived the kill as it was.
		for _, p := range sample() {
			checkFile(t, ctx, n.c, mid, apiv1.RefCur, p, cur[p])
		}
		if v := backup(); v.Number < next {
			t.Fatalf("round %d: backup after restart made version %d, want >= %d", round, v.Number, next)
		}
	}
	if landed == 0 {
		t.Log("no kill landed before a backup committed: every backup finished first")
	}
	nums := checkVersions(-1)
	t.Logf("versions at the end: %v; of %d kills, %d cut a backup short and %d lost its answer", nums, len(delays), landed, lost)
	verifyOK(t, ctx, n.c)
}

// dropAnswers is a proxy to the HTTP server at api (a base URL) that
// passes requests on and throws the answers away: what is sent through it
// is done, but its sender hears nothing until the server's end closes.
func dropAnswers(t *testing.T, api string) string {
	t.Helper()
	target := strings.TrimPrefix(api, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(io.Discard, up)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestDeleteAndGCReturnsSpace deletes a MiMei holding ~64 MiB over two
// versions and collects garbage: the data directory shrinks back to about
// its size before.
func TestDeleteAndGCReturnsSpace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	n := upStore(t, data)
	keep := newMiMei(t, ctx, n.c)
	keepData := randBytes(7, 256<<10)
	putBytes(t, ctx, n.c, keep, "keep.bin", keepData)
	if _, err := n.c.Backup(ctx, keep, ""); err != nil {
		t.Fatal(err)
	}
	b0, s0 := blocksSize(t, data), storeSize(t, data)
	t.Logf("before: blocks/ %d, store/ %d bytes", b0, s0)

	mid := newMiMei(t, ctx, n.c)
	for i := range 12 {
		putBytes(t, ctx, n.c, mid, fmt.Sprintf("f%02d.bin", i), randBytes(uint64(200+i), 4*mib))
	}
	if _, err := n.c.Backup(ctx, mid, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		putBytes(t, ctx, n.c, mid, fmt.Sprintf("f%02d.bin", i), randBytes(uint64(300+i), 4*mib))
	}
	if _, err := n.c.Backup(ctx, mid, ""); err != nil {
		t.Fatal(err)
	}
	b1, s1 := blocksSize(t, data), storeSize(t, data)
	t.Logf("with the 64 MiB MiMei: blocks/ %d, store/ %d bytes", b1, s1)
	if b1-b0 < 60*mib {
		t.Fatalf("blocks/ grew by only %d bytes for 64 MiB of files", b1-b0)
	}

	if err := n.c.DeleteMiMei(ctx, mid, false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := n.c.GetMiMei(ctx, mid); !apiclient.IsCode(err, apiv1.CodeNotFound) {
		t.Fatalf("deleted MiMei: want %s, got %v", apiv1.CodeNotFound, err)
	}
	rep, err := n.c.StoreGC(ctx)
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	b2, s2 := blocksSize(t, data), storeSize(t, data)
	st, _ := n.c.StoreStats(ctx)
	t.Logf("gc: %+v", rep)
	t.Logf("after delete+gc: blocks/ %d (before %d, %+.1f%%), store/ %d (before %d, %+.1f%%); stats %+v",
		b2, b0, pct(b2, b0), s2, s0, pct(s2, s0), st)
	if float64(b2) > 1.1*float64(b0) {
		t.Errorf("blocks/ holds %d bytes after delete+gc, more than 10%% over the %d before", b2, b0)
	}
	if float64(b2+s2) > 1.1*float64(b0+s0) {
		// Pebble reclaims its space in its own compactions; report, do
		// not fail.
		t.Logf("NOTE: the data directory (blocks/+store/) is %d bytes, %+.1f%% over %d before; store/ alone %+.1f%%",
			b2+s2, pct(b2+s2, b0+s0), b0+s0, pct(s2, s0))
	}
	verifyOK(t, ctx, n.c)
	checkFile(t, ctx, n.c, keep, apiv1.RefLast, "keep.bin", keepData)
}

func pct(a, b int64) float64 { return 100 * float64(a-b) / float64(b) }

// flipInPacks finds the only copy of probe in the pack files under
// data/blocks and flips a bit in its middle.
func flipInPacks(t *testing.T, data string, probe []byte) {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(filepath.Join(data, "blocks"), func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for off := 0; ; {
			i := bytes.Index(b[off:], probe)
			if i < 0 {
				break
			}
			hits = append(hits, fmt.Sprintf("%s@%d", p, off+i))
			off += i + 1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 {
		t.Fatalf("want the probe once in the packs, found it at %v", hits)
	}
	file, at, _ := strings.Cut(hits[0], "@")
	off, _ := strconv.ParseInt(at, 10, 64)
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off+int64(len(probe)/2)); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off+int64(len(probe)/2)); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped a bit at %s+%d", filepath.Base(file), off+int64(len(probe)/2))
}

// TestCorruptBlockReported flips a bit inside stored file data while the
// node is down: reading the file fails naming the block, and verify
// reports the same block.
func TestCorruptBlockReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := t.TempDir()
	n := upStore(t, data)
	mid := newMiMei(t, ctx, n.c)
	bigData := randBytes(11, mib)
	smallData := randBytes(12, 32<<10) // one chunk: its root is the block's CID
	okData := randBytes(13, 200<<10)
	putBytes(t, ctx, n.c, mid, "big.bin", bigData)
	smallInfo := putBytes(t, ctx, n.c, mid, "small.bin", smallData)
	putBytes(t, ctx, n.c, mid, "ok.bin", okData)
	verifyOK(t, ctx, n.c)
	n.term(t)

	flipInPacks(t, data, bigData[mib/2:mib/2+64])
	flipInPacks(t, data, smallData[16<<10:16<<10+64])

	n = upStore(t, data)
	rep, err := n.c.StoreVerify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("verify: ok=%v checked=%d problems=%+v missing=%v", rep.OK, rep.Checked, rep.Problems, rep.Missing)
	if rep.OK {
		t.Fatal("verify reports OK over two corrupt blocks")
	}
	bad := map[string]bool{}
	for _, p := range rep.Problems {
		bad[p.CID] = true
	}
	if len(bad) != 2 || !bad[smallInfo.Root] {
		t.Fatalf("verify should name exactly the two corrupt blocks, %s among them: %+v", smallInfo.Root, rep.Problems)
	}

	// The one-chunk file: the error names its root, which is the block.
	_, err = getBytes(ctx, n.c, mid, "", "small.bin")
	t.Logf("get small.bin: %v", err)
	if !apiclient.IsCode(err, apiv1.CodeIntegrity) || !strings.Contains(err.Error(), smallInfo.Root) {
		t.Errorf("reading the corrupt one-chunk file: want %s naming %s, got %v", apiv1.CodeIntegrity, smallInfo.Root, err)
	}
	// The 1 MiB file: the read fails, and the error names the block
	// verify reported.
	got, err := getBytes(ctx, n.c, mid, "", "big.bin")
	t.Logf("get big.bin: %d bytes, %v", len(got), err)
	if err == nil {
		t.Fatal("reading the corrupt 1 MiB file succeeded")
	}
	named := ""
	for c := range bad {
		if c != smallInfo.Root && strings.Contains(err.Error(), c) {
			named = c
		}
	}
	if len(got) > mib/2 {
		t.Errorf("%d bytes of big.bin were served, past the corrupt byte at %d", len(got), mib/2+32)
	}
	// The rest of the store still reads.
	checkFile(t, ctx, n.c, mid, "", "ok.bin", okData)
	if named == "" {
		n.term(t) // its stderr may be read once it has exited
		logged := false
		for c := range bad {
			logged = logged || (c != smallInfo.Root && strings.Contains(n.d.stderr.String(), c))
		}
		// The node sends the 200 before it reaches the corrupt chunk; the
		// error must come in the X-Peer-Error trailer, which the client
		// reports at the end of the body.
		t.Errorf("BUG: the error reading the corrupt 1 MiB file names none of the corrupt blocks %v: %v "+
			"(the node's log names it: %v)", slices.Collect(maps.Keys(bad)), err, logged)
	}
}

// TestOversizedAndUnknown: bodies over the API limit, unknown routes and a
// database argument the database refuses all get clean 4xx answers.
func TestOversizedAndUnknown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := t.TempDir()
	n := upStore(t, data)
	mid := newMiMei(t, ctx, n.c)
	token := readToken(t, data)

	type answer struct {
		status int
		e      apiv1.Error
		raw    string
	}
	call := func(method, path string, body io.Reader, size int64) answer {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, n.d.api+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var a answer
		a.status, a.raw = resp.StatusCode, string(b)
		_ = json.Unmarshal(b, &a.e)
		return a
	}
	dbPath := "/api/v1/mimei/" + mid + "/db"
	huge := `{"args":["SET","k","` + strings.Repeat("x", 2*mib) + `"]}`
	for _, size := range []int64{int64(len(huge)), -1} { // with Content-Length, then chunked
		a := call("POST", dbPath, strings.NewReader(huge), size)
		if a.status != http.StatusRequestEntityTooLarge || a.e.Code != apiv1.CodeTooLarge {
			t.Errorf("2 MiB db body (content-length %d): %d %.200s", size, a.status, a.raw)
		}
	}
	for _, p := range []string{"/api/v2/mimei", "/api/v0/status", "/api/v1/nope", "/api/v1/mimei/" + mid + "/nope"} {
		a := call("GET", p, nil, 0)
		if a.status != http.StatusNotFound || a.e.Code != apiv1.CodeNotFound {
			t.Errorf("GET %s: %d %.200s", p, a.status, a.raw)
		}
	}
	// A 600 KB value is within the database's limits; a 600 KB key is not,
	// and is refused as the caller's error.
	val := strings.Repeat("v", 600_000)
	if r, err := n.c.DB(ctx, mid, apiv1.DBCommand{Args: []string{"SET", "k", val}}); err != nil || r.Status != "OK" {
		t.Errorf("SET of a 600 KB value: %+v %v", r, err)
	}
	if r, err := n.c.DB(ctx, mid, apiv1.DBCommand{Args: []string{"GET", "k"}}); err != nil || r.Bulk == nil || *r.Bulk != val {
		t.Errorf("GET of the 600 KB value: kind %s, %v", r.Kind, err)
	}
	body := `{"args":["SET","` + strings.Repeat("k", 600_000) + `","v"]}`
	a := call("POST", dbPath, strings.NewReader(body), int64(len(body)))
	t.Logf("600 KB key: %d %.200s", a.status, a.raw)
	if a.status/100 != 4 || a.e.Code != apiv1.CodeDBError || !strings.Contains(a.e.Message, "ERR") {
		t.Errorf("SET with a 600 KB key: want a 4xx %s, got %d %.300s", apiv1.CodeDBError, a.status, a.raw)
	}
	// The node is still fine.
	if _, err := n.c.GetMiMei(ctx, mid); err != nil {
		t.Fatal(err)
	}
}
