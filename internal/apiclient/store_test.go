package apiclient

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

func newStoreClient(t *testing.T) (*Client, *httpapitest.Store) {
	t.Helper()
	store := httpapitest.NewStore()
	ts := httpapitest.Serve(t, httpapi.Options{Store: store, MaxBodyBytes: 1024})
	return New(ts.URL, httpapitest.Token), store
}

// slowReader yields its data in small pieces with a pause before each.
type slowReader struct {
	data  []byte
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := copy(p[:min(len(p), 64<<10)], s.data)
	s.data = s.data[n:]
	return n, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

func TestTransfersStreamPastLimitsAndTimeout(t *testing.T) {
	c, _ := newStoreClient(t)
	ctx := context.Background()
	m, err := c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "files"})
	if err != nil {
		t.Fatal(err)
	}
	// A transfer lasting longer than the client's request timeout still
	// completes: only JSON calls are bounded by it.
	c.hc.Timeout = 100 * time.Millisecond
	data := randomBytes(12 << 20)
	for _, size := range []int64{int64(len(data)), -1} {
		r := &slowReader{data: data, pause: 3 * time.Millisecond} // ≈ 200 reads: 600 ms
		fi, err := c.PutFile(ctx, m.ID, "big.bin", r, size, PutOptions{})
		if err != nil {
			t.Fatalf("upload (size %d): %v", size, err)
		}
		if fi.Size != int64(len(data)) {
			t.Fatalf("uploaded %d bytes", fi.Size)
		}
	}
	var buf bytes.Buffer
	n, err := c.GetFile(ctx, m.ID, "", "big.bin", &buf)
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	buf.Reset()
	n, err = c.GetFileRange(ctx, m.ID, "cur", "big.bin", 1000, 5000, &buf)
	if err != nil || n != 5000 || !bytes.Equal(buf.Bytes(), data[1000:6000]) {
		t.Fatalf("range download: %d bytes, %v", n, err)
	}
	d, err := c.OpenFile(ctx, m.ID, "", "big.bin", int64(len(data))-10, -1)
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(d.Body)
	d.Body.Close()
	if !bytes.Equal(tail, data[len(data)-10:]) || d.Offset != int64(len(data))-10 || d.Length != 10 || d.Size != int64(len(data)) || d.Root == "" {
		t.Fatalf("open range: %+v, %d bytes", d, len(tail))
	}
	if _, err := c.OpenFile(ctx, m.ID, "", "big.bin", int64(len(data))+1, 10); !IsCode(err, apiv1.CodeBadRequest) {
		t.Fatalf("range past the end: %v", err)
	}
}

func TestStoreClientRoundTrip(t *testing.T) {
	c, store := newStoreClient(t)
	ctx := context.Background()
	m, err := c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "notes", Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.ListMiMei(ctx); err != nil || len(l) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	keep := 5
	if m, err = c.UpdateMiMei(ctx, m.ID, apiv1.UpdateMiMei{Keep: &keep}); err != nil || m.Keep != 5 {
		t.Fatalf("update: %+v %v", m, err)
	}

	// Names with characters that mean something in URLs.
	name := "dir one/näme #1?%20&x=y;%.txt"
	mtime := time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)
	fi, err := c.PutFile(ctx, m.ID, name, strings.NewReader("hello"), 5, PutOptions{MIME: "text/plain", ModTime: mtime, Parents: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi.Path != name || fi.MIME != "text/plain" || !fi.ModTime.Equal(mtime) {
		t.Fatalf("put: %+v", fi)
	}
	if got := store.LastPut(); got.MIME != "text/plain" || !got.Parents {
		t.Fatalf("backend got %+v", got)
	}
	if _, err := c.PutFile(ctx, m.ID, "empty", strings.NewReader(""), 0, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.GetFile(ctx, m.ID, "", name, &buf); err != nil || buf.String() != "hello" {
		t.Fatalf("get: %q %v", buf.String(), err)
	}
	fl, err := c.List(ctx, m.ID, "", "dir one")
	if err != nil || len(fl.Entries) != 1 || fl.Entries[0].Name != "näme #1?%20&x=y;%.txt" {
		t.Fatalf("list: %+v %v", fl, err)
	}
	if fl, err = c.List(ctx, m.ID, "", ""); err != nil || len(fl.Entries) != 2 {
		t.Fatalf("list root: %+v %v", fl, err)
	}
	if _, err := c.Stat(ctx, m.ID, "", name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Mkdir(ctx, m.ID, "a/b", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Mkdir(ctx, m.ID, "a/b", false); !IsCode(err, apiv1.CodeExists) {
		t.Fatalf("mkdir again: %v", err)
	}
	if _, err := c.Move(ctx, m.ID, "empty", "a/b/empty"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, m.ID, "a", false); !IsCode(err, apiv1.CodeNotEmpty) {
		t.Fatalf("rm non-empty: %v", err)
	}
	if err := c.Remove(ctx, m.ID, "a", true); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if _, err := c.Stat(ctx, m.ID, "", "a"); !errors.As(err, &e) || e.Status != 404 || e.Code != apiv1.CodeNotFound {
		t.Fatalf("stat removed: %v", err)
	}
	for _, bad := range []string{"../x", "a//b", "/abs", "a/./b", "x\x00"} {
		if _, err := c.PutFile(ctx, m.ID, bad, strings.NewReader("x"), 1, PutOptions{}); err == nil {
			t.Errorf("put %q: no error", bad)
		}
	}

	// Import a tar stream.
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "p/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: "p/q.txt", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644})
		tw.Write([]byte("abc"))
		pw.CloseWithError(tw.Close())
	}()
	res, err := c.Import(ctx, m.ID, "imp", pr)
	if err != nil || res.Files != 1 || res.Dirs != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}

	rep, err := c.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"RPUSH", "l", "a", "b", "c"}})
	if err != nil || rep.Int != 3 {
		t.Fatalf("db: %+v %v", rep, err)
	}
	if rep, err = c.DB(ctx, m.ID, apiv1.DBCommand{Args: []string{"LRANGE", "l", "0", "-1"}}); err != nil || len(rep.Array) != 3 {
		t.Fatalf("lrange: %+v %v", rep, err)
	}

	v1, err := c.Backup(ctx, m.ID, "one")
	if err != nil || v1.Number != 1 {
		t.Fatalf("backup: %+v %v", v1, err)
	}
	if err := c.Remove(ctx, m.ID, name, false); err != nil {
		t.Fatal(err)
	}
	d, err := c.Diff(ctx, m.ID, "1", "", 0)
	if err != nil || d.To != "cur" || len(d.Files) != 1 || d.Files[0].Op != "removed" {
		t.Fatalf("diff: %+v %v", d, err)
	}
	if v, err := c.Release(ctx, m.ID, "1"); err != nil || !v.Release {
		t.Fatalf("release: %+v %v", v, err)
	}
	if _, err := c.Restore(ctx, m.ID, "1"); err != nil {
		t.Fatal(err)
	}
	if vs, err := c.Versions(ctx, m.ID); err != nil || len(vs) != 1 || !vs[0].Last {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	if v, err := c.Pin(ctx, m.ID, "1"); err != nil || !v.Pinned {
		t.Fatalf("pin: %+v %v", v, err)
	}
	if v, err := c.Unpin(ctx, m.ID, "1"); err != nil || v.Pinned {
		t.Fatalf("unpin: %+v %v", v, err)
	}
	if err := c.DeleteVersion(ctx, m.ID, "1", false); !IsCode(err, apiv1.CodeProtected) {
		t.Fatalf("delete release: %v", err)
	}
	f, err := c.Fork(ctx, m.ID, apiv1.Fork{Version: "1"})
	if err != nil || f.Origin == nil {
		t.Fatalf("fork: %+v %v", f, err)
	}
	one := uint64(1)
	if rc, err := c.AddRef(ctx, f.ID, apiv1.Ref{To: m.ID, Version: &one}); err != nil || rc.Count != 1 {
		t.Fatalf("add ref: %+v %v", rc, err)
	}
	if refs, err := c.Refs(ctx, m.ID); err != nil || len(refs.In) != 1 || *refs.In[0].Version != 1 {
		t.Fatalf("refs: %+v %v", refs, err)
	}
	if err := c.DeleteMiMei(ctx, m.ID, false); !IsCode(err, apiv1.CodeReferenced) {
		t.Fatalf("delete referenced: %v", err)
	}
	if rc, err := c.DropRef(ctx, f.ID, apiv1.Ref{To: m.ID, Version: &one}); err != nil || rc.Count != 0 {
		t.Fatalf("drop ref: %+v %v", rc, err)
	}
	if err := c.DeleteVersion(ctx, m.ID, "1", true); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMiMei(ctx, m.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMiMei(ctx, m.ID); !IsCode(err, apiv1.CodeNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if st, err := c.StoreStats(ctx); err != nil || st.MiMei != 1 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	store.VerifyProblems = []apiv1.StoreProblem{{CID: "bafy", Kind: "hash", Detail: "mismatch"}}
	if vr, err := c.StoreVerify(ctx); err != nil || vr.OK || len(vr.Problems) != 1 {
		t.Fatalf("verify: %+v %v", vr, err)
	}
	if _, err := c.StoreGC(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"a/b c/d#?%": "a/b%20c/d%23%3F%25",
		"ä/x;y":      "%C3%A4/x%3By",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDownloadCutShort: a download the node could not finish fails with
// the node's error (in the X-Peer-Error trailer, or as JSON for a range),
// and a body that just stops fails with io.ErrUnexpectedEOF.
func TestDownloadCutShort(t *testing.T) {
	c, store := newStoreClient(t)
	ctx := context.Background()
	m, err := c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "files"})
	if err != nil {
		t.Fatal(err)
	}
	const size, bad = 300 << 10, 200 << 10
	data := randomBytes(size)
	if _, err := c.PutFile(ctx, m.ID, "f.bin", bytes.NewReader(data), size, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const cid = "bafkr4ibadblock"
	store.FailReads("f.bin", bad, httpapi.StoreErrorf(apiv1.CodeIntegrity, "integrity error: block %s: content does not match its hash", cid))

	wantIntegrity := func(what string, err error) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != apiv1.CodeIntegrity || e.Status != 500 || !strings.Contains(err.Error(), cid) {
			t.Errorf("%s: want an integrity error naming %s, got %v", what, cid, err)
		}
	}
	var buf bytes.Buffer
	n, err := c.GetFile(ctx, m.ID, "", "f.bin", &buf)
	wantIntegrity("GetFile", err)
	if n != bad || !bytes.Equal(buf.Bytes(), data[:bad]) {
		t.Errorf("GetFile wrote %d bytes before failing, want the %d before the fault", n, bad)
	}
	_, err = c.GetFileRange(ctx, m.ID, "", "f.bin", bad+1, 10, io.Discard)
	wantIntegrity("GetFileRange past the fault", err)

	d, err := c.OpenFile(ctx, m.ID, "", "f.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Length != size || d.Size != size {
		t.Errorf("OpenFile: length %d, size %d, want %d from X-Peer-Size", d.Length, d.Size, size)
	}
	_, err = io.ReadAll(d.Body)
	d.Body.Close()
	wantIntegrity("OpenFile's body", err)

	// A range running into the fault: 206 with its length, then a short
	// body (too late for an error answer).
	_, err = c.GetFileRange(ctx, m.ID, "", "f.bin", 0, bad+100, io.Discard)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("range running into the fault: %v, want io.ErrUnexpectedEOF", err)
	}

	store.FailReads("f.bin", 0, nil)
	buf.Reset()
	if n, err := c.GetFile(ctx, m.ID, "", "f.bin", &buf); err != nil || n != size || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("healthy download: %d bytes, %v", n, err)
	}
}

// TestDownloadEndsEarly: a whole-file body that ends before X-Peer-Size,
// without a trailer, is an error.
func TestDownloadEndsEarly(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Peer-Size", "100")
		w.Header().Set("Trailer", "X-Peer-Error")
		w.WriteHeader(200)
		w.Write(make([]byte, 60))
	}))
	defer ts.Close()
	c := New(ts.URL, "t")
	n, err := c.GetFile(context.Background(), "m", "", "f", io.Discard)
	if n != 60 || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "60 of 100") {
		t.Fatalf("%d bytes, %v", n, err)
	}
}

// TestListFollowsPages: List gathers every page of a directory larger than
// a page; ListPage gives one page and where the next begins; ListPages
// hands the pages over in order and stops at fn's error.
func TestListFollowsPages(t *testing.T) {
	c, store := newStoreClient(t)
	ctx := context.Background()
	m, err := c.CreateMiMei(ctx, apiv1.CreateMiMei{AppType: "files"})
	if err != nil {
		t.Fatal(err)
	}
	n := 2*apiv1.ListLimit + 3
	for i := range n {
		if _, err := store.PutFile(ctx, m.ID, fmt.Sprintf("big/%05d", i), strings.NewReader("x"), httpapi.PutFile{Parents: true}); err != nil {
			t.Fatal(err)
		}
	}
	fl, err := c.List(ctx, m.ID, "", "big")
	if err != nil || len(fl.Entries) != n || fl.Next != "" || fl.Entries[n-1].Name != fmt.Sprintf("%05d", n-1) {
		t.Fatalf("List: %d entries, next %q, %v; want %d", len(fl.Entries), fl.Next, err, n)
	}
	for i, e := range fl.Entries {
		if e.Name != fmt.Sprintf("%05d", i) {
			t.Fatalf("entry %d is %q", i, e.Name)
		}
	}
	p, err := c.ListPage(ctx, m.ID, "", "big", "00010", 5)
	if err != nil || len(p.Entries) != 5 || p.Entries[0].Name != "00011" || p.Next != "00015" {
		t.Fatalf("ListPage after 00010, 5: %+v, %v", p, err)
	}
	var sizes []int
	stop := errors.New("stop")
	err = c.ListPages(ctx, m.ID, "", "big", 0, func(fl apiv1.FileList) error {
		sizes = append(sizes, len(fl.Entries))
		if len(sizes) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(sizes) != 2 || sizes[0] != apiv1.ListLimit {
		t.Fatalf("ListPages: pages of %v, %v", sizes, err)
	}
}
