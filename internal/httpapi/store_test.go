package httpapi_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/events"
	"github.com/peer-node/peer/internal/httpapi"
	"github.com/peer-node/peer/internal/httpapi/httpapitest"
)

type client struct {
	t   *testing.T
	url string
}

func serve(t *testing.T, store *httpapitest.Store, bus *events.Bus) client {
	opts := httpapi.Options{MaxBodyBytes: 1024, Bus: bus}
	if store != nil {
		opts.Store = store
	}
	return client{t, httpapitest.Serve(t, opts).URL}
}

// do sends a request with the token; body may be a string, []byte, an
// io.Reader (sent chunked) or any value (sent as JSON).
func (c client) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	var r io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+httpapitest.Token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, data
}

// want checks the status (and, for errors, the code) of an answer and
// decodes its body into out if out is not nil.
func (c client) want(status int, code string, out any, method, path string, body any, hdr ...string) http.Header {
	c.t.Helper()
	resp, data := c.do(method, path, body, hdr...)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, status, data)
	}
	if code != "" {
		var e apiv1.Error
		if err := json.Unmarshal(data, &e); err != nil || e.Code != code {
			c.t.Fatalf("%s %s: want code %q, got %s", method, path, code, data)
		}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.Header
}

func (c client) create() string {
	var m apiv1.MiMei
	c.want(201, "", &m, "POST", "/api/v1/mimei", apiv1.CreateMiMei{AppType: "app"})
	return m.ID
}

// storeRoutes is every route of the store, with a path that matches it.
var storeRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/mimei"},
	{"GET", "/api/v1/mimei"},
	{"GET", "/api/v1/mimei/m"},
	{"PATCH", "/api/v1/mimei/m"},
	{"DELETE", "/api/v1/mimei/m"},
	{"PUT", "/api/v1/mimei/m/files/a.txt"},
	{"GET", "/api/v1/mimei/m/files/a.txt"},
	{"HEAD", "/api/v1/mimei/m/files/a.txt"},
	{"DELETE", "/api/v1/mimei/m/files/a.txt"},
	{"GET", "/api/v1/mimei/m/ls"},
	{"GET", "/api/v1/mimei/m/ls/d"},
	{"GET", "/api/v1/mimei/m/stat/a.txt"},
	{"POST", "/api/v1/mimei/m/mkdir"},
	{"POST", "/api/v1/mimei/m/mv"},
	{"POST", "/api/v1/mimei/m/import"},
	{"POST", "/api/v1/mimei/m/db"},
	{"POST", "/api/v1/mimei/m/backup"},
	{"GET", "/api/v1/mimei/m/versions"},
	{"POST", "/api/v1/mimei/m/release"},
	{"POST", "/api/v1/mimei/m/restore"},
	{"DELETE", "/api/v1/mimei/m/versions/1"},
	{"GET", "/api/v1/mimei/m/diff?from=1"},
	{"POST", "/api/v1/mimei/m/fork"},
	{"GET", "/api/v1/mimei/m/refs"},
	{"POST", "/api/v1/mimei/m/refs"},
	{"DELETE", "/api/v1/mimei/m/refs"},
	{"POST", "/api/v1/mimei/m/pins"},
	{"DELETE", "/api/v1/mimei/m/pins/1"},
	{"GET", "/api/v1/store/stats"},
	{"POST", "/api/v1/store/verify"},
	{"POST", "/api/v1/store/gc"},
}

func TestStoreRoutesNeedToken(t *testing.T) {
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	id := c.create()
	for _, rt := range storeRoutes {
		p := strings.Replace(rt.path, "/m/", "/"+id+"/", 1)
		req, _ := http.NewRequest(rt.method, c.url+p, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: status %d, want 401", rt.method, p, resp.StatusCode)
		}
	}
	if store.Puts() != 0 {
		t.Error("an unauthenticated upload reached the store")
	}
}

func TestStoreUnavailable(t *testing.T) {
	c := serve(t, nil, nil)
	for _, rt := range storeRoutes {
		resp, data := c.do(rt.method, rt.path, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s %s without a store: status %d, want 503", rt.method, rt.path, resp.StatusCode)
			continue
		}
		if rt.method != "HEAD" && !strings.Contains(string(data), `"code": "unavailable"`) {
			t.Errorf("%s %s: body %s", rt.method, rt.path, data)
		}
	}
}

func TestStreamingUploadIgnoresBodyLimit(t *testing.T) {
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	id := c.create()
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(rand.Uint32())
	}
	var fi apiv1.FileInfo
	// With a length the server sees up front, and chunked.
	c.want(201, "", &fi, "PUT", "/api/v1/mimei/"+id+"/files/big.bin", big)
	if fi.Size != int64(len(big)) || fi.Path != "big.bin" {
		t.Fatalf("uploaded %+v", fi)
	}
	c.want(201, "", &fi, "PUT", "/api/v1/mimei/"+id+"/files/big2.bin", io.MultiReader(bytes.NewReader(big)))
	_, data := c.do("GET", "/api/v1/mimei/"+id+"/files/big2.bin", nil)
	if !bytes.Equal(data, big) {
		t.Fatalf("downloaded %d bytes, not the %d uploaded", len(data), len(big))
	}

	// A tar import larger than the limit streams too.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d/x", Typeflag: tar.TypeReg, Size: 5000, Mode: 0o644})
	tw.Write(big[:5000])
	tw.Close()
	var res apiv1.ImportResult
	c.want(200, "", &res, "POST", "/api/v1/mimei/"+id+"/import?dir=in", tb.Bytes(), "Content-Type", "application/x-tar")
	if res.Files != 1 || res.Dirs != 1 || res.Bytes != 5000 {
		t.Fatalf("import: %+v", res)
	}
	c.want(200, "", &fi, "GET", "/api/v1/mimei/"+id+"/stat/in/d/x", nil)
	c.want(415, apiv1.CodeUnsupportedMT, nil, "POST", "/api/v1/mimei/"+id+"/import", tb.Bytes(), "Content-Type", "application/zip")

	// JSON routes keep the limit, announced or not.
	long := apiv1.DBCommand{Args: []string{"SET", "k", strings.Repeat("v", 2000)}}
	c.want(413, apiv1.CodeTooLarge, nil, "POST", "/api/v1/mimei/"+id+"/db", long)
	j, _ := json.Marshal(long)
	c.want(413, apiv1.CodeTooLarge, nil, "POST", "/api/v1/mimei/"+id+"/db", io.MultiReader(bytes.NewReader(j)), "Content-Type", "application/json")
}

func TestUploadOptionsAndEvent(t *testing.T) {
	store := httpapitest.NewStore()
	bus := events.New(0)
	t.Cleanup(bus.Close)
	c := serve(t, store, bus)
	id := c.create()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs := bus.Subscribe(ctx, 0, func(typ string) bool { return typ == "file.put" })

	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var fi apiv1.FileInfo
	c.want(404, apiv1.CodeNotFound, nil, "PUT", "/api/v1/mimei/"+id+"/files/a/b/c.txt", "x")
	c.want(201, "", &fi, "PUT", "/api/v1/mimei/"+id+"/files/a/b/c.txt?parents=1", "hello",
		"Content-Type", "text/plain; charset=utf-8", "X-Peer-Mtime", fmt.Sprint(mtime.UnixMilli()))
	got := store.LastPut()
	if got.MIME != "text/plain; charset=utf-8" || got.ModTime != mtime.UnixMilli() || !got.Parents {
		t.Fatalf("backend got %+v", got)
	}
	if !fi.ModTime.Equal(mtime) || fi.Size != 5 {
		t.Fatalf("file info %+v", fi)
	}
	c.want(400, apiv1.CodeBadRequest, nil, "PUT", "/api/v1/mimei/"+id+"/files/x", "x", "X-Peer-Mtime", "yesterday")
	c.want(400, apiv1.CodeBadRequest, nil, "PUT", "/api/v1/mimei/"+id+"/files/x?parents=maybe", "x")

	select {
	case ev := <-evs:
		var d struct {
			MiMei string `json:"mimei"`
			Path  string `json:"path"`
			Size  int64  `json:"size"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.MiMei != id || d.Path != "a/b/c.txt" || d.Size != 5 {
			t.Fatalf("file.put event %s (%v)", ev.Data, err)
		}
	case <-ctx.Done():
		t.Fatal("no file.put event")
	}
}

func TestDownload(t *testing.T) {
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	id := c.create()
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	var fi apiv1.FileInfo
	c.want(201, "", &fi, "PUT", "/api/v1/mimei/"+id+"/files/dir%20one/n%C3%A4me%23%3F%25.html?parents=1", content,
		"Content-Type", "text/html", "X-Peer-Mtime", "1700000000000")
	if fi.Path != "dir one/näme#?%.html" {
		t.Fatalf("path with escapes stored as %q", fi.Path)
	}
	u := "/api/v1/mimei/" + id + "/files/dir%20one/n%C3%A4me%23%3F%25.html"

	resp, data := c.do("GET", u, nil)
	h := resp.Header
	switch {
	case resp.StatusCode != 200 || !bytes.Equal(data, content):
		t.Fatalf("GET: %d %q", resp.StatusCode, data)
	case h.Get("Content-Type") != "text/html":
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	case h.Get("X-Content-Type-Options") != "nosniff":
		t.Error("no nosniff")
	case !strings.HasPrefix(h.Get("Content-Disposition"), "attachment"):
		t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
	case h.Get("ETag") != `"`+fi.Root+`"` || fi.Root == "":
		t.Errorf("ETag %q, root %q", h.Get("ETag"), fi.Root)
	case h.Get("Last-Modified") != time.UnixMilli(1700000000000).UTC().Format(http.TimeFormat):
		t.Errorf("Last-Modified %q", h.Get("Last-Modified"))
	case h.Get("Accept-Ranges") != "bytes":
		t.Errorf("Accept-Ranges %q", h.Get("Accept-Ranges"))
	}

	resp, data = c.do("GET", u, nil, "Range", "bytes=10-19")
	if resp.StatusCode != 206 || string(data) != "abcdefghij" || resp.Header.Get("Content-Range") != "bytes 10-19/36" {
		t.Fatalf("range: %d %q %q", resp.StatusCode, data, resp.Header.Get("Content-Range"))
	}
	resp, data = c.do("GET", u, nil, "Range", "bytes=30-")
	if resp.StatusCode != 206 || string(data) != "uvwxyz" {
		t.Fatalf("open range: %d %q", resp.StatusCode, data)
	}
	c.want(416, apiv1.CodeBadRequest, nil, "GET", u, nil, "Range", "bytes=100-200")

	resp, data = c.do("HEAD", u, nil)
	if resp.StatusCode != 200 || len(data) != 0 || resp.ContentLength != int64(len(content)) {
		t.Fatalf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(data), resp.ContentLength)
	}
	resp, _ = c.do("GET", u, nil, "If-None-Match", `"`+fi.Root+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}

	c.want(400, apiv1.CodeIsDir, nil, "GET", "/api/v1/mimei/"+id+"/files/dir%20one", nil)
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/mimei/"+id+"/files/nope", nil)
	c.want(404, apiv1.CodeNotFound, nil, "GET", "/api/v1/mimei/nope/files/x", nil)
	c.want(404, apiv1.CodeNoVersion, nil, "GET", u+"?version=last", nil)
}

func TestBadPathsAndVersions(t *testing.T) {
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	id := c.create()
	base := "/api/v1/mimei/" + id
	c.want(201, "", nil, "PUT", base+"/files/ok", "x")
	long := strings.Repeat("a/", 2100) + "a"
	for _, p := range []string{"%2E%2E", "a/%2E%2E/b", "a/%2E", "a%2F%2Fb", "a%2F", "a%00b", long} {
		c.want(400, apiv1.CodeBadRequest, nil, "PUT", base+"/files/"+p, "data")
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/files/"+p, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/stat/"+p, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "DELETE", base+"/files/"+p, nil)
	}
	if store.Puts() != 1 {
		t.Fatal("a bad path reached the backend")
	}
	c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/mkdir", apiv1.Mkdir{Path: "a/../b"})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/mv", apiv1.Move{From: "ok", To: "/abs"})
	c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/import?dir=..", "", "Content-Type", "application/x-tar")
	c.want(400, apiv1.CodeBadRequest, nil, "PUT", base+"/files/", "x") // the root is no file

	for _, v := range []string{"abc", "-1", "1.5", "CUR", "%201", "18446744073709551616"} {
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/files/ok?version="+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/ls?version="+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/diff?from="+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/diff?from=1&to="+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "DELETE", base+"/versions/"+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "DELETE", base+"/pins/"+v, nil)
		c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/release", apiv1.VersionRef{Version: v})
		c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/db", apiv1.DBCommand{Args: []string{"GET", "k"}, Version: v})
	}
	c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/diff", nil) // from is required
	c.want(400, apiv1.CodeBadRequest, nil, "DELETE", base+"?force=perhaps", nil)
	c.want(400, apiv1.CodeBadRequest, nil, "POST", base+"/db", apiv1.DBCommand{})
	for _, v := range []string{"cur", "last", "release", "", "0"} {
		resp, _ := c.do("GET", base+"/ls?version="+v, nil)
		if resp.StatusCode == 400 {
			t.Errorf("version %q refused", v)
		}
	}
}

func TestStoreRoutes(t *testing.T) {
	store := httpapitest.NewStore()
	bus := events.New(0)
	t.Cleanup(bus.Close)
	c := serve(t, store, bus)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	backups := bus.Subscribe(ctx, 0, func(typ string) bool { return typ == "mimei.backup" })

	var m apiv1.MiMei
	c.want(201, "", &m, "POST", "/api/v1/mimei", apiv1.CreateMiMei{AppType: "notes", Ext: "md", Keep: 3})
	if m.AppType != "notes" || m.Keep != 3 || m.ID == "" {
		t.Fatalf("created %+v", m)
	}
	c.want(400, apiv1.CodeBadRequest, nil, "POST", "/api/v1/mimei", `{"app_type":"x","bogus":1}`, "Content-Type", "application/json")
	base := "/api/v1/mimei/" + m.ID
	var list apiv1.MiMeiList
	c.want(200, "", &list, "GET", "/api/v1/mimei", nil)
	if len(list.MiMei) != 1 || list.MiMei[0].ID != m.ID {
		t.Fatalf("list %+v", list)
	}
	keep := 0
	c.want(200, "", &m, "PATCH", base, apiv1.UpdateMiMei{Keep: &keep, Rights: &apiv1.Rights{Public: true}})
	if m.Keep != 0 || !m.Rights.Public {
		t.Fatalf("patched %+v", m)
	}

	var fi apiv1.FileInfo
	c.want(201, "", &fi, "POST", base+"/mkdir", apiv1.Mkdir{Path: "docs"})
	c.want(409, apiv1.CodeExists, nil, "POST", base+"/mkdir", apiv1.Mkdir{Path: "docs"})
	c.want(201, "", nil, "PUT", base+"/files/docs/a.md", "# a")
	c.want(200, "", &fi, "POST", base+"/mv", apiv1.Move{From: "docs/a.md", To: "docs/b.md"})
	if fi.Path != "docs/b.md" {
		t.Fatalf("moved to %+v", fi)
	}
	var fl apiv1.FileList
	c.want(200, "", &fl, "GET", base+"/ls", nil)
	if fl.Version != "cur" || fl.Path != "" || len(fl.Entries) != 1 || !fl.Entries[0].Dir {
		t.Fatalf("ls root %+v", fl)
	}
	c.want(200, "", &fl, "GET", base+"/ls/docs", nil)
	if len(fl.Entries) != 1 || fl.Entries[0].Name != "b.md" {
		t.Fatalf("ls docs %+v", fl)
	}
	c.want(400, apiv1.CodeNotDir, nil, "GET", base+"/ls/docs/b.md", nil)
	c.want(200, "", &fi, "GET", base+"/stat/docs/b.md", nil)

	var rep apiv1.DBReply
	c.want(200, "", &rep, "POST", base+"/db", apiv1.DBCommand{Args: []string{"RPUSH", "l", "a", "b"}})
	if rep.Kind != "int" || rep.Int != 2 {
		t.Fatalf("RPUSH %+v", rep)
	}
	c.want(400, apiv1.CodeWrongType, nil, "POST", base+"/db", apiv1.DBCommand{Args: []string{"GET", "l"}})

	var v apiv1.Version
	c.want(201, "", &v, "POST", base+"/backup", apiv1.Backup{Memo: "first"})
	if v.Number != 1 || v.Memo != "first" || !v.Last {
		t.Fatalf("backup %+v", v)
	}
	c.want(200, "", &fl, "GET", base+"/ls/docs?version=1", nil)
	if fl.Version != "1" {
		t.Fatalf("ls version %+v", fl)
	}
	c.want(204, "", nil, "DELETE", base+"/files/docs?recursive=1", nil)
	var d apiv1.Diff
	c.want(200, "", &d, "GET", base+"/diff?from=1", nil)
	if d.To != "cur" || len(d.Files) != 2 || d.Files[0].Op != "removed" || d.FileCount != 2 || d.FilesTruncated {
		t.Fatalf("diff %+v", d)
	}
	c.want(200, "", &d, "GET", base+"/diff?from=1&limit=1", nil)
	if len(d.Files) != 1 || d.FileCount != 2 || !d.FilesTruncated || d.KeysTruncated {
		t.Fatalf("diff ?limit=1: %+v", d)
	}
	for _, bad := range []string{"abc", "-1", "100001"} {
		c.want(400, apiv1.CodeBadRequest, nil, "GET", base+"/diff?from=1&limit="+bad, nil)
	}
	c.want(200, "", &v, "POST", base+"/release", apiv1.VersionRef{Version: "1"})
	if !v.Release {
		t.Fatalf("release %+v", v)
	}
	c.want(200, "", &v, "POST", base+"/restore", apiv1.VersionRef{Version: "last"})
	c.want(200, "", &fi, "GET", base+"/stat/docs/b.md", nil)
	var vl apiv1.VersionList
	c.want(200, "", &vl, "GET", base+"/versions", nil)
	if len(vl.Versions) != 1 {
		t.Fatalf("versions %+v", vl)
	}

	var fork apiv1.MiMei
	c.want(201, "", &fork, "POST", base+"/fork", apiv1.Fork{})
	if fork.Origin == nil || fork.Origin.MiMei != m.ID || fork.Origin.Version != 1 {
		t.Fatalf("fork %+v", fork)
	}
	var rc apiv1.RefCount
	c.want(200, "", &rc, "POST", "/api/v1/mimei/"+fork.ID+"/refs", apiv1.Ref{To: m.ID})
	if rc.Count != 1 {
		t.Fatalf("ref %+v", rc)
	}
	var refs apiv1.Refs
	c.want(200, "", &refs, "GET", base+"/refs", nil)
	if len(refs.In) != 1 || refs.In[0].From != fork.ID || refs.Out == nil {
		t.Fatalf("refs %+v", refs)
	}
	c.want(409, apiv1.CodeReferenced, nil, "DELETE", base, nil)
	c.want(200, "", &rc, "DELETE", "/api/v1/mimei/"+fork.ID+"/refs", apiv1.Ref{To: m.ID})
	if rc.Count != 0 {
		t.Fatalf("dropped ref %+v", rc)
	}

	c.want(200, "", &v, "POST", base+"/pins", apiv1.Pin{Version: "1"})
	if !v.Pinned {
		t.Fatalf("pin %+v", v)
	}
	c.want(409, apiv1.CodeProtected, nil, "DELETE", base+"/versions/1", nil)
	c.want(200, "", &v, "DELETE", base+"/pins/1", nil)
	c.want(204, "", nil, "DELETE", base+"/versions/1?force=1", nil)

	var st apiv1.StoreStats
	c.want(200, "", &st, "GET", "/api/v1/store/stats", nil)
	if st.MiMei != 2 {
		t.Fatalf("stats %+v", st)
	}
	var vr apiv1.VerifyReport
	c.want(200, "", &vr, "POST", "/api/v1/store/verify", nil)
	if !vr.OK || vr.Problems == nil {
		t.Fatalf("verify %+v", vr)
	}
	c.want(200, "", nil, "POST", "/api/v1/store/gc", nil)
	c.want(204, "", nil, "DELETE", base, nil)
	c.want(404, apiv1.CodeNotFound, nil, "GET", base, nil)

	// The backup was announced.
	select {
	case ev := <-backups:
		if !strings.Contains(string(ev.Data), `"memo":"first"`) {
			t.Fatalf("mimei.backup event %s", ev.Data)
		}
	case <-ctx.Done():
		t.Fatal("no mimei.backup event")
	}
}

func TestStoreErrorfStatus(t *testing.T) {
	for code, status := range map[string]int{
		apiv1.CodeIsDir: 400, apiv1.CodeExists: 409, apiv1.CodeNoVersion: 404, "made_up": 500,
	} {
		if e := httpapi.StoreErrorf(code, "x"); e.Status != status || e.Code != code {
			t.Errorf("StoreErrorf(%q) = %d %q, want %d", code, e.Status, e.Code, status)
		}
	}
}

// syncBuffer is a log destination the server and the test share.
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

// TestDownloadReadFails: a file whose read fails part way (a block failing
// its hash check) is reported, not cut short silently: in the trailer of a
// whole-file download, as a JSON error for a range starting past the fault.
func TestDownloadReadFails(t *testing.T) {
	store := httpapitest.NewStore()
	var logs syncBuffer
	ts := httpapitest.Serve(t, httpapi.Options{Store: store, MaxBodyBytes: 1024,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := client{t, ts.URL}
	id := c.create()
	const size, bad = 300 << 10, 200 << 10
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i * 7)
	}
	c.want(201, "", nil, "PUT", "/api/v1/mimei/"+id+"/files/f.bin", content)
	c.want(201, "", nil, "PUT", "/api/v1/mimei/"+id+"/files/good.bin", content)
	const cid = "bafkr4ibadblock"
	store.FailReads("f.bin", bad, httpapi.StoreErrorf(apiv1.CodeIntegrity, "integrity error: block %s: content does not match its hash", cid))
	u := "/api/v1/mimei/" + id + "/files/f.bin"

	get := func(path string, hdr ...string) (*http.Response, []byte, error) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+httpapitest.Token)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		return resp, data, err
	}

	// The whole file: 200, chunked, the error in the trailer.
	resp, data, err := get(u)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != -1 {
		t.Fatalf("GET: %d, length %d, %v", resp.StatusCode, resp.ContentLength, err)
	}
	if resp.Header.Get("X-Peer-Size") != fmt.Sprint(size) || !bytes.Equal(data, content[:bad]) {
		t.Fatalf("GET: X-Peer-Size %q, %d bytes", resp.Header.Get("X-Peer-Size"), len(data))
	}
	var e apiv1.Error
	if err := json.Unmarshal([]byte(resp.Trailer.Get("X-Peer-Error")), &e); err != nil ||
		e.Code != apiv1.CodeIntegrity || !strings.Contains(e.Message, cid) {
		t.Fatalf("trailer X-Peer-Error %q: %v", resp.Trailer.Get("X-Peer-Error"), err)
	}
	if l := logs.String(); !strings.Contains(l, cid) || !strings.Contains(l, id) || !strings.Contains(l, "f.bin") ||
		strings.Contains(l, httpapitest.Token) {
		t.Errorf("log %q", l)
	}

	// A range starting at or past the fault: a JSON error before any byte.
	for _, r := range []string{fmt.Sprintf("bytes=%d-", bad), fmt.Sprintf("bytes=%d-%d", bad+10, bad+20), "bytes=-10"} {
		resp, data, _ := get(u, "Range", r)
		if resp.StatusCode != 500 || json.Unmarshal(data, &e) != nil || e.Code != apiv1.CodeIntegrity ||
			!strings.Contains(e.Message, cid) || resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("Range %s: %d %s", r, resp.StatusCode, data)
		}
	}
	// A range ending before it, HEAD and the healthy file still work.
	resp, data, err = get(u, "Range", "bytes=1000-150000")
	if err != nil || resp.StatusCode != 206 || !bytes.Equal(data, content[1000:150001]) {
		t.Fatalf("range before the fault: %d, %d bytes, %v", resp.StatusCode, len(data), err)
	}
	resp, _ = c.do("HEAD", u, nil)
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	g := "/api/v1/mimei/" + id + "/files/good.bin"
	resp, data, err = get(g)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(data, content) || resp.Trailer.Get("X-Peer-Error") != "" {
		t.Fatalf("good file: %d, %d bytes, trailer %q, %v", resp.StatusCode, len(data), resp.Trailer.Get("X-Peer-Error"), err)
	}
	resp, data, err = get(g, "Range", "bytes=10-", "If-Range", resp.Header.Get("ETag"))
	if err != nil || resp.StatusCode != 206 || !bytes.Equal(data, content[10:]) {
		t.Fatalf("good file, range from 10: %d, %d bytes, %v", resp.StatusCode, len(data), err)
	}
	resp, data, err = get(g, "Range", "bytes=10-", "If-Range", `"other"`)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(data, content) {
		t.Fatalf("good file, If-Range not matching: %d, %d bytes, %v", resp.StatusCode, len(data), err)
	}
	etag := resp.Header.Get("ETag")
	c.want(412, apiv1.CodeConflict, nil, "GET", g, nil, "If-Match", `"other"`)
	if resp, _ := c.do("GET", g, nil, "If-None-Match", `"x", W/`+etag); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match weak: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", g, nil, "If-Modified-Since", time.Now().UTC().Format(http.TimeFormat)); resp.StatusCode != 304 {
		t.Fatalf("If-Modified-Since: %d", resp.StatusCode)
	}
	if resp, data := c.do("GET", g, nil, "If-Match", etag); resp.StatusCode != 200 || !bytes.Equal(data, content) {
		t.Fatalf("If-Match: %d", resp.StatusCode)
	}
}

// A MiMei received from someone else has no working copy here: ls, stat,
// downloads and database reads of cur show its newest version, and say
// so; a database write goes to cur, which is then its own.
func TestReceivedReadsShowNewest(t *testing.T) {
	store := httpapitest.NewStore()
	c := serve(t, store, nil)
	mid := c.create()
	base := "/api/v1/mimei/" + mid
	c.want(201, "", nil, "PUT", base+"/files/a.txt", "a")
	c.want(200, "", nil, "POST", base+"/db", apiv1.DBCommand{Args: []string{"SET", "k", "v1"}})
	c.want(201, "", nil, "POST", base+"/backup", apiv1.Backup{})
	c.want(201, "", nil, "PUT", base+"/files/b.txt", "b")
	c.want(200, "", nil, "POST", base+"/db", apiv1.DBCommand{Args: []string{"SET", "k", "v2"}})
	c.want(201, "", nil, "POST", base+"/backup", apiv1.Backup{})
	if err := store.MarkReceived(mid); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		query    string
		version  string
		received bool
		entries  int
	}{
		{"", "2", true, 2},
		{"?version=cur", "2", true, 2},
		{"?version=1", "1", false, 1},
		{"?version=last", "last", false, 2},
	}
	for _, tc := range cases {
		var fl apiv1.FileList
		c.want(200, "", &fl, "GET", base+"/ls"+tc.query, nil)
		if fl.Version != tc.version || fl.Received != tc.received || len(fl.Entries) != tc.entries {
			t.Errorf("ls%s: version %q received %v, %d entries; want %q %v %d", tc.query, fl.Version, fl.Received, len(fl.Entries), tc.version, tc.received, tc.entries)
		}
	}
	c.want(200, "", nil, "GET", base+"/stat/b.txt", nil)
	if resp, body := c.do("GET", base+"/files/b.txt", nil); resp.StatusCode != 200 || string(body) != "b" {
		t.Fatalf("download of cur: %d %q", resp.StatusCode, body)
	}
	var m apiv1.MiMei
	c.want(200, "", &m, "GET", base, nil)
	if m.Shows == nil || *m.Shows != 2 {
		t.Fatalf("MiMei shows %v, want version 2", m.Shows)
	}
	var rep apiv1.DBReply
	c.want(200, "", &rep, "POST", base+"/db", apiv1.DBCommand{Args: []string{"GET", "k"}})
	if rep.Bulk == nil || *rep.Bulk != "v2" || rep.Version != "2" || !rep.Received {
		t.Fatalf("GET k on cur: %+v", rep)
	}
	// A write goes to cur; cur is then its own and reads show it.
	var set, get apiv1.DBReply
	c.want(200, "", &set, "POST", base+"/db", apiv1.DBCommand{Args: []string{"SET", "k", "mine"}})
	if set.Received || set.Version != "" {
		t.Fatalf("a write reported as on a version: %+v", set)
	}
	c.want(200, "", &get, "POST", base+"/db", apiv1.DBCommand{Args: []string{"GET", "k"}})
	if get.Bulk == nil || *get.Bulk != "mine" || get.Received {
		t.Fatalf("GET k after writing cur: %+v", get)
	}
}
