package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
)

// This file holds the client of the MiMei store: /api/v1/mimei and
// /api/v1/store. Paths inside a MiMei are slash-separated without a leading
// slash; "" is the root directory. Version arguments are apiv1.RefCur,
// RefLast, RefRelease, a decimal version number, or "" for cur.
//
// Transfers (PutFile, OpenFile, Import) and operations that may run long on
// a large store (backup, restore, fork, diff, removals, verify, gc) have no
// overall timeout: only their context ends them.

// PutOptions say what an upload tells the node besides the file's bytes.
type PutOptions struct {
	MIME    string    // media type; empty lets the node guess from the name
	ModTime time.Time // modification time; zero = now
	Parents bool      // create missing parent directories
}

// Download is an open file download. Close its Body. Body reads fail at the
// end if the download was cut short: with the *Error the node sent (say, a
// block that failed its hash check, code integrity), or io.ErrUnexpectedEOF.
type Download struct {
	Body    io.ReadCloser
	Offset  int64 // where Body starts in the file
	Length  int64 // bytes Body holds; -1 if the node did not say
	Size    int64 // bytes of the whole file; -1 if the node did not say
	MIME    string
	ModTime time.Time // zero if the node did not say
	Root    string    // CID of the file's Merkle root, from the ETag
}

// long returns an HTTP client without an overall timeout, for transfers
// and slow operations; the caller's context bounds them.
func (c *Client) long() *http.Client {
	hc := *c.hc
	hc.Timeout = 0
	return &hc
}

// CheckPath reports why p cannot name a file in a MiMei: empty, "." or
// ".." segments, a NUL byte. "" (the root) passes when root is set.
func CheckPath(p string, root bool) error {
	if p == "" {
		if root {
			return nil
		}
		return errors.New("a path is needed, not the root directory")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return fmt.Errorf("path %q has an empty segment (a leading, trailing or double slash)", p)
		case ".", "..":
			return fmt.Errorf("path %q has a %q segment", p, seg)
		}
	}
	return nil
}

// escapePath escapes each segment of p for a URL path, so names may hold
// spaces, '#', '?', '%' and any other character.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func mimeiPath(mid string) string { return "/api/v1/mimei/" + url.PathEscape(mid) }

// withQuery appends the non-empty values of kv (name, value pairs).
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// CreateMiMei creates a MiMei.
func (c *Client) CreateMiMei(ctx context.Context, req apiv1.CreateMiMei) (apiv1.MiMei, error) {
	var m apiv1.MiMei
	return m, c.do(ctx, http.MethodPost, "/api/v1/mimei", req, &m)
}

// ListMiMei lists the MiMei this node holds.
func (c *Client) ListMiMei(ctx context.Context) ([]apiv1.MiMei, error) {
	var l apiv1.MiMeiList
	err := c.do(ctx, http.MethodGet, "/api/v1/mimei", nil, &l)
	return l.MiMei, err
}

// GetMiMei describes one MiMei.
func (c *Client) GetMiMei(ctx context.Context, mid string) (apiv1.MiMei, error) {
	var m apiv1.MiMei
	return m, c.do(ctx, http.MethodGet, mimeiPath(mid), nil, &m)
}

// UpdateMiMei changes a MiMei's rights or retention.
func (c *Client) UpdateMiMei(ctx context.Context, mid string, req apiv1.UpdateMiMei) (apiv1.MiMei, error) {
	var m apiv1.MiMei
	return m, c.do(ctx, http.MethodPatch, mimeiPath(mid), req, &m)
}

// DeleteMiMei deletes a MiMei; force deletes it even if it is referenced or
// pinned.
func (c *Client) DeleteMiMei(ctx context.Context, mid string, force bool) error {
	return c.send(ctx, c.long(), http.MethodDelete, withQuery(mimeiPath(mid), "force", flag(force)), nil, nil)
}

// PutFile uploads r as the file at p, streaming it: r is never held whole.
// size is r's length, or -1 if unknown (the body is then sent chunked). r is
// not closed.
func (c *Client) PutFile(ctx context.Context, mid, p string, r io.Reader, size int64, opts PutOptions) (apiv1.FileInfo, error) {
	var fi apiv1.FileInfo
	if err := CheckPath(p, false); err != nil {
		return fi, err
	}
	path := withQuery(mimeiPath(mid)+"/files/"+escapePath(p), "parents", flag(opts.Parents))
	req, err := c.newRequest(ctx, http.MethodPut, path, io.NopCloser(r))
	if err != nil {
		return fi, err
	}
	switch {
	case size == 0:
		req.Body, req.ContentLength = http.NoBody, 0
	case size > 0:
		req.ContentLength = size
	default:
		req.ContentLength = -1
	}
	if opts.MIME != "" {
		req.Header.Set("Content-Type", opts.MIME)
	}
	if !opts.ModTime.IsZero() {
		req.Header.Set("X-Peer-Mtime", strconv.FormatInt(opts.ModTime.UnixMilli(), 10))
	}
	return fi, c.exchange(c.long(), req, &fi)
}

// OpenFile starts downloading the file at p of a version. With off 0 and
// length -1 it is the whole file; otherwise the length bytes from off
// (length -1: to the end). The caller closes the Download's Body.
func (c *Client) OpenFile(ctx context.Context, mid, version, p string, off, length int64) (*Download, error) {
	if err := CheckPath(p, false); err != nil {
		return nil, err
	}
	if off < 0 || length == 0 || length < -1 {
		return nil, fmt.Errorf("bad range: offset %d, length %d", off, length)
	}
	ranged := off > 0 || length > 0
	req, err := c.newRequest(ctx, http.MethodGet, withQuery(mimeiPath(mid)+"/files/"+escapePath(p), "version", version), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "*/*")
	if ranged {
		end := ""
		if length > 0 {
			end = strconv.FormatInt(off+length-1, 10)
		}
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+end)
	}
	resp, err := c.long().Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	d := &Download{Body: resp.Body, Length: resp.ContentLength, Size: resp.ContentLength, MIME: resp.Header.Get("Content-Type")}
	switch {
	case resp.StatusCode == http.StatusOK && !ranged:
		// A whole file comes chunked, its size in X-Peer-Size.
		if n, err := strconv.ParseInt(resp.Header.Get("X-Peer-Size"), 10, 64); err == nil && n >= 0 && d.Length < 0 {
			d.Length, d.Size = n, n
		}
	case resp.StatusCode == http.StatusPartialContent && ranged:
		var first, last int64
		var total string
		cr := resp.Header.Get("Content-Range")
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%s", &first, &last, &total); err != nil || first != off {
			resp.Body.Close()
			return nil, fmt.Errorf("the node answered range %q to a request from byte %d", cr, off)
		}
		d.Offset, d.Length, d.Size = first, last-first+1, -1
		if n, err := strconv.ParseInt(total, 10, 64); err == nil {
			d.Size = n
		}
	default:
		defer resp.Body.Close()
		return nil, errorFrom(resp)
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		d.ModTime = t
	}
	if et := resp.Header.Get("ETag"); len(et) >= 2 && strings.HasPrefix(et, `"`) && strings.HasSuffix(et, `"`) {
		d.Root = et[1 : len(et)-1]
	}
	d.Body = &downloadBody{rc: resp.Body, resp: resp, path: p, want: d.Length}
	return d, nil
}

// downloadBody is the body of a download. At its end it reports what cut
// the download short: the error the node sent in the X-Peer-Error trailer
// (a block that failed its hash check, say), or a body that ended before
// the length the node announced.
type downloadBody struct {
	rc   io.ReadCloser
	resp *http.Response
	path string
	want int64 // bytes announced; -1 if unknown
	n    int64
	err  error // sticky
}

func (b *downloadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	switch {
	case err == nil:
	case err == io.EOF:
		// Trailers are known only once the body has been read to its end.
		if te := b.resp.Trailer.Get("X-Peer-Error"); te != "" {
			err = trailerError(te)
		} else if b.want >= 0 && b.n != b.want {
			err = fmt.Errorf("download of %q ended after %d of %d bytes: %w", b.path, b.n, b.want, io.ErrUnexpectedEOF)
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		if b.want >= 0 {
			err = fmt.Errorf("download of %q broke off after %d of %d bytes: %w", b.path, b.n, b.want, err)
		} else {
			err = fmt.Errorf("download of %q broke off after %d bytes: %w", b.path, b.n, err)
		}
	}
	b.err = err
	return n, err
}

func (b *downloadBody) Close() error { return b.rc.Close() }

// trailerError decodes the X-Peer-Error trailer.
func trailerError(v string) error {
	var e apiv1.Error
	if json.Unmarshal([]byte(v), &e) != nil || e.Code == "" {
		e = apiv1.Error{Code: apiv1.CodeInternal, Message: v}
	}
	return &Error{Status: http.StatusInternalServerError, Code: e.Code, Message: e.Message}
}

// errorFrom reads an error answer.
func errorFrom(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	var e apiv1.Error
	if json.Unmarshal(data, &e) != nil || e.Code == "" {
		e = apiv1.Error{Code: "http_" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(data))}
	}
	return &Error{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
}

// GetFile downloads the file at p of a version into w and returns the
// bytes written.
func (c *Client) GetFile(ctx context.Context, mid, version, p string, w io.Writer) (int64, error) {
	return c.GetFileRange(ctx, mid, version, p, 0, -1, w)
}

// GetFileRange downloads length bytes from off (length -1: to the end) of
// the file at p into w and returns the bytes written.
func (c *Client) GetFileRange(ctx context.Context, mid, version, p string, off, length int64, w io.Writer) (int64, error) {
	d, err := c.OpenFile(ctx, mid, version, p, off, length)
	if err != nil {
		return 0, err
	}
	defer d.Body.Close()
	return io.Copy(w, d.Body) // d.Body reports a download cut short
}

// Stat describes the file or directory at p of a version.
func (c *Client) Stat(ctx context.Context, mid, version, p string) (apiv1.FileInfo, error) {
	var fi apiv1.FileInfo
	if err := CheckPath(p, true); err != nil {
		return fi, err
	}
	return fi, c.do(ctx, http.MethodGet, withQuery(mimeiPath(mid)+"/stat/"+escapePath(p), "version", version), nil, &fi)
}

// List lists the directory at p ("" for the root) of a version, whole: it
// follows the node's pages (ListPages) and holds every entry.
func (c *Client) List(ctx context.Context, mid, version, p string) (apiv1.FileList, error) {
	var all apiv1.FileList
	first := true
	err := c.ListPages(ctx, mid, version, p, 0, func(fl apiv1.FileList) error {
		if first {
			all, first = fl, false // what the first page says of the listing
		} else {
			all.Entries = append(all.Entries, fl.Entries...)
		}
		all.Next = ""
		return nil
	})
	if all.Entries == nil {
		all.Entries = []apiv1.FileInfo{}
	}
	return all, err
}

// ListPage lists one page of directory p: at most limit entries (0: the
// node's default, apiv1.ListLimit) whose names sort after after. The
// answer's Next is set when more follow: pass it as after for the next page.
func (c *Client) ListPage(ctx context.Context, mid, version, p, after string, limit int) (apiv1.FileList, error) {
	var fl apiv1.FileList
	if err := CheckPath(p, true); err != nil {
		return fl, err
	}
	path := mimeiPath(mid) + "/ls"
	if p != "" {
		path += "/" + escapePath(p)
	}
	n := ""
	if limit > 0 {
		n = strconv.Itoa(limit)
	}
	return fl, c.do(ctx, http.MethodGet, withQuery(path, "version", version, "after", after, "limit", n), nil, &fl)
}

// ListPages lists directory p page by page, calling fn with each page in
// turn (limit as for ListPage), so a caller can show a huge directory
// without holding it whole. The pages after the first read the version the
// first one showed, so a received MiMei's listing does not change version
// midway. An error from fn stops the listing and is returned.
func (c *Client) ListPages(ctx context.Context, mid, version, p string, limit int, fn func(apiv1.FileList) error) error {
	after := ""
	for {
		fl, err := c.ListPage(ctx, mid, version, p, after, limit)
		if err != nil {
			return err
		}
		if err := fn(fl); err != nil {
			return err
		}
		if fl.Next == "" {
			return nil
		}
		if fl.Next <= after {
			return fmt.Errorf("listing %s: the node gave page after %q again (next %q)", p, after, fl.Next)
		}
		after = fl.Next
		if fl.Received {
			version = fl.Version
		}
	}
}

// Mkdir makes a directory; with parents, also its missing parents, and an
// existing directory is no error.
func (c *Client) Mkdir(ctx context.Context, mid, p string, parents bool) (apiv1.FileInfo, error) {
	var fi apiv1.FileInfo
	return fi, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/mkdir", apiv1.Mkdir{Path: p, Parents: parents}, &fi)
}

// Move renames a file or directory.
func (c *Client) Move(ctx context.Context, mid, from, to string) (apiv1.FileInfo, error) {
	var fi apiv1.FileInfo
	return fi, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/mv", apiv1.Move{From: from, To: to}, &fi)
}

// Remove deletes a file or an empty directory; with recursive, a directory
// and all beneath it.
func (c *Client) Remove(ctx context.Context, mid, p string, recursive bool) error {
	if err := CheckPath(p, false); err != nil {
		return err
	}
	path := withQuery(mimeiPath(mid)+"/files/"+escapePath(p), "recursive", flag(recursive))
	return c.send(ctx, c.long(), http.MethodDelete, path, nil, nil)
}

// Import unpacks a tar stream (regular files and directories) under dir,
// streaming it. tar is not closed.
func (c *Client) Import(ctx context.Context, mid, dir string, tar io.Reader) (apiv1.ImportResult, error) {
	var res apiv1.ImportResult
	if err := CheckPath(dir, true); err != nil {
		return res, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, withQuery(mimeiPath(mid)+"/import", "dir", dir), io.NopCloser(tar))
	if err != nil {
		return res, err
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-tar")
	return res, c.exchange(c.long(), req, &res)
}

// DB runs a database command.
func (c *Client) DB(ctx context.Context, mid string, cmd apiv1.DBCommand) (apiv1.DBReply, error) {
	var r apiv1.DBReply
	return r, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/db", cmd, &r)
}

// Backup freezes cur as a new version.
func (c *Client) Backup(ctx context.Context, mid, memo string) (apiv1.Version, error) {
	var v apiv1.Version
	return v, c.send(ctx, c.long(), http.MethodPost, mimeiPath(mid)+"/backup", apiv1.Backup{Memo: memo}, &v)
}

// Versions lists a MiMei's frozen versions, oldest first.
func (c *Client) Versions(ctx context.Context, mid string) ([]apiv1.Version, error) {
	var l apiv1.VersionList
	err := c.do(ctx, http.MethodGet, mimeiPath(mid)+"/versions", nil, &l)
	return l.Versions, err
}

// Release marks a version as the released one.
func (c *Client) Release(ctx context.Context, mid, version string) (apiv1.Version, error) {
	var v apiv1.Version
	return v, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/release", apiv1.VersionRef{Version: version}, &v)
}

// Restore makes cur a copy of a version.
func (c *Client) Restore(ctx context.Context, mid, version string) (apiv1.Version, error) {
	var v apiv1.Version
	return v, c.send(ctx, c.long(), http.MethodPost, mimeiPath(mid)+"/restore", apiv1.VersionRef{Version: version}, &v)
}

// DeleteVersion deletes a frozen version; force deletes the release or a
// pinned or referenced version too.
func (c *Client) DeleteVersion(ctx context.Context, mid, version string, force bool) error {
	path := withQuery(mimeiPath(mid)+"/versions/"+url.PathEscape(version), "force", flag(force))
	return c.send(ctx, c.long(), http.MethodDelete, path, nil, nil)
}

// Diff compares two versions; to "" means cur. It lists at most limit
// changes of each kind (0: the server's default, apiv1.DiffDefaultLimit)
// and counts them all.
func (c *Client) Diff(ctx context.Context, mid, from, to string, limit int) (apiv1.Diff, error) {
	var d apiv1.Diff
	n := ""
	if limit > 0 {
		n = strconv.Itoa(limit)
	}
	return d, c.send(ctx, c.long(), http.MethodGet, withQuery(mimeiPath(mid)+"/diff", "from", from, "to", to, "limit", n), nil, &d)
}

// Fork makes a new MiMei from a version of this one.
func (c *Client) Fork(ctx context.Context, mid string, req apiv1.Fork) (apiv1.MiMei, error) {
	var m apiv1.MiMei
	return m, c.send(ctx, c.long(), http.MethodPost, mimeiPath(mid)+"/fork", req, &m)
}

// Refs lists a MiMei's outgoing and incoming references.
func (c *Client) Refs(ctx context.Context, mid string) (apiv1.Refs, error) {
	var r apiv1.Refs
	return r, c.do(ctx, http.MethodGet, mimeiPath(mid)+"/refs", nil, &r)
}

// AddRef counts one more reference from mid to ref.
func (c *Client) AddRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	var rc apiv1.RefCount
	return rc, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/refs", ref, &rc)
}

// DropRef counts one reference less from mid to ref.
func (c *Client) DropRef(ctx context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	var rc apiv1.RefCount
	return rc, c.do(ctx, http.MethodDelete, mimeiPath(mid)+"/refs", ref, &rc)
}

// Pin keeps a version whatever the retention says.
func (c *Client) Pin(ctx context.Context, mid, version string) (apiv1.Version, error) {
	var v apiv1.Version
	return v, c.do(ctx, http.MethodPost, mimeiPath(mid)+"/pins", apiv1.Pin{Version: version}, &v)
}

// Unpin drops a pin.
func (c *Client) Unpin(ctx context.Context, mid, version string) (apiv1.Version, error) {
	var v apiv1.Version
	return v, c.do(ctx, http.MethodDelete, mimeiPath(mid)+"/pins/"+url.PathEscape(version), nil, &v)
}

// StoreStats reports the block store's size and contents.
func (c *Client) StoreStats(ctx context.Context) (apiv1.StoreStats, error) {
	var s apiv1.StoreStats
	return s, c.do(ctx, http.MethodGet, "/api/v1/store/stats", nil, &s)
}

// StoreVerify checks every block of the store; it reads them all.
func (c *Client) StoreVerify(ctx context.Context) (apiv1.VerifyReport, error) {
	var r apiv1.VerifyReport
	return r, c.send(ctx, c.long(), http.MethodPost, "/api/v1/store/verify", nil, &r)
}

// StoreGC collects the blocks nothing needs any more.
func (c *Client) StoreGC(ctx context.Context) (apiv1.GCReport, error) {
	var r apiv1.GCReport
	return r, c.send(ctx, c.long(), http.MethodPost, "/api/v1/store/gc", nil, &r)
}
