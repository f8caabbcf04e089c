// Package httpapitest holds test doubles for the HTTP API: Store, a small
// in-memory httpapi.StoreBackend; Backend, a fixed httpapi.Backend; and
// Serve, which runs the API over them on a loopback test server.
//
// Only tests import it (those of httpapi, apiclient and cmd/peer). Store
// follows the documented behaviour of the store's routes closely enough for
// routing, client and CLI tests; it is not a model of the real store.
package httpapitest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peer-node/peer/internal/apiv1"
	"github.com/peer-node/peer/internal/httpapi"
)

// Token is the bearer token of servers started by Serve.
const Token = "httpapitest-token-0123456789abcdef"

// Persona is the one persona Backend holds.
const Persona = "did:key:zTestPersona"

// Serve starts the API with opts on a loopback test server, closed when the
// test ends. An empty Token becomes Token and a nil Backend a Backend.
func Serve(t testing.TB, opts httpapi.Options) *httptest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = Token
	}
	if opts.Backend == nil {
		opts.Backend = Backend{}
	}
	s, err := httpapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// Backend is an httpapi.Backend with one persona and no certificates.
type Backend struct{}

func (Backend) Status(context.Context) (apiv1.Status, error) {
	return apiv1.Status{Version: "test", Persona: Persona, Personas: 1}, nil
}
func (Backend) Identity(context.Context) (apiv1.Identity, error) {
	p := apiv1.Persona{ID: Persona, Name: "default", Default: true}
	return apiv1.Identity{Persona: p, Personas: []apiv1.Persona{p}}, nil
}
func (Backend) Personas(context.Context) ([]apiv1.Persona, error) {
	return []apiv1.Persona{{ID: Persona, Name: "default", Default: true}}, nil
}
func (b Backend) Persona(_ context.Context, ref string) (apiv1.Persona, error) {
	if ref == Persona || ref == "default" {
		return apiv1.Persona{ID: Persona, Name: "default", Default: true}, nil
	}
	return apiv1.Persona{}, httpapi.Errorf(404, apiv1.CodeUnknownPersona, "unknown persona %q", ref)
}
func (Backend) NewPersona(context.Context, string) (apiv1.Persona, error) {
	return apiv1.Persona{}, httpapi.Errorf(503, apiv1.CodeUnavailable, "not in this fake")
}
func (Backend) DeviceCert(_ context.Context, ref string) (apiv1.DeviceCert, error) {
	return apiv1.DeviceCert{}, httpapi.Errorf(404, apiv1.CodeUnknownPersona, "unknown persona %q", ref)
}

// Store is an in-memory httpapi.StoreBackend. The zero value is not ready:
// use NewStore.
type Store struct {
	// VerifyProblems, if set, are the problems StoreVerify reports.
	VerifyProblems []apiv1.StoreProblem
	// GCReport is what StoreGC reports, Marked set to the files held.
	GCReport apiv1.GCReport

	mu      sync.Mutex
	objects map[string]*object
	seq     int
	lastPut httpapi.PutFile
	puts    int
	clock   time.Time
	faults  map[string]fault
}

type fault struct {
	off int64
	err error
}

// FailReads makes reading the file at p (of any MiMei and version) fail
// with err at offset off, as a block failing its hash check does: reads
// before off succeed. A nil err clears the fault.
func (s *Store) FailReads(p string, off int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string]fault{}
	}
	if err == nil {
		delete(s.faults, p)
		return
	}
	s.faults[p] = fault{off, err}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{objects: map[string]*object{}, clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Puts returns how many times PutFile was called.
func (s *Store) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// LastPut returns the options of the last PutFile call.
func (s *Store) LastPut() httpapi.PutFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPut
}

type entry struct {
	dir  bool
	data []byte
	mime string
	mod  time.Time
}

// state is the content of cur or of a frozen version: files by path ("" is
// the root) and database keys, whose values are string or []string.
type state struct {
	files map[string]*entry
	keys  map[string]any
}

func newState() state {
	return state{files: map[string]*entry{"": {dir: true}}, keys: map[string]any{}}
}

func (st state) clone() state {
	c := state{files: make(map[string]*entry, len(st.files)), keys: make(map[string]any, len(st.keys))}
	for p, e := range st.files {
		e2 := *e
		c.files[p] = &e2
	}
	for k, v := range st.keys {
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		c.keys[k] = v
	}
	return c
}

type refKey struct {
	to      string
	version uint64
	any     bool // no version: the whole MiMei
}

type object struct {
	meta     apiv1.MiMei
	cur      state
	versions []apiv1.Version // ascending by number
	frozen   map[uint64]state
	next     uint64
	release  uint64 // 0 = none
	pins     map[uint64]bool
	refs     map[refKey]int64
	received bool // no working copy here (MarkReceived)
}

// shows is the version reads of cur show: the newest, for a received
// MiMei whose cur is empty; 0 = cur itself.
func (o *object) shows() uint64 {
	if !o.received || len(o.versions) == 0 || len(o.cur.files) > 1 || len(o.cur.keys) > 0 {
		return 0
	}
	return o.versions[len(o.versions)-1].Number
}

// MarkReceived makes mid behave as a MiMei received from someone else, as
// the node does: no working copy here, so its cur is emptied and reads of
// cur show its newest version (ReadRef).
func (s *Store) MarkReceived(mid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return err
	}
	o.received, o.cur = true, newState()
	return nil
}

func (s *Store) ReadRef(_ context.Context, mid, version string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return "", false, err
	}
	if n := o.shows(); n != 0 && (version == "" || version == apiv1.RefCur) {
		return strconv.FormatUint(n, 10), true, nil
	}
	return version, false, nil
}

func errf(code, format string, args ...any) error {
	return httpapi.StoreErrorf(code, format, args...)
}

func (s *Store) now() time.Time {
	s.clock = s.clock.Add(time.Second)
	return s.clock
}

func (s *Store) get(mid string) (*object, error) {
	o, ok := s.objects[mid]
	if !ok {
		return nil, errf(apiv1.CodeNotFound, "no MiMei %q", mid)
	}
	return o, nil
}

func (s *Store) describe(o *object) apiv1.MiMei {
	m := o.meta
	m.Versions = len(o.versions)
	m.Last, m.Release = nil, nil
	if n := len(o.versions); n > 0 {
		last := o.versions[n-1].Number
		m.Last = &last
	}
	if o.release != 0 {
		r := o.release
		m.Release = &r
	}
	// Figures of cur, or of the version reads of cur show.
	shown := o.cur
	m.Shows = nil
	if n := o.shows(); n != 0 {
		m.Shows, shown = &n, o.frozen[n]
	}
	m.Files, m.Bytes = 0, 0
	for p, e := range shown.files {
		if p != "" && !e.dir {
			m.Files++
			m.Bytes += int64(len(e.data))
		}
	}
	m.Keys = int64(len(shown.keys))
	m.Pins = len(o.pins)
	m.RefsIn = 0
	for _, other := range s.objects {
		for k, n := range other.refs {
			if k.to == o.meta.ID {
				m.RefsIn += n
			}
		}
	}
	return m
}

func (s *Store) CreateMiMei(_ context.Context, req apiv1.CreateMiMei) (apiv1.MiMei, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.AppType == "" {
		return apiv1.MiMei{}, errf(apiv1.CodeBadRequest, "app_type is required")
	}
	if req.Persona != "" && req.Persona != Persona && req.Persona != "default" {
		return apiv1.MiMei{}, httpapi.Errorf(404, apiv1.CodeUnknownPersona, "unknown persona %q", req.Persona)
	}
	s.seq++
	id := fmt.Sprintf("mm%04d", s.seq)
	mark := req.Mark
	if mark == "" || mark == "auto" {
		mark = strconv.Itoa(s.seq)
	} else {
		id = "mm-" + req.AppType + "-" + mark
	}
	if _, ok := s.objects[id]; ok {
		return apiv1.MiMei{}, errf(apiv1.CodeExists, "MiMei %s exists", id)
	}
	rights := apiv1.Rights{Owner: Persona}
	if req.Rights != nil {
		rights = *req.Rights
		rights.Owner = Persona
	}
	now := s.now()
	o := &object{
		meta: apiv1.MiMei{ID: id, Author: Persona, AppType: req.AppType, Ext: req.Ext, Mark: mark,
			Rights: rights, Created: now, Keep: req.Keep, Modified: now},
		cur: newState(), frozen: map[uint64]state{}, next: 1, pins: map[uint64]bool{}, refs: map[refKey]int64{},
	}
	s.objects[id] = o
	return s.describe(o), nil
}

func (s *Store) ListMiMei(context.Context) ([]apiv1.MiMei, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []apiv1.MiMei
	for _, id := range slices.Sorted(maps.Keys(s.objects)) {
		out = append(out, s.describe(s.objects[id]))
	}
	return out, nil
}

func (s *Store) GetMiMei(_ context.Context, mid string) (apiv1.MiMei, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	return s.describe(o), nil
}

func (s *Store) UpdateMiMei(_ context.Context, mid string, req apiv1.UpdateMiMei) (apiv1.MiMei, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.MiMei{}, err
	}
	if req.Rights != nil {
		r := *req.Rights
		r.Owner = o.meta.Rights.Owner
		o.meta.Rights = r
	}
	if req.Keep != nil {
		if *req.Keep < 0 {
			return apiv1.MiMei{}, errf(apiv1.CodeBadRequest, "keep must be 0 or more")
		}
		o.meta.Keep = *req.Keep
	}
	return s.describe(o), nil
}

func (s *Store) DeleteMiMei(_ context.Context, mid string, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return err
	}
	if m := s.describe(o); !force && (m.RefsIn > 0 || m.Pins > 0) {
		return errf(apiv1.CodeReferenced, "MiMei %s is referenced or pinned; retry with force", mid)
	}
	delete(s.objects, mid)
	return nil
}

// resolve finds the state a version reference names.
func (o *object) resolve(v string) (state, uint64, error) {
	var n uint64
	switch v {
	case "", apiv1.RefCur:
		return o.cur, 0, nil
	case apiv1.RefLast:
		if len(o.versions) == 0 {
			return state{}, 0, errf(apiv1.CodeNoVersion, "%s has no versions", o.meta.ID)
		}
		n = o.versions[len(o.versions)-1].Number
	case apiv1.RefRelease:
		if o.release == 0 {
			return state{}, 0, errf(apiv1.CodeNoVersion, "%s has no released version", o.meta.ID)
		}
		n = o.release
	default:
		var err error
		if n, err = strconv.ParseUint(v, 10, 64); err != nil {
			return state{}, 0, errf(apiv1.CodeBadRequest, "bad version %q", v)
		}
	}
	st, ok := o.frozen[n]
	if !ok {
		return state{}, 0, errf(apiv1.CodeNoVersion, "%s has no version %d", o.meta.ID, n)
	}
	return st, n, nil
}

func (s *Store) state(mid, version string) (state, error) {
	o, err := s.get(mid)
	if err != nil {
		return state{}, err
	}
	st, _, err := o.resolve(version)
	return st, err
}

func info(p string, e *entry) apiv1.FileInfo {
	fi := apiv1.FileInfo{Path: p, Name: path.Base(p), Dir: e.dir, MIME: e.mime, ModTime: e.mod}
	if p == "" {
		fi.Name = ""
	}
	if !e.dir {
		fi.Size = int64(len(e.data))
		sum := sha256.Sum256(e.data)
		fi.Root = "fake" + hex.EncodeToString(sum[:8])
	}
	return fi
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// mkdirs makes p and its missing parents directories.
func (s *Store) mkdirs(st state, p string) error {
	if p == "" {
		return nil
	}
	if e, ok := st.files[p]; ok {
		if !e.dir {
			return errf(apiv1.CodeNotDir, "%q is not a directory", p)
		}
		return nil
	}
	if err := s.mkdirs(st, parent(p)); err != nil {
		return err
	}
	st.files[p] = &entry{dir: true, mod: s.now()}
	return nil
}

// checkParent says whether p's parent is a directory (making it with parents).
func (s *Store) checkParent(st state, p string, parents bool) error {
	dir := parent(p)
	if parents {
		return s.mkdirs(st, dir)
	}
	e, ok := st.files[dir]
	switch {
	case !ok:
		return errf(apiv1.CodeNotFound, "no directory %q", dir)
	case !e.dir:
		return errf(apiv1.CodeNotDir, "%q is not a directory", dir)
	}
	return nil
}

func (s *Store) PutFile(_ context.Context, mid, p string, body io.Reader, opts httpapi.PutFile) (apiv1.FileInfo, error) {
	data, err := io.ReadAll(body) // read before locking: the body streams
	if err != nil {
		return apiv1.FileInfo{}, fmt.Errorf("read upload: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPut = opts
	s.puts++
	o, err := s.get(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	return s.put(o, p, data, opts)
}

func (s *Store) put(o *object, p string, data []byte, opts httpapi.PutFile) (apiv1.FileInfo, error) {
	if e, ok := o.cur.files[p]; ok && e.dir {
		return apiv1.FileInfo{}, errf(apiv1.CodeIsDir, "%q is a directory", p)
	}
	if err := s.checkParent(o.cur, p, opts.Parents); err != nil {
		return apiv1.FileInfo{}, err
	}
	e := &entry{data: data, mime: opts.MIME, mod: s.now()}
	if e.mime == "" {
		e.mime = mime.TypeByExtension(path.Ext(p))
	}
	if e.mime == "" {
		e.mime = "application/octet-stream"
	}
	if opts.ModTime != 0 {
		e.mod = time.UnixMilli(opts.ModTime).UTC()
	}
	o.cur.files[p] = e
	o.meta.Modified = s.now()
	if opts.Progress != nil {
		opts.Progress(int64(len(data)))
	}
	return info(p, e), nil
}

type file struct{ *bytes.Reader }

func (file) Close() error { return nil }

// faultyFile fails reads that reach off with err.
type faultyFile struct {
	file
	off int64
	err error
}

func (f faultyFile) Read(p []byte) (int, error) {
	pos, _ := f.Seek(0, io.SeekCurrent)
	if pos >= f.off {
		return 0, f.err
	}
	if int64(len(p)) > f.off-pos {
		p = p[:f.off-pos]
	}
	return f.file.Read(p)
}

func (s *Store) OpenFile(_ context.Context, mid, version, p string) (apiv1.FileInfo, httpapi.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(mid, version)
	if err != nil {
		return apiv1.FileInfo{}, nil, err
	}
	e, ok := st.files[p]
	if !ok {
		return apiv1.FileInfo{}, nil, errf(apiv1.CodeNotFound, "no file %q", p)
	}
	if e.dir {
		return info(p, e), nil, nil
	}
	if ft, ok := s.faults[p]; ok {
		return info(p, e), faultyFile{file{bytes.NewReader(e.data)}, ft.off, ft.err}, nil
	}
	return info(p, e), file{bytes.NewReader(e.data)}, nil
}

func (s *Store) Stat(_ context.Context, mid, version, p string) (apiv1.FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(mid, version)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	e, ok := st.files[p]
	if !ok {
		return apiv1.FileInfo{}, errf(apiv1.CodeNotFound, "no file %q", p)
	}
	return info(p, e), nil
}

func (s *Store) List(_ context.Context, mid, version, p, after string, limit int) ([]apiv1.FileInfo, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(mid, version)
	if err != nil {
		return nil, false, err
	}
	e, ok := st.files[p]
	switch {
	case !ok:
		return nil, false, errf(apiv1.CodeNotFound, "no directory %q", p)
	case !e.dir:
		return nil, false, errf(apiv1.CodeNotDir, "%q is not a directory", p)
	}
	var out []apiv1.FileInfo
	for _, q := range slices.Sorted(maps.Keys(st.files)) {
		if q == "" || parent(q) != p {
			continue
		}
		fi := info(q, st.files[q])
		if fi.Name <= after {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, fi)
	}
	return out, false, nil
}

func (s *Store) Mkdir(_ context.Context, mid string, req apiv1.Mkdir) (apiv1.FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	if e, ok := o.cur.files[req.Path]; ok {
		if req.Parents && e.dir {
			return info(req.Path, e), nil
		}
		return apiv1.FileInfo{}, errf(apiv1.CodeExists, "%q exists", req.Path)
	}
	if err := s.checkParent(o.cur, req.Path, req.Parents); err != nil {
		return apiv1.FileInfo{}, err
	}
	e := &entry{dir: true, mod: s.now()}
	o.cur.files[req.Path] = e
	return info(req.Path, e), nil
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func (s *Store) Move(_ context.Context, mid string, req apiv1.Move) (apiv1.FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.FileInfo{}, err
	}
	if _, ok := o.cur.files[req.From]; !ok {
		return apiv1.FileInfo{}, errf(apiv1.CodeNotFound, "no file %q", req.From)
	}
	if _, ok := o.cur.files[req.To]; ok {
		return apiv1.FileInfo{}, errf(apiv1.CodeExists, "%q exists", req.To)
	}
	if under(req.To, req.From) {
		return apiv1.FileInfo{}, errf(apiv1.CodeBadRequest, "cannot move %q into itself", req.From)
	}
	if err := s.checkParent(o.cur, req.To, false); err != nil {
		return apiv1.FileInfo{}, err
	}
	for q, e := range o.cur.files {
		if under(q, req.From) {
			delete(o.cur.files, q)
			o.cur.files[req.To+strings.TrimPrefix(q, req.From)] = e
		}
	}
	return info(req.To, o.cur.files[req.To]), nil
}

func (s *Store) Remove(_ context.Context, mid, p string, recursive bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return err
	}
	if _, ok := o.cur.files[p]; !ok {
		return errf(apiv1.CodeNotFound, "no file %q", p)
	}
	for q := range o.cur.files {
		if q != p && under(q, p) && !recursive {
			return errf(apiv1.CodeNotEmpty, "directory %q is not empty", p)
		}
	}
	for q := range o.cur.files {
		if under(q, p) {
			delete(o.cur.files, q)
		}
	}
	return nil
}

func (s *Store) Import(_ context.Context, mid, dir string, r io.Reader) (apiv1.ImportResult, error) {
	type item struct {
		name string
		dir  bool
		data []byte
		mod  time.Time
	}
	var items []item
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return apiv1.ImportResult{}, errf(apiv1.CodeBadRequest, "bad tar stream: %v", err)
		}
		name := strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")
		if name == "" || name == "." {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			items = append(items, item{name: name, dir: true})
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return apiv1.ImportResult{}, fmt.Errorf("read tar: %w", err)
			}
			items = append(items, item{name: name, data: data, mod: h.ModTime})
		default:
			return apiv1.ImportResult{}, errf(apiv1.CodeBadRequest, "tar entry %q is neither a file nor a directory", h.Name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.ImportResult{}, err
	}
	if err := s.mkdirs(o.cur, dir); err != nil {
		return apiv1.ImportResult{}, err
	}
	var res apiv1.ImportResult
	for _, it := range items {
		p := path.Join(dir, it.name)
		if it.dir {
			if err := s.mkdirs(o.cur, p); err != nil {
				return res, err
			}
			res.Dirs++
			continue
		}
		if _, err := s.put(o, p, it.data, httpapi.PutFile{Parents: true, ModTime: it.mod.UnixMilli()}); err != nil {
			return res, err
		}
		res.Files++
		res.Bytes += int64(len(it.data))
	}
	return res, nil
}

// DB runs a few Redis commands: SET, GET, DEL, RPUSH, LPUSH, LRANGE, KEYS.
func (s *Store) DB(_ context.Context, mid string, cmd apiv1.DBCommand) (apiv1.DBReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.DBReply{}, err
	}
	st, n, err := o.resolve(cmd.Version)
	if err != nil {
		return apiv1.DBReply{}, err
	}
	name, args := strings.ToUpper(cmd.Args[0]), cmd.Args[1:]
	arity := map[string]int{"SET": 2, "GET": 1, "DEL": -1, "RPUSH": -2, "LPUSH": -2, "LRANGE": 3, "KEYS": 0}
	want, ok := arity[name]
	if !ok {
		return apiv1.DBReply{}, errf(apiv1.CodeDBError, "ERR unknown command '%s'", cmd.Args[0])
	}
	if (want >= 0 && len(args) != want) || (want < 0 && len(args) < -want) {
		return apiv1.DBReply{}, errf(apiv1.CodeDBError, "ERR wrong number of arguments for '%s' command", strings.ToLower(name))
	}
	if n != 0 && name != "GET" && name != "LRANGE" && name != "KEYS" {
		return apiv1.DBReply{}, errf(apiv1.CodeBadRequest, "%s writes: it runs on cur only", name)
	}
	wrongType := errf(apiv1.CodeWrongType, "WRONGTYPE Operation against a key holding the wrong kind of value")
	switch name {
	case "SET":
		st.keys[args[0]] = args[1]
		return status("OK"), nil
	case "GET":
		switch v := st.keys[args[0]].(type) {
		case nil:
			return nilReply(), nil
		case string:
			return bulk(v), nil
		}
		return apiv1.DBReply{}, wrongType
	case "DEL":
		var k int64
		for _, a := range args {
			if _, ok := st.keys[a]; ok {
				delete(st.keys, a)
				k++
			}
		}
		return integer(k), nil
	case "RPUSH", "LPUSH":
		l, ok := st.keys[args[0]].([]string)
		if _, exists := st.keys[args[0]]; exists && !ok {
			return apiv1.DBReply{}, wrongType
		}
		for _, v := range args[1:] {
			if name == "RPUSH" {
				l = append(l, v)
			} else {
				l = append([]string{v}, l...)
			}
		}
		st.keys[args[0]] = l
		return integer(int64(len(l))), nil
	case "LRANGE":
		l, ok := st.keys[args[0]].([]string)
		if _, exists := st.keys[args[0]]; exists && !ok {
			return apiv1.DBReply{}, wrongType
		}
		start, err1 := strconv.Atoi(args[1])
		stop, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			return apiv1.DBReply{}, errf(apiv1.CodeDBError, "ERR value is not an integer or out of range")
		}
		if start < 0 {
			start = max(len(l)+start, 0)
		}
		if stop < 0 {
			stop = len(l) + stop
		}
		stop = min(stop, len(l)-1)
		var items []apiv1.DBReply
		for i := start; i <= stop; i++ {
			items = append(items, bulk(l[i]))
		}
		return array(items), nil
	default: // KEYS
		var items []apiv1.DBReply
		for _, k := range slices.Sorted(maps.Keys(st.keys)) {
			items = append(items, bulk(k))
		}
		return array(items), nil
	}
}

func status(s string) apiv1.DBReply { return apiv1.DBReply{Kind: "status", Status: s, Text: s} }
func nilReply() apiv1.DBReply       { return apiv1.DBReply{Kind: "nil", Text: "(nil)"} }
func integer(n int64) apiv1.DBReply {
	return apiv1.DBReply{Kind: "int", Int: n, Text: fmt.Sprintf("(integer) %d", n)}
}
func bulk(s string) apiv1.DBReply {
	return apiv1.DBReply{Kind: "bulk", Bulk: &s, Text: strconv.Quote(s)}
}
func array(items []apiv1.DBReply) apiv1.DBReply {
	if len(items) == 0 {
		return apiv1.DBReply{Kind: "array", Array: []apiv1.DBReply{}, Text: "(empty array)"}
	}
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d) %s", i+1, it.Text)
	}
	return apiv1.DBReply{Kind: "array", Array: items, Text: b.String()}
}

func (s *Store) version(o *object, n uint64) apiv1.Version {
	for _, v := range o.versions {
		if v.Number == n {
			v.Last = n == o.versions[len(o.versions)-1].Number
			v.Release = n == o.release
			v.Pinned = o.pins[n]
			return v
		}
	}
	return apiv1.Version{}
}

func (s *Store) Backup(_ context.Context, mid, memo string) (apiv1.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	n := o.next
	o.next++
	v := apiv1.Version{MiMei: mid, Number: n, Record: fmt.Sprintf("rec-%s-%d", mid, n), Time: s.now(),
		Memo: memo, Author: Persona, Files: fmt.Sprintf("tree-%d", n), DB: fmt.Sprintf("db-%d", n)}
	if len(o.versions) > 0 {
		v.Parent = o.versions[len(o.versions)-1].Record
	}
	o.versions = append(o.versions, v)
	o.frozen[n] = o.cur.clone()
	return s.version(o, n), nil
}

func (s *Store) Versions(_ context.Context, mid string) ([]apiv1.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return nil, err
	}
	var out []apiv1.Version
	for _, v := range o.versions {
		out = append(out, s.version(o, v.Number))
	}
	return out, nil
}

// frozenNumber resolves a reference that must name a frozen version.
func frozenNumber(o *object, version string) (uint64, error) {
	if version == "" || version == apiv1.RefCur {
		return 0, errf(apiv1.CodeBadRequest, "give a frozen version, not cur")
	}
	_, n, err := o.resolve(version)
	return n, err
}

func (s *Store) withVersion(mid, version string, f func(o *object, n uint64) error) (apiv1.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.Version{}, err
	}
	n, err := frozenNumber(o, version)
	if err != nil {
		return apiv1.Version{}, err
	}
	if err := f(o, n); err != nil {
		return apiv1.Version{}, err
	}
	return s.version(o, n), nil
}

func (s *Store) Release(_ context.Context, mid, version string) (apiv1.Version, error) {
	return s.withVersion(mid, version, func(o *object, n uint64) error { o.release = n; return nil })
}

func (s *Store) Restore(_ context.Context, mid, version string) (apiv1.Version, error) {
	return s.withVersion(mid, version, func(o *object, n uint64) error { o.cur = o.frozen[n].clone(); return nil })
}

func (s *Store) Pin(_ context.Context, mid, version string) (apiv1.Version, error) {
	return s.withVersion(mid, version, func(o *object, n uint64) error { o.pins[n] = true; return nil })
}

func (s *Store) Unpin(_ context.Context, mid, version string) (apiv1.Version, error) {
	return s.withVersion(mid, version, func(o *object, n uint64) error {
		if !o.pins[n] {
			return errf(apiv1.CodeNotFound, "version %d is not pinned", n)
		}
		delete(o.pins, n)
		return nil
	})
}

func (s *Store) DeleteVersion(_ context.Context, mid, version string, force bool) error {
	_, err := s.withVersion(mid, version, func(o *object, n uint64) error {
		switch {
		case n == o.release && !force:
			return errf(apiv1.CodeProtected, "version %d is the release; retry with force", n)
		case o.pins[n] && !force:
			return errf(apiv1.CodeReferenced, "version %d is pinned; retry with force", n)
		}
		if n == o.release {
			o.release = 0
		}
		delete(o.pins, n)
		delete(o.frozen, n)
		o.versions = slices.DeleteFunc(o.versions, func(v apiv1.Version) bool { return v.Number == n })
		return nil
	})
	return err
}

func (s *Store) Diff(_ context.Context, mid, from, to string, limit int) (apiv1.Diff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.Diff{}, err
	}
	a, _, err := o.resolve(from)
	if err != nil {
		return apiv1.Diff{}, err
	}
	b, _, err := o.resolve(to)
	if err != nil {
		return apiv1.Diff{}, err
	}
	d := apiv1.Diff{From: from, To: to, Files: []apiv1.FileChange{}, Keys: []apiv1.KeyChange{}}
	paths := slices.Sorted(maps.Keys(a.files))
	for p := range b.files {
		if _, ok := a.files[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		if p == "" {
			continue
		}
		ea, inA := a.files[p]
		eb, inB := b.files[p]
		switch {
		case !inA:
			d.Files = append(d.Files, apiv1.FileChange{Path: p, Op: "added", Dir: eb.dir, New: info(p, eb).Root})
		case !inB:
			d.Files = append(d.Files, apiv1.FileChange{Path: p, Op: "removed", Dir: ea.dir, Old: info(p, ea).Root})
		case ea.dir != eb.dir || !bytes.Equal(ea.data, eb.data):
			d.Files = append(d.Files, apiv1.FileChange{Path: p, Op: "changed", Dir: eb.dir, Old: info(p, ea).Root, New: info(p, eb).Root})
		}
	}
	keys := slices.Sorted(maps.Keys(a.keys))
	for k := range b.keys {
		if _, ok := a.keys[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, inA := a.keys[k]
		vb, inB := b.keys[k]
		switch {
		case !inA:
			d.Keys = append(d.Keys, apiv1.KeyChange{Key: k, Op: "added"})
		case !inB:
			d.Keys = append(d.Keys, apiv1.KeyChange{Key: k, Op: "removed"})
		case fmt.Sprint(va) != fmt.Sprint(vb):
			d.Keys = append(d.Keys, apiv1.KeyChange{Key: k, Op: "changed"})
		}
	}
	// The first limit of each kind, and the counts of all.
	d.FileCount, d.KeyCount = len(d.Files), len(d.Keys)
	if d.FilesTruncated = len(d.Files) > limit; d.FilesTruncated {
		d.Files = d.Files[:limit]
	}
	if d.KeysTruncated = len(d.Keys) > limit; d.KeysTruncated {
		d.Keys = d.Keys[:limit]
	}
	return d, nil
}

func (s *Store) Fork(ctx context.Context, mid string, req apiv1.Fork) (apiv1.MiMei, error) {
	s.mu.Lock()
	o, err := s.get(mid)
	if err != nil {
		s.mu.Unlock()
		return apiv1.MiMei{}, err
	}
	version := req.Version
	if version == "" {
		version = apiv1.RefCur
		if len(o.versions) > 0 {
			version = apiv1.RefLast
		}
	}
	st, n, err := o.resolve(version)
	src := o.meta
	s.mu.Unlock()
	if err != nil {
		return apiv1.MiMei{}, err
	}
	typ, ext := req.AppType, req.Ext
	if typ == "" {
		typ, ext = src.AppType, src.Ext
	}
	m, err := s.CreateMiMei(ctx, apiv1.CreateMiMei{Persona: req.Persona, AppType: typ, Ext: ext, Mark: req.Mark})
	if err != nil {
		return apiv1.MiMei{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.objects[m.ID]
	f.cur = st.clone()
	rec := ""
	if n != 0 {
		rec = s.version(o, n).Record
	}
	f.meta.Origin = &apiv1.Origin{MiMei: mid, Version: n, Record: rec}
	return s.describe(f), nil
}

func refCount(from string, k refKey, n int64) apiv1.RefCount {
	rc := apiv1.RefCount{From: from, To: k.to, Count: n}
	if !k.any {
		v := k.version
		rc.Version = &v
	}
	return rc
}

func (s *Store) Refs(_ context.Context, mid string) (apiv1.Refs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.Refs{}, err
	}
	var refs apiv1.Refs
	for k, n := range o.refs {
		refs.Out = append(refs.Out, refCount(mid, k, n))
	}
	for _, id := range slices.Sorted(maps.Keys(s.objects)) {
		for k, n := range s.objects[id].refs {
			if k.to == mid {
				refs.In = append(refs.In, refCount(id, k, n))
			}
		}
	}
	slices.SortFunc(refs.Out, func(a, b apiv1.RefCount) int { return strings.Compare(a.To, b.To) })
	return refs, nil
}

func key(ref apiv1.Ref) refKey {
	if ref.Version == nil {
		return refKey{to: ref.To, any: true}
	}
	return refKey{to: ref.To, version: *ref.Version}
}

func (s *Store) AddRef(_ context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.RefCount{}, err
	}
	if _, err := s.get(ref.To); err != nil {
		return apiv1.RefCount{}, err
	}
	k := key(ref)
	o.refs[k]++
	return refCount(mid, k, o.refs[k]), nil
}

func (s *Store) DropRef(_ context.Context, mid string, ref apiv1.Ref) (apiv1.RefCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(mid)
	if err != nil {
		return apiv1.RefCount{}, err
	}
	k := key(ref)
	if o.refs[k] == 0 {
		return apiv1.RefCount{}, errf(apiv1.CodeNotFound, "%s holds no reference to %s", mid, ref.To)
	}
	o.refs[k]--
	n := o.refs[k]
	if n == 0 {
		delete(o.refs, k)
	}
	return refCount(mid, k, n), nil
}

func (s *Store) StoreStats(context.Context) (apiv1.StoreStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st apiv1.StoreStats
	for _, o := range s.objects {
		st.MiMei++
		st.Versions += len(o.versions)
		for _, e := range o.cur.files {
			st.Blocks++
			st.LiveBytes += int64(len(e.data))
		}
	}
	st.DiskBytes = st.LiveBytes
	return st, nil
}

func (s *Store) StoreVerify(context.Context) (apiv1.VerifyReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := apiv1.VerifyReport{Problems: slices.Clone(s.VerifyProblems)}
	for _, o := range s.objects {
		for _, e := range o.cur.files {
			rep.Checked++
			rep.Bytes += int64(len(e.data))
		}
	}
	rep.OK = len(rep.Problems) == 0 && len(rep.Missing) == 0
	return rep, nil
}

func (s *Store) StoreGC(context.Context) (apiv1.GCReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	for _, o := range s.objects {
		n += len(o.cur.files)
	}
	rep := s.GCReport
	rep.Marked = n
	return rep, nil
}

var _ httpapi.StoreBackend = (*Store)(nil)
