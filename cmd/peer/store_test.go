package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/datadir"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

// cli runs commands in-process against an API server over a fake store,
// found the way the CLI finds a real node: through a data directory whose
// lock is held and whose node.json and api.token point at the server.
type cli struct {
	t     *testing.T
	dir   string
	store *httpapitest.Store
	tty   bool // standard error is taken for a terminal: progress is drawn
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	store := httpapitest.NewStore()
	ts := httpapitest.Serve(t, httpapi.Options{Store: store, MaxBodyBytes: 1024})
	dir := t.TempDir()
	lock, err := datadir.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Release() })
	if err := datadir.WriteRuntime(dir, datadir.Runtime{PID: os.Getpid(), API: ts.URL, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(datadir.TokenPath(dir), []byte(httpapitest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir, store: store}
}

// run runs peer with args and stdin; it returns stdout, stderr and the error.
func (c *cli) run(stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, environ: []string{"PEER_DATA=" + c.dir}}
	if c.tty {
		a.stderrTTY = func() bool { return true }
	}
	root := a.root()
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// ok runs peer and fails the test on an error; it returns stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("peer %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fails runs peer, wants an error containing want, and returns it.
func (c *cli) fails(want string, args ...string) error {
	c.t.Helper()
	_, _, err := c.run("", args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		c.t.Fatalf("peer %s: error %v, want one containing %q", strings.Join(args, " "), err, want)
	}
	return err
}

func (c *cli) jsonOf(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("peer --json %s: %v in %s", strings.Join(args, " "), err, out)
	}
}

func (c *cli) mimei() string {
	c.t.Helper()
	id := strings.TrimSpace(c.ok("mimei", "create", "--type", "files"))
	if id == "" || strings.Contains(id, "\n") {
		c.t.Fatalf("mimei create printed %q", id)
	}
	return id
}

func TestPutAndGetFiles(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	local := t.TempDir()
	src := filepath.Join(local, "report #1.txt")
	content := []byte("0123456789 the report")
	os.WriteFile(src, content, 0o644)
	mtime := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	os.Chtimes(src, mtime, mtime)

	if out := c.ok("put", m, src); !strings.HasPrefix(out, "report #1.txt") {
		t.Fatalf("put printed %q", out)
	}
	c.ok("put", m, src, "docs/", "-p")
	var fi apiv1.FileInfo
	c.jsonOf(&fi, "stat", m, "/docs/report #1.txt")
	if fi.Size != int64(len(content)) || !fi.ModTime.Equal(mtime) {
		t.Fatalf("stat %+v", fi)
	}
	c.ok("put", m, src, "renamed.txt", "--mime", "text/x-report")
	if got := c.store.LastPut(); got.MIME != "text/x-report" {
		t.Fatalf("mime sent: %+v", got)
	}

	// Standard input needs a destination.
	if _, _, err := c.run("piped data", "put", m, "-", "in/stdin.txt", "--parents"); err != nil {
		t.Fatal(err)
	}
	c.fails("destination", "put", m, "-")

	// Download into a directory, keeping the modification time.
	dl := t.TempDir()
	c.ok("get", m, "report #1.txt", dl)
	got := filepath.Join(dl, "report #1.txt")
	if b, _ := os.ReadFile(got); !bytes.Equal(b, content) {
		t.Fatalf("downloaded %q", b)
	}
	if st, _ := os.Stat(got); !st.ModTime().Equal(mtime) {
		t.Errorf("downloaded file's mtime %v, want %v", st.ModTime(), mtime)
	}
	// No overwrite without --force; the file is untouched.
	os.WriteFile(got, []byte("mine"), 0o644)
	c.fails("--force", "get", m, "report #1.txt", got)
	if b, _ := os.ReadFile(got); string(b) != "mine" {
		t.Fatal("refused download changed the file")
	}
	c.ok("get", m, "report #1.txt", got, "--force")
	if b, _ := os.ReadFile(got); !bytes.Equal(b, content) {
		t.Fatalf("forced download %q", b)
	}
	// A failed download leaves nothing behind.
	c.fails("no file", "get", m, "missing.txt", filepath.Join(dl, "missing.txt"))
	if ents, _ := os.ReadDir(dl); len(ents) != 1 {
		t.Fatalf("download directory holds %d entries after a failure", len(ents))
	}

	// Ranges, to standard output.
	if out := c.ok("get", m, "report #1.txt", "-", "--range", "2-5"); out != "2345" {
		t.Fatalf("range 2-5: %q", out)
	}
	if out := c.ok("get", m, "report #1.txt", "-", "--range", "11-"); out != "the report" {
		t.Fatalf("range 11-: %q", out)
	}
	if out := c.ok("get", m, "in/stdin.txt", "-"); out != "piped data" {
		t.Fatalf("stdin upload came back as %q", out)
	}
	c.fails("--range", "get", m, "report #1.txt", "-", "--range", "5-2")
	c.fails("not satisfiable", "get", m, "report #1.txt", "-", "--range", "500-")

	// ls, mkdir, mv, rm.
	if out := c.ok("ls", m); out != "docs/\nin/\nrenamed.txt\nreport #1.txt\n" {
		t.Fatalf("ls: %q", out)
	}
	if out := c.ok("ls", "-l", m, "docs"); !strings.Contains(out, "21") || !strings.HasPrefix(out, "-") {
		t.Fatalf("ls -l: %q", out)
	}
	c.ok("mkdir", m, "a/b", "-p")
	c.fails("exists", "mkdir", m, "a/b")
	c.ok("mv", m, "renamed.txt", "a/b/moved.txt")
	c.fails("not empty", "rm", m, "a")
	c.ok("rm", m, "a", "-r")
	var fl apiv1.FileList
	c.jsonOf(&fl, "ls", m)
	if len(fl.Entries) != 3 {
		t.Fatalf("ls --json: %+v", fl)
	}
}

func TestPutDirectory(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	src := filepath.Join(t.TempDir(), "photos")
	os.MkdirAll(filepath.Join(src, "2024", "empty"), 0o755)
	os.WriteFile(filepath.Join(src, "a.jpg"), []byte("aaa"), 0o644)
	os.WriteFile(filepath.Join(src, "2024", "b.jpg"), bytes.Repeat([]byte("b"), 3000), 0o644)
	if err := os.Symlink("a.jpg", filepath.Join(src, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := c.run("", "put", m, src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "skipping symbolic link") || !strings.Contains(out, "2 files, 2 directories, 2.9 KiB; 1 symbolic link skipped") {
		t.Fatalf("put dir: stdout %q stderr %q", out, errOut)
	}
	if ls := c.ok("ls", m, "photos/2024"); ls != "b.jpg\nempty/\n" {
		t.Fatalf("ls: %q", ls)
	}
	// Into the root, as JSON.
	var res apiv1.ImportResult
	c.jsonOf(&res, "put", m, src, "/")
	if res.Files != 2 || res.Bytes != 3003 {
		t.Fatalf("import %+v", res)
	}
	if got := c.ok("get", m, "2024/b.jpg", "-"); len(got) != 3000 {
		t.Fatalf("file from the directory: %d bytes", len(got))
	}
}

func TestDB(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	if out := c.ok("db", m, "RPUSH", "l", "a", "-b", "--c"); out != "(integer) 3\n" {
		t.Fatalf("RPUSH: %q", out)
	}
	if out := c.ok("db", m, "LRANGE", "l", "0", "-1"); out != "1) \"a\"\n2) \"-b\"\n3) \"--c\"\n" {
		t.Fatalf("LRANGE: %q", out)
	}
	var r apiv1.DBReply
	c.jsonOf(&r, "db", m, "LRANGE", "l", "-2", "-1")
	if r.Kind != "array" || len(r.Array) != 2 || *r.Array[0].Bulk != "-b" {
		t.Fatalf("LRANGE --json: %+v", r)
	}
	if out := c.ok("db", m, "GET", "nothing"); out != "(nil)\n" {
		t.Fatalf("GET: %q", out)
	}
	c.ok("db", m, "SET", "k", "v1")
	c.ok("backup", m)
	c.ok("db", m, "SET", "k", "v2")
	if out := c.ok("db", "--version", "1", m, "GET", "k"); out != "\"v1\"\n" {
		t.Fatalf("GET at version 1: %q", out)
	}
	c.fails("WRONGTYPE", "db", m, "GET", "l")
	c.fails("unknown command", "db", m, "NOPE")
}

func TestVersionsAndDiff(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	c.ok("put", m, "-", "a.txt")
	c.ok("mkdir", m, "old")
	if out := c.ok("backup", m, "-m", "first one"); out != "version 1\n" {
		t.Fatalf("backup: %q", out)
	}
	c.ok("put", m, "-", "b.txt")
	c.ok("rm", m, "a.txt")
	c.ok("rm", m, "old")
	c.ok("db", m, "SET", "k", "v")
	if out := c.ok("diff", m, "1"); out != "- a.txt\n+ b.txt\n- old/\nkeys:\n+ k\n" {
		t.Fatalf("diff: %q", out)
	}
	if out := c.ok("diff", m, "1", "--limit", "1"); out != "- a.txt\n… and 2 more file changes\nkeys:\n+ k\n" {
		t.Fatalf("diff --limit 1: %q", out)
	}
	var dl apiv1.Diff
	c.jsonOf(&dl, "diff", m, "1", "--limit", "2")
	if len(dl.Files) != 2 || dl.FileCount != 3 || !dl.FilesTruncated || len(dl.Keys) != 1 || dl.KeyCount != 1 || dl.KeysTruncated {
		t.Fatalf("diff --limit 2 --json: %+v", dl)
	}
	c.ok("backup", m)
	if out := c.ok("diff", m, "1", "2"); !strings.Contains(out, "+ b.txt") {
		t.Fatalf("diff 1 2: %q", out)
	}
	if out := c.ok("diff", m, "2"); out != "no changes from 2 to cur\n" {
		t.Fatalf("empty diff: %q", out)
	}
	var d apiv1.Diff
	c.jsonOf(&d, "diff", m, "1", "last")
	if d.To != "last" || len(d.Files) != 3 || len(d.Keys) != 1 {
		t.Fatalf("diff --json: %+v", d)
	}

	c.ok("release", m, "1")
	c.ok("pin", m, "2")
	out := c.ok("versions", m)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION") ||
		!strings.Contains(lines[1], "release") || !strings.Contains(lines[1], "first one") ||
		!strings.Contains(lines[2], "last,pinned") {
		t.Fatalf("versions:\n%s", out)
	}
	var vl apiv1.VersionList
	c.jsonOf(&vl, "versions", m)
	if len(vl.Versions) != 2 || !vl.Versions[0].Release {
		t.Fatalf("versions --json: %+v", vl)
	}
	c.fails("release", "versions", m, "--rm", "1")
	c.ok("versions", m, "--rm", "1", "--force")
	c.ok("unpin", m, "2")
	c.ok("restore", m, "2")

	fork := strings.TrimSpace(c.ok("fork", m, "--type", "copy"))
	var fm apiv1.MiMei
	c.jsonOf(&fm, "mimei", "info", fork)
	if fm.AppType != "copy" || fm.Origin == nil || fm.Origin.MiMei != m {
		t.Fatalf("fork: %+v", fm)
	}
	if out := c.ok("ref", "add", fork, m, "--version", "2"); !strings.Contains(out, m+"@2: 1") {
		t.Fatalf("ref add: %q", out)
	}
	if out := c.ok("ref", "ls", m); !strings.Contains(out, fork) {
		t.Fatalf("ref ls: %q", out)
	}
	c.fails("referenced", "mimei", "rm", m)
	c.ok("ref", "rm", fork, m, "--version", "2")
	c.ok("mimei", "rm", m)
}

func TestMiMeiCommands(t *testing.T) {
	c := newCLI(t)
	var m apiv1.MiMei
	c.jsonOf(&m, "mimei", "create", "--type", "notes", "--ext", "md", "--keep", "4", "--reader", "did:key:zR", "--public")
	if m.Keep != 4 || !m.Rights.Public || len(m.Rights.Readers) != 1 || m.Ext != "md" {
		t.Fatalf("create: %+v", m)
	}
	c.fails("type", "mimei", "create")
	c.ok("mimei", "set", m.ID, "--private", "--writer", "did:key:zW", "--keep", "0")
	var got apiv1.MiMei
	c.jsonOf(&got, "mimei", "info", m.ID)
	if got.Rights.Public || got.Keep != 0 || len(got.Rights.Readers) != 1 || got.Rights.Writers[0] != "did:key:zW" {
		t.Fatalf("after set: %+v", got)
	}
	c.fails("nothing to change", "mimei", "set", m.ID)
	if out := c.ok("mimei", "ls"); !strings.Contains(out, m.ID) || !strings.Contains(out, "notes.md") {
		t.Fatalf("mimei ls: %q", out)
	}
	var l apiv1.MiMeiList
	c.jsonOf(&l, "mimei", "ls")
	if len(l.MiMei) != 1 {
		t.Fatalf("mimei ls --json: %+v", l)
	}
	c.fails("no MiMei", "mimei", "info", "nope")
}

func TestStoreCommands(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	c.ok("put", m, "-", "x")
	var st apiv1.StoreStats
	c.jsonOf(&st, "store", "stats")
	if st.MiMei != 1 {
		t.Fatalf("stats %+v", st)
	}
	if out := c.ok("store", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify: %q", out)
	}
	c.store.GCReport = apiv1.GCReport{VersionDBs: 2, VersionDBBytes: 3 << 20}
	if out := c.ok("store", "gc"); !strings.Contains(out, "version databases dropped:  2 (3.0 MiB)") {
		t.Fatalf("store gc:\n%s", out)
	}
	if out := c.ok("--json", "store", "gc"); !strings.Contains(out, `"version_dbs": 2`) || !strings.Contains(out, `"version_db_bytes": 3145728`) {
		t.Fatalf("store gc --json:\n%s", out)
	}

	c.store.VerifyProblems = []apiv1.StoreProblem{{CID: "bafkbad", Kind: "hash", Detail: "content does not match"}}
	out, _, err := c.run("", "store", "verify")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "bafkbad") || !strings.Contains(out, "checked") {
		t.Fatalf("verify of a damaged store: out %q, err %v", out, err)
	}
	out, _, err = c.run("", "--json", "store", "verify")
	var r apiv1.VerifyReport
	if err == nil || json.Unmarshal([]byte(out), &r) != nil || r.OK {
		t.Fatalf("verify --json of a damaged store: out %q, err %v", out, err)
	}
}

func TestNoNode(t *testing.T) {
	var out bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &out, environ: []string{"PEER_DATA=" + t.TempDir()}}
	root := a.root()
	root.SetArgs([]string{"ls", "m"})
	if err := root.Execute(); exitCode(err) != 4 {
		t.Fatalf("ls without a node: %v (exit %d)", err, exitCode(err))
	}
}

func TestProgressLine(t *testing.T) {
	now := time.Unix(0, 0)
	var buf bytes.Buffer
	p := newProgressTo(&buf, "big.bin", 8<<20, func() time.Time { return now })
	if got := p.line(2<<20, 2*time.Second); got != "big.bin  2.0 MiB / 8.0 MiB   25%  1.0 MiB/s" {
		t.Fatalf("line %q", got)
	}
	for range 10 {
		now = now.Add(30 * time.Millisecond)
		p.add(1 << 20)
	}
	p.finish()
	// Redrawn at most every 100 ms, then once at the end.
	if n := strings.Count(buf.String(), "\r"); n < 2 || n > 5 {
		t.Fatalf("%d redraws in %q", n, buf.String())
	}
	if !strings.HasSuffix(buf.String(), "100%  33.3 MiB/s\n") {
		t.Fatalf("final line %q", buf.String())
	}
	var nilBar *progress
	nilBar.add(5) // a nil bar draws nothing and does not panic
	nilBar.finish()
	a := &app{stderr: &buf}
	if a.newProgress("x", 1<<30) != nil {
		t.Fatal("progress bar drawn on a non-terminal")
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string][2]int64{"0-0": {0, 1}, "10-19": {10, 10}, "7-": {7, -1}} {
		off, n, err := parseRange(in)
		if err != nil || off != want[0] || n != want[1] {
			t.Errorf("parseRange(%q) = %d, %d, %v", in, off, n, err)
		}
	}
	for _, bad := range []string{"", "5", "-5", "a-b", "9-3", "1-x"} {
		if _, _, err := parseRange(bad); err == nil {
			t.Errorf("parseRange(%q) accepted", bad)
		}
	}
}

// TestGetCorruptFile: a download the node cannot finish fails with the
// node's error, which names the bad block, and leaves no file behind.
func TestGetCorruptFile(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	src := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(src, bytes.Repeat([]byte("0123456789abcdef"), 20<<10), 0o644)
	c.ok("put", m, src)
	const cid = "bafkr4ibadblock"
	c.store.FailReads("big.bin", 200<<10, httpapi.StoreErrorf(apiv1.CodeIntegrity, "integrity error: block %s: content does not match its hash", cid))
	dl := t.TempDir()
	c.fails(cid, "get", m, "big.bin", dl)
	if left, _ := os.ReadDir(dl); len(left) != 0 {
		t.Fatalf("a failed download left %v", left)
	}
	c.fails(cid, "get", m, "big.bin", "-")
}

// TestPutIntoDirectory: a DEST ending in "/" is a directory, made if
// missing (the README's "peer put $M notes.txt docs/"); a missing
// directory without -p, and a directory where a file was named, are
// errors that say what to type.
func TestPutIntoDirectory(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	src := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(src, []byte("my notes"), 0o644)

	if out := c.ok("put", m, src, "docs/"); out != "docs/notes.txt  8 B\n" {
		t.Fatalf("put into docs/: %q", out)
	}
	if got := c.ok("get", m, "docs/notes.txt", "-"); got != "my notes" {
		t.Fatalf("docs/notes.txt holds %q", got)
	}
	c.ok("put", m, src, "a/b/c/") // deeper: every missing directory is made
	c.ok("stat", m, "a/b/c/notes.txt")
	c.ok("put", m, src, "docs/") // into an existing directory as well

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"put", m, src, "missing/notes.txt"}, "has no directory /missing: give -p to make it"},
		{[]string{"put", m, "-", "missing/in.txt"}, "has no directory /missing: give -p"},
		{[]string{"put", m, src, "docs"}, "/docs is a directory in " + m + ": give docs/ as DEST"},
	} {
		c.fails(tc.want, tc.args...)
	}
	c.fails("no MiMei", "put", "mnotthere", src, "x/y.txt") // an unknown MiMei is said as such, not as a directory
	c.ok("put", m, src, "missing/notes.txt", "-p")
}

// A MiMei received from someone else has no working copy: ls and db show
// its newest version and say so on stderr; mimei ls marks its figures.
func TestReceivedShowsNewestVersion(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	local := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(local, []byte("hello"), 0o644)
	c.ok("put", m, local)
	c.ok("db", m, "SET", "k", "v")
	c.ok("backup", m)
	if err := c.store.MarkReceived(m); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := c.run("", "ls", m)
	if err != nil || out != "notes.txt\n" || !strings.Contains(errOut, "showing version 1 (received; no local working copy)") {
		t.Fatalf("ls: %q, stderr %q, %v", out, errOut, err)
	}
	out, errOut, err = c.run("", "db", m, "GET", "k")
	if err != nil || out != "\"v\"\n" || !strings.Contains(errOut, "version 1 (received") {
		t.Fatalf("db GET: %q, stderr %q, %v", out, errOut, err)
	}
	if out := c.ok("mimei", "ls"); !strings.Contains(out, "1*") || !strings.Contains(out, "received; no local working copy") {
		t.Fatalf("mimei ls: %q", out)
	}
}

// TestLsFollowsPages: peer ls of a directory larger than the node's page
// prints every entry once, in order, short, long and as JSON.
func TestLsFollowsPages(t *testing.T) {
	c := newCLI(t)
	m := c.mimei()
	n := apiv1.ListLimit + 7
	var want strings.Builder
	for i := range n {
		name := fmt.Sprintf("%05d", i)
		if _, err := c.store.PutFile(context.Background(), m, "big/"+name, strings.NewReader("x"), httpapi.PutFile{Parents: true}); err != nil {
			t.Fatal(err)
		}
		want.WriteString(name + "\n")
	}
	if out := c.ok("ls", m, "big"); out != want.String() {
		t.Fatalf("ls printed %d lines, want %d", strings.Count(out, "\n"), n)
	}
	long := strings.Split(strings.TrimSuffix(c.ok("ls", "-l", m, "big"), "\n"), "\n")
	if len(long) != n || !strings.HasSuffix(long[n-1], fmt.Sprintf(" %05d", n-1)) || len(long[0]) != len(long[n-1]) {
		t.Fatalf("ls -l printed %d lines (first %q, last %q), want %d aligned", len(long), long[0], long[len(long)-1], n)
	}
	var fl apiv1.FileList
	c.jsonOf(&fl, "ls", m, "big")
	if len(fl.Entries) != n || fl.Next != "" {
		t.Fatalf("ls --json: %d entries, next %q; want %d", len(fl.Entries), fl.Next, n)
	}
}
