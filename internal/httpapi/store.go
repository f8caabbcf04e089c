package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/mimeidb"
)

// Patterns of the routes whose request bodies stream: they are exempt from
// Options.MaxBodyBytes (a file or a tar archive may be of any size).
const (
	patPutFile = "PUT /api/v1/mimei/{mid}/files/{path...}"
	patImport  = "POST /api/v1/mimei/{mid}/import"
)

var streamingRoutes = map[string]bool{patPutFile: true, patImport: true}

// MaxPathBytes bounds a file path given to the store's routes.
const MaxPathBytes = 4096

// storeRoutes adds the MiMei store's routes. Each checks what it can of the
// request (paths, version references, flags) before the backend sees it; the
// backend validates the rest.
func (s *Server) storeRoutes() {
	m := s.mux
	const mi = "/api/v1/mimei/{mid}"

	m.Handle("POST /api/v1/mimei", s.storeJSON(http.StatusCreated, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.CreateMiMei
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		return st.CreateMiMei(r.Context(), req)
	}))
	m.Handle("GET /api/v1/mimei", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		l, err := st.ListMiMei(r.Context())
		return apiv1.MiMeiList{MiMei: nonNil(l)}, err
	}))
	m.Handle("GET "+mi, s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		return st.GetMiMei(r.Context(), r.PathValue("mid"))
	}))
	m.Handle("PATCH "+mi, s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.UpdateMiMei
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		return st.UpdateMiMei(r.Context(), r.PathValue("mid"), req)
	}))
	m.Handle("DELETE "+mi, s.storeJSON(http.StatusNoContent, func(r *http.Request, st StoreBackend) (any, error) {
		force, err := boolQuery(r, "force")
		if err != nil {
			return nil, err
		}
		return nil, st.DeleteMiMei(r.Context(), r.PathValue("mid"), force)
	}))

	// The file space.
	m.Handle(patPutFile, s.storeRaw(s.putFile))
	m.Handle("GET "+mi+"/files/{path...}", s.storeRaw(s.getFile))
	m.Handle("DELETE "+mi+"/files/{path...}", s.storeJSON(http.StatusNoContent, func(r *http.Request, st StoreBackend) (any, error) {
		p, err := pathValue(r, false)
		if err != nil {
			return nil, err
		}
		rec, err := boolQuery(r, "recursive")
		if err != nil {
			return nil, err
		}
		return nil, st.Remove(r.Context(), r.PathValue("mid"), p, rec)
	}))
	ls := s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		p, err := pathValue(r, true)
		if err != nil {
			return nil, err
		}
		v, err := versionQuery(r, "version")
		if err != nil {
			return nil, err
		}
		limit, err := listLimitQuery(r)
		if err != nil {
			return nil, err
		}
		v, received, err := st.ReadRef(r.Context(), r.PathValue("mid"), v)
		if err != nil {
			return nil, err
		}
		es, more, err := st.List(r.Context(), r.PathValue("mid"), v, p, r.URL.Query().Get("after"), limit)
		if err != nil {
			return nil, err
		}
		if v == "" {
			v = apiv1.RefCur
		}
		fl := apiv1.FileList{Path: p, Version: v, Entries: nonNil(es), Received: received}
		if more && len(es) > 0 {
			fl.Next = es[len(es)-1].Name
		}
		return fl, nil
	})
	m.Handle("GET "+mi+"/ls", ls)
	m.Handle("GET "+mi+"/ls/{path...}", ls)
	m.Handle("GET "+mi+"/stat/{path...}", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		p, err := pathValue(r, true)
		if err != nil {
			return nil, err
		}
		v, err := versionQuery(r, "version")
		if err != nil {
			return nil, err
		}
		if v, _, err = st.ReadRef(r.Context(), r.PathValue("mid"), v); err != nil {
			return nil, err
		}
		return st.Stat(r.Context(), r.PathValue("mid"), v, p)
	}))
	m.Handle("POST "+mi+"/mkdir", s.storeJSON(http.StatusCreated, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.Mkdir
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if err := checkPath(req.Path, false); err != nil {
			return nil, err
		}
		return st.Mkdir(r.Context(), r.PathValue("mid"), req)
	}))
	m.Handle("POST "+mi+"/mv", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.Move
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if err := errors.Join(checkPath(req.From, false), checkPath(req.To, false)); err != nil {
			return nil, badRequest("%v", err)
		}
		return st.Move(r.Context(), r.PathValue("mid"), req)
	}))
	m.Handle(patImport, s.storeRaw(s.importTar))

	// The database space.
	// A read-scope console session may post commands that only read.
	m.Handle("POST "+mi+"/db", s.authAllowing(true, s.withStore(s.answerJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.DBCommand
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if len(req.Args) == 0 {
			return nil, badRequest("no database command: args is empty")
		}
		if sess := callerSession(r); sess != nil && sess.Scope != apiv1.ScopeAdmin {
			if write, known := mimeidb.IsWrite(req.Args[0]); write || !known {
				return nil, Errorf(http.StatusForbidden, apiv1.CodeForbidden,
					"this session has scope %q: it may only run database commands that read, not %q", sess.Scope, req.Args[0])
			}
		}
		if err := checkVersion(req.Version); err != nil {
			return nil, err
		}
		// A read of cur of a MiMei received from someone else reads its
		// newest version; writes go to cur, which then is its own.
		received := false
		if write, _ := mimeidb.IsWrite(req.Args[0]); !write {
			v, rec, err := st.ReadRef(r.Context(), r.PathValue("mid"), req.Version)
			if err != nil {
				return nil, err
			}
			req.Version, received = v, rec
		}
		reply, err := st.DB(r.Context(), r.PathValue("mid"), req)
		if err == nil && received {
			reply.Version, reply.Received = req.Version, true
		}
		return reply, err
	}))))

	// Versions.
	m.Handle("POST "+mi+"/backup", s.storeJSON(http.StatusCreated, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.Backup
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		v, err := st.Backup(r.Context(), r.PathValue("mid"), req.Memo)
		if err == nil && s.opts.Bus != nil {
			s.opts.Bus.Publish("mimei.backup", v)
		}
		return v, err
	}))
	m.Handle("GET "+mi+"/versions", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		vs, err := st.Versions(r.Context(), r.PathValue("mid"))
		return apiv1.VersionList{Versions: nonNil(vs)}, err
	}))
	m.Handle("POST "+mi+"/release", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		v, err := decodeVersionRef(r)
		if err != nil {
			return nil, err
		}
		return st.Release(r.Context(), r.PathValue("mid"), v)
	}))
	m.Handle("POST "+mi+"/restore", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		v, err := decodeVersionRef(r)
		if err != nil {
			return nil, err
		}
		return st.Restore(r.Context(), r.PathValue("mid"), v)
	}))
	m.Handle("DELETE "+mi+"/versions/{version}", s.storeJSON(http.StatusNoContent, func(r *http.Request, st StoreBackend) (any, error) {
		v := r.PathValue("version")
		if err := checkVersion(v); err != nil {
			return nil, err
		}
		force, err := boolQuery(r, "force")
		if err != nil {
			return nil, err
		}
		return nil, st.DeleteVersion(r.Context(), r.PathValue("mid"), v, force)
	}))
	m.Handle("GET "+mi+"/diff", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		q := r.URL.Query()
		from, to := q.Get("from"), q.Get("to")
		if from == "" {
			return nil, badRequest("give the version to compare from: ?from=VERSION")
		}
		if to == "" {
			to = apiv1.RefCur
		}
		if err := errors.Join(checkVersion(from), checkVersion(to)); err != nil {
			return nil, badRequest("%v", err)
		}
		limit := apiv1.DiffDefaultLimit
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > apiv1.DiffMaxLimit {
				return nil, badRequest("?limit=%s: give a number of changes of each kind from 1 to %d (0: the default, %d)", v, apiv1.DiffMaxLimit, apiv1.DiffDefaultLimit)
			}
			if n > 0 {
				limit = n
			}
		}
		return st.Diff(r.Context(), r.PathValue("mid"), from, to, limit)
	}))
	m.Handle("POST "+mi+"/fork", s.storeJSON(http.StatusCreated, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.Fork
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if err := checkVersion(req.Version); err != nil {
			return nil, err
		}
		return st.Fork(r.Context(), r.PathValue("mid"), req)
	}))

	// References and pins.
	m.Handle("GET "+mi+"/refs", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		refs, err := st.Refs(r.Context(), r.PathValue("mid"))
		refs.Out, refs.In = nonNil(refs.Out), nonNil(refs.In)
		return refs, err
	}))
	m.Handle("POST "+mi+"/refs", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var ref apiv1.Ref
		if err := decodeRef(r, &ref); err != nil {
			return nil, err
		}
		return st.AddRef(r.Context(), r.PathValue("mid"), ref)
	}))
	m.Handle("DELETE "+mi+"/refs", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var ref apiv1.Ref
		if err := decodeRef(r, &ref); err != nil {
			return nil, err
		}
		return st.DropRef(r.Context(), r.PathValue("mid"), ref)
	}))
	m.Handle("POST "+mi+"/pins", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		var req apiv1.Pin
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
		if err := checkVersion(req.Version); err != nil {
			return nil, err
		}
		return st.Pin(r.Context(), r.PathValue("mid"), req.Version)
	}))
	m.Handle("DELETE "+mi+"/pins/{version}", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		v := r.PathValue("version")
		if err := checkVersion(v); err != nil {
			return nil, err
		}
		return st.Unpin(r.Context(), r.PathValue("mid"), v)
	}))

	// The store as a whole.
	m.Handle("GET /api/v1/store/stats", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		return st.StoreStats(r.Context())
	}))
	m.Handle("POST /api/v1/store/verify", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		rep, err := st.StoreVerify(r.Context())
		rep.Problems = nonNil(rep.Problems)
		return rep, err
	}))
	m.Handle("POST /api/v1/store/gc", s.storeJSON(http.StatusOK, func(r *http.Request, st StoreBackend) (any, error) {
		return st.StoreGC(r.Context())
	}))
}

var errNoStore = Errorf(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "the store is not available")

// storeRaw serves a store route that writes its own answer.
func (s *Server) storeRaw(f func(w http.ResponseWriter, r *http.Request, st StoreBackend)) http.Handler {
	return s.auth(s.withStore(f))
}

// withStore is storeRaw without authentication, for routes that wrap it in
// their own.
func (s *Server) withStore(f func(w http.ResponseWriter, r *http.Request, st StoreBackend)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.opts.Store
		if st == nil {
			writeError(w, errNoStore)
			return
		}
		f(w, r, st)
	})
}

// storeJSON serves a store route answering f's value as JSON with status;
// with 204 No Content f's value is ignored and no body is sent.
func (s *Server) storeJSON(status int, f func(r *http.Request, st StoreBackend) (any, error)) http.Handler {
	return s.auth(s.withStore(s.answerJSON(status, f)))
}

func (s *Server) answerJSON(status int, f func(r *http.Request, st StoreBackend) (any, error)) func(w http.ResponseWriter, r *http.Request, st StoreBackend) {
	return func(w http.ResponseWriter, r *http.Request, st StoreBackend) {
		v, err := f(r, st)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if status == http.StatusNoContent {
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	}
}

// putFile stores the request body as a file. The body streams to the
// backend as it arrives; it is never held whole.
func (s *Server) putFile(w http.ResponseWriter, r *http.Request, st StoreBackend) {
	mid := r.PathValue("mid")
	p, err := pathValue(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts := PutFile{MIME: r.Header.Get("Content-Type")}
	if opts.Parents, err = boolQuery(r, "parents"); err != nil {
		s.fail(w, r, err)
		return
	}
	if v := r.Header.Get("X-Peer-Mtime"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			s.fail(w, r, badRequest("X-Peer-Mtime must be a time in Unix milliseconds, not %q", v))
			return
		}
		opts.ModTime = ms
	}
	body := &readTracker{r: r.Body}
	info, err := st.PutFile(r.Context(), mid, p, body, opts)
	if err != nil {
		if body.err != nil && !errors.Is(body.err, io.EOF) {
			// The upload broke off; say so rather than blame the store.
			err = badRequest("reading the upload of %q: %v", p, body.err)
		}
		s.fail(w, r, err)
		return
	}
	if s.opts.Bus != nil {
		s.opts.Bus.Publish("file.put", struct {
			MiMei string `json:"mimei"`
			apiv1.FileInfo
		}{mid, info})
	}
	writeJSON(w, http.StatusCreated, info)
}

// readTracker remembers the error that ended reading a request body.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}

// getFile sends a file, honouring Range and conditional requests. Files are
// user data: they are always offered as downloads, never rendered inline.
//
// A whole file is streamed chunked, without Content-Length: X-Peer-Size
// gives its size, and if reading fails part way (a block fails its hash
// check) the trailer X-Peer-Error carries the JSON error, so a client can
// tell a broken download from a complete one and say why. A range and HEAD
// go through http.ServeContent; the start of a range is read before
// anything is sent, so a bad block there is answered with a JSON error.
func (s *Server) getFile(w http.ResponseWriter, r *http.Request, st StoreBackend) {
	p, err := pathValue(r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := versionQuery(r, "version")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mid := r.PathValue("mid")
	if v, _, err = st.ReadRef(r.Context(), mid, v); err != nil {
		s.fail(w, r, err)
		return
	}
	info, f, err := st.OpenFile(r.Context(), mid, v, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f != nil {
		defer f.Close()
	}
	if info.Dir || f == nil {
		writeError(w, Errorf(http.StatusBadRequest, apiv1.CodeIsDir, "%q is a directory: list it with ls", p))
		return
	}
	h := w.Header()
	ct := info.MIME
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": info.Name})
	if disp == "" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", disp)
	etag := ""
	if info.Root != "" {
		etag = `"` + info.Root + `"`
		h.Set("ETag", etag)
	}
	// The Range header is read here, to RFC 9110 (see parseRange), and
	// handed on to http.ServeContent as the one range it means, so that
	// its own reading of the header (multipart, 416 for bad syntax) never
	// applies.
	start, end, res := int64(0), int64(0), rangeIgnore
	if hdr := r.Header.Get("Range"); hdr != "" {
		start, end, res = parseRange(hdr, info.Size)
		switch res {
		case rangeIgnore:
			r.Header.Del("Range")
		case rangeOK:
			r.Header.Set("Range", "bytes="+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10))
		case rangeUnsatisfiable: // a range from the end: ServeContent answers 416 with bytes */size
			r.Header.Set("Range", "bytes="+strconv.FormatInt(info.Size, 10)+"-")
		}
	}
	if r.Method == http.MethodGet && !rangeApplies(r, etag, info.ModTime) {
		s.streamFile(w, r, mid, p, etag, info, f)
		return
	}
	rs := &replayReader{f: f}
	if r.Method == http.MethodGet && res == rangeOK {
		if err := rs.preRead(start, 64<<10); err != nil {
			s.fileFailed(w, r, mid, p, err)
			return
		}
	}
	http.ServeContent(&contentErrors{ResponseWriter: w, size: info.Size}, r, "", info.ModTime, rs)
	if rs.err != nil && !errors.Is(rs.err, io.EOF) && r.Context().Err() == nil {
		// Too late for an answer: the client sees a short body.
		s.opts.Logger.Error("reading a file failed", "mimei", mid, "path", p, "err", rs.err)
	}
}

// streamFile answers a plain GET of a whole file: see getFile.
func (s *Server) streamFile(w http.ResponseWriter, r *http.Request, mid, p, etag string, info apiv1.FileInfo, f File) {
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	if !isZeroTime(info.ModTime) {
		h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	}
	if code := checkConditions(r, etag, info.ModTime); code != 0 {
		if code == http.StatusNotModified {
			h.Del("Content-Type") // as http.ServeContent does
			if etag != "" {
				h.Del("Last-Modified")
			}
			w.WriteHeader(code)
			return
		}
		(&contentErrors{ResponseWriter: w, size: info.Size}).WriteHeader(code)
		return
	}
	h.Set("X-Peer-Size", strconv.FormatInt(info.Size, 10))
	h.Set("Trailer", trailerError)
	w.WriteHeader(http.StatusOK)
	body := &readTracker{r: f}
	_, err := io.Copy(w, body)
	if body.err == nil || errors.Is(body.err, io.EOF) {
		if err != nil && r.Context().Err() == nil {
			s.opts.Logger.Debug("sending a file broke off", "mimei", mid, "path", p, "err", err)
		}
		return
	}
	if r.Context().Err() != nil {
		return // the client has gone: nobody to tell
	}
	s.opts.Logger.Error("reading a file failed", "mimei", mid, "path", p, "err", body.err)
	e := asError(body.err)
	j, _ := json.Marshal(apiv1.Error{Code: e.Code, Message: e.Message})
	h.Set(trailerError, string(j))
}

// trailerError is the trailer of a whole-file download that carries the
// JSON error which cut it short.
const trailerError = "X-Peer-Error"

// asError returns err as an *Error: itself if it is one, else internal.
func asError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(http.StatusInternalServerError, apiv1.CodeInternal, "internal error: %v", err)
	}
	return e
}

// fileFailed answers a file read that failed before anything was sent.
func (s *Server) fileFailed(w http.ResponseWriter, r *http.Request, mid, p string, err error) {
	s.opts.Logger.Error("reading a file failed", "mimei", mid, "path", p, "err", err)
	h := w.Header()
	for _, k := range []string{"Content-Disposition", "Content-Security-Policy", "ETag"} {
		h.Del(k)
	}
	writeError(w, asError(err))
}

func isZeroTime(t time.Time) bool { return t.IsZero() || t.Equal(time.Unix(0, 0)) }

// etagMatch reports whether an If-Match or If-None-Match list holds etag,
// comparing weakly (a W/ prefix is ignored) when weak is set.
func etagMatch(list, etag string, weak bool) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return etag != ""
		}
		if weak {
			t = strings.TrimPrefix(t, "W/")
		}
		if etag != "" && t == etag {
			return true
		}
	}
	return false
}

// checkConditions evaluates the preconditions of a GET as RFC 9110 §13.2.2
// orders them: 0 to send the file, else 412 or 304.
func checkConditions(r *http.Request, etag string, mod time.Time) int {
	modified := func(since string) bool {
		t, err := http.ParseTime(since)
		return err != nil || isZeroTime(mod) || mod.Truncate(time.Second).After(t)
	}
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagMatch(im, etag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && !isZeroTime(mod) && mod.Truncate(time.Second).After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagMatch(inm, etag, true) {
			return http.StatusNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" && !modified(ims) {
		return http.StatusNotModified
	}
	return 0
}

// rangeApplies reports whether a GET asks for a range that http.ServeContent
// would honour: a Range header, with an If-Range (if any) that matches.
func rangeApplies(r *http.Request, etag string, mod time.Time) bool {
	if r.Header.Get("Range") == "" {
		return false
	}
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return etag != "" && ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && !isZeroTime(mod) && mod.Truncate(time.Second).Equal(t)
}

// replayReader gives http.ServeContent a file whose bytes from at were
// read ahead (preRead), replaying them rather than reading them again. It
// remembers the first read error.
type replayReader struct {
	f    File
	at   int64  // offset of buf in the file
	buf  []byte // bytes read ahead
	pos  int64  // offset of the next Read
	fpos int64  // offset of f
	err  error
}

// preRead reads up to n bytes from start; the end of the file is no error.
func (rr *replayReader) preRead(start int64, n int) error {
	if _, err := rr.f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, n)
	k, err := io.ReadFull(rr.f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	rr.at, rr.buf, rr.fpos = start, buf[:k], start+int64(k)
	return nil
}

func (rr *replayReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += rr.pos
	case io.SeekEnd:
		end, err := rr.f.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		rr.fpos = end
		off += end
	default:
		return 0, errors.New("seek: bad whence")
	}
	if off < 0 {
		return 0, errors.New("seek: negative position")
	}
	rr.pos = off
	return off, nil
}

func (rr *replayReader) Read(p []byte) (int, error) {
	if rr.pos >= rr.at && rr.pos < rr.at+int64(len(rr.buf)) {
		n := copy(p, rr.buf[rr.pos-rr.at:])
		rr.pos += int64(n)
		return n, nil
	}
	if rr.fpos != rr.pos {
		if _, err := rr.f.Seek(rr.pos, io.SeekStart); err != nil {
			return 0, err
		}
		rr.fpos = rr.pos
	}
	n, err := rr.f.Read(p)
	rr.pos += int64(n)
	rr.fpos = rr.pos
	if err != nil && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// contentErrors turns the plain-text errors of http.ServeContent (an
// unsatisfiable range, a failed precondition) into the API's JSON errors.
type contentErrors struct {
	http.ResponseWriter
	size   int64
	failed bool
}

func (c *contentErrors) WriteHeader(code int) {
	if code < 400 || c.failed {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	c.failed = true
	h := c.Header()
	h.Del("Content-Disposition")
	h.Del("Content-Security-Policy")
	e := Errorf(code, apiv1.CodeInternal, "%s", http.StatusText(code))
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		e = Errorf(code, apiv1.CodeBadRequest, "the requested range is not satisfiable: the file has %d bytes", c.size)
	case http.StatusPreconditionFailed:
		e = Errorf(code, apiv1.CodeConflict, "precondition failed: the file has changed")
	}
	writeError(c.ResponseWriter, e)
}

func (c *contentErrors) Write(b []byte) (int, error) {
	if c.failed {
		return len(b), nil // the JSON error is written; drop the plain text
	}
	return c.ResponseWriter.Write(b)
}

// importTar unpacks a tar stream into a directory.
func (s *Server) importTar(w http.ResponseWriter, r *http.Request, st StoreBackend) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/x-tar" && mt != "application/tar") {
			writeError(w, Errorf(http.StatusUnsupportedMediaType, apiv1.CodeUnsupportedMT, "send application/x-tar, not %q", ct))
			return
		}
	}
	dir := r.URL.Query().Get("dir")
	if err := checkPath(dir, true); err != nil {
		s.fail(w, r, err)
		return
	}
	body := &readTracker{r: r.Body}
	res, err := st.Import(r.Context(), r.PathValue("mid"), dir, body)
	if err != nil {
		if body.err != nil && !errors.Is(body.err, io.EOF) {
			err = badRequest("reading the tar stream: %v", body.err)
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func badRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, apiv1.CodeBadRequest, format, args...)
}

// pathValue returns the {path...} of the request, checked; root says
// whether the root directory ("") is acceptable.
func pathValue(r *http.Request, root bool) (string, error) {
	return r.PathValue("path"), checkPath(r.PathValue("path"), root)
}

// checkPath refuses paths no store could hold: too long, with empty, "."
// or ".." segments, or with NUL bytes. "" is the root directory.
func checkPath(p string, root bool) error {
	switch {
	case p == "" && root:
		return nil
	case p == "":
		return badRequest("a path is needed here, not the root directory")
	case len(p) > MaxPathBytes:
		return badRequest("path of %d bytes exceeds the limit of %d bytes", len(p), MaxPathBytes)
	case strings.IndexByte(p, 0) >= 0:
		return badRequest("path %q contains a NUL byte", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return badRequest("path %q has an empty segment (a leading, trailing or double slash)", p)
		case ".", "..":
			return badRequest("path %q has a %q segment: give paths from the root", p, seg)
		}
	}
	return nil
}

// checkVersion accepts the version references of apiv1: "", cur, last,
// release or a decimal version number.
func checkVersion(v string) error {
	switch v {
	case "", apiv1.RefCur, apiv1.RefLast, apiv1.RefRelease:
		return nil
	}
	if _, err := strconv.ParseUint(v, 10, 64); err != nil {
		return badRequest("version %q is not cur, last, release or a version number", v)
	}
	return nil
}

func versionQuery(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	return v, checkVersion(v)
}

// listLimitQuery is ?limit= of a directory listing: apiv1.ListLimit if absent, else a
// whole number from 1 to apiv1.MaxListLimit.
func listLimitQuery(r *http.Request) (int, error) {
	q := r.URL.Query()
	if !q.Has("limit") {
		return apiv1.ListLimit, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > apiv1.MaxListLimit {
		return 0, badRequest("?limit=%s: give a whole number from 1 to %d", q.Get("limit"), apiv1.MaxListLimit)
	}
	return n, nil
}

func boolQuery(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	if v == "" {
		return true, nil // "?force" alone
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("?%s=%s: give 1 or 0", name, v)
	}
	return b, nil
}

func decodeVersionRef(r *http.Request) (string, error) {
	var req apiv1.VersionRef
	if err := decodeJSON(r, &req); err != nil {
		return "", err
	}
	if req.Version == "" {
		return "", badRequest("give a version")
	}
	return req.Version, checkVersion(req.Version)
}

func decodeRef(r *http.Request, ref *apiv1.Ref) error {
	if err := decodeJSON(r, ref); err != nil {
		return err
	}
	if ref.To == "" {
		return badRequest("give the MiMei the reference points to in \"to\"")
	}
	return nil
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// storeStatus is the HTTP status the API sends with each error code of the
// store; StoreErrorf picks it so every backend maps codes the same way.
var storeStatus = map[string]int{
	apiv1.CodeBadRequest:  http.StatusBadRequest,
	apiv1.CodeNotFound:    http.StatusNotFound,
	apiv1.CodeForbidden:   http.StatusForbidden,
	apiv1.CodeConflict:    http.StatusConflict,
	apiv1.CodeIntegrity:   http.StatusInternalServerError,
	apiv1.CodeUnsupported: http.StatusInternalServerError,
	apiv1.CodeReferenced:  http.StatusConflict,
	apiv1.CodeProtected:   http.StatusConflict,
	apiv1.CodeNotDir:      http.StatusBadRequest,
	apiv1.CodeIsDir:       http.StatusBadRequest,
	apiv1.CodeExists:      http.StatusConflict,
	apiv1.CodeWrongType:   http.StatusBadRequest,
	apiv1.CodeDBError:     http.StatusBadRequest,
	apiv1.CodeTxConflict:  http.StatusConflict,
	apiv1.CodeNotEmpty:    http.StatusConflict,
	apiv1.CodeNoVersion:   http.StatusNotFound,
	apiv1.CodeInternal:    http.StatusInternalServerError,
	apiv1.CodeUnavailable: http.StatusServiceUnavailable,
}

// StoreErrorf returns an *Error with code and the status docs/api.md gives
// for it (500 for a code it does not know). Store backends use it so that
// a code always travels with the same status.
func StoreErrorf(code, format string, args ...any) *Error {
	status, ok := storeStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return Errorf(status, code, format, args...)
}
